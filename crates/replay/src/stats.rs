//! Replay statistics: HdrHistograms per (protocol, event kind, request tag, phase) of both
//! latencies, outcome counts, scheduler lag, and one-second series.
//!
//! Latency is measured from the event's *intended* instant (no coordinated omission);
//! service time from the instant the request actually left. The two differ exactly when
//! the generator or the in-flight cap held a request back.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

use simulate_core::timeline::EVENT_KINDS;

use crate::mapping::Protocol;
use crate::outcome::{ErrorClass, Outcome, Status};
use crate::summary::{self, GroupFigures, Histograms, Percentiles, Tags};

/// Microseconds: the unit every histogram records.
fn us(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}

fn hist() -> Histogram<u64> {
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

/// Statistics are grouped by these tags.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) protocol: Protocol,
    /// The event kind's index in `EVENT_KINDS`.
    pub event: u16,
    /// The request tag's index in the mapping's tags.
    pub(crate) tag: u16,
    pub phase: u8,
}

/// One group's figures. Mergeable: thresholds over several tags add groups together.
#[derive(Clone, Debug)]
pub struct Group {
    pub(crate) latency: Histogram<u64>,
    pub(crate) service: Histogram<u64>,
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

    pub(crate) fn add(&mut self, o: &Group) {
        let _ = self.latency.add(&o.latency);
        let _ = self.service.add(&o.service);
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
            histograms: Histograms {
                unit: "us".into(),
                encoding: "HdrHistogram V2 + DEFLATE, base64".into(),
                latency: encode(&self.latency),
                service: encode(&self.service),
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

fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
        Err(_) => String::new(),
    }
}

/// One second of the run, by wall clock from the first send.
#[derive(Clone, Debug, Default)]
struct Second {
    scheduled: u32,
    sent: u32,
    completed: u32,
    errors: u32,
    p95_us: Option<u64>,
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
    /// Broadcast fan-out latency per listened Socket.IO event, filled in at the end.
    pub(crate) fanout: Vec<Histogram<u64>>,
    seconds: Vec<Second>,
    /// Completions of the current second, rolled into `seconds` when it ends.
    current: (usize, Histogram<u64>),
    /// Requests sent and not yet answered, by the pacer's id: what is left at the end was
    /// abandoned.
    open: HashMap<u64, Open>,
}

/// A request out: its group, when it was due and when it left.
#[derive(Clone, Copy, Debug)]
struct Open {
    key: Key,
    intended: Instant,
    sent: Instant,
}

impl Stats {
    pub(crate) fn new(start: Instant) -> Stats {
        Stats {
            start,
            groups: BTreeMap::new(),
            lag: hist(),
            scheduled: 0,
            sent: 0,
            late: 0,
            connection_waits: 0,
            chained: 0,
            unmapped: vec![0; EVENT_KINDS.len() + 1],
            server_side: vec![0; EVENT_KINDS.len() + 1],
            no_token: vec![0; EVENT_KINDS.len() + 1],
            fanout: Vec::new(),
            seconds: Vec::new(),
            current: (0, Histogram::new(2).expect("valid")),
            open: HashMap::new(),
        }
    }

    fn second(&mut self, at: Instant) -> &mut Second {
        let s = at.saturating_duration_since(self.start).as_secs() as usize;
        if self.seconds.len() <= s {
            self.seconds.resize(s + 1, Second::default());
        }
        &mut self.seconds[s]
    }

    /// An event became due (whether it is sent or skipped).
    pub fn scheduled(&mut self, intended: Instant) {
        self.scheduled += 1;
        self.second(intended).scheduled += 1;
    }

