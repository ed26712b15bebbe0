//! Replay statistics: HdrHistograms per (protocol, event kind, request tag, phase) of
//! latency, service time and chained wait, outcome counts, scheduler lag, and one-second
//! series.
//!
//! Latency is measured from the event's *intended* instant (no coordinated omission);
//! service time from the instant the request actually left. The two differ when the
//! generator or the in-flight cap held a request back, or when the request waited for
//! the same user's previous one: that *chained wait* is recorded apart, so a fast read
//! queued behind a slow call of the same user does not pass for a slow read.

use simulate_core::world::kinds::KindNames;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

use simulate_core::timeline::EVENT_KINDS;

use crate::live_metrics::LiveMetrics;
use crate::mapping::Protocol;
use crate::outcome::{ErrorClass, Outcome, Status};
use crate::over_time::Tracker;
use crate::series::Series;
use crate::summary::{
    self, EventTags, GroupFigures, Histograms, KindTags, Percentiles, SessionsOpen, Tags,
};

/// Microseconds: the unit every histogram records.
fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

/// Microseconds, zero kept: most requests wait for no earlier one.
fn us0(d: Duration) -> u64 {
    d.as_micros() as u64
}

pub(crate) fn hist() -> Histogram<u64> {
    // Auto-resizing: a histogram costs memory only up to the largest value it has seen.
    Histogram::new(3).expect("3 significant figures is valid")
}

/// Why an event due was not sent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Its kind is not in the mapping.
    Unmapped,
    /// The server produces it (`server_side`).
    ServerSide,
    /// Its request reads `{token}` and its user has none (`missing_token`).
    NoToken,
}

pub(crate) use crate::flows::counts::FlowCounts;

/// Skipped-event counters: built-in kinds, a world's custom kinds (up to 256), and one
/// slot for kinds no one knows.
const KIND_SLOTS: usize = EVENT_KINDS.len() + 257;

/// Statistics are grouped by these tags.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) protocol: Protocol,
    /// The event kind's index in `EVENT_KINDS`.
    pub event: u16,
    /// The request tag's index in the mapping's tags.
    pub(crate) tag: u16,
    pub phase: u8,
    /// 1 + the index of the `--stages` stage it was due in; 0 without stages.
    pub(crate) stage: u8,
}

/// One group's figures. Mergeable: thresholds over several tags add groups together.
#[derive(Clone, Debug)]
pub struct Group {
    pub(crate) latency: Histogram<u64>,
    pub(crate) service: Histogram<u64>,
    /// Each request's wait for the same user's previous one (0 when it did not wait).
    pub(crate) chain: Histogram<u64>,
    /// Requests that waited for the same user's previous one.
    pub chained: u64,
    pub ok: u64,
    pub errors: u64,
    pub late: u64,
    pub(crate) statuses: BTreeMap<Status, u64>,
    pub(crate) classes: BTreeMap<ErrorClass, u64>,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            latency: hist(),
            service: hist(),
            chain: hist(),
            chained: 0,
            ok: 0,
            errors: 0,
            late: 0,
            statuses: BTreeMap::new(),
            classes: BTreeMap::new(),
        }
    }
}

impl Group {
    pub(crate) fn count(&self) -> u64 {
        self.ok + self.errors
    }

    /// Requests that ended (answered or failed), not abandoned at the end.
    pub(crate) fn completed(&self) -> u64 {
        self.count()
            - self
                .classes
                .get(&ErrorClass::Abandoned)
                .copied()
                .unwrap_or(0)
    }

    pub(crate) fn add(&mut self, o: &Group) {
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
        let _ = self.chain.add(&o.chain);
        self.chained += o.chained;
        self.ok += o.ok;
        self.errors += o.errors;
        self.late += o.late;
        for (k, v) in &o.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        for (k, v) in &o.classes {
            *self.classes.entry(*k).or_default() += v;
        }
    }

