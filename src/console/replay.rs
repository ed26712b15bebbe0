//! What `simulate replay` shows: the live line while it runs (a spinner on a terminal, a
//! plain line every 10 s in CI logs) and the table at the end.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use simulate_replay::stats::ms;
use simulate_replay::summary::{
    ConcurrencySizing, Group, GroupFigures, HookReport, ListenReport, ProbeReport, SessionsOpen,
    SocketIoReport, Summary, Verdict, WebSocketReport,
};
use simulate_replay::{LiveFigures, Watch};

/// The live view: a spinner whose message is the live line.
pub(crate) struct LiveView {
    bar: ProgressBar,
}

impl LiveView {
    pub(crate) fn new(quiet: bool) -> LiveView {
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
    /// `start_at`: `--start-at`'s instant, counted down while the replay waits for it.
    pub(crate) fn watcher(
        &self,
        epoch_ms: i64,
        quiet: bool,
        start_at: Option<std::time::SystemTime>,
    ) -> Watch {
        let bar = self.bar.clone();
        // Without a terminal (CI logs) the bar is hidden: a plain line every 10 s instead.
        let plain = bar.is_hidden() && !quiet;
        let ticks = AtomicU64::new(0);
        Box::new(move |figures| {
            let n = ticks.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(f) = figures {
                let line = live_line(f, epoch_ms);
                if plain && n.is_multiple_of(40) {
                    eprintln!("{line}");
                }
                bar.set_message(line);
            } else if let Some(wait) =
                start_at.and_then(|at| at.duration_since(std::time::SystemTime::now()).ok())
            {
                bar.set_message(format!(
                    "waiting for --start-at: the clock starts in {:.0} s…",
                    wait.as_secs_f64().ceil()
                ));
            }
            bar.tick();
        })
    }

    pub(crate) fn finish(&self) {
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
    line.push_str(&format!(" · sessions {}", f.sessions_open));
    if f.skipped_per_s > 0 {
        line.push_str(&format!(" · skipped {}/s", f.skipped_per_s));
    }
    if let Some(n) = f.sockets_open {
        line.push_str(&format!(" · sockets {n}"));
    }
    line
}

/// What the three time columns are: printed under the table.
const LEGEND: &str = "latency (p50…max): from each event's intended instant · svc: service time, from when the request left · chain: waiting for the same user's previous answer";

/// The end-of-run table: totals, the rows (below), one for all and the legend, the
/// Socket.IO figures, the generator's lag, then the thresholds.
/// `on_time`, and whose doing the requests it leaves out were: the target's (held for an
/// in-flight slot) or, after a start later than `--start-at`, mostly the late start's
/// backlog, sent at once.
fn on_time_line(o: &simulate_replay::summary::OnTime, late_start_ms: Option<f64>) -> String {
    let held = match late_start_ms.filter(|ms| *ms > 0.0) {
        Some(ms) => format!(
            "{} left out: the backlog of a start {:.3} s after --start-at, sent at once, and any held for an in-flight slot",
            o.held_for_slot,
            ms / 1000.0
        ),
        None => format!(
            "{} held for an in-flight slot left out: the target's doing",
            o.held_for_slot
        ),
    };
    format!(
        "on time: {:.1} % of {} requests left within {} ms of their instant ({held})\n",
        o.share * 100.0,
        o.requests,
        o.within_ms,
    )
}

pub(crate) fn table(s: &Summary, target: &str) -> String {
    let mut out = headline(s, target);
    out.push_str(&header(["event", "kind", "phase"]));
    out.push_str(&rows(s));
    out.push_str(&group_row(["ALL", "", ""], &s.overall));
    out.push_str(&stage_rows(s));
    out.push_str(LEGEND);
    out.push('\n');
    out.push_str(&answers_line(&s.overall));
    out.push_str(&flow_lines(s));
    if let Some(socketio) = &s.socketio {
        out.push_str(&socketio_lines(socketio));
    }
    if let Some(websocket) = &s.websocket {
        out.push_str(&websocket_line(websocket));
    }
    if let Some(probes) = &s.probes {
        out.push_str(&probe_lines(probes));
    }
    for (which, hook) in [("setup", &s.setup), ("teardown", &s.teardown)] {
        if let Some(h) = hook {
            out.push_str(&hook_line(which, h));
            out.push('\n');
        }
    }
    if let Some(o) = &s.sessions_open {
        out.push_str(&sessions_line(o, s.config.concurrency.as_ref()));
    }
    let lag = s.scheduler_lag_ms.as_ref();
    out.push_str(&format!(
        "scheduler lag: p50 {} ms · p99 {} ms · max {} ms (how late the generator sent; latency above counts from the intended instant)\n",
        ms1(lag.map(|l| l.p50)),
        ms1(lag.map(|l| l.p99)),
        ms1(lag.map(|l| l.max))
    ));
    match (&s.on_time, s.late_start_ms.filter(|ms| *ms > 0.0)) {
        (Some(o), _) => out.push_str(&on_time_line(o, s.late_start_ms)),
        (None, Some(ms)) if s.totals.sent > 0 => out.push_str(&format!(
            "on time: none of the {} requests could leave on its instant: all were the backlog of a start {:.3} s after --start-at, sent at once\n",
            s.totals.sent,
            ms / 1000.0
        )),
        _ => {}
    }
    for v in &s.thresholds {
        out.push_str(&verdict_line(v));
    }
    out
}

/// Flows: answers counted by outcome (`outcomes gift.claimed claim by status: claimed
/// 9`), and the requests skipped for a failed dependency with the first few named.
fn flow_lines(s: &Summary) -> String {
    let mut out = String::new();
    for o in &s.outcomes {
        let counts: Vec<String> = o.counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!(
            "outcomes {} {} by {}: {}\n",
            o.event,
            o.kind,
            o.field,
            counts.join(" · ")
        ));
    }
    if s.totals.skipped_dependency > 0 {
        out.push_str(&format!(
            "{} requests not sent for a failed dependency:\n",
            s.totals.skipped_dependency
        ));
        for d in s.dependencies.iter().take(5) {
            out.push_str(&format!("    {} × {}\n", d.skipped, d.dependency));
        }
        if s.dependencies.len() > 5 {
            out.push_str(&format!(
                "    and {} more (the summary's `dependencies`)\n",
                s.dependencies.len() - 5
            ));
        }
    }
    out
}

/// With stages: a header and a row per stage, request tag and event (phases added).
fn stage_rows(s: &Summary) -> String {
    if s.stages.is_empty() {
        return String::new();
    }
    let mut out = header(["stage", "kind", "event"]);
    for g in &s.stages {
        out.push_str(&group_row([&g.stage, &g.kind, &g.event], &g.figures));
    }
    out
}

/// `✓ p95{class:event}<=500ms  (observed 12.300 ms over 3509 requests: …)`, and its note
/// (the default threshold's, why there was nothing to judge) on a line of its own; a
/// preset's limit on what this run did not send is marked `-`, not judged.
fn verdict_line(v: &Verdict) -> String {
    let mark = match (v.applicable, v.ok) {
        (false, _) => "-",
        (true, true) => "✓",
        (true, false) => "✗",
    };
    let mut line = if v.applicable && v.observed.is_some() {
        format!(
            "{mark} {}  (observed {} over {})\n",
            v.threshold, v.shown, v.applied_to
        )
    } else {
        format!("{mark} {}  ({})\n", v.threshold, v.shown)
    };
    if let Some(note) = &v.note {
        line.push_str(&format!("    {note}\n"));
    }
    line
}

/// Every answer by status, as its protocol names it (`200`, `OK`, `UNAVAILABLE`,
/// `acked`), then the other errors by class (no answer, or an answer failing its check).
fn answers_line(g: &GroupFigures) -> String {
    let list = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let mut line = String::new();
    if !g.statuses.is_empty() {
        line.push_str(&format!("answers: {}", list(&g.statuses)));
    }
    if !g.error_classes.is_empty() {
        if !line.is_empty() {
            line.push_str("; ");
        }
        line.push_str(&format!("other errors: {}", list(&g.error_classes)));
    }
    if !line.is_empty() {
        line.push('\n');
    }
    line
}

/// A figure in ms to one place, `-` when there is none.
fn ms1(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |x| format!("{x:.1}"))
}

