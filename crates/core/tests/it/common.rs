//! Runs the engine in-process and keeps what it wrote, for assertions.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use serde_json::Value;
use simulate_core::diagnostic::Source;
use simulate_core::engine::{Engine, RunTotals, World};
use simulate_core::persona::{self, Persona};
use simulate_core::scenario::{Overrides, Scenario};
use simulate_core::sinks::jsonl::JsonlSink;
use simulate_core::sinks::metrics::{Metrics, Resolution};
use simulate_core::sinks::tee::Tee;
use simulate_core::timeline::{Event, Sink};

#[derive(Default)]
pub struct Capture {
    pub events: Vec<Event>,
    pub lines: Vec<u8>,
}

impl Sink for Capture {
    fn event(&mut self, e: &Event, line: &[u8]) -> std::io::Result<bool> {
        self.events.push(*e);
        self.lines.extend_from_slice(line);
        Ok(true)
    }
}

pub struct Run {
    pub events: Vec<Event>,
    pub lines: Vec<u8>,
    pub checksum: String,
    pub totals: RunTotals,
    pub metrics: Value,
    pub personas: Vec<Persona>,
}

pub struct Spec<'a> {
    pub users: u32,
    pub days: u32,
    /// A `--span` text; replaces `days` when given.
    pub span: Option<&'a str>,
    /// A `--start` text (a date, or a date and a UTC time).
    pub start: Option<&'a str>,
    pub seed: u64,
    pub threads: usize,
    pub personas: Option<&'a Path>,
    pub scenario: Option<&'a str>,
    /// A `--resolution` text for metrics' series; the span's default when `None`.
    pub resolution: Option<&'a str>,
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            users: 500,
            days: 3,
            span: None,
            start: None,
            seed: 42,
            threads: 1,
            personas: None,
            scenario: None,
            resolution: None,
        }
    }
}

pub fn simulate(spec: Spec) -> Run {
    let personas = persona::load(spec.personas).expect("personas load");
    let over = Overrides {
        users: Some(spec.users),
        days: spec.span.is_none().then_some(spec.days),
        span: spec.span.map(String::from),
        seed: Some(spec.seed),
        start: spec.start.map(String::from),
    };
    let scenario = match spec.scenario {
        Some(text) => {
            let src = Source::new("test-scenario.toml", text);
            Scenario::validate(
                src.parse().expect("scenario parses"),
                &src,
                &over,
                &personas,
            )
            .expect("scenario valid")
        }
        None => Scenario::load(None, &over, &personas).expect("default scenario"),
    };
    let world = World::new(personas.clone(), scenario.clone(), true).expect("world");
    let mut engine = Engine::new(world, spec.threads);
    let mut capture = Capture::default();
    let mut log = JsonlSink::create(None, simulate_core::sinks::jsonl::Format::None).expect("sink");
    let mut metrics = Metrics::new(&scenario, &personas);
    if let Some(r) = spec.resolution {
        metrics.resolution(Resolution::parse(r, scenario.end_ms()).expect("resolution"));
    }
    let totals = {
        let mut fan = Tee(vec![&mut capture, &mut log, &mut metrics]);
        engine.run(&mut fan, &AtomicBool::new(false)).expect("run")
    };
    Run {
        events: capture.events,
        lines: capture.lines,
        checksum: log.checksum(),
        totals,
        metrics: serde_json::to_value(metrics.document(&scenario)).expect("metrics serialize"),
        personas,
    }
}

/// A copy of the shipped personas in a temp folder, each file passed through `edit`.
pub fn personas_copy(edit: impl Fn(&str, &str) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in persona::SHIPPED {
        let file = Path::new(name).file_name().expect("file name");
        std::fs::write(dir.path().join(file), edit(name, text)).expect("write persona");
    }
    dir
}

/// A folder with one test persona that never churns and ignores nudges: `platforms` is a
/// weighted table body, `gap` the session-gap distribution, `machine` the [session] and
/// [states.*] tables.
pub fn one_persona(name: &str, platforms: &str, gap: &str, machine: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "name = \"{name}\"\nshare = 1.0\n[attributes]\nplatform = {{ dist = \"weighted\", table = {{ {platforms} }} }}\n\
         locale = {{ dist = \"weighted\", table = {{ en = 1 }} }}\n[timing]\nsession_gap = {gap}\n[habit]\ninitial = 0.5\n\
         half_life = \"3d\"\ninvestment_gain = 0.05\nchurn_hazard = 0.0\nnudge_response = 0.0\n{machine}"
    );
    std::fs::write(dir.path().join(format!("{name}.toml")), text).expect("write persona");
    dir
}
