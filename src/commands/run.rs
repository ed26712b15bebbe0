//! `simulate run`: the engine into the behaviour log, business metrics and run record.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::cli::{Preset, RunArgs};
use crate::console::progress::Progress;
use crate::exit::{self, BadInput};
use crate::world::load_world;
use simulate_core::engine::{Engine, World};
use simulate_core::scenario::Scenario;
use simulate_core::sinks::fanout::Fanout;
use simulate_core::sinks::jsonl::{Format, JsonlSink};
use simulate_core::sinks::metrics::Metrics;
use simulate_core::units::{DAY, HOUR, bytes_text, parse_duration};

/// Measured with the shipped personas (docs/PERFORMANCE.md): used only for the estimate
/// printed before large jobs and the disk check.
const EVENTS_PER_USER_DAY: f64 = 7.0;
const BYTES_PER_EVENT: f64 = 250.0;

fn has_outputs(dir: &Path) -> bool {
    [
        "events.jsonl",
        "events.jsonl.zst",
        "metrics.json",
        "run.json",
    ]
    .iter()
    .any(|f| dir.join(f).exists())
}

/// `output/<run-id>`, with a numeric suffix when that folder already holds a run. The
/// length reads `d7` for whole days (as it always has) and `2h`, `36h` otherwise.
fn default_out(s: &Scenario) -> PathBuf {
    let length = match s.span.whole_days() {
        Some(days) => format!("d{days}"),
        None => s.span.to_string(),
    };
    let base = format!("{}-s{}-u{}-{length}", s.name, s.seed, s.users);
    let mut dir = Path::new("output").join(&base);
    let mut n = 2;
    while has_outputs(&dir) {
        dir = Path::new("output").join(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

#[expect(clippy::too_many_lines, reason = "issue 17 cuts it into named steps")]
pub fn run(mut args: RunArgs) -> anyhow::Result<i32> {
    let mut pace = 0.0;
    if args.preset == Some(Preset::Quick) {
        args.world.users.get_or_insert(1000);
        if args.world.span.is_none() {
            args.world.days.get_or_insert(2);
        }
        args.report_every.get_or_insert_with(|| "2h".into());
        // Two simulated days in about twelve seconds.
        pace = (48 * HOUR) as f64 / 12.0;
    }
    if args.stdout && args.format != "jsonl" {
        return Err(BadInput(format!(
            "--stdout writes plain JSON lines, not `{}`\n    fix: drop --format or use --format jsonl",
            args.format
        ))
        .into());
    }
    let format = Format::parse(&args.format).ok_or_else(|| {
        BadInput(format!(
            "--format `{}` is not a format\n    fix: use jsonl, jsonl.zst or none",
            args.format
        ))
    })?;
    let report_ms = match &args.report_every {
        Some(t) => parse_duration(t)
            .map_err(|m| BadInput(format!("--report-every: {m}")))?
            .ms(),
        None => 0,
    };
    let (personas, scenario) = load_world(&args.world)?;
    let threads = super::threads(args.threads)?;

    let out_dir = args.out.clone().unwrap_or_else(|| default_out(&scenario));
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(BadInput(format!(
            "--out {} is a file, not a folder; nothing was changed\n    fix: name a folder for the run's files (it is created if missing)",
            out_dir.display()
        ))
        .into());
    }
    if has_outputs(&out_dir) && !args.force {
        return Err(BadInput(format!(
            "{} already holds a run's files; nothing was changed\n    fix: choose another --out, or add --force to overwrite them",
            out_dir.display()
        ))
        .into());
    }
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create the output folder {}", out_dir.display()))?;

    let days = scenario.span.ms() as f64 / DAY as f64;
    let user_days = (scenario.users as f64 * (1.0 + scenario.signups_per_day * days / 2.0)) * days;
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
        && let Ok(free) = fs4::available_space(&out_dir)
        && est_bytes > free as f64 * 0.95
        && !args.force
    {
        return Err(BadInput(format!(
            "the event log needs about {} but {} has {} free; nothing was written\n    fix: use --format jsonl.zst or none, fewer --users or --days, another --out, or --force",
            bytes_text(est_bytes),
            out_dir.display(),
            bytes_text(free as f64)
        ))
        .into());
    }

    let world = World::new(personas.clone(), scenario.clone(), true).map_err(BadInput)?;
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
    let mut progress = Progress::new(scenario.end_ms(), args.quiet, pace);
    if report_ms > 0 && !args.quiet {
        let bar = progress.bar.clone();
        // Without a terminal the bar is hidden and would swallow its lines.
        metrics.report_every(
            report_ms,
            Box::new(move |line| {
                if bar.is_hidden() {
                    eprintln!("{line}")
                } else {
                    bar.println(line)
                }
            }),
        );
    }

    let stop = super::interrupt_flag();

    let totals = {
        let mut sinks = Fanout(vec![&mut log, &mut metrics, &mut progress]);
        engine
            .run(&mut sinks, &stop)
            .map_err(|e| not_written(&out_dir, "the event log", &e))?
    };
    let wall = progress.elapsed().as_secs_f64();
    let checksum = log.checksum();

    let metrics_json = metrics.to_json(&scenario);
    let run_json = json!({
        "schema": "simulate.run.v1",
        "version": env!("CARGO_PKG_VERSION"),
        "event_schema_version": simulate_core::timeline::json::SCHEMA_VERSION,
        "config": {
            "scenario": scenario.name,
            "scenario_file": args.world.scenario.as_ref().map(|p| p.display().to_string()),
            "personas_dir": args.world.personas.as_ref().map(|p| p.display().to_string()),
            "personas": personas.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
            "users": scenario.users,
            "days": scenario.span.days_ceil(),
            "span": scenario.span.to_string(),
            "span_ms": scenario.span.ms(),
            "seed": scenario.seed,
            "start": scenario.start_text,
            "threads": threads,
            "format": args.format,
        },
        "counts": {
            "events": totals.events,
            "bytes_uncompressed": log.bytes,
            "users_created": totals.users_created,
            "users_signed_up": totals.signed_up,
            "invitees": totals.invitees,
            "gifts": totals.gifts,
            "gift_claim_attempts": totals.claim_attempts,
        },
        "events_sha256": checksum,
        "interrupted": totals.interrupted,
        "simulated_until_ms": totals.simulated_ms,
        "wall_seconds": (wall * 1000.0).round() / 1000.0,
        "events_per_second": (totals.events as f64 / wall.max(1e-9)).round(),
        "files": {
            "events": events_path.as_ref().map(|p| p.display().to_string()),
            "metrics": out_dir.join("metrics.json").display().to_string(),
        },
    });
    // The run's files appear together, once all are complete: a full disk (or a crash)
    // leaves the previous run's files, or none, never a truncated log beside no record.
    let pending = [
        prepare_json(&out_dir.join("metrics.json"), &metrics_json),
        prepare_json(&out_dir.join("run.json"), &run_json),
    ]
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .map_err(|(what, e)| not_written(&out_dir, &what, &e))?;
    for p in log.take_pending().into_iter().chain(pending) {
        let dest = p.dest().to_path_buf();
        p.commit()
            .map_err(|e| not_written(&out_dir, &dest.display().to_string(), &e))?;
    }

    // With --stdout the event lines own standard output; the summary goes to stderr.
    macro_rules! say {
        ($($a:tt)*) => {
            if args.stdout { eprintln!($($a)*) } else { println!($($a)*) }
        };
    }
    let r = |n: &str| {
        metrics_json["retention"]["overall"][n]
            .as_f64()
            .map(|v| format!("{:.1} %", v * 100.0))
            .unwrap_or_else(|| "n/a".into())
    };
    say!(
        "{} events from {} users over {} in {:.2} s ({} events/s, {} threads){}",
        totals.events,
        totals.signed_up,
        scenario.span,
        wall,
        human(totals.events as f64 / wall.max(1e-9)),
        threads,
        if totals.interrupted {
            " — INTERRUPTED, partial results written"
        } else {
            ""
        }
    );
    // Day-N retention and average DAU count complete calendar days only (docs/METRICS.md):
    // a short world says why it has none rather than print a bare n/a.
    let d1 = match r("d1") {
        na if metrics_json["retention"]["overall"]["d1"].is_null() => {
            format!("{na} (no complete day 1 in this span)")
        }
        d1 => d1,
    };
    let avg_dau = match metrics_json["engagement"]["avg_dau"].as_f64() {
        Some(v) => format!("{v:.1}"),
        None => "n/a (no complete day)".into(),
    };
    say!(
        "retention D1 {d1} · D7 {} · D30 {} · revenue {:.2} · avg DAU {avg_dau}",
        r("d7"),
        r("d30"),
        metrics_json["revenue"]["total_minor_units"]
            .as_f64()
            .unwrap_or(0.0)
            / 100.0,
    );
    say!("sha256 {checksum}");
    match &events_path {
        Some(p) => say!(
            "wrote {}, metrics.json and run.json in {}",
            p.file_name()
                .map(|f| f.to_string_lossy())
                .unwrap_or_default(),
            out_dir.display()
        ),
        None if args.stdout => say!(
            "events went to standard output; wrote metrics.json and run.json in {}",
            out_dir.display()
        ),
        None => say!(
            "wrote metrics.json and run.json in {} (no event log: --format none)",
            out_dir.display()
        ),
    }
    Ok(if totals.interrupted {
        exit::INTERRUPTED
    } else {
        0
    })
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

/// `v` as pretty JSON beside `path`, ready to be renamed into place.
fn prepare_json(
    path: &Path,
    v: &serde_json::Value,
) -> Result<simulate_core::atomic::Pending, (String, std::io::Error)> {
    let mut text =
        serde_json::to_string_pretty(v).map_err(|e| (path.display().to_string(), e.into()))?;
    text.push('\n');
    simulate_core::atomic::prepare(path, text.as_bytes())
        .map_err(|e| (path.display().to_string(), e))
}

/// A run whose files could not all be written: what failed, what is left in `out_dir`
/// (the previous run's files, untouched, or nothing), and the fix.
fn not_written(out_dir: &Path, what: &str, e: &std::io::Error) -> anyhow::Error {
    let kept: Vec<&str> = [
        "events.jsonl",
        "events.jsonl.zst",
        "metrics.json",
        "run.json",
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
    anyhow::anyhow!("cannot write {what}: {e}; {left}\n    fix: {fix}")
}
