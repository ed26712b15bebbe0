//! The pacer: simulated time → wall time, open arrival model.
//!
//! Every event is due at `t0 + (t − window start) / factor`, whatever happened to earlier
//! ones. When `--max-in-flight` requests are out, the next one waits for a slot and is
//! counted late; its latency still runs from the instant it was due (wrk2's correction of
//! coordinated omission), and the wait shows in the scheduler lag.
//!
//! The pacer is a thread of its own, not a task: tokio's timer wheel ticks in whole
//! milliseconds, so a task sleeping to an instant wakes up to 1 ms after it, which alone
//! would use up the 2 ms lag budget; a thread's sleep wakes within tens of microseconds.
//! Requests are spawned onto the runtime from here.
//!
//! A user's requests leave in timeline order: one that is due while the same user's
//! previous request is still out waits for its answer, as a real client's would (a
//! points grant must not overtake the signup it depends on). Such waits show as latency
//! above service time, in the `chained` count and as the chained wait of each request
//! (from the moment the pacer handed it out to the previous one's answer), not as
//! generator lag. A request mapped with `ordered = false` (a client that sends such
//! calls concurrently) leaves at its instant instead, and nothing waits for it.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::mapping::{Protocol, Route};
use super::pace::{Ahead, Counted, Step, Stepper, Target};
use super::source::{Due, Window};
use super::stats::{Key, Skip, Stats, Waits};
use crate::drivers::{Driver, Sending};

#[derive(Clone, Debug)]
pub struct Plan {
    pub window: Window,
    /// Simulated milliseconds per wall millisecond (24h:30m is 48).
    pub factor: f64,
    pub max_in_flight: usize,
    /// HTTP requests on the wire at once, when lower than `max_in_flight`.
    pub connections: Option<usize>,
    /// After Ctrl-C, how long in-flight requests may still finish.
    pub drain: Duration,
    /// `--rate` or `--stages`: the factor then changes each wall second to hold the
    /// target, and `factor` is not used.
    pub target: Option<Target>,
    /// `--max-duration`: no event is handed out later than this after the start.
    pub max_wall: Option<Duration>,
    /// `--shard I/N`: only these users' events are handed out, after the schedule (which
    /// every shard computes from the whole timeline) has placed them.
    pub shard: Option<crate::shard::Shard>,
    /// `--start-at`: the wall instant the window's start is due at, shared by every
    /// shard; `None`: when the first event arrives.
    pub start_at: Option<std::time::SystemTime>,
}

/// What the live view reads while the pacer runs.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub in_flight: AtomicUsize,
    pub sim_ms: AtomicI64,
    /// Sessions open at once: the source counts those opened before the window, the
    /// pacer the rest as it hands events out (see [`session_delta`]).
    pub(crate) sessions_open: AtomicI64,
    pub(crate) started: OnceLock<Instant>,
    /// With `--start-at`: how late the clock was started, in ms (0 when on time).
    pub(crate) late_start_ms: OnceLock<f64>,
}

#[derive(Debug)]
pub(crate) struct Ended {
    pub interrupted: bool,
    pub(crate) wall: Duration,
}

/// How an event kind changes the sessions open: `session.started` opens one,
/// `session.ended` closes one (indices of `EVENT_KINDS`).
pub(crate) fn session_delta(kind: u16) -> Option<i64> {
    match kind {
        1 => Some(1),
        2 => Some(-1),
        _ => None,
    }
}

/// How far behind its instant an event may leave and still count as on time once the
/// in-flight cap has held the pacer back.
const ON_TIME: Duration = Duration::from_millis(1);

/// Most events read ahead of the clock to find a second's end (see `pace`).
const MAX_AHEAD: usize = 1_000_000;

/// Sleep granularity while waiting: how quickly Ctrl-C is noticed between distant events.
const WAKE: Duration = Duration::from_millis(100);

/// Returns once `stop` is set (checked every [`WAKE`]).
pub(crate) async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(WAKE).await;
    }
}

