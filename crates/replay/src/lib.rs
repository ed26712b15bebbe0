//! simulate's live load: the timeline sent to a target, paced in compressed wall time,
//! with latency corrected for coordinated omission, and thresholds judged over it.
//!
//! source (engine or log) ──bounded channel──▶ pacer ──▶ drivers (HTTP, gRPC,
//! Socket.IO, WebSocket) ──▶ stats ──▶ summary. [`replay`] runs the whole; what it shows while it
//! runs goes to the caller's [`Options::watch`], and nothing here prints.

pub mod capacity;
pub mod captured;
pub mod drivers;
mod error;
mod flows;
mod hooks;
pub mod live_metrics;
pub mod mapping;
pub mod merge;
pub mod outcome;
mod over_time;
pub mod pace;
pub mod pacer;
mod series;
pub mod shard;
pub mod source;
pub mod stats;
pub mod summary;
pub mod thresholds;
pub mod tls;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use simulate_core::engine::Engine;

use drivers::{Driver, Targets};
pub use error::ReplayError;
pub use hooks::SqlRunner;
use mapping::Mapping;
use pacer::{Live, Plan};
use source::{Gap, Phases};
use stats::{Stats, by_kind, percentiles};
use summary::{ReplayConfig, SUMMARY_SCHEMA, Skipped, Summary, Totals, Verdict};
use thresholds::Threshold;
use tls::Tls;

/// Where the events come from.
pub enum Feed {
    Engine(Box<Engine>),
    Log(PathBuf),
}

pub struct Options {
    pub feed: Feed,
    pub phases: Phases,
    /// `--seeded`: the time between the seed's end and the window's start, whose users
    /// the target never saw sign up ([`Report::gap_users`]).
    pub gap: Option<Gap>,
    pub plan: Plan,
    pub mapping: Arc<Mapping>,
    /// Where each protocol's requests go (never printed: they may hold secrets).
    pub targets: Targets,
    pub tls: Tls,
    pub http2: bool,
    pub thresholds: Vec<Threshold>,
    /// Threads doing the network I/O [default: cores − 1, at least 1].
    pub io_threads: Option<usize>,
    /// Called about every 250 ms while the replay runs, for a live view: `None` while
    /// the engine simulates up to the window's start.
    pub watch: Option<Watch>,
    /// Echoed in the summary's `config`.
    pub config: ReplayConfig,
    /// `--abort-on-fail`: stop at the first threshold that has failed for good, or when
    /// the target is down (nothing but refused connections), still writing the summary.
    pub abort_on_fail: bool,
    /// The requests the plan will send, when it knows (stages of mapped requests): lets
    /// `--abort-on-fail` judge rates and percentiles before the end.
    pub planned: Option<u64>,
    /// The world's ids and pools, for templates' `lookup(…)`, `{session_id}` and the
    /// entities' ids in the team's format (`[ids] gift`): from the engine's world or the
    /// run.json beside a log; `None` for a foreign log (lookups render null).
    pub team: Option<Arc<simulate_core::world::pools::Team>>,
    /// Runs the mapping's set-up and teardown `sql`, when it has some.
    pub sql: Option<Arc<dyn SqlRunner>>,
    /// `--metrics-addr`: where the live figures go for the binary's `/metrics`.
    pub metrics: Option<Arc<live_metrics::LiveMetrics>>,
}

/// A live view's callback: `None` until the first request is due.
pub type Watch = Box<dyn Fn(Option<&LiveFigures>) + Send + Sync>;

/// The figures of the live view, read while the replay runs.
#[derive(Clone, Debug)]
pub struct LiveFigures {
    /// Wall time since the first request was due.
    pub wall: Duration,
    /// The timeline's time of the last event handed out, in ms from its start.
    pub sim_ms: i64,
    /// Requests due and sent in the last full second.
    pub scheduled_per_s: u32,
    pub sent_per_s: u32,
    /// Events due in the last full second and skipped (server-side, unmapped): not
    /// requests, so not in `scheduled_per_s`.
    pub skipped_per_s: u32,
    pub in_flight: usize,
    /// Latency p95 of the last full second, in µs.
    pub p95_us: Option<u64>,
    pub completed: u64,
    pub errors: u64,
    pub late: u64,
    /// Socket.IO and WebSocket connections open now, when the mapping has either.
    pub sockets_open: Option<usize>,
    /// Sessions open at once in the timeline sent so far.
    pub sessions_open: u64,
}

