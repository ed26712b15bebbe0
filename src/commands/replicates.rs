//! `simulate run --replicates N`: the world run with N seeds at once, each replicate's
//! files in `replicates/<seed>/`, and summary.json folding their metrics into means and
//! 95 % intervals (simulate_core::replicates).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::Context;
use simulate_core::diagnostic::Problem;
use simulate_core::engine::{Engine, World};
use simulate_core::persona::Persona;
use simulate_core::replicates::{Replicate, ReplicatesDoc};
use simulate_core::scenario::Scenario;
use simulate_core::sinks::jsonl::{Format, JsonlSink};
use simulate_core::sinks::metrics::document::MetricsDoc;
use simulate_core::sinks::metrics::{Metrics, Resolution};
use simulate_core::sinks::tee::Tee;

use super::run::{Done, check_room, commit_outputs, not_written, output_format, prepare_out_dir};
use crate::cli::RunArgs;
use crate::console::replicates as show;
use crate::exit;
use crate::world::load_world;

/// Most replicates one command runs: each is a whole world.
const MAX_REPLICATES: u32 = 1000;

/// What one replicate left: its entry in summary.json and its metrics.
struct Finished {
    replicate: Replicate,
    metrics: MetricsDoc,
    wall: f64,
}

/// The plan: which seeds, how many at once, threads each.
struct Plan {
    seeds: Vec<u64>,
    at_once: usize,
    threads_each: usize,
}

pub(crate) fn run(args: RunArgs, n: u32) -> anyhow::Result<i32> {
    let format = output_format(&args)?;
    let (personas, scenario) = load_world(&args.world)?;
    // The same buckets in every replicate, so series points fold index by index.
    let resolution = super::run::resolution(args.resolution.as_deref(), &scenario)?;
    let plan = plan(&scenario, n, super::threads(args.threads)?)?;
    let out_dir = prepare_out_dir(&args, &scenario)?;
    check_room(&args, &scenario, format, &out_dir)?;
    if !args.quiet {
        show::plan(&plan.seeds, plan.at_once, plan.threads_each);
    }
    let stop = super::interrupt_flag();
    let started = std::time::Instant::now();
    let finished = run_all(
        &args,
        &personas,
        &scenario,
        &plan,
        (format, resolution),
        &out_dir,
        &stop,
    )?;
    let (replicates, docs): (Vec<Replicate>, Vec<MetricsDoc>) = finished
        .into_iter()
        .map(|f| (f.replicate, f.metrics))
        .unzip();
    let summary = ReplicatesDoc::new(&scenario.name, replicates, &docs);
    super::export(&out_dir.join("summary.json"), "the summary", &summary)?;
    out!(
        "{}",
        show::done(&summary, &out_dir, started.elapsed().as_secs_f64())
    );
    let interrupted = summary.replicates.len() < plan.seeds.len()
        || summary.replicates.iter().any(|r| r.interrupted);
    Ok(if interrupted {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

/// Seeds seed … seed + N − 1; as many replicates at once as there are threads, each
/// with its share of them (the timeline is the same at any thread count).
fn plan(scenario: &Scenario, n: u32, threads: usize) -> anyhow::Result<Plan> {
    if !(1..=MAX_REPLICATES).contains(&n) {
        return Err(Problem::new(
            format!("--replicates {n} is out of range"),
            format!("use 1 to {MAX_REPLICATES} (10 gives intervals about a third as wide as 3)"),
        )
        .into());
    }
    let last = scenario.seed.checked_add(u64::from(n) - 1).ok_or_else(|| {
        Problem::new(
            format!(
                "--replicates {n} from seed {} runs past the largest seed",
                scenario.seed
            ),
            "use a smaller --seed",
        )
    })?;
    let at_once = (n as usize).min(threads).max(1);
    Ok(Plan {
        seeds: (scenario.seed..=last).collect(),
        at_once,
        threads_each: (threads / at_once).max(1),
    })
}

/// Runs every seed of the plan, `at_once` at a time; results in seed order. The first
/// failure stops the others and is returned; Ctrl-C stops them all, keeping what ran.
fn run_all(
    args: &RunArgs,
    personas: &[Persona],
    scenario: &Scenario,
    plan: &Plan,
    (format, resolution): (Format, Resolution),
    out_dir: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<Vec<Finished>> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<anyhow::Result<Finished>>>> =
        plan.seeds.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..plan.at_once {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= plan.seeds.len() || stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let mut seeded = scenario.clone();
                    seeded.seed = plan.seeds[i];
                    let one = Replica {
                        args,
                        personas,
                        scenario: &seeded,
                        threads: plan.threads_each,
                        format,
                        resolution,
                        out_dir,
                    };
                    let result = one.run(stop);
                    match &result {
                        Ok(f) if !args.quiet => show::finished(&f.replicate, f.wall),
                        Ok(_) => {}
                        Err(_) => stop.store(true, Ordering::SeqCst),
                    }
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    let mut out = Vec::new();
    for slot in slots {
        match slot.into_inner().ok().flatten() {
            Some(Ok(f)) => out.push(f),
            Some(Err(e)) => return Err(e),
            // Not started: Ctrl-C came first.
            None => {}
        }
    }
    Ok(out)
}

/// One replicate: the world with one seed into `replicates/<seed>/`.
struct Replica<'a> {
    args: &'a RunArgs,
    personas: &'a [Persona],
    scenario: &'a Scenario,
    threads: usize,
    format: Format,
    resolution: Resolution,
    out_dir: &'a Path,
}

impl Replica<'_> {
    fn run(&self, stop: &AtomicBool) -> anyhow::Result<Finished> {
        let folder = format!("replicates/{}", self.scenario.seed);
        let dir = self.out_dir.join(&folder);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the replicate's folder {}", dir.display()))?;
        let world = World::new(self.personas.to_vec(), self.scenario.clone(), true)?;
        let mut engine = Engine::new(world, self.threads);
        let events_path: Option<PathBuf> = self.format.file_name().map(|f| dir.join(f));
        let mut log = JsonlSink::create(events_path.as_deref(), self.format)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        let mut metrics = Metrics::new(self.scenario, self.personas);
        metrics.resolution(self.resolution);
        let started = std::time::Instant::now();
        let totals = {
            let mut sinks = Tee(vec![&mut log, &mut metrics]);
            engine
                .run(&mut sinks, stop)
                .map_err(|e| not_written(&dir, "the event log", &e))?
        };
        let done = Done {
            wall: started.elapsed().as_secs_f64(),
            checksum: log.checksum(),
            bytes: log.bytes,
            totals,
            threads: self.threads,
        };
        let doc = metrics.document(self.scenario);
        let record = super::run::run_record(
            self.args,
            self.personas,
            self.scenario,
            &done,
            &events_path,
            &dir,
        );
        commit_outputs(&dir, log.take_pending(), &doc, &record)?;
        Ok(Finished {
            replicate: Replicate {
                seed: self.scenario.seed,
                folder,
                events: done.totals.events,
                events_sha256: done.checksum,
                interrupted: done.totals.interrupted,
            },
            metrics: doc,
            wall: done.wall,
        })
    }
}
