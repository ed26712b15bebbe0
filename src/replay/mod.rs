//! `simulate replay`: the timeline sent live to a target, paced in compressed wall time.
//!
//! source (engine or log) ──bounded channel──▶ pacer ──▶ driver (HTTP) ──▶ stats ──▶ summary

pub mod grpc;
mod h1;
pub mod http;
pub mod mapping;
pub mod pacer;
pub mod socketio;
pub mod source;
pub mod stats;
pub mod template;
pub mod thresholds;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::engine::Engine;
use mapping::Mapping;
use pacer::{Live, Plan};
use source::Phases;
use stats::{Stats, by_kind, ms, percentiles};
use thresholds::Threshold;

/// Where the events come from.
pub enum Feed {
    Engine(Box<Engine>),
    Log(PathBuf),
}

pub struct Options {
    pub feed: Feed,
    pub phases: Phases,
    pub plan: Plan,
    pub mapping: Arc<Mapping>,
    /// The target's base URL (sent to; never printed: `shown_target` is).
    pub target: String,
    pub shown_target: String,
    /// Where gRPC requests go, if the mapping sends any.
    pub grpc_target: Option<String>,
    /// Where Socket.IO connections go, if the mapping has `[socketio]`.
    pub socketio_target: Option<String>,
    /// An extra CA certificate (PEM) for https:// targets.
    pub ca_cert: Option<Vec<u8>>,
    pub http2: bool,
    pub thresholds: Vec<Threshold>,
    pub quiet: bool,
    /// Threads doing the network I/O [default: cores − 1, at least 1].
    pub io_threads: Option<usize>,
    /// Absolute time of the timeline's t = 0, for the live sim clock.
    pub start_epoch_ms: i64,
    /// Echoed in the summary's `config`.
    pub config: Value,
}

pub struct Report {
    pub summary: Value,
    pub failed_thresholds: usize,
    pub interrupted: bool,
    /// The end-of-run table, ready to print.
    pub table: String,
}