    pub(crate) fn skipped(&mut self, kind: u16, why: Skip) {
        let i = (kind as usize).min(EVENT_KINDS.len());
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
            },
        );
        self.sent += 1;
        self.late += late as u64;
        let _ = self.lag.record(us(at.saturating_duration_since(intended)));
        self.second(at).sent += 1;
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
        let Some(Open { key, intended, .. }) = self.open.remove(&id) else {
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
        let g = self.groups.entry(key).or_default();
        let _ = g.latency.record(latency);
        let _ = g.service.record(service);
        g.late += late as u64;
        let error = match outcome {
            Outcome::Ok(s) => {
                g.ok += 1;
                *g.statuses.entry(s).or_default() += 1;
                false
            }
            Outcome::Status(s) => {
                g.errors += 1;
                *g.statuses.entry(s).or_default() += 1;
                true
            }
            Outcome::Failed(c) => {
                g.errors += 1;
                *g.classes.entry(c).or_default() += 1;
                true
            }
        };
        let s = done.saturating_duration_since(self.start).as_secs() as usize;
        if s != self.current.0 {
            self.roll();
            self.current.0 = s;
        }
        let _ = self.current.1.record(latency);
        let sec = self.second(done);
        sec.completed += 1;
        sec.errors += error as u32;
    }

    /// Counts every request still out as abandoned at `now`: an error of its own class,
    /// its latency and service time running up to `now` (a lower bound of what the answer
    /// would have taken). Returns how many there were.
    pub(crate) fn abandon(&mut self, now: Instant) -> u64 {
        let mut open: Vec<(u64, Open)> = self.open.drain().collect();
        open.sort_by_key(|(id, _)| *id);
        for (_, o) in &open {
            let g = self.groups.entry(o.key).or_default();
            let _ = g
                .latency
                .record(us(now.saturating_duration_since(o.intended)));
            let _ = g.service.record(us(now.saturating_duration_since(o.sent)));
            g.errors += 1;
            *g.classes.entry(ErrorClass::Abandoned).or_default() += 1;
        }
        open.len() as u64
    }

    fn roll(&mut self) {
        let (s, h) = &mut self.current;
        if !h.is_empty() {
            let p95 = h.value_at_quantile(0.95);
            let s = *s;
            if self.seconds.len() <= s {
                self.seconds.resize(s + 1, Second::default());
            }
            self.seconds[s].p95_us = Some(p95);
            self.current.1.reset();
        }
    }

    pub(crate) fn total(&self) -> Group {
        let mut t = Group::default();
        for g in self.groups.values() {
            t.add(g);
        }
        t
    }

    /// Figures for the live line: the last full second's rates and p95.
    pub(crate) fn live(&self, now: Instant) -> (u32, u32, Option<u64>, u64, u64) {
        let s = now.saturating_duration_since(self.start).as_secs() as usize;
        let last = s.checked_sub(1).and_then(|i| self.seconds.get(i));
        let p95 = last.and_then(|x| x.p95_us).or_else(|| {
            (self.current.0 + 1 >= s && !self.current.1.is_empty())
                .then(|| self.current.1.value_at_quantile(0.95))
        });
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

    /// The per-second series, closing the current second first.
    pub(crate) fn series(&mut self) -> Vec<summary::Second> {
        self.roll();
        self.seconds
            .iter()
            .enumerate()
            .map(|(i, s)| summary::Second {
                t_s: i as u64,
                scheduled: s.scheduled,
                sent: s.sent,
                completed: s.completed,
                errors: s.errors,
                p95_ms: s.p95_us.map(ms),
            })
            .collect()
    }

    /// The groups with their tags' names: request tags from the mapping, phase names
    /// from `phase`.
    pub fn groups(&self, tags: &[String], phase: &dyn Fn(u8) -> String) -> Vec<summary::Group> {
        self.groups
            .iter()
            .map(|(k, g)| summary::Group {
                figures: g.figures(),
                tags: Tags {
                    protocol: k.protocol.name().to_string(),
                    event: EVENT_KINDS
                        .get(k.event as usize)
                        .copied()
                        .unwrap_or("unknown")
                        .to_string(),
                    kind: tags.get(k.tag as usize).cloned().unwrap_or_default(),
                    phase: phase(k.phase),
                },
            })
            .collect()
    }
}

/// Skipped events by kind: the non-zero counts.
pub(crate) fn by_kind(counts: &[u64]) -> BTreeMap<String, u64> {
    counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| {
            let kind = EVENT_KINDS.get(i).copied().unwrap_or("unknown");
            (kind.to_string(), *n)
        })
        .collect()
}
