//! What `simulate replay` shows: the live line while it runs (a spinner on a terminal, a
//! plain line every 10 s in CI logs) and the table at the end.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use simulate_replay::stats::ms;
use simulate_replay::{LiveFigures, Watch};

/// The live view: a spinner whose message is the live line.
pub struct LiveView {
    bar: ProgressBar,
}

impl LiveView {
    pub fn new(quiet: bool) -> LiveView {
        let bar = ProgressBar::with_draw_target(
            None,
            if quiet {
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
        LiveView { bar }
    }

    /// What the replay calls every 250 ms. `epoch_ms` is the timeline's t = 0.
    pub fn watcher(&self, epoch_ms: i64, quiet: bool) -> Watch {
        let bar = self.bar.clone();
        // Without a terminal (CI logs) the bar is hidden: a plain line every 10 s instead.
        let plain = bar.is_hidden() && !quiet;
        let ticks = AtomicU64::new(0);
        Box::new(move |figures| {
            let n = ticks.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(f) = figures {
                let line = live_line(f, epoch_ms);
                if plain && n % 40 == 0 {
                    eprintln!("{line}");
                }
                bar.set_message(line);
            }
            bar.tick();
        })
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn live_line(f: &LiveFigures, epoch: i64) -> String {
    let sim = simulate_core::units::format_rfc3339(epoch + f.sim_ms);
    let secs = f.wall.as_secs();
    let mut line = format!(
        "sim {} · wall {}:{:02}:{:02} · scheduled {}/s · sent {}/s · in flight {} · p95 {} · errors {}{} · late {}",
        &sim[..19.min(sim.len())],
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        f.scheduled_per_s,
        f.sent_per_s,
        f.in_flight,
        f.p95_us
            .map_or("-".to_string(), |v| format!("{:.1} ms", ms(v))),
        f.errors,
        if f.completed > 0 {
            format!(" ({:.2} %)", f.errors as f64 * 100.0 / f.completed as f64)
        } else {
            String::new()
        },
        f.late,
    );
    if let Some(n) = f.sockets_open {
        line.push_str(&format!(" · sockets {n}"));
    }
    line
}

/// The end-of-run table: one line per group, then totals and thresholds.
pub fn table(s: &Value, target: &str) -> String {
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