pub struct Report {
    pub summary: Summary,
    /// With [`Options::gap`]: users who signed up in the gap and have events in the
    /// window (the target meets them without having seen them sign up).
    pub gap_users: Option<u64>,
    pub failed_thresholds: usize,
    /// Stopped by Ctrl-C (not by `--abort-on-fail`).
    pub interrupted: bool,
    /// Why `--abort-on-fail` stopped the run early.
    pub aborted: Option<Abort>,
    /// The values the teardown repeated over (`for_each`), when it repeats over some:
    /// for `--captured-ids FILE`.
    pub captured: Option<captured::CapturedIds>,
}

/// Why a run stopped early under `--abort-on-fail`.
#[derive(Clone, Debug, PartialEq)]
pub enum Abort {
    /// This threshold failed for good.
    Threshold(String),
    /// Every answer so far was a refused connection.
    TargetDown,
}

impl Abort {
    pub fn text(&self) -> String {
        match self {
            Abort::Threshold(t) => format!("threshold `{t}` failed for good"),
            Abort::TargetDown => "the target is down: every request so far was refused".into(),
        }
    }
}

/// Runs a whole replay; blocks until it ends or `stop` is set and the drain bound passes
/// (or `hurry` is set: the summary then covers what has answered, the rest abandoned).
pub fn replay(
    o: Options,
    stop: Arc<AtomicBool>,
    hurry: Arc<AtomicBool>,
) -> Result<Report, ReplayError> {
    let (rt, driver) = runtime_and_driver(&o)?;
    let sql = o.sql.as_deref();
    let setup = set_up(&rt, &driver, sql)?;
    let (tx, rx) = tokio::sync::mpsc::channel(source::CHANNEL_BATCHES);
    let window = o.plan.window;
    // Ctrl-C stops the source too: the pacer then finds the channel closed.
    let feed_stop = Arc::clone(&stop);
    let phases = o.phases.clone();
    let live = Arc::new(Live::default());
    let before = source::Before(Arc::clone(&live), o.plan.shard);
    let span = (window, o.gap);
    let users = source::Users::new(o.mapping.reads_user(), o.team.as_deref());
    let kinds = o.mapping.kinds().clone();
    let producer = std::thread::Builder::new()
        .name("timeline".into())
        .spawn(move || match o.feed {
            Feed::Engine(engine) => {
                source::from_engine(*engine, span, phases, (tx, before, users), &feed_stop)
            }
            Feed::Log(path) => source::from_log(
                (&path, &kinds),
                span,
                &phases,
                (tx, before, users),
                &feed_stop,
            ),
        })
        .map_err(|e| ReplayError::Failed(format!("cannot start the timeline thread: {e}")))?;

    let stats = Arc::new(Mutex::new(
        Stats::new(Instant::now()).with_kinds(o.mapping.kinds().clone()),
    ));
    if let Some(m) = &o.metrics {
        stats.lock().expect("stats lock").metrics = Some(Arc::clone(m));
        let stage_names = pace::stage_names(o.plan.target.as_ref());
        m.attach(&live, &stats, &driver, stage_names);
    }
    let view = o.watch.map(|watch| {
        let (stats, live) = (Arc::clone(&stats), Arc::clone(&live));
        let driver = Arc::clone(&driver);
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let figures = live
                    .started
                    .get()
                    .map(|t0| live_figures(&stats, &live, *t0, &driver));
                watch(figures.as_ref());
            }
        })
    });
    let aborted: Arc<OnceLock<Abort>> = Arc::default();
    let judge = o.abort_on_fail.then(|| {
        let watched = (Arc::clone(&stats), Arc::clone(&stop), Arc::clone(&aborted));
        rt.spawn(judge(watched, o.thresholds.clone(), o.planned))
    });
    let ended = pacer::pace(
        rx,
        Arc::clone(&driver),
        Arc::clone(&stats),
        Arc::clone(&live),
        o.plan.clone(),
        (Arc::clone(&stop), Arc::clone(&hurry)),
        rt.handle(),
    );
    close_sessions(&rt, &driver, &hurry);
    let captured = hooks::captured(&driver);
    let teardown = tear_down(&rt, &driver, &captured, sql);
    for task in [view, judge].into_iter().flatten() {
        task.abort();
    }
    let aborted = aborted.get().cloned();
    // Wait for the producer so its error, if any, shows.
    let fed = producer
        .join()
        .map_err(|_| ReplayError::Failed("the timeline thread failed".into()))?;
    rt.shutdown_timeout(Duration::from_millis(100));
    let fed = fed?;

    let mut stats = Arc::try_unwrap(stats)
        .map(|m| m.into_inner().expect("stats lock"))
        // Requests abandoned at the drain bound still hold a handle: copy what is there.
        .unwrap_or_else(|a| a.lock().expect("stats lock").clone());
    // Requests still out count as errors of their own class, timed up to now: a stalled
    // target must not look fast and error-free because its answers never came.
    let abandoned = stats.abandon(Instant::now());
    if let Some(socketio) = &driver.socketio {
        stats.fanout = socketio.fanouts();
    }
    if o.mapping.probes() {
        stats.probes = Some(driver.probes.counts());
    }
    let asked = Asked {
        thresholds: &o.thresholds,
        phases: &o.phases,
        tags: &o.mapping.tags,
        config: o.config,
    };
    let mut report = summarize(&mut stats, abandoned, asked, &ended, &driver);
    report.gap_users = fed.gap_users;
    (report.summary.setup, report.summary.teardown) = (setup, teardown);
    report.captured = (!captured.values.is_empty()).then_some(captured);
    report.summary.shard = o.plan.shard;
    report.summary.late_start_ms = live.late_start_ms.get().copied();
    paced(
        &mut report,
        &stats,
        (&o.plan, &o.mapping.tags),
        &live,
        aborted,
    );
    Ok(report)
}