fn headline(s: &Summary, target: &str) -> String {
    let t = &s.totals;
    let waits = if t.connection_waits > 0 {
        format!(" ({} waited for a connection)", t.connection_waits)
    } else {
        String::new()
    };
    let abandoned = if t.abandoned > 0 {
        format!(
            " ({} abandoned: no answer when the replay ended)",
            t.abandoned
        )
    } else {
        String::new()
    };
    let not_sent = t.unmapped + t.server_side + t.no_token;
    let skipped = if not_sent > 0 {
        let no_token = if t.no_token > 0 {
            format!(", {} without a token", t.no_token)
        } else {
            String::new()
        };
        format!(
            "; {not_sent} events skipped ({} server-side, {} unmapped{no_token}: not requests)",
            t.server_side, t.unmapped
        )
    } else {
        String::new()
    };
    // Rates as JSON spells them (100.0, not 100), over the schedule's span.
    let rates = if t.schedule_seconds > 0.0 {
        format!(
            "{} req/s scheduled, {} req/s achieved over the schedule's {:.1} s",
            serde_json::Value::from(t.scheduled_per_s),
            serde_json::Value::from(t.achieved_per_s),
            t.schedule_seconds
        )
    } else {
        "too few requests for a rate".to_string()
    };
    format!(
        "replayed to {target}: {} requests scheduled, {} sent, {} ok, {} errors{abandoned}, {} late{waits}{skipped}\n{rates}; wall {:.1} s\n",
        t.scheduled_requests, t.sent, t.ok, t.errors, t.late, s.wall_seconds,
    )
}

