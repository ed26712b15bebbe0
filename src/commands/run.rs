//! `simulate run`: the engine into the behaviour log, business metrics and run record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use simulate_core::run_record::{RUN_SCHEMA, RunConfig, RunCounts, RunFiles, RunRecord};

use crate::cli::{Preset, RunArgs};
use crate::console::progress::Progress;
use crate::exit;
use crate::world::load_world;
use simulate_core::diagnostic::Problem;
use simulate_core::engine::RunTotals;
use simulate_core::engine::{Engine, World};
use simulate_core::persona::Persona;
use simulate_core::scenario::Scenario;
use simulate_core::sinks::jsonl::{Format, JsonlSink};
use simulate_core::sinks::live::RunGauges;
use simulate_core::sinks::metrics::document::MetricsDoc;
use simulate_core::sinks::metrics::{Metrics, Resolution};
use simulate_core::sinks::tee::Tee;
use simulate_core::units::{DAY, HOUR, SpanRecord, bytes_text, parse_duration};

/// Measured with the shipped personas (docs/PERFORMANCE.md): used only for the estimate
/// printed before large jobs and the disk check.
const EVENTS_PER_USER_DAY: f64 = 7.0;
const BYTES_PER_EVENT: f64 = 250.0;

pub(super) fn has_outputs(dir: &Path) -> bool {
    [
        "events.jsonl",
        "events.jsonl.zst",
        "metrics.json",
        "run.json",
        "summary.json",
    ]
    .iter()
    .any(|f| dir.join(f).exists())
}