    /// A group read back from the summary's figures (`report merge`): what thresholds
    /// read (histograms, counts, the abandoned class); statuses are not needed.
    pub(crate) fn from_figures(f: &GroupFigures) -> Result<Group, String> {
        let mut classes = BTreeMap::new();
        if let Some(n) = f.error_classes.get(ErrorClass::Abandoned.name()) {
            classes.insert(ErrorClass::Abandoned, *n);
        }
        Ok(Group {
            latency: decode(&f.histograms.latency)?,
            service: decode(&f.histograms.service)?,
            chain: decode(&f.histograms.chained)?,
            chained: f.chained,
            ok: f.ok,
            errors: f.errors,
            late: f.late,
            statuses: BTreeMap::new(),
            classes,
        })
    }

    /// The group's figures as the summary gives them.
    pub fn figures(&self) -> GroupFigures {
        GroupFigures {
            count: self.count(),
            ok: self.ok,
            errors: self.errors,
            late: self.late,
            statuses: self.statuses.iter().map(|(k, v)| (k.name(), *v)).collect(),
            error_classes: self
                .classes
                .iter()
                .map(|(k, v)| (k.name().to_string(), *v))
                .collect(),
            latency_ms: percentiles(&self.latency),
            service_ms: percentiles(&self.service),
            chained: self.chained,
            chained_ms: percentiles(&self.chain),
            histograms: Histograms {
                unit: "us".into(),
                encoding: "HdrHistogram V2 + DEFLATE, base64".into(),
                latency: encode(&self.latency),
                service: encode(&self.service),
                chained: encode(&self.chain),
            },
        }
    }
}

pub fn ms(v: u64) -> f64 {
    (v as f64 / 1000.0 * 1000.0).round() / 1000.0
}

/// A histogram of µs as percentiles in ms; `None` when it is empty.
pub(crate) fn percentiles(h: &Histogram<u64>) -> Option<Percentiles> {
    let at = |q: f64| ms(h.value_at_quantile(q));
    (!h.is_empty()).then(|| Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p95: at(0.95),
        p99: at(0.99),
        p99_9: at(0.999),
        max: ms(h.max()),
        mean: (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
    })
}

/// A histogram as the summary carries it: HdrHistogram V2 + DEFLATE, base64.
pub(crate) fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
        Err(_) => String::new(),
    }
}

/// A histogram the summary carried ([`encode`]); an empty text is an empty histogram.
pub(crate) fn decode(text: &str) -> Result<Histogram<u64>, String> {
    use hdrhistogram::serialization::Deserializer;
    if text.is_empty() {
        return Ok(hist());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("not base64: {e}"))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("not an HdrHistogram: {e:?}"))?;
    // Added into ours, which must hold whatever range the shards saw.
    let mut out = hist();
    out.add(&h).map_err(|e| format!("cannot add: {e:?}"))?;
    Ok(out)
}

/// The spans, in seconds, the summary's rates are over (see [`Stats::span`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Span {
    pub(crate) scheduled: f64,
    pub(crate) achieved: f64,
}

/// What a request waited for before it went out; either makes it late.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Waits {
    /// An in-flight slot (`--max-in-flight`), counted when it left.
    pub(crate) slot: bool,
    /// A connection (`--connections`).
    pub(crate) connection: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Stats {
    pub start: Instant,
    pub groups: BTreeMap<Key, Group>,
    /// Actual send − intended send, every request.
    pub(crate) lag: Histogram<u64>,
    /// The same, of the requests the pacer sent without waiting for an in-flight slot
    /// (nor queued behind one that did): the generator's own lateness, for `on_time`.
    own_lag: Histogram<u64>,
    /// Requests due (events skipped are not requests), and the intended instants of the
    /// first and last, and the last actual send: the schedule's span, which the rates
    /// are over (see [`Stats::span`]).
    pub requests: u64,
    first_due: Option<Instant>,
    last_due: Option<Instant>,
    last_sent: Option<Instant>,
    pub scheduled: u64,
    pub sent: u64,
    pub late: u64,
    /// Requests that waited for a connection (`--connections`); also counted in `late`.
    pub connection_waits: u64,
    /// Requests that waited for the same user's previous one.
    pub(crate) chained: u64,
    pub unmapped: Vec<u64>,
    pub server_side: Vec<u64>,
    /// Requests held back because their user has no token (`missing_token`).
    pub no_token: Vec<u64>,
    /// Flows: requests not sent for a failed dependency, and answers counted by an
    /// outcome field.
    pub(crate) flows: FlowCounts,
    /// Broadcast fan-out latency per listened Socket.IO event, filled in at the end.
    pub(crate) fanout: Vec<Histogram<u64>>,
    /// Probe groups sent and their violations, when the mapping probes (set at the end).
    pub(crate) probes: Option<(u64, u64)>,
    /// Every request's (and skipped event's) second.
    seconds: Series,
    /// Each protocol's and request tag's seconds: requests only.
    seconds_by_kind: BTreeMap<(Protocol, u16), Series>,
    /// Requests sent and not yet answered, by the pacer's id: what is left at the end was
    /// abandoned.
    open: HashMap<u64, Open>,
    /// Per-second detail for the summary's `over_time`.
    pub(crate) over: Tracker,
    /// Sessions open at once, as the pacer handed session events out.
    pub(crate) sessions: SessionCount,
    /// `--metrics-addr`: the same figures, live, for Prometheus.
    pub(crate) metrics: Option<Arc<LiveMetrics>>,
    /// The replayed world's kinds by index, for the summary's names.
    pub(crate) kinds: KindNames,
}