/// Runs a whole replay; blocks until it ends or `stop` is set and the drain bound passes
/// (or `hurry` is set: the summary then covers what has answered, the rest abandoned).
pub fn replay(o: Options, stop: Arc<AtomicBool>, hurry: Arc<AtomicBool>) -> Result<Report, String> {
    // The pacer thread needs a core of its own: on 2 cores one I/O worker held higher
    // rates with less CPU than two (docs/PERFORMANCE.md).
    let workers = o.io_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .thread_name("replay")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let driver = Arc::new(rt.block_on(http::Driver::new(
        Arc::clone(&o.mapping),
        &o.target,
        o.grpc_target.as_deref(),
        o.socketio_target.as_deref(),
        o.ca_cert.as_deref(),
        o.http2,
        o.plan.max_in_flight,
    ))?);
    let (tx, rx) = tokio::sync::mpsc::channel(source::CHANNEL_BATCHES);
    let window = o.plan.window;
    // Ctrl-C stops the source too: the pacer then finds the channel closed.
    let feed_stop = Arc::clone(&stop);
    let phases = o.phases.clone();
    let producer = std::thread::Builder::new()
        .name("timeline".into())
        .spawn(move || match o.feed {
            Feed::Engine(engine) => source::from_engine(*engine, window, phases, tx, &feed_stop),
            Feed::Log(path) => source::from_log(&path, window, &phases, tx, &feed_stop),
        })
        .map_err(|e| format!("cannot start the timeline thread: {e}"))?;

    let stats = Arc::new(Mutex::new(Stats::new(Instant::now())));
    let live = Arc::new(Live::default());
    let bar = ProgressBar::with_draw_target(
        None,
        if o.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message("simulating up to the window's start…");
    let view = {
        let (stats, live, bar) = (Arc::clone(&stats), Arc::clone(&live), bar.clone());
        let driver = Arc::clone(&driver);
        let epoch = o.start_epoch_ms;
        // Without a terminal (CI logs) the bar is hidden: a plain line every 10 s instead.
        let plain = bar.is_hidden() && !o.quiet;
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut n = 0u64;
            loop {
                tick.tick().await;
                n += 1;
                if let Some(t0) = live.started.get() {
                    let mut line = live_line(&stats, &live, *t0, epoch);
                    if let Some(sio) = &driver.sio {
                        line.push_str(&format!(" · sockets {}", sio.open_now()));
                    }
                    if plain && n % 40 == 0 {
                        eprintln!("{line}");
                    }
                    bar.set_message(line);
                }
                bar.tick();
            }
        })
    };
    let ended = pacer::pace(
        rx,
        Arc::clone(&driver),
        Arc::clone(&stats),
        Arc::clone(&live),
        o.plan.clone(),
        (Arc::clone(&stop), Arc::clone(&hurry)),
        rt.handle(),
    );
    // Sessions still open at the window's end: close their connections politely (unless
    // a second Ctrl-C asked for the summary now).
    if let Some(sio) = &driver.sio {
        rt.block_on(async {
            tokio::select! {
                _ = sio.close_all() => {}
                _ = pacer::stopped(&hurry) => {}
            }
        });
    }
    view.abort();
    bar.finish_and_clear();
    // Wait for the producer so its error, if any, shows.
    let fed = producer
        .join()
        .map_err(|_| "the timeline thread failed".to_string())?;
    rt.shutdown_timeout(Duration::from_millis(100));
    fed?;

    let mut stats = Arc::try_unwrap(stats)
        .map(|m| m.into_inner().expect("stats lock"))
        // Requests abandoned at the drain bound still hold a handle: copy what is there.
        .unwrap_or_else(|a| a.lock().expect("stats lock").clone());
    // Requests still out count as errors of their own class, timed up to now: a stalled
    // target must not look fast and error-free because its answers never came.
    let abandoned = stats.abandon(Instant::now());
    if let Some(sio) = &driver.sio {
        stats.fanout = sio.fanouts();
    }
    let mut verdicts = Vec::new();
    let mut failed = 0;
    for t in &o.thresholds {
        let (v, ok) = t.report(&stats);
        failed += !ok as usize;
        verdicts.push(v);
    }
    let total = stats.total();
    let wall = ended.wall.as_secs_f64().max(1e-9);
    let phase_name = |p: u8| o.phases.name(p).to_string();
    let summary = json!({
        "schema": "simulate.replay-summary.v1",
        "version": env!("CARGO_PKG_VERSION"),
        "config": o.config,
        "interrupted": ended.interrupted,
        "wall_seconds": (wall * 1000.0).round() / 1000.0,
        "totals": {
            "scheduled": stats.scheduled,
            "sent": stats.sent,
            "completed": total.count() - abandoned,
            "ok": total.ok,
            "errors": total.errors,
            "late": stats.late,
            "connection_waits": stats.connection_waits,
            "chained": stats.chained,
            "abandoned": abandoned,
            "unmapped": stats.unmapped.iter().sum::<u64>(),
            "server_side": stats.server_side.iter().sum::<u64>(),
            "scheduled_per_s": (stats.scheduled as f64 / wall * 10.0).round() / 10.0,
            "achieved_per_s": ((total.count() - abandoned) as f64 / wall * 10.0).round() / 10.0,
        },
        "overall": stats.total_json(),
        "scheduler_lag_ms": percentiles(&stats.lag),
        "skipped": {
            "unmapped": by_kind(&stats.unmapped),
            "server_side": by_kind(&stats.server_side),
        },
        "groups": stats.groups_json(&o.mapping.kinds, &phase_name),
        "series": stats.series(),
        "thresholds": verdicts,
    });
    let mut summary = summary;
    if let Some(sio) = &driver.sio {
        summary["socketio"] = sio.report();
    }
    let table = table(&summary, &o.shown_target);
    Ok(Report {
        summary,
        failed_thresholds: failed,
        interrupted: ended.interrupted,
        table,
    })
}

fn live_line(stats: &Mutex<Stats>, live: &Live, t0: Instant, epoch: i64) -> String {
    let now = Instant::now();
    let (sched, sent, p95, done, errors) = stats.lock().expect("stats lock").live(now);
    let late = stats.lock().expect("stats lock").late;
    let sim = crate::units::format_rfc3339(epoch + live.sim_ms.load(Ordering::Relaxed));
    let secs = now.duration_since(t0).as_secs();
    format!(
        "sim {} · wall {}:{:02}:{:02} · scheduled {sched}/s · sent {sent}/s · in flight {} · p95 {} · errors {errors}{} · late {late}",
        &sim[..19.min(sim.len())],
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        live.in_flight.load(Ordering::Relaxed),
        p95.map_or("-".to_string(), |v| format!("{:.1} ms", ms(v))),
        if done > 0 {
            format!(" ({:.2} %)", errors as f64 * 100.0 / done as f64)
        } else {
            String::new()
        },
    )
}