/// Each request tag's total (when the mapping has several), then one row per event: its
/// phase when it fell in one, else `all` with a row per phase under it.
fn rows(s: &Summary) -> String {
    let mut out = String::new();
    if s.by_kind.len() > 1 {
        for k in &s.by_kind {
            out.push_str(&group_row(["all", &k.tags.kind, "all"], &k.figures));
        }
    }
    for e in &s.by_event {
        let t = &e.tags;
        let phases: Vec<&Group> = s
            .groups
            .iter()
            .filter(|g| {
                (&g.tags.protocol, &g.tags.event, &g.tags.kind) == (&t.protocol, &t.event, &t.kind)
            })
            .collect();
        match phases.as_slice() {
            [one] => out.push_str(&group_row([&t.event, &t.kind, &one.tags.phase], &e.figures)),
            _ => {
                out.push_str(&group_row([&t.event, &t.kind, "all"], &e.figures));
                for g in phases {
                    out.push_str(&group_row(["", "", &g.tags.phase], &g.figures));
                }
            }
        }
    }
    out
}

/// The figures' header under three tag columns, as [`group_row`] fills them.
fn header(tags: [&str; 3]) -> String {
    row(
        tags,
        [
            "count",
            "errors",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "svc p99 ms",
            "chain p99 ms",
        ]
        .map(String::from),
    )
}

fn row(tags: [&str; 3], figures: [String; 8]) -> String {
    let [a, b, c, d, e, f, g, h] = figures;
    format!(
        "{:<20} {:<10} {:<18} {a:>8} {b:>7} {c:>9} {d:>9} {e:>9} {f:>9} {g:>11} {h:>13}\n",
        tags[0], tags[1], tags[2]
    )
}

fn group_row(tags: [&str; 3], g: &GroupFigures) -> String {
    let l = g.latency_ms.as_ref();
    row(
        tags,
        [
            g.count.to_string(),
            g.errors.to_string(),
            ms1(l.map(|l| l.p50)),
            ms1(l.map(|l| l.p95)),
            ms1(l.map(|l| l.p99)),
            ms1(l.map(|l| l.max)),
            ms1(g.service_ms.as_ref().map(|s| s.p99)),
            ms1(g.chained_ms.as_ref().map(|c| c.p99)),
        ],
    )
}