/// The I/O runtime and the driver (connections to every target) a replay sends through.
fn runtime_and_driver(o: &Options) -> Result<(tokio::runtime::Runtime, Arc<Driver>), ReplayError> {
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
        .map_err(|e| ReplayError::Failed(format!("cannot start the runtime: {e}")))?;
    let mut driver = rt.block_on(Driver::new(
        Arc::clone(&o.mapping),
        &o.targets,
        &o.tls,
        o.http2,
        o.plan.max_in_flight,
    ))?;
    driver.team = o.team.clone();
    Ok((rt, Arc::new(driver)))
}

/// The mapping's `[[setup]]` requests, before any event is sent. A failed one stops the
/// run (the load needs what it creates), after the teardown has cleaned up.
fn set_up(
    rt: &tokio::runtime::Runtime,
    driver: &Driver,
    sql: Option<&dyn SqlRunner>,
) -> Result<Option<summary::HookReport>, ReplayError> {
    let m = &driver.mapping;
    if m.setup.is_empty() {
        return Ok(None);
    }
    let none = captured::CapturedIds::default();
    let done = rt.block_on(hooks::run(driver, ("setup", &m.setup), &none, sql));
    if done.errors > 0 {
        let cleaned = match tear_down(rt, driver, &hooks::captured(driver), sql) {
            Some(t) if t.errors == 0 => "; the teardown ran",
            Some(_) => "; the teardown ran and failed too",
            None => "",
        };
        return Err(ReplayError::Failed(format!(
            "{}: nothing was replayed{cleaned} (check the target and the [[setup]] requests, docs/REPLAY.md)",
            hooks::failure("set-up", &done)
        )));
    }
    Ok(Some(done))
}

/// The mapping's `[[teardown]]` requests, after the replay; those with `for_each` over
/// the values in `ids`.
fn tear_down(
    rt: &tokio::runtime::Runtime,
    driver: &Driver,
    ids: &captured::CapturedIds,
    sql: Option<&dyn SqlRunner>,
) -> Option<summary::HookReport> {
    let m = &driver.mapping;
    (!m.teardown.is_empty())
        .then(|| rt.block_on(hooks::run(driver, ("teardown", &m.teardown), ids, sql)))
}

/// `replay --teardown-only`: the mapping's `[[teardown]]` requests alone, no replay;
/// those with `for_each` over the values of `ids` (a `--captured-ids` file a run wrote),
/// its SQL through `sql`.
pub fn teardown_only(
    mapping: Arc<Mapping>,
    targets: &Targets,
    tls: &Tls,
    (ids, sql): (&captured::CapturedIds, Option<&dyn SqlRunner>),
) -> Result<summary::HookReport, ReplayError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| ReplayError::Failed(format!("cannot start the runtime: {e}")))?;
    let driver = rt.block_on(Driver::new(mapping, targets, tls, false, 16))?;
    Ok(tear_down(&rt, &driver, ids, sql).unwrap_or_default())
}