/// Sessions open at once in the timeline sent: the start, the peak and the last count.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SessionCount {
    /// Whether any session event was handed out.
    pub(crate) seen: bool,
    pub(crate) at_start: u64,
    pub(crate) peak: u64,
    pub(crate) peak_at_ms: i64,
    pub(crate) now: u64,
}

/// A request out: its group, when it was due and when the pacer handed it out.
#[derive(Clone, Copy, Debug)]
struct Open {
    key: Key,
    intended: Instant,
    sent: Instant,
    chain: Chain,
}

/// Where a request stands behind the same user's previous one.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Chain {
    /// It did not wait.
    Free,
    /// It is waiting for the previous one's answer.
    Waiting,
    /// The previous one answered at this instant, and it went on.
    Left(Instant),
}

impl Stats {
    pub(crate) fn new(start: Instant) -> Stats {
        Stats {
            start,
            groups: BTreeMap::new(),
            lag: hist(),
            own_lag: hist(),
            requests: 0,
            first_due: None,
            last_due: None,
            last_sent: None,
            scheduled: 0,
            sent: 0,
            late: 0,
            connection_waits: 0,
            chained: 0,
            unmapped: vec![0; KIND_SLOTS],
            server_side: vec![0; KIND_SLOTS],
            no_token: vec![0; KIND_SLOTS],
            flows: FlowCounts::default(),
            fanout: Vec::new(),
            probes: None,
            seconds: Series::default(),
            seconds_by_kind: BTreeMap::new(),
            open: HashMap::new(),
            over: Tracker::new(start),
            sessions: SessionCount::default(),
            metrics: None,
            kinds: KindNames::builtin(),
        }
    }

    /// The same statistics naming kinds by the replayed world's table (custom kinds).
    pub(crate) fn with_kinds(mut self, kinds: KindNames) -> Stats {
        self.kinds = kinds;
        self
    }

    /// A session event handed out at `intended` (timeline `t_ms`), leaving `open` open.
    pub(crate) fn sessions_open(&mut self, intended: Instant, t_ms: i64, open: u64) {
        let c = &mut self.sessions;
        if !c.seen {
            c.seen = true;
            c.peak = c.at_start;
        }
        c.now = open;
        if open > c.peak {
            c.peak = open;
            c.peak_at_ms = t_ms;
        }
        let s = self.second(intended);
        self.seconds.sessions_open(s, open);
    }

    /// Sessions open over the run, `None` when no session event was handed out.
    pub(crate) fn sessions_figures(&self, series: &[summary::Second]) -> Option<SessionsOpen> {
        let c = &self.sessions;
        if !c.seen {
            return None;
        }
        let mut per_second: Vec<u64> = series.iter().filter_map(|s| s.sessions_open).collect();
        per_second.sort_unstable();
        Some(SessionsOpen {
            at_start: c.at_start,
            peak: c.peak,
            peak_at_ms: c.peak_at_ms,
            median: per_second
                .get(per_second.len() / 2)
                .copied()
                .unwrap_or(c.now),
            at_end: c.now,
        })
    }

    /// The second of the run `at` falls in.
    fn second(&self, at: Instant) -> usize {
        at.saturating_duration_since(self.start).as_secs() as usize
    }

