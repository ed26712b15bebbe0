//! `simulate capacity`: the search for the highest rate a target holds, and its report.
//!
//! The level grows by a factor (`--step 2x`) until one fails its thresholds, then a
//! binary refinement between the highest level held and the lowest failed narrows the
//! limit to `--precision`. The binary runs each level as a replay (a warm-up stage left
//! out of the figures, then the measured stage); this module decides the next level and
//! says what failed: the target's latency or errors, or the generator itself.

use serde::{Deserialize, Serialize};

use crate::summary::Summary;

/// The `schema` value of the capacity report.
pub const CAPACITY_SCHEMA: &str = "simulate.capacity.v1";

/// Most levels one search runs, whatever the bounds.
pub const MAX_LEVELS: usize = 24;

/// Scheduler lag p99 above this, while requests were not held back by the target (few
/// late), means the generator could not keep its own schedule (a release build on an
/// idle core keeps it under 1 ms). It makes a level fail only through the latency it
/// adds (or a `lag_p99` threshold): a level delivered in full with its thresholds held
/// is held.
pub const GENERATOR_LAG_MS: f64 = 10.0;

/// Achieved below this share of the level, with the target answering in time, means the
/// generator (or the timeline) could not deliver the level.
pub const GENERATOR_SHORTFALL: f64 = 0.9;

/// The next level to try, from what held and what failed so far.
#[derive(Clone, Debug)]
pub struct Search {
    from: f64,
    step: f64,
    max: f64,
    precision: f64,
    held: Option<f64>,
    failed: Option<f64>,
    tried: usize,
}

impl Search {
    /// From `from` per second, times `step` until a level fails, never above `max`, then
    /// halving the gap until the failed level is within `precision` (0.05: 5 %) of the
    /// held one.
    pub fn new(from: f64, step: f64, max: Option<f64>, precision: f64) -> Search {
        Search {
            from,
            step,
            max: max.unwrap_or(f64::INFINITY),
            precision,
            held: None,
            failed: None,
            tried: 0,
        }
    }

    /// The next level; `None` when the search is over.
    pub fn next(&self) -> Option<f64> {
        if self.tried >= MAX_LEVELS {
            return None;
        }
        let level = match (self.held, self.failed) {
            (None, None) => self.from.min(self.max),
            (Some(h), None) => {
                if h >= self.max {
                    return None;
                }
                (h * self.step).min(self.max)
            }
            (None, Some(_)) => return None,
            (Some(h), Some(f)) => {
                if f <= h * (1.0 + self.precision) {
                    return None;
                }
                (h + f) / 2.0
            }
        };
        Some(round3(level))
    }

    pub fn record(&mut self, level: f64, held: bool) {
        self.tried += 1;
        if held {
            self.held = Some(self.held.map_or(level, |h| h.max(level)));
        } else {
            self.failed = Some(self.failed.map_or(level, |f| f.min(level)));
        }
    }

    pub fn held(&self) -> Option<f64> {
        self.held
    }

    pub fn failed(&self) -> Option<f64> {
        self.failed
    }
}

/// Three significant figures: levels read as levels (312, not 312.5).
fn round3(v: f64) -> f64 {
    if v <= 0.0 {
        return v;
    }
    let scale = 10f64.powi(2 - v.log10().floor() as i32);
    (v * scale).round() / scale
}

/// What made a level fail.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cause {
    /// A latency threshold (p95, service time, max).
    Latency,
    /// An error-rate or error-count threshold.
    Errors,
    /// The generator fell behind its own schedule: the limit is the tool's, not the
    /// target's, and the level held is a lower bound.
    Generator,
    /// The target refused every connection.
    Down,
}

/// One level tried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// The target rate, requests per second.
    pub rate: f64,
    pub held: bool,
    /// Measured requests per second, the warm-up left out, over the time the measured
    /// stage ran (shorter than planned when the level stopped early).
    pub achieved_per_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub error_pct: f64,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Scheduler lag p99 of the whole level (how late the generator sent).
    pub lag_p99_ms: Option<f64>,
    /// Requests that waited for a slot or a connection: the target held them back.
    pub late: u64,
    /// The thresholds that failed, as written.
    pub failed: Vec<String>,
    pub causes: Vec<Cause>,
    pub wall_seconds: f64,
}

/// What `capacity --summary-export` writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    pub schema: String,
    pub version: String,
    pub target: String,
    pub mapping: String,
    pub from_per_s: f64,
    pub step: f64,
    pub max_rate_per_s: Option<f64>,
    pub step_seconds: f64,
    pub warmup_seconds: f64,
    pub thresholds: Vec<String>,
    /// What a level's rate counts: `mapped requests`, `points.earned events` or `requests
    /// of class api` (`--from class:api=100/s`).
    #[serde(default)]
    pub counted: String,
    pub levels: Vec<Level>,
    /// The highest level that held; `None` when the first already failed.
    pub highest_held: Option<f64>,
    /// The lowest level that failed; `None` when every level held.
    pub first_failed: Option<f64>,
    /// What failed at `first_failed`.
    pub causes: Vec<Cause>,
    /// One line: what was found.
    pub verdict: String,
}