/// Sessions open at once in the timeline sent, and the `--concurrency` target if given.
fn sessions_line(o: &SessionsOpen, sized: Option<&ConcurrencySizing>) -> String {
    let target = sized.map_or(String::new(), |c| {
        format!(
            " (--concurrency {}: {} users, {} at the window's peak)",
            c.target, c.users, c.peak
        )
    });
    format!(
        "sessions open at once: peak {} at t = {} · median {} · {} at the window's start, {} at its end{target}\n",
        o.peak,
        simulate_core::units::timeline_clock(o.peak_at_ms),
        o.median,
        o.at_start,
        o.at_end
    )
}

fn socketio_lines(socketio: &SocketIoReport) -> String {
    let c = &socketio.connections;
    let mut out = format!(
        "socket.io: {} connections opened ({} at first emit), peak {} open, {} failed, {} dropped, {} reconnected, {} closed by the server\n",
        c.opened, c.implicit, c.peak_open, c.failed, c.dropped, c.reconnected, c.server_disconnects,
    );
    for l in &socketio.listen {
        out.push_str(&listen_line(l));
    }
    out
}

/// A set-up or teardown: its requests and answers, apart from the load's.
pub(crate) fn hook_line(which: &str, h: &HookReport) -> String {
    let answers: Vec<String> = h
        .statuses
        .iter()
        .chain(&h.error_classes)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let over: String = h
        .for_each
        .iter()
        .map(|(v, n)| format!("; over {n} captured {v}"))
        .collect();
    format!(
        "{which}: {} requests, {} ok, {} errors in {} ms (answers {}{over}; not in the figures above)",
        h.requests,
        h.ok,
        h.errors,
        h.wall_ms,
        answers.join(", ")
    )
}

/// Violations shown under the probes' lines (the summary lists up to 50).
const PROBE_LINES: usize = 5;

/// Each probed kind: its groups, the expected result, violations and the answers; then
/// the first violations with what came back.
fn probe_lines(p: &ProbeReport) -> String {
    let mut out = String::new();
    for e in &p.by_event {
        let answers: Vec<String> = e.answers.iter().map(|(k, n)| format!("{k} {n}")).collect();
        out.push_str(&format!(
            "probes: {} groups of {} on {} (expected {}): {} violations; answers {} (copies counted here only)\n",
            e.sets,
            e.copies,
            e.event,
            e.expected,
            e.violations,
            answers.join(", "),
        ));
    }
    for v in p.listed.iter().take(PROBE_LINES) {
        out.push_str(&format!(
            "  ✗ {} {} got {}\n",
            v.event,
            v.event_id,
            v.got.join(", ")
        ));
    }
    if p.violations as usize > PROBE_LINES {
        out.push_str(&format!(
            "  … and {} more (the summary lists up to 50)\n",
            p.violations as usize - PROBE_LINES
        ));
    }
    out
}

fn websocket_line(w: &WebSocketReport) -> String {
    let (c, m) = (&w.connections, &w.messages);
    format!(
        "websocket: {} connections opened ({} at first message), peak {} open, {} failed, {} dropped, {} reconnected, {} closed by the server; {} messages written, {} replies matched, {} frames unmatched\n",
        c.opened,
        c.implicit,
        c.peak_open,
        c.failed,
        c.dropped,
        c.reconnected,
        c.server_disconnects,
        m.written,
        m.replies,
        m.unmatched,
    )
}

/// One listened event: what was received, and only the figures that exist (a listen
/// without an origin ties nothing; fan-out needs a receipt tied to its emit).
fn listen_line(l: &ListenReport) -> String {
    let mut line = format!("  {}: {} received", l.event, l.received);
    if let (Some(origin), Some(matched), Some(origins)) = (&l.origin, l.matched, l.origins) {
        line.push_str(&format!(
            ", {matched} tied to {origins} {origin} emits ({} unheard)",
            l.origins_unheard.unwrap_or(0)
        ));
    }
    if let Some(f) = &l.fanout_ms {
        line.push_str(&format!(
            ", fan-out p50 {} ms · p95 {} ms · p99 {} ms · max {} ms",
            ms1(Some(f.p50)),
            ms1(Some(f.p95)),
            ms1(Some(f.p99)),
            ms1(Some(f.max)),
        ));
    }
    line.push('\n');
    line
}