    /// Wall second `index` plays simulated time from `sim_ms` at `factor`, for a target
    /// rate of `target` per second.
    pub(crate) fn step(
        &mut self,
        index: u64,
        sim_ms: i64,
        factor: f64,
        (target, stage): (f64, u8),
    ) {
        if let Some(m) = &self.metrics {
            m.step(stage, target);
        }
        let pace = crate::series::Pace {
            sim_ms,
            factor,
            target,
        };
        self.seconds.pace(index as usize, pace);
    }

    /// An event became due (whether it is sent or skipped).
    pub fn scheduled(&mut self, intended: Instant, request: bool) {
        self.scheduled += 1;
        let s = self.second(intended);
        if !request {
            self.seconds.skipped(s);
            return;
        }
        self.requests += 1;
        if let Some(m) = &self.metrics {
            m.scheduled();
        }
        self.seconds.scheduled(s);
        if self.first_due.is_none_or(|f| intended < f) {
            self.first_due = Some(intended);
        }
        if self.last_due.is_none_or(|l| intended > l) {
            self.last_due = Some(intended);
        }
    }

    /// The spans the rates are over, in seconds; `None` with fewer than two requests due
    /// (or all due at one instant): no rate then.
    ///
    /// The schedule's span runs from the first request's intended instant to one mean gap
    /// after the last one's, so n requests due evenly at r/s give r/s exactly (n instants
    /// hold n − 1 gaps). Wall time would add the engine's start and the drain, and
    /// skipped events are no requests. The achieved span stretches that by how late the
    /// last request left: a generator (or an in-flight cap) that fell behind achieves
    /// less than it scheduled.
    pub(crate) fn span(&self) -> Option<Span> {
        let (first, last) = (self.first_due?, self.last_due?);
        let between = last.duration_since(first).as_secs_f64();
        if self.requests < 2 || between <= 0.0 {
            return None;
        }
        let scheduled = between + between / (self.requests - 1) as f64;
        let behind = self
            .last_sent
            .map_or(0.0, |s| s.saturating_duration_since(last).as_secs_f64());
        Some(Span {
            scheduled,
            achieved: scheduled + behind,
        })
    }

    /// The instants [`Stats::span`] is computed from, in seconds after the window's
    /// start, for a merge of shards that share that start.
    pub(crate) fn schedule_clock(&self) -> Option<crate::summary::ScheduleClock> {
        self.span()?;
        let at = |i: Instant| {
            let s = i.saturating_duration_since(self.start).as_secs_f64();
            (s * 1e6).round() / 1e6
        };
        let (first, last) = (self.first_due?, self.last_due?);
        Some(crate::summary::ScheduleClock {
            first_due_s: at(first),
            last_due_s: at(last),
            last_sent_s: at(self.last_sent.unwrap_or(last).max(last)),
        })
    }

    pub(crate) fn skipped(&mut self, kind: u16, why: Skip) {
        let i = (kind as usize).min(KIND_SLOTS - 1);
        match why {
            Skip::ServerSide => self.server_side[i] += 1,
            Skip::Unmapped => self.unmapped[i] += 1,
            Skip::NoToken => self.no_token[i] += 1,
        }
    }

    /// Request `id` of group `key` left: `late` when it had to wait for an in-flight slot.
    pub fn sent(&mut self, id: u64, key: Key, intended: Instant, at: Instant, late: bool) {
        self.open.insert(
            id,
            Open {
                key,
                intended,
                sent: at,
                chain: Chain::Free,
            },
        );
        self.sent += 1;
        self.late += late as u64;
        let lag = us(at.saturating_duration_since(intended));
        let _ = self.lag.record(lag);
        if !late {
            let _ = self.own_lag.record(lag);
        }
        if let Some(m) = &self.metrics {
            m.sent(lag, late);
        }
        if self.last_sent.is_none_or(|l| at > l) {
            self.last_sent = Some(at);
        }
        let (due, left) = (self.second(intended), self.second(at));
        self.seconds.sent(left);
        let series = self
            .seconds_by_kind
            .entry((key.protocol, key.tag))
            .or_default();
        series.scheduled(due);
        series.sent(left);
        let in_flight = self.open.len();
        self.over
            .sent(at, at.saturating_duration_since(intended), in_flight);
    }