/// The end-of-run table: one line per group, then totals and thresholds.
fn table(s: &Value, target: &str) -> String {
    use std::fmt::Write;
    let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.1}"));
    let mut out = String::new();
    let t = &s["totals"];
    let _ = writeln!(
        out,
        "replayed to {target}: {} scheduled, {} sent, {} ok, {} errors{}, {} late{}, {} skipped ({} unmapped) in {:.1} s ({} req/s achieved)",
        t["scheduled"],
        t["sent"],
        t["ok"],
        t["errors"],
        match t["abandoned"].as_u64() {
            Some(n) if n > 0 => format!(" ({n} abandoned: no answer when the replay ended)"),
            _ => String::new(),
        },
        t["late"],
        match t["connection_waits"].as_u64() {
            Some(n) if n > 0 => format!(" ({n} waited for a connection)"),
            _ => String::new(),
        },
        t["unmapped"].as_u64().unwrap_or(0) + t["server_side"].as_u64().unwrap_or(0),
        t["unmapped"],
        s["wall_seconds"].as_f64().unwrap_or(0.0),
        t["achieved_per_s"],
    );
    let _ = writeln!(
        out,
        "{:<20} {:<10} {:<18} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "event",
        "kind",
        "phase",
        "count",
        "errors",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "svc p99 ms"
    );
    let mut rows: Vec<&Value> = s["groups"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let overall = json!({"tags": {"event": "ALL", "kind": "", "phase": ""}});
    let mut all = s["overall"].clone();
    if let (Some(a), Some(tags)) = (all.as_object_mut(), overall.get("tags")) {
        a.insert("tags".into(), tags.clone());
    }
    rows.push(&all);
    for g in rows {
        let l = &g["latency_ms"];
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let _ = writeln!(
            out,
            "{:<20} {:<10} {:<18} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>11}",
            g["tags"]["event"].as_str().unwrap_or(""),
            g["tags"]["kind"].as_str().unwrap_or(""),
            g["tags"]["phase"].as_str().unwrap_or(""),
            n(&g["count"]),
            n(&g["errors"]),
            f(&l["p50"]),
            f(&l["p95"]),
            f(&l["p99"]),
            f(&l["max"]),
            f(&g["service_ms"]["p99"]),
        );
    }
    if let Some(c) = s["socketio"]["connections"].as_object() {
        let n = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or(0);
        let _ = writeln!(
            out,
            "socket.io: {} connections opened ({} at first emit), peak {} open, {} failed, {} dropped, {} reconnected, {} closed by the server",
            n("opened"),
            n("implicit"),
            n("peak_open"),
            n("failed"),
            n("dropped"),
            n("reconnected"),
            n("server_disconnects"),
        );
        for l in s["socketio"]["listen"].as_array().into_iter().flatten() {
            let fan = &l["fanout_ms"];
            let _ = writeln!(
                out,
                "  {}: {} received, {} tied to {} broadcasts ({} unheard), fan-out p50 {} ms · p95 {} ms · p99 {} ms · max {} ms",
                l["event"].as_str().unwrap_or(""),
                l["received"],
                l["matched"],
                l["origins"],
                l["origins_unheard"],
                f(&fan["p50"]),
                f(&fan["p95"]),
                f(&fan["p99"]),
                f(&fan["max"]),
            );
        }
    }
    let lag = &s["scheduler_lag_ms"];
    let _ = writeln!(
        out,
        "scheduler lag: p50 {} ms · p99 {} ms · max {} ms (how late the generator sent; latency above counts from the intended instant)",
        f(&lag["p50"]),
        f(&lag["p99"]),
        f(&lag["max"])
    );
    if let Some(th) = s["thresholds"].as_array() {
        for v in th {
            let _ = writeln!(
                out,
                "{} {}  (observed {})",
                if v["ok"] == true { "✓" } else { "✗" },
                v["threshold"].as_str().unwrap_or(""),
                v["shown"].as_str().unwrap_or("")
            );
        }
    }
    out
}