/// The seconds the measured stage ran: all it was planned for, or, for a level that
/// stopped early (`--abort-on-fail`, Ctrl-C), the schedule's span past the warm-up (a
/// rate over the planned time would read a level stopped at 4 of 5 s as 20 % slower).
fn ran_seconds(s: &Summary, warmup: f64, planned: f64) -> f64 {
    if s.aborted.is_none() && !s.interrupted {
        return planned;
    }
    (s.totals.schedule_seconds - warmup).clamp(0.0, planned)
}

/// Judges one level from its summary: `measure` is the name of the measured stage,
/// `warmup` and `seconds` the planned lengths of the warm-up and of that stage. `counted`:
/// the event kinds whose requests the level's rate counts (`None`: every mapped one); the
/// level's requests, errors and latency are theirs, as the rate is.
pub fn level(
    rate: f64,
    s: &Summary,
    (measure, counted): (&str, Option<&[String]>),
    (warmup, seconds): (f64, f64),
) -> Level {
    let measured: Vec<_> = s
        .stages
        .iter()
        .filter(|g| g.stage == measure && counted.is_none_or(|c| c.contains(&g.event)))
        .collect();
    let (mut requests, mut errors) = (0, 0);
    for g in &measured {
        requests += g.figures.count;
        errors += g.figures.errors;
    }
    let failed: Vec<String> = s
        .thresholds
        .iter()
        .filter(|v| !v.ok)
        .map(|v| v.threshold.clone())
        .collect();
    let mut causes: Vec<Cause> = Vec::new();
    fn add(causes: &mut Vec<Cause>, c: Cause) {
        if !causes.contains(&c) {
            causes.push(c);
        }
    }
    if s.aborted.as_deref().is_some_and(|a| a.contains("down")) {
        add(&mut causes, Cause::Down);
    }
    for t in &failed {
        add(
            &mut causes,
            if t.starts_with("errors") {
                Cause::Errors
            } else if t.starts_with("lag") {
                Cause::Generator
            } else {
                Cause::Latency
            },
        );
    }
    let lag = s.scheduler_lag_ms.as_ref().map(|l| l.p99);
    let late_share = s.totals.late as f64 / s.totals.sent.max(1) as f64;
    let ran = ran_seconds(s, warmup, seconds);
    let achieved = if ran > 0.0 {
        requests as f64 / ran
    } else {
        0.0
    };
    // A failed latency threshold is the generator's doing when its own lag is a good part
    // of the latency (latency runs from the intended instant).
    let p95 = s.overall.latency_ms.as_ref().map_or(0.0, |l| l.p95);
    let behind = causes.contains(&Cause::Latency)
        && lag.is_some_and(|l| l > GENERATOR_LAG_MS && l >= p95 / 2.0)
        && late_share < 0.01;
    let short = achieved < rate * GENERATOR_SHORTFALL && causes.is_empty() && s.aborted.is_none();
    if behind || short {
        add(&mut causes, Cause::Generator);
    }
    // The measured stage's latency: percentiles do not add across groups, so the
    // highest of its groups' (the one a threshold would trip on first).
    let fig = |q: fn(&crate::summary::Percentiles) -> f64| {
        measured
            .iter()
            .filter_map(|g| g.figures.latency_ms.as_ref().map(q))
            .reduce(f64::max)
    };
    Level {
        rate,
        held: causes.is_empty() && s.aborted.is_none(),
        achieved_per_s: (achieved * 10.0).round() / 10.0,
        requests,
        errors,
        error_pct: if requests > 0 {
            (errors as f64 * 100.0 / requests as f64 * 1000.0).round() / 1000.0
        } else {
            0.0
        },
        p95_ms: fig(|p| p.p95),
        p99_ms: fig(|p| p.p99),
        lag_p99_ms: lag,
        late: s.totals.late,
        failed,
        causes,
        wall_seconds: s.wall_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_up_then_halves_the_gap_and_respects_the_cap() {
        // A target that holds 300/s.
        let mut s = Search::new(100.0, 2.0, None, 0.05);
        let mut tried = Vec::new();
        while let Some(l) = s.next() {
            tried.push(l);
            s.record(l, l <= 300.0);
        }
        assert_eq!(&tried[..3], &[100.0, 200.0, 400.0]);
        assert_eq!(tried[3], 300.0);
        let (h, f) = (s.held().unwrap(), s.failed().unwrap());
        assert!(
            h <= 300.0 && f > 300.0 && f <= h * 1.05,
            "{h} {f} {tried:?}"
        );
        // Never above the cap, and a cap that holds ends the search.
        let mut s = Search::new(100.0, 3.0, Some(500.0), 0.05);
        let mut tried = Vec::new();
        while let Some(l) = s.next() {
            tried.push(l);
            s.record(l, true);
        }
        assert_eq!(tried, vec![100.0, 300.0, 500.0]);
        // The first level failing ends it at once.
        let mut s = Search::new(100.0, 2.0, None, 0.05);
        s.record(s.next().unwrap(), false);
        assert_eq!(s.next(), None);
        assert_eq!(round3(312.5), 313.0);
    }
}