    /// Request `id` (recorded by [`Stats::sent`]) is not sent after all: a value it
    /// needs will not come (`dependency` says which). Counted as skipped, not as sent.
    pub(crate) fn withdraw(&mut self, id: u64, kind: u16, dependency: &str) {
        if self.open.remove(&id).is_some() {
            self.sent -= 1;
            self.requests = self.requests.saturating_sub(1);
        }
        self.flows.skip(kind, dependency);
    }

    /// Request `id` counts under another group (a login run for another event's request).
    pub(crate) fn relabel(&mut self, id: u64, key: Key) {
        if let Some(o) = self.open.get_mut(&id) {
            o.key = key;
        }
    }

    /// A later step of a flow became due at `at` and left: a request of its own.
    pub(crate) fn step_sent(&mut self, id: u64, key: Key, at: Instant) {
        self.scheduled(at, true);
        self.sent(id, key, at, at, false);
    }

    /// Request `id` waits for the same user's previous request to be answered.
    pub(crate) fn chain_waiting(&mut self, id: u64) {
        match self.open.get_mut(&id) {
            // A flow's request may wait twice (its user's previous request, then another
            // user's captured value): counted once.
            Some(o) if o.chain != Chain::Free => o.chain = Chain::Waiting,
            Some(o) => {
                o.chain = Chain::Waiting;
                self.chained += 1;
            }
            None => self.chained += 1,
        }
    }

    /// The previous request of request `id`'s user was answered at `at`.
    pub(crate) fn chain_left(&mut self, id: u64, at: Instant) {
        if let Some(o) = self.open.get_mut(&id) {
            o.chain = Chain::Left(at);
        }
    }

    /// Request `id` (recorded by [`Stats::sent`]) was answered, or failed; `sent` is when
    /// it actually went out (after any wait for a connection).
    pub(crate) fn done(
        &mut self,
        id: u64,
        sent: Instant,
        done: Instant,
        waits: Waits,
        outcome: Outcome,
    ) {
        let Some(Open {
            key,
            intended,
            sent: handed,
            chain,
        }) = self.open.remove(&id)
        else {
            debug_assert!(
                false,
                "request {id} answered before it was recorded as sent"
            );
            return;
        };
        // A wait for a connection makes the request late; one already late for a slot
        // was counted when it left.
        if waits.connection {
            self.connection_waits += 1;
            self.late += !waits.slot as u64;
        }
        let late = waits.slot || waits.connection;
        let latency = us(done.saturating_duration_since(intended));
        let service = us(done.saturating_duration_since(sent));
        let chained = match chain {
            Chain::Left(at) => Some(at.saturating_duration_since(handed)),
            Chain::Free | Chain::Waiting => None,
        };
        if let Some(m) = &self.metrics {
            m.done((key.protocol, key.tag), latency, service, outcome);
        }
        let g = self.groups.entry(key).or_default();
        let _ = g.latency.record(latency);
        let _ = g.service.record(service);
        let _ = g.chain.record(chained.map_or(0, us0));
        g.chained += chained.is_some() as u64;
        g.late += late as u64;
        let class = match outcome {
            Outcome::Ok(s) => {
                g.ok += 1;
                *g.statuses.entry(s).or_default() += 1;
                None
            }
            Outcome::Status(s) => {
                g.errors += 1;
                *g.statuses.entry(s).or_default() += 1;
                Some(format!("status {}", s.name()))
            }
            Outcome::Failed(c) => {
                g.errors += 1;
                *g.classes.entry(c).or_default() += 1;
                Some(c.name().to_string())
            }
        };
        let error = class.is_some();
        self.over
            .done(done, (key.protocol, key.tag), latency, class);
        let s = self.second(done);
        self.seconds.completed(s, latency, error);
        self.seconds_by_kind
            .entry((key.protocol, key.tag))
            .or_default()
            .completed(s, latency, error);
    }