/// One request, decided by the pacer, run on the runtime.
struct Job {
    /// Its place among the requests out (see `Stats::open`).
    id: u64,
    due: Due,
    key: Key,
    intended: Instant,
    sent: Instant,
    late: bool,
    permit: OwnedSemaphorePermit,
    /// The same user's previous request, to wait for.
    previous: Option<oneshot::Receiver<()>>,
    done: oneshot::Sender<()>,
    /// The `--connections` cap, shared by all HTTP requests.
    wires: Option<Arc<Semaphore>>,
}

impl Job {
    async fn run(self, driver: Arc<Driver>, stats: Arc<Mutex<Stats>>, live: Arc<Live>) {
        let mut sent = self.sent;
        if let Some(mut prev) = self.previous
            && matches!(prev.try_recv(), Err(oneshot::error::TryRecvError::Empty))
        {
            // Marked before the wait too, so a request abandoned while it waits is known
            // never to have left.
            stats.lock().expect("stats lock").chain_waiting(self.id);
            let _ = prev.await;
            sent = Instant::now();
            stats.lock().expect("stats lock").chain_left(self.id, sent);
        }
        if let Route::Send(m) = driver.mapping.route(self.due.kind) {
            // An HTTP request that finds every connection busy waits for one: late, like
            // one that waited for a slot, and timed from its intended instant all the same.
            let mut waited = false;
            let _wire = match (&self.wires, m.request.protocol() == Protocol::Http) {
                (Some(w), true) => match Arc::clone(w).try_acquire_owned() {
                    Ok(p) => Some(p),
                    Err(_) => {
                        waited = true;
                        let p = Arc::clone(w).acquire_owned().await.ok();
                        // Service time runs from when it got a connection.
                        sent = Instant::now();
                        p
                    }
                },
                _ => None,
            };
            let run = || crate::flows::Run {
                driver: &driver,
                stats: &stats,
                due: &self.due,
                id: self.id,
                key: self.key,
                sent,
                late: self.late || waited,
                wires: None,
            };
            // A flow that can run here goes through the same `send_with` as a plain
            // request (one await: the job's future does not grow, and nothing is boxed).
            let inline = m.flow.then(|| crate::flows::inline(&driver, &self.due, m));
            if let Some(None) = inline {
                // Boxed: a flow's future is large, and inlined it would make every job's
                // task as large, flow or not (tokio copies a task's future into place:
                // callgrind showed +30 % bytes moved per plain request before this; even
                // `one` inline cost the plain request +860 instructions of memcpy).
                if crate::flows::is_one(m) {
                    Box::pin(crate::flows::one(run(), m)).await;
                } else {
                    Box::pin(crate::flows::run(run(), m)).await;
                }
            } else if let Some(why) = driver.never_opened(&self.due, m).filter(|_| !m.flow) {
                stats
                    .lock()
                    .expect("stats lock")
                    .withdraw(self.id, self.due.kind, &why);
            } else {
                let (vars, cookie) = inline.flatten().unwrap_or_default();
                let how = Sending {
                    suffix: None,
                    vars: &vars,
                    cookie,
                };
                let (outcome, answer) = driver.send_with(&self.due, m, &how).await;
                if m.flow {
                    crate::flows::finish(&run(), m, outcome, answer);
                } else {
                    let done = Instant::now();
                    stats.lock().expect("stats lock").done(
                        self.id,
                        sent,
                        done,
                        Waits {
                            slot: self.late,
                            connection: waited,
                        },
                        outcome,
                    );
                }
            }
        }
        live.in_flight.fetch_sub(1, Ordering::Relaxed);
        drop(self.permit);
        let _ = self.done.send(());
    }
}