/// `what failed` in words, for the binary's message.
pub fn hook_failure(which: &str, r: &summary::HookReport) -> String {
    hooks::failure(which, r)
}

/// What the run was asked for, as the summary needs it.
struct Asked<'a> {
    thresholds: &'a [Threshold],
    phases: &'a Phases,
    tags: &'a [String],
    config: ReplayConfig,
}

/// The summary of a finished run: thresholds judged, figures gathered from the stats.
fn summarize(
    stats: &mut Stats,
    abandoned: u64,
    asked: Asked<'_>,
    ended: &pacer::Ended,
    driver: &Driver,
) -> Report {
    let thresholds: Vec<Verdict> = asked.thresholds.iter().map(|t| t.verdict(stats)).collect();
    let failed = thresholds.iter().filter(|v| !v.ok).count();
    let total = stats.total();
    let wall = ended.wall.as_secs_f64().max(1e-9);
    let phase_name = |p: u8| asked.phases.name(p).to_string();
    let series = stats.series();
    let sessions_open = stats.sessions_figures(&series);
    let summary = Summary {
        schema: SUMMARY_SCHEMA.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        config: asked.config,
        interrupted: ended.interrupted,
        aborted: None,
        wall_seconds: (wall * 1000.0).round() / 1000.0,
        totals: totals(stats, &total, abandoned),
        overall: total.figures(),
        scheduler_lag_ms: percentiles(&stats.lag),
        skipped: Skipped {
            unmapped: by_kind(&stats.unmapped, &stats.kinds),
            server_side: by_kind(&stats.server_side, &stats.kinds),
            no_token: by_kind(&stats.no_token, &stats.kinds),
            dependency: stats.flows.skipped_by_kind(&stats.kinds),
        },
        groups: stats.groups(asked.tags, &phase_name),
        stages: Vec::new(),
        by_kind: stats.by_kind(asked.tags),
        by_event: stats.by_event(asked.tags),
        over_time: stats.over_time(series.len(), asked.tags),
        series,
        series_by_kind: stats.series_by_kind(asked.tags),
        thresholds,
        socketio: driver.socketio.as_ref().map(|s| s.report()),
        websocket: driver.websocket.as_ref().map(|w| w.report()),
        probes: stats.probes.map(|_| driver.probes.report(&stats.kinds)),
        setup: None,
        teardown: None,
        sessions_open,
        on_time: on_time(stats),
        dependencies: stats.flows.dependency_list(),
        outcomes: stats.flows.outcome_list(asked.tags, &stats.kinds),
        shard: None,
        late_start_ms: None,
        schedule_clock: stats.schedule_clock(),
        lag_histograms: Some(stats.lag_histograms()),
        merged: None,
    };
    Report {
        summary,
        gap_users: None,
        failed_thresholds: failed,
        interrupted: ended.interrupted,
        aborted: None,
        captured: None,
    }
}

/// What the pacing adds to a report: the stage rows, the mean factor of a paced run, and
/// why `--abort-on-fail` stopped it (then not an interruption).
fn paced(
    report: &mut Report,
    stats: &Stats,
    (plan, tags): (&Plan, &[String]),
    live: &Live,
    aborted: Option<Abort>,
) {
    let s = &mut report.summary;
    if let Some(target) = &plan.target {
        let stage_name = pace::stage_namer(Some(target));
        s.stages = stats.stage_groups(tags, &stage_name);
        let sim_ms = live.sim_ms.load(Ordering::Relaxed);
        s.config.factor = pace::mean_factor(sim_ms, plan.window, s.wall_seconds.max(1e-9));
    }
    if aborted.is_some() {
        s.interrupted = false;
        report.interrupted = false;
    }
    s.aborted = aborted.as_ref().map(Abort::text);
    report.aborted = aborted;
}