    /// Counts every request still out as abandoned at `now`: an error of its own class,
    /// its latency and service time running up to `now` (a lower bound of what the answer
    /// would have taken). One still waiting for the same user's previous request never
    /// left: its wait runs up to `now`, its service time is zero. Returns how many there
    /// were.
    pub(crate) fn abandon(&mut self, now: Instant) -> u64 {
        let mut open: Vec<(u64, Open)> = self.open.drain().collect();
        open.sort_by_key(|(id, _)| *id);
        for (_, o) in &open {
            let (chained, left) = match o.chain {
                Chain::Free => (None, o.sent),
                Chain::Waiting => (Some(now.saturating_duration_since(o.sent)), now),
                Chain::Left(at) => (Some(at.saturating_duration_since(o.sent)), at),
            };
            let latency = us(now.saturating_duration_since(o.intended));
            let service = us0(now.saturating_duration_since(left));
            if let Some(m) = &self.metrics {
                let abandoned = Outcome::Failed(ErrorClass::Abandoned);
                m.done((o.key.protocol, o.key.tag), latency, service, abandoned);
            }
            let g = self.groups.entry(o.key).or_default();
            let _ = g.latency.record(latency);
            let _ = g.service.record(service);
            let _ = g.chain.record(chained.map_or(0, us0));
            g.chained += chained.is_some() as u64;
            g.errors += 1;
            *g.classes.entry(ErrorClass::Abandoned).or_default() += 1;
        }
        self.over.abandoned(now, open.len() as u64);
        open.len() as u64
    }

    pub(crate) fn total(&self) -> Group {
        let mut t = Group::default();
        for g in self.groups.values() {
            t.add(g);
        }
        t
    }

    /// The run-wide lag histograms, as the summary carries them for a merge.
    pub(crate) fn lag_histograms(&self) -> summary::LagHistograms {
        summary::LagHistograms {
            lag: encode(&self.lag),
            own: encode(&self.own_lag),
        }
    }

    /// Statistics rebuilt from summaries (`report merge`), for judging thresholds: the
    /// groups, the lag histograms, and a schedule of `requests` over the spans given.
    pub(crate) fn rebuilt(
        groups: BTreeMap<Key, Group>,
        (lag, own_lag): (Histogram<u64>, Histogram<u64>),
        (requests, sent): (u64, u64),
        span: Option<Span>,
    ) -> Stats {
        let start = Instant::now();
        let mut s = Stats::new(start);
        (s.groups, s.lag, s.own_lag, s.requests, s.sent) = (groups, lag, own_lag, requests, sent);
        if let Some(span) = span.filter(|_| requests >= 2) {
            // The instants `span` reads back as these spans.
            let n = requests as f64;
            let between = span.scheduled * (n - 1.0) / n;
            let last = start + Duration::from_secs_f64(between.max(0.0));
            s.first_due = Some(start);
            s.last_due = Some(last);
            s.last_sent =
                Some(last + Duration::from_secs_f64((span.achieved - span.scheduled).max(0.0)));
        }
        s
    }

    /// Figures for the live line: the last full second's rates and p95.
    pub(crate) fn live(&self, now: Instant) -> (u32, u32, Option<u64>, u64, u64) {
        let (last, p95) = self.seconds.last(self.second(now));
        let t = self
            .groups
            .values()
            .fold((0, 0), |a, g| (a.0 + g.count(), a.1 + g.errors));
        (
            last.map_or(0, |x| x.scheduled),
            last.map_or(0, |x| x.sent),
            p95,
            t.0,
            t.1,
        )
    }

    /// The share of the requests the pacer sent without waiting for a slot that left
    /// within `within_us` of their instant, and how many those were; `None` when none.
    pub(crate) fn on_time(&self, within_us: u64) -> Option<(f64, u64)> {
        let h = &self.own_lag;
        (!h.is_empty()).then(|| {
            (
                h.count_between(0, within_us) as f64 / h.len() as f64,
                h.len(),
            )
        })
    }

    /// Events skipped (server-side, unmapped, without a token) in the last full second:
    /// the live line shows them apart from the requests.
    pub(crate) fn skipped_last_second(&self, now: Instant) -> u32 {
        self.seconds
            .last(self.second(now))
            .0
            .map_or(0, |x| x.skipped)
    }

    /// The per-second series, closing the current second first.
    pub(crate) fn series(&mut self) -> Vec<summary::Second> {
        // A second without session events holds the count the last one left.
        let open = self.sessions.seen.then_some(self.sessions.at_start);
        self.seconds.export(open)
    }