/// Sends every event from `rx` at its instant, on the calling thread, handing requests to
/// `rt`. Returns when the source is exhausted (and the requests answered) or `stop` is
/// set (and the drain bound passed, or `hurry` was set: a second Ctrl-C).
pub(crate) fn pace(
    mut rx: mpsc::Receiver<Vec<Due>>,
    driver: Arc<Driver>,
    stats: Arc<Mutex<Stats>>,
    live: Arc<Live>,
    plan: Plan,
    (stop, hurry): (Arc<AtomicBool>, Arc<AtomicBool>),
    rt: &Handle,
) -> Ended {
    let mut p = Pacer::new(driver, stats, live, &plan, (stop, hurry), rt);
    let interrupted = match &plan.target {
        Some(target) => p.paced(&mut rx, target, &plan),
        None => p.fixed(&mut rx, &plan),
    };
    p.flush();
    drop(rx);
    p.drain(interrupted, &plan)
}

type Rx = mpsc::Receiver<Vec<Due>>;

/// Whether the run was interrupted (Ctrl-C) rather than ended.
type Interrupted = bool;

/// Ctrl-C came: the pacer stops handing out requests.
struct Stopped;

/// The pacer's state between events.
struct Pacer<'rt> {
    driver: Arc<Driver>,
    stats: Arc<Mutex<Stats>>,
    live: Arc<Live>,
    stop: Arc<AtomicBool>,
    /// A second Ctrl-C: stop waiting for what is in flight.
    hurry: Arc<AtomicBool>,
    rt: &'rt Handle,
    /// `--max-in-flight`.
    slots: Arc<Semaphore>,
    /// `--connections`, when it is lower.
    wires: Option<Arc<Semaphore>>,
    t0: Option<Instant>,
    ns_per_sim_ms: f64,
    /// Each user's last request: the next one waits for it. Pruned of finished entries
    /// now and then so the map holds users with a request out, not every user seen.
    /// Keyed by a hash of the user id: no allocation per request, and a collision only
    /// makes two users wait for each other now and then.
    tails: HashMap<u64, oneshot::Receiver<()>>,
    hasher: std::hash::BuildHasherDefault<std::hash::DefaultHasher>,
    prune_at: usize,
    /// The last request's id (see `Stats::open`).
    next_id: u64,
    /// Skipped events since the last hand-over, recorded with the jobs under one lock.
    skipped: Vec<(Instant, u16, Skip)>,
    /// Session events since the last hand-over: when, the timeline instant, open after.
    sessions: Vec<(Instant, i64, u64)>,
    /// Requests due at the same wake-up go to the runtime together: one cross-thread
    /// hand-over per wake-up instead of one per request (measured: a quarter of the CPU
    /// went to waking workers).
    ready: Vec<Job>,
    /// The pacer is behind after a wait for a slot (or a late `--start-at`).
    backlog: bool,
    /// `--shard`: the users whose events this process sends.
    shard: Option<crate::shard::Shard>,
}