/// `output/<run-id>`, with a numeric suffix when that folder already holds a run. The
/// length reads `d7` for whole days (as it always has) and `2h`, `36h` otherwise; N
/// replicates add `-rN`.
fn default_out(s: &Scenario, replicates: Option<u32>) -> PathBuf {
    let length = match s.span.whole_days() {
        Some(days) => format!("d{days}"),
        None => s.span.to_string(),
    };
    let mut base = format!("{}-s{}-u{}-{length}", s.name, s.seed, s.users);
    if let Some(n) = replicates {
        base.push_str(&format!("-r{n}"));
    }
    let mut dir = Path::new("output").join(&base);
    let mut n = 2;
    while has_outputs(&dir) {
        dir = Path::new("output").join(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

pub(crate) fn run(mut args: RunArgs) -> anyhow::Result<i32> {
    if let Some(n) = args.replicates {
        return super::replicates::run(args, n);
    }
    let pace = apply_preset(&mut args);
    let format = output_format(&args)?;
    let report_ms = report_every(args.report_every.as_deref())?;
    let (personas, scenario) = load_world(&args.world)?;
    let resolution = resolution(args.resolution.as_deref(), &scenario)?;
    let threads = super::threads(args.threads)?;
    let out_dir = prepare_out_dir(&args, &scenario)?;
    check_room(&args, &scenario, format, &out_dir)?;

    let world = World::new(personas.clone(), scenario.clone(), true)?;
    let mut engine = Engine::new(world, threads);
    let events_path = format
        .file_name()
        .filter(|_| !args.stdout)
        .map(|f| out_dir.join(f));
    let mut log = if args.stdout {
        JsonlSink::to_writer(Box::new(std::io::BufWriter::with_capacity(
            1 << 20,
            std::io::stdout(),
        )))
    } else {
        JsonlSink::create(events_path.as_deref(), format)
            .with_context(|| format!("cannot write in {}", out_dir.display()))?
    };
    let mut metrics = Metrics::new(&scenario, &personas);
    metrics.resolution(resolution);
    let mut progress = Progress::new(scenario.end_ms(), args.quiet, pace);
    if report_ms > 0 && !args.quiet {
        report_through(&mut metrics, &progress, report_ms);
    }
    let gauges = RunGauges::new(scenario.end_ms());
    let exporter = super::exporter::start(&args.metrics, args.quiet, {
        let gauges = Arc::clone(&gauges);
        move || gauges.render()
    })?;
    let mut live = gauges.sink();
    let stop = super::interrupt_flag();
    let totals = {
        let mut sinks = Tee(vec![&mut log, &mut metrics, &mut progress]);
        if exporter.is_some() {
            sinks.0.push(&mut live);
        }
        engine
            .run(&mut sinks, &stop)
            .map_err(|e| not_written(&out_dir, "the event log", &e))?
    };
    let done = Done {
        wall: progress.elapsed().as_secs_f64(),
        checksum: log.checksum(),
        bytes: log.bytes,
        totals,
        threads,
    };
    let doc = metrics.document(&scenario);
    let record = run_record(&args, &personas, &scenario, &done, &events_path, &out_dir);
    commit_outputs(&out_dir, log.take_pending(), &doc, &record)?;
    tell(
        &args,
        &scenario,
        &done,
        &doc,
        events_path.as_deref(),
        &out_dir,
    );
    if let Some(e) = exporter {
        e.linger();
    }
    Ok(if done.totals.interrupted {
        exit::INTERRUPTED
    } else {
        exit::OK
    })
}

/// `--preset quick` fills the world flags not given; returns the pace it asks for
/// (simulated ms per wall second, 0 = as fast as possible).
fn apply_preset(args: &mut RunArgs) -> f64 {
    if args.preset != Some(Preset::Quick) {
        return 0.0;
    }
    args.world
        .users
        .get_or_insert(crate::cli::Users::Count(1000));
    if args.world.span.is_none() {
        args.world.days.get_or_insert(2);
    }
    args.report_every.get_or_insert_with(|| "2h".into());
    // Two simulated days in about twelve seconds.
    (48 * HOUR) as f64 / 12.0
}

/// `--format` as written, or the default: jsonl for a run, none for replicates (their
/// logs are kept only when a format is named).
pub(super) fn format_text(args: &RunArgs) -> &str {
    match (&args.format, args.replicates) {
        (Some(f), _) => f,
        (None, Some(_)) => "none",
        (None, None) => "jsonl",
    }
}

pub(super) fn output_format(args: &RunArgs) -> anyhow::Result<Format> {
    let text = format_text(args);
    if args.stdout && text != "jsonl" {
        return Err(Problem::new(
            format!("--stdout writes plain JSON lines, not `{text}`"),
            "drop --format or use --format jsonl",
        )
        .into());
    }
    Ok(Format::parse(text).ok_or_else(|| {
        Problem::new(
            format!("--format `{text}` is not a format"),
            "use jsonl, jsonl.zst or none",
        )
    })?)
}

/// `--report-every` in simulated ms; 0 = never.
fn report_every(text: Option<&str>) -> anyhow::Result<i64> {
    let Some(t) = text else {
        return Ok(0);
    };
    let d = parse_duration(t).map_err(|m| {
        Problem::new(
            format!("--report-every: {m}"),
            "write it like 10m, 1h or 1d (0 = never)",
        )
    })?;
    Ok(d.ms())
}

/// `--resolution` of metrics.json's series, checked against the world's span; the span's
/// default when not given.
pub(super) fn resolution(text: Option<&str>, scenario: &Scenario) -> anyhow::Result<Resolution> {
    let span = scenario.end_ms();
    match text {
        None => Ok(Resolution::default_for(span)),
        Some(t) => {
            Resolution::parse(t, span).map_err(|e| Problem::new(e.to_string(), e.fix()).into())
        }
    }
}

/// `--out`, or a fresh `output/<run-id>`; never a folder holding a run unless `--force`.
pub(super) fn prepare_out_dir(args: &RunArgs, scenario: &Scenario) -> anyhow::Result<PathBuf> {
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(scenario, args.replicates));
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(Problem::new(
            format!(
                "--out {} is a file, not a folder; nothing was changed",
                out_dir.display()
            ),
            "name a folder for the run's files (it is created if missing)",
        )
        .into());
    }
    if has_outputs(&out_dir) && !args.force {
        return Err(Problem::new(
            format!(
                "{} already holds a run's files; nothing was changed",
                out_dir.display()
            ),
            "choose another --out, or add --force to overwrite them",
        )
        .into());
    }
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create the output folder {}", out_dir.display()))?;
    Ok(out_dir)
}

/// The estimate before a large job, and a refusal when the disk is too small for the log.
pub(super) fn check_room(
    args: &RunArgs,
    scenario: &Scenario,
    format: Format,
    out_dir: &Path,
) -> anyhow::Result<()> {
    let days = scenario.span.ms() as f64 / DAY as f64;
    let runs = args.replicates.unwrap_or(1).max(1) as f64;
    let user_days =
        (scenario.users as f64 * (1.0 + scenario.signups_per_day * days / 2.0)) * days * runs;
    let est_events = user_days * EVENTS_PER_USER_DAY;
    let est_bytes = match format {
        Format::Jsonl => est_events * BYTES_PER_EVENT,
        Format::JsonlZst => est_events * BYTES_PER_EVENT / 8.0,
        Format::None => 0.0,
    };
    if !args.quiet && est_events > 1e6 {
        if format == Format::None {
            eprintln!(
                "estimate: about {:.1} M events (engine only: no event log written)",
                est_events / 1e6
            );
        } else {
            eprintln!(
                "estimate: about {:.1} M events, {} on disk",
                est_events / 1e6,
                bytes_text(est_bytes)
            );
        }
    }
    if est_bytes > 0.0
        && let Ok(free) = fs4::available_space(out_dir)
        && est_bytes > free as f64 * 0.95
        && !args.force
    {
        return Err(Problem::new(
            format!(
                "the event log needs about {} but {} has {} free; nothing was written",
                bytes_text(est_bytes),
                out_dir.display(),
                bytes_text(free as f64)
            ),
            "use --format jsonl.zst or none, fewer --users or --days, another --out, or --force",
        )
        .into());
    }
    Ok(())
}

/// Prints the metrics' periodic line above the progress bar (or on stderr without one:
/// a hidden bar would swallow its lines).
fn report_through(metrics: &mut Metrics, progress: &Progress, every_ms: i64) {
    let bar = progress.bar.clone();
    metrics.report_every(
        every_ms,
        Box::new(move |line| {
            if bar.is_hidden() {
                eprintln!("{line}")
            } else {
                bar.println(line)
            }
        }),
    );
}

/// What the engine run gave.
pub(super) struct Done {
    pub(super) wall: f64,
    pub(super) checksum: String,
    /// Bytes of the plain event stream.
    pub(super) bytes: u64,
    pub(super) totals: RunTotals,
    pub(super) threads: usize,
}

pub(super) fn run_record(
    args: &RunArgs,
    personas: &[Persona],
    scenario: &Scenario,
    done: &Done,
    events_path: &Option<PathBuf>,
    out_dir: &Path,
) -> RunRecord {
    let totals = &done.totals;
    let shown = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    RunRecord {
        schema: RUN_SCHEMA.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        event_schema_version: simulate_core::timeline::json::SCHEMA_VERSION,
        config: RunConfig {
            scenario: scenario.name.clone(),
            scenario_file: shown(&args.world.scenario),
            personas_dir: shown(&args.world.personas),
            personas: personas.iter().map(|p| p.name.clone()).collect(),
            users: scenario.users,
            length: SpanRecord::of(scenario.span),
            seed: scenario.seed,
            start: scenario.start_text.clone(),
            threads: done.threads,
            format: format_text(args).to_string(),
        },
        counts: RunCounts {
            events: totals.events,
            bytes_uncompressed: done.bytes,
            users_created: totals.users_created,
            users_signed_up: totals.signed_up,
            invitees: totals.invitees,
            gifts: totals.gifts,
            gift_claim_attempts: totals.claim_attempts,
        },
        events_sha256: done.checksum.clone(),
        interrupted: totals.interrupted,
        simulated_until_ms: totals.simulated_ms,
        wall_seconds: (done.wall * 1000.0).round() / 1000.0,
        events_per_second: (totals.events as f64 / done.wall.max(1e-9)).round(),
        files: RunFiles {
            events: shown(events_path),
            metrics: out_dir.join("metrics.json").display().to_string(),
        },
    }
}

/// The run's summary: on stdout, or on stderr when the event lines own stdout.
fn tell(
    args: &RunArgs,
    scenario: &Scenario,
    done: &Done,
    doc: &MetricsDoc,
    events_path: Option<&Path>,
    out_dir: &Path,
) {
    let say = |line: String| {
        if args.stdout {
            eprintln!("{line}")
        } else {
            outln!("{line}")
        }
    };
    let (totals, wall) = (&done.totals, done.wall);
    let r = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{:.1} %", v * 100.0));
    let retention = &doc.retention.overall;
    say(format!(
        "{} events from {} users over {} in {:.2} s ({} events/s, {} threads){}",
        totals.events,
        totals.signed_up,
        scenario.span,
        wall,
        human(totals.events as f64 / wall.max(1e-9)),
        done.threads,
        if totals.interrupted {
            " — INTERRUPTED, partial results written"
        } else {
            ""
        }
    ));
    // Day-N retention and average DAU count complete calendar days only (docs/METRICS.md):
    // a short world says why it has none rather than print a bare n/a.
    let d1 = match retention.d1 {
        None => "n/a (no complete day 1 in this span)".to_string(),
        d1 => r(d1),
    };
    let avg_dau = match doc.engagement.avg_dau {
        // As JSON spells it (250.0, not 250).
        Some(v) => serde_json::Value::from(v).to_string(),
        None => "n/a (no complete day)".into(),
    };
    say(format!(
        "retention D1 {d1} · D7 {} · D30 {} · revenue {:.2} · avg DAU {avg_dau}",
        r(retention.d7),
        r(retention.d30),
        doc.revenue.total_minor_units as f64 / 100.0,
    ));
    for line in crate::console::metrics::persona_lines(doc) {
        say(line);
    }
    say(format!("sha256 {}", done.checksum));
    let out = out_dir.display();
    say(match events_path {
        Some(p) => format!(
            "wrote {}, metrics.json, run.json and report.html in {out}",
            p.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default()
        ),
        None if args.stdout => {
            format!(
                "events went to standard output; wrote metrics.json, run.json and report.html in {out}"
            )
        }
        None => format!(
            "wrote metrics.json, run.json and report.html in {out} (no event log: --format none)"
        ),
    });
}

/// 3.42 M, 12.5 k, 840.
fn human(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// The run's files appear together, once all are complete: a full disk (or a crash)
/// leaves the previous run's files, or none, never a truncated log beside no record.
pub(super) fn commit_outputs(
    out_dir: &Path,
    log: Option<simulate_core::atomic::Pending>,
    metrics: &MetricsDoc,
    record: &RunRecord,
) -> anyhow::Result<()> {
    let report = out_dir.join("report.html");
    let pending = [
        prepare_json(&out_dir.join("metrics.json"), metrics),
        prepare_json(&out_dir.join("run.json"), record),
        simulate_core::atomic::prepare(
            &report,
            crate::report::run::render(metrics, record).as_bytes(),
        )
        .map_err(|e| (report.display().to_string(), e)),
    ]
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .map_err(|(what, e)| not_written(out_dir, &what, &e))?;
    for p in log.into_iter().chain(pending) {
        let dest = p.dest().to_path_buf();
        p.commit()
            .map_err(|e| not_written(out_dir, &dest.display().to_string(), &e))?;
    }
    Ok(())
}

/// `doc` as pretty JSON beside `path`, ready to be renamed into place.
fn prepare_json(
    path: &Path,
    doc: &impl serde::Serialize,
) -> Result<simulate_core::atomic::Pending, (String, std::io::Error)> {
    let mut text =
        serde_json::to_string_pretty(doc).map_err(|e| (path.display().to_string(), e.into()))?;
    text.push('\n');
    simulate_core::atomic::prepare(path, text.as_bytes())
        .map_err(|e| (path.display().to_string(), e))
}

/// A run whose files could not all be written: what failed, what is left in `out_dir`
/// (the previous run's files, untouched, or nothing), and the fix.
pub(super) fn not_written(out_dir: &Path, what: &str, e: &std::io::Error) -> anyhow::Error {
    let kept: Vec<&str> = [
        "events.jsonl",
        "events.jsonl.zst",
        "metrics.json",
        "run.json",
        "report.html",
    ]
    .into_iter()
    .filter(|f| out_dir.join(f).is_file())
    .collect();
    let left = if kept.is_empty() {
        format!("nothing was written in {}", out_dir.display())
    } else {
        format!(
            "the previous {} in {} {} unchanged",
            kept.join(", "),
            out_dir.display(),
            if kept.len() == 1 { "is" } else { "are" }
        )
    };
    let fix = if simulate_core::atomic::is_disk_full(e) {
        "free space on that disk, or pass --out on another disk (--format jsonl.zst writes about 8× less)"
    } else {
        simulate_core::atomic::fix_for(e)
    };
    super::not_written(format!("cannot write {what}"), format!("{e}; {left}"), fix)
}