    /// The per-second series of each protocol and request tag (named from `tags`).
    pub(crate) fn series_by_kind(&mut self, tags: &[String]) -> Vec<summary::KindSeries> {
        self.seconds_by_kind
            .iter_mut()
            .map(|((protocol, tag), s)| summary::KindSeries {
                protocol: protocol.name().to_string(),
                kind: tag_name(tags, *tag),
                series: s.export(None),
            })
            .collect()
    }

    /// Each request tag's groups added (in the mapping's order of tags).
    pub(crate) fn by_kind(&self, tags: &[String]) -> Vec<summary::KindTotal> {
        let mut totals: BTreeMap<u16, Group> = BTreeMap::new();
        for (k, g) in &self.groups {
            totals.entry(k.tag).or_default().add(g);
        }
        totals
            .into_iter()
            .map(|(tag, g)| summary::KindTotal {
                figures: g.figures(),
                tags: KindTags {
                    kind: tag_name(tags, tag),
                },
            })
            .collect()
    }

    /// Each event kind's groups added over the phases (in the groups' order).
    pub(crate) fn by_event(&self, tags: &[String]) -> Vec<summary::EventTotal> {
        let mut totals: BTreeMap<(Protocol, u16, u16), Group> = BTreeMap::new();
        for (k, g) in &self.groups {
            totals
                .entry((k.protocol, k.event, k.tag))
                .or_default()
                .add(g);
        }
        totals
            .into_iter()
            .map(|((protocol, event, tag), g)| summary::EventTotal {
                figures: g.figures(),
                tags: EventTags {
                    protocol: protocol.name().to_string(),
                    event: event_name(&self.kinds, event),
                    kind: tag_name(tags, tag),
                },
            })
            .collect()
    }

    /// The per-second detail, `seconds` long at least (the length of [`Stats::series`]).
    pub(crate) fn over_time(&mut self, seconds: usize, tags: &[String]) -> summary::OverTime {
        self.over.finish(seconds, tags)
    }

    /// The groups with their tags' names, stages added together: request tags from the
    /// mapping, phase names from `phase`.
    pub fn groups(&self, tags: &[String], phase: &dyn Fn(u8) -> String) -> Vec<summary::Group> {
        let mut merged: BTreeMap<Key, Group> = BTreeMap::new();
        for (k, g) in &self.groups {
            merged.entry(Key { stage: 0, ..*k }).or_default().add(g);
        }
        merged
            .iter()
            .map(|(k, g)| summary::Group {
                figures: g.figures(),
                tags: Tags {
                    protocol: k.protocol.name().to_string(),
                    event: event_name(&self.kinds, k.event),
                    kind: tag_name(tags, k.tag),
                    phase: phase(k.phase),
                },
            })
            .collect()
    }

    /// The groups by stage, tag and event, phases added; `stage` names a stage (1 + its
    /// index). Empty without stages.
    pub fn stage_groups(
        &self,
        tags: &[String],
        stage: &dyn Fn(u8) -> String,
    ) -> Vec<summary::StageGroup> {
        let mut merged: BTreeMap<(u8, u16, u16, Protocol), Group> = BTreeMap::new();
        for (k, g) in self.groups.iter().filter(|(k, _)| k.stage > 0) {
            merged
                .entry((k.stage, k.tag, k.event, k.protocol))
                .or_default()
                .add(g);
        }
        merged
            .iter()
            .map(|((s, tag, event, protocol), g)| summary::StageGroup {
                figures: g.figures(),
                stage: stage(*s),
                protocol: protocol.name().to_string(),
                event: event_name(&self.kinds, *event),
                kind: tag_name(tags, *tag),
            })
            .collect()
    }
}

fn event_name(kinds: &KindNames, event: u16) -> String {
    kinds.name(event).unwrap_or("unknown").to_string()
}

fn tag_name(tags: &[String], tag: u16) -> String {
    tags.get(tag as usize).cloned().unwrap_or_default()
}

/// Skipped events by kind: the non-zero counts.
pub(crate) fn by_kind(counts: &[u64], kinds: &KindNames) -> BTreeMap<String, u64> {
    counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| {
            let kind = kinds.name(i as u16).unwrap_or("unknown");
            (kind.to_string(), *n)
        })
        .collect()
}