/// The totals. Rates are over the schedule's span, not the wall time (which adds the
/// engine's start and the drain), and count requests only (see `Stats::span`).
fn totals(stats: &Stats, total: &stats::Group, abandoned: u64) -> Totals {
    let span = stats.span();
    let per_s =
        |n: u64, over: Option<f64>| over.map_or(0.0, |s| (n as f64 / s * 10.0).round() / 10.0);
    Totals {
        scheduled: stats.scheduled,
        sent: stats.sent,
        completed: total.count() - abandoned,
        ok: total.ok,
        errors: total.errors,
        late: stats.late,
        connection_waits: stats.connection_waits,
        chained: stats.chained,
        abandoned,
        unmapped: stats.unmapped.iter().sum(),
        server_side: stats.server_side.iter().sum(),
        no_token: stats.no_token.iter().sum(),
        skipped_dependency: stats.flows.skipped_total(),
        scheduled_requests: stats.requests,
        schedule_seconds: span.map_or(0.0, |s| (s.scheduled * 1000.0).round() / 1000.0),
        scheduled_per_s: per_s(stats.requests, span.map(|s| s.scheduled)),
        achieved_per_s: per_s(total.count() - abandoned, span.map(|s| s.achieved)),
    }
}

/// The generator's schedule-keeping at `on_time`'s default bound.
fn on_time(stats: &Stats) -> Option<summary::OnTime> {
    let within_us = (thresholds::ON_TIME_WITHIN_MS * 1000.0) as u64;
    stats.on_time(within_us).map(|(share, n)| summary::OnTime {
        within_ms: thresholds::ON_TIME_WITHIN_MS,
        share: (share * 1e5).round() / 1e5,
        requests: n,
        held_for_slot: stats.sent.saturating_sub(n),
    })
}

/// How often `--abort-on-fail` looks at the figures.
const ABORT_EVERY: Duration = Duration::from_millis(250);

/// Answers before a target whose every answer was a refused connection counts as down.
const DOWN_AFTER: u64 = 5;

/// `--abort-on-fail`: looks at the figures every [`ABORT_EVERY`] and, at the first
/// reason to stop now, records it and sets `stop`.
async fn judge(
    (stats, stop, aborted): (Arc<Mutex<Stats>>, Arc<AtomicBool>, Arc<OnceLock<Abort>>),
    thresholds: Vec<Threshold>,
    planned: Option<u64>,
) {
    let mut tick = tokio::time::interval(ABORT_EVERY);
    loop {
        tick.tick().await;
        let why = doomed(&stats.lock().expect("stats lock"), &thresholds, planned);
        if let Some(why) = why {
            let _ = aborted.set(why);
            stop.store(true, Ordering::Relaxed);
            return;
        }
    }
}

/// The first reason to stop now under `--abort-on-fail`, if there is one.
fn doomed(stats: &Stats, thresholds: &[Threshold], planned: Option<u64>) -> Option<Abort> {
    let total = stats.total();
    let refused: u64 = total
        .classes
        .iter()
        .filter(|(c, _)| {
            matches!(
                c,
                outcome::ErrorClass::Refused | outcome::ErrorClass::Connect
            )
        })
        .map(|(_, n)| n)
        .sum();
    if total.count() >= DOWN_AFTER && total.ok == 0 && refused == total.count() {
        return Some(Abort::TargetDown);
    }
    let remaining = planned.map(|p| p.saturating_sub(stats.sent));
    thresholds
        .iter()
        .find(|t| t.doomed(stats, remaining))
        .map(|t| Abort::Threshold(t.text.clone()))
}

/// Sessions still open at the window's end: their connections closed politely, unless a
/// second Ctrl-C asked for the summary now.
fn close_sessions(rt: &tokio::runtime::Runtime, driver: &Driver, hurry: &AtomicBool) {
    let closing = async {
        if let Some(socketio) = &driver.socketio {
            socketio.close_all().await;
        }
        if let Some(websocket) = &driver.websocket {
            websocket.close_all().await;
        }
    };
    rt.block_on(async {
        tokio::select! {
            _ = closing => {}
            _ = pacer::stopped(hurry) => {}
        }
    });
}

fn live_figures(stats: &Mutex<Stats>, live: &Live, t0: Instant, driver: &Driver) -> LiveFigures {
    let now = Instant::now();
    let s = stats.lock().expect("stats lock");
    let (scheduled_per_s, sent_per_s, p95_us, completed, errors) = s.live(now);
    LiveFigures {
        wall: now.duration_since(t0),
        sim_ms: live.sim_ms.load(Ordering::Relaxed),
        scheduled_per_s,
        sent_per_s,
        skipped_per_s: s.skipped_last_second(now),
        in_flight: live.in_flight.load(Ordering::Relaxed),
        p95_us,
        completed,
        errors,
        late: s.late,
        sockets_open: driver.sockets_open(),
        sessions_open: live.sessions_open.load(Ordering::Relaxed).max(0) as u64,
    }
}