impl<'rt> Pacer<'rt> {
    fn new(
        driver: Arc<Driver>,
        stats: Arc<Mutex<Stats>>,
        live: Arc<Live>,
        plan: &Plan,
        (stop, hurry): (Arc<AtomicBool>, Arc<AtomicBool>),
        rt: &'rt Handle,
    ) -> Pacer<'rt> {
        Pacer {
            driver,
            stats,
            live,
            stop,
            hurry,
            rt,
            slots: Arc::new(Semaphore::new(plan.max_in_flight)),
            wires: plan
                .connections
                .filter(|n| *n < plan.max_in_flight)
                .map(|n| Arc::new(Semaphore::new(n))),
            t0: None,
            ns_per_sim_ms: 1e6 / plan.factor,
            tails: HashMap::new(),
            hasher: Default::default(),
            prune_at: 4096,
            next_id: 0,
            skipped: Vec::new(),
            sessions: Vec::new(),
            ready: Vec::new(),
            backlog: false,
            shard: plan.shard,
        }
    }

    /// `--compress`: every event at `t0 + (t − window start) / factor`.
    fn fixed(&mut self, rx: &mut Rx, plan: &Plan) -> Interrupted {
        loop {
            self.flush();
            // The source stops on `stop` too, which closes the channel.
            let Some(batch) = rx.blocking_recv() else {
                return self.stop.load(Ordering::Relaxed);
            };
            let t0 = self.start(plan);
            for due in batch {
                if !self.mine(&due) {
                    continue;
                }
                let offset = (due.t_ms - plan.window.from_ms).max(0) as f64 * self.ns_per_sim_ms;
                let offset = Duration::from_nanos(offset as u64);
                if plan.max_wall.is_some_and(|m| offset > m) {
                    return false;
                }
                let intended = t0 + offset;
                if self.sleep_until(intended).is_err() || self.schedule(due, intended, 0).is_err() {
                    return true;
                }
            }
        }
    }

    /// `--rate`, `--stages`: one [`Step`] per wall second, each placing the events of its
    /// simulated span linearly in its second (see `pace`).
    fn paced(&mut self, rx: &mut Rx, target: &Target, plan: &Plan) -> Interrupted {
        let mut ahead: Ahead<Due> = Ahead::default();
        // The clock starts with the first event: the engine may first simulate up to the
        // window's start.
        let mut closed = self.fill(rx, &mut ahead, &target.counted, |a| !a.queue.is_empty());
        if ahead.queue.is_empty() {
            return self.stop.load(Ordering::Relaxed);
        }
        let t0 = self.start(plan);
        let max_ms = plan
            .max_wall
            .map_or(f64::INFINITY, |m| m.as_secs_f64() * 1000.0);
        let mut stepper = Stepper::new(target.curve.clone(), plan.window.from_ms);
        loop {
            let Some(need) = stepper.need() else {
                return false;
            };
            if !closed {
                closed = self.fill(rx, &mut ahead, &target.counted, |a| {
                    a.counted >= need || a.queue.len() >= MAX_AHEAD
                });
            }
            if self.stop.load(Ordering::Relaxed) {
                return true;
            }
            let items = ahead
                .queue
                .iter()
                .map(|d| (d.t_ms, self.counts(d.kind, &target.counted)));
            // A pacing kind that does not come for a million events: the step goes on at
            // the last factor rather than read the rest of the window into memory.
            let short = closed || ahead.queue.len() >= MAX_AHEAD;
            let Some(step) = stepper.advance(items, short) else {
                return false;
            };
            if step.wall_from as f64 >= max_ms {
                return false;
            }
            self.stats.lock().expect("stats lock").step(
                step.index,
                step.sim_from,
                step.factor(),
                (step.target, step.stage),
            );
            if let Some(done) = self.play(&mut ahead, &step, t0, max_ms, &target.counted) {
                return done;
            }
        }
    }

    /// Hands out the events of one step at their instants; `Some` when the run ends
    /// inside it (`true`: interrupted).
    fn play(
        &mut self,
        ahead: &mut Ahead<Due>,
        step: &Step,
        t0: Instant,
        max_ms: f64,
        counted: &Counted,
    ) -> Option<Interrupted> {
        while ahead.queue.front().is_some_and(|d| d.t_ms < step.sim_to) {
            let due = ahead.queue.pop_front().expect("checked");
            ahead.counted -= self.counts(due.kind, counted) as u64;
            // After the schedule: another shard's event still took its place in it.
            if !self.mine(&due) {
                continue;
            }
            let wall_ms = step.wall_ms(due.t_ms);
            if wall_ms > max_ms {
                return Some(false);
            }
            let intended = t0 + Duration::from_nanos((wall_ms * 1e6) as u64);
            if self.sleep_until(intended).is_err()
                || self.schedule(due, intended, step.stage).is_err()
            {
                return Some(true);
            }
        }
        None
    }

    /// Whether an event of `kind` counts towards the target rate.
    fn counts(&self, kind: u16, counted: &Counted) -> bool {
        counted.counts(&self.driver.mapping, kind)
    }

    /// Reads batches into `ahead` until `enough` holds; whether the source has ended.
    fn fill(
        &mut self,
        rx: &mut Rx,
        ahead: &mut Ahead<Due>,
        counted: &Counted,
        enough: impl Fn(&Ahead<Due>) -> bool,
    ) -> bool {
        while !enough(ahead) {
            self.flush();
            let Some(batch) = rx.blocking_recv() else {
                return true;
            };
            for due in batch {
                ahead.counted += self.counts(due.kind, counted) as u64;
                ahead.queue.push_back(due);
            }
        }
        false
    }

    /// Whether this process sends `due` (always, unless it is one shard of several).
    fn mine(&self, due: &Due) -> bool {
        self.shard.is_none_or(|s| s.owns(&due.user_id))
    }

    /// The wall instant of the window's start: `--start-at` (waited for, or, when it has
    /// passed, placed in the past so the events already due leave at once and count
    /// late), else when the first events arrive.
    fn start(&mut self, plan: &Plan) -> Instant {
        if self.t0.is_none()
            && let Some(at) = plan.start_at
        {
            let t0 = self.clock_at(at);
            self.t0 = Some(t0);
            self.began(t0);
        }
        if let Some(t0) = self.t0 {
            return t0;
        }
        let now = Instant::now();
        self.t0 = Some(now);
        self.began(now);
        now
    }

    /// `--start-at`'s instant on this process's clock: waits for it when it is ahead (or
    /// until Ctrl-C), and when it has passed records by how much and marks the pacer
    /// behind, so what is already due counts as late.
    fn clock_at(&mut self, at: std::time::SystemTime) -> Instant {
        let now = (std::time::SystemTime::now(), Instant::now());
        match at.duration_since(now.0) {
            Ok(ahead) => {
                let t0 = now.1 + ahead;
                let _ = self.sleep_until(t0);
                let _ = self.live.late_start_ms.set(0.0);
                t0
            }
            Err(e) => {
                let behind = e.duration();
                let _ = self
                    .live
                    .late_start_ms
                    .set((behind.as_secs_f64() * 1e6).round() / 1e3);
                self.backlog = true;
                now.1.checked_sub(behind).unwrap_or(now.1)
            }
        }
    }

    /// The statistics and the live view start their clocks at `t0`.
    fn began(&self, t0: Instant) {
        let mut s = self.stats.lock().expect("stats lock");
        s.start = t0;
        s.over.restart(t0);
        // The source has counted the sessions opened before the window by now: it
        // hands out no window event before it has seen every earlier one.
        s.sessions.at_start = self.live.sessions_open.load(Ordering::Relaxed).max(0) as u64;
        drop(s);
        let _ = self.live.started.set(t0);
    }

    /// Records what was decided since the last hand-over and hands the ready requests
    /// to the runtime.
    fn flush(&mut self) {
        if !self.skipped.is_empty() || !self.ready.is_empty() || !self.sessions.is_empty() {
            let mut s = self.stats.lock().expect("stats lock");
            for (intended, t_ms, open) in self.sessions.drain(..) {
                s.sessions_open(intended, t_ms, open);
            }
            for (intended, kind, why) in self.skipped.drain(..) {
                s.scheduled(intended, false);
                s.skipped(kind, why);
            }
            for j in self.ready.iter() {
                s.scheduled(j.intended, true);
                s.sent(j.id, j.key, j.intended, j.sent, j.late);
            }
            if let Some(open) = self.driver.sockets_open() {
                s.over.sockets(Instant::now(), open);
            }
        }
        if self.ready.is_empty() {
            return;
        }
        let jobs = std::mem::take(&mut self.ready);
        let (driver, stats, live) = (
            Arc::clone(&self.driver),
            Arc::clone(&self.stats),
            Arc::clone(&self.live),
        );
        self.rt.spawn(async move {
            for job in jobs {
                tokio::spawn(job.run(Arc::clone(&driver), Arc::clone(&stats), Arc::clone(&live)));
            }
        });
    }

    /// Sleeps on this thread until `intended`, handing over what is ready first.
    fn sleep_until(&mut self, intended: Instant) -> Result<(), Stopped> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return Err(Stopped);
            }
            let now = Instant::now();
            if now >= intended {
                return Ok(());
            }
            self.flush();
            std::thread::sleep((intended - now).min(WAKE));
        }
    }

    /// One event at its instant: skipped (counted), or a request with a slot, chained
    /// behind the same user's previous one.
    fn schedule(&mut self, due: Due, intended: Instant, stage: u8) -> Result<(), Stopped> {
        self.live.sim_ms.store(due.t_ms, Ordering::Relaxed);
        if let Some(d) = session_delta(due.kind) {
            let open = self.live.sessions_open.fetch_add(d, Ordering::Relaxed) + d;
            self.sessions.push((intended, due.t_ms, open.max(0) as u64));
        }
        let (tag, protocol, ordered) = match self.driver.mapping.route(due.kind) {
            Route::Send(m) if self.driver.mapping.lacks_token(m, &due.user_id) => {
                self.skipped.push((intended, due.kind, Skip::NoToken));
                return Ok(());
            }
            Route::Send(m) => {
                if m.flow {
                    crate::flows::announce(&self.driver, &due, m);
                }
                (m.tag, m.request.protocol(), m.ordered)
            }
            other => {
                let why = match other {
                    Route::ServerSide => Skip::ServerSide,
                    _ => Skip::Unmapped,
                };
                self.skipped.push((intended, due.kind, why));
                return Ok(());
            }
        };
        let (permit, waited) = self.slot()?;
        let sent = Instant::now();
        let late = self.late(waited, sent, intended);
        self.live.in_flight.fetch_add(1, Ordering::Relaxed);
        let key = Key {
            protocol,
            event: due.kind,
            tag,
            phase: due.phase,
            stage,
        };
        let (done, done_rx) = oneshot::channel::<()>();
        // `ordered = false`: it neither waits for the user's last request nor becomes it.
        let previous = if ordered {
            self.tails
                .insert(self.hasher.hash_one(&due.user_id), done_rx)
        } else {
            None
        };
        if self.tails.len() >= self.prune_at {
            self.tails
                .retain(|_, rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
            self.prune_at = (self.tails.len() * 2).max(4096);
        }
        self.next_id += 1;
        self.ready.push(Job {
            id: self.next_id,
            due,
            key,
            intended,
            sent,
            late,
            permit,
            previous,
            done,
            wires: self.wires.clone(),
        });
        Ok(())
    }

    /// An in-flight slot, waiting for one when all are taken; whether it waited.
    fn slot(&mut self) -> Result<(OwnedSemaphorePermit, bool), Stopped> {
        Ok(match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(p) => (p, false),
            Err(_) => {
                self.flush();
                let (slots, stop) = (Arc::clone(&self.slots), Arc::clone(&self.stop));
                let waited = self.rt.block_on(async {
                    tokio::select! {
                        p = slots.acquire_owned() => p.ok(),
                        _ = stopped(&stop) => None,
                    }
                });
                (waited.ok_or(Stopped)?, true)
            }
        })
    }

    /// Whether a request that left at `sent` is late: it waited for a slot, or it is
    /// queued behind one that did and the pacer is not back on time yet.
    fn late(&mut self, waited: bool, sent: Instant, intended: Instant) -> bool {
        if waited {
            self.backlog = true;
            true
        } else if self.backlog && sent.saturating_duration_since(intended) > ON_TIME {
            true
        } else {
            self.backlog = false;
            false
        }
    }

    /// Lets what is in flight finish: on a normal end up to the request timeout, after
    /// Ctrl-C up to the drain bound, after a second Ctrl-C not at all.
    fn drain(self, interrupted: bool, plan: &Plan) -> Ended {
        let bound = if interrupted {
            plan.drain
        } else {
            self.driver.mapping.timeout + Duration::from_secs(1)
        };
        let all = plan.max_in_flight.min(u32::MAX as usize) as u32;
        let (slots, hurry) = (self.slots, self.hurry);
        self.rt.block_on(async {
            tokio::select! {
                _ = tokio::time::timeout(bound, slots.acquire_many(all)) => {}
                _ = stopped(&hurry) => {}
            }
        });
        Ended {
            interrupted,
            wall: self.t0.map_or(Duration::ZERO, |t| t.elapsed()),
        }
    }
}
