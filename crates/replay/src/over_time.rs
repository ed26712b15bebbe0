//! Per-second detail of a replay, for the summary's `over_time` and the HTML report:
//! latency percentiles per protocol and tag, failures by class, requests in flight,
//! Socket.IO connections open, and the generator's lag (sessions open are in `series`).
//!
//! Kept beside [`crate::stats::Stats`] (which feeds it) rather than in it: the totals
//! and thresholds do not need it, and its histograms are per second, small (two
//! significant figures) and reset as each second closes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::mapping::Protocol;
use crate::stats::ms;
use crate::summary::{LatencyPoint, LatencyTrack, OverTime, SecondDetail};

fn small() -> Histogram<u64> {
    Histogram::new(2).expect("2 significant figures is valid")
}

/// What one second gathered.
#[derive(Clone, Debug, Default)]
struct Detail {
    in_flight_peak: u32,
    sockets_open: Option<u32>,
    lag: Option<(f64, f64)>,
    errors: BTreeMap<String, u32>,
}

#[derive(Clone, Debug)]
pub(crate) struct Tracker {
    start: Instant,
    seconds: Vec<Detail>,
    /// Lag of the requests sent in the current second (sends come in order).
    lag: (usize, Histogram<u64>),
    /// Latency of the requests completed in the current second, per (protocol, tag).
    latency: (usize, BTreeMap<(Protocol, u16), Histogram<u64>>),
    tracks: BTreeMap<(Protocol, u16), Vec<LatencyPoint>>,
}

impl Tracker {
    pub(crate) fn new(start: Instant) -> Tracker {
        Tracker {
            start,
            seconds: Vec::new(),
            lag: (0, small()),
            latency: (0, BTreeMap::new()),
            tracks: BTreeMap::new(),
        }
    }

    /// The wall instant the series counts from (the first request due).
    pub(crate) fn restart(&mut self, start: Instant) {
        self.start = start;
    }

    fn index(&self, at: Instant) -> usize {
        at.saturating_duration_since(self.start).as_secs() as usize
    }

    fn second(&mut self, s: usize) -> &mut Detail {
        if self.seconds.len() <= s {
            self.seconds.resize(s + 1, Detail::default());
        }
        &mut self.seconds[s]
    }

    /// A request left at `at`, `lag` after its instant, with `in_flight` requests out.
    pub(crate) fn sent(&mut self, at: Instant, lag: Duration, in_flight: usize) {
        let s = self.index(at);
        if s != self.lag.0 {
            self.roll_lag();
            self.lag.0 = s;
        }
        let _ = self.lag.1.record((lag.as_micros() as u64).max(1));
        let d = self.second(s);
        d.in_flight_peak = d.in_flight_peak.max(in_flight as u32);
    }

    /// A request of (`protocol`, `tag`) answered at `at`, `latency_us` after its instant;
    /// `error` names its failure class.
    pub(crate) fn done(
        &mut self,
        at: Instant,
        key: (Protocol, u16),
        latency_us: u64,
        error: Option<String>,
    ) {
        let s = self.index(at);
        if s != self.latency.0 {
            self.roll_latency();
            self.latency.0 = s;
        }
        let _ = self
            .latency
            .1
            .entry(key)
            .or_insert_with(small)
            .record(latency_us);
        if let Some(class) = error {
            *self.second(s).errors.entry(class).or_default() += 1;
        }
    }

    /// `n` requests abandoned at `at` (the drain bound ran out).
    pub(crate) fn abandoned(&mut self, at: Instant, n: u64) {
        if n > 0 {
            let s = self.index(at);
            *self.second(s).errors.entry("abandoned".into()).or_default() += n as u32;
        }
    }

    /// Socket.IO connections open at `at`.
    pub(crate) fn sockets(&mut self, at: Instant, open: usize) {
        let s = self.index(at);
        self.second(s).sockets_open = Some(open as u32);
    }

    fn roll_lag(&mut self) {
        if self.lag.1.is_empty() {
            return;
        }
        let (s, h) = (self.lag.0, &self.lag.1);
        let lag = (ms(h.value_at_quantile(0.99)), ms(h.max()));
        self.second(s).lag = Some(lag);
        self.lag.1.reset();
    }

    fn roll_latency(&mut self) {
        let s = self.latency.0;
        for (key, h) in self.latency.1.iter_mut().filter(|(_, h)| !h.is_empty()) {
            self.tracks.entry(*key).or_default().push(LatencyPoint {
                t_s: s as u64,
                count: h.len() as u32,
                p50_ms: ms(h.value_at_quantile(0.50)),
                p95_ms: ms(h.value_at_quantile(0.95)),
                p99_ms: ms(h.value_at_quantile(0.99)),
            });
            h.reset();
        }
    }

    /// The detail as the summary gives it, seconds closed; `len` is the length of the
    /// summary's `series` (both count the same seconds), tags named from the mapping.
    pub(crate) fn finish(&mut self, len: usize, tags: &[String]) -> OverTime {
        self.roll_lag();
        self.roll_latency();
        let n = len.max(self.seconds.len());
        let mut sockets = None;
        let seconds = (0..n)
            .map(|i| {
                let d = self.seconds.get(i).cloned().unwrap_or_default();
                // Between samples the count stays what it was.
                sockets = d.sockets_open.or(sockets);
                SecondDetail {
                    t_s: i as u64,
                    in_flight_peak: d.in_flight_peak,
                    sockets_open: sockets,
                    lag_p99_ms: d.lag.map(|l| l.0),
                    lag_max_ms: d.lag.map(|l| l.1),
                    errors: d.errors,
                }
            })
            .collect();
        let latency = self
            .tracks
            .iter()
            .map(|((protocol, tag), points)| LatencyTrack {
                protocol: protocol.name().to_string(),
                tag: tags.get(*tag as usize).cloned().unwrap_or_default(),
                points: points.clone(),
            })
            .collect();
        OverTime { seconds, latency }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_close_into_percentiles_and_counts_carry_forward() {
        let t0 = Instant::now();
        let mut t = Tracker::new(t0);
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        t.sockets(at(0.1), 3);
        t.sent(at(0.2), Duration::from_millis(3), 1);
        t.sent(at(0.3), Duration::from_millis(1), 2);
        for i in 1..=100u64 {
            t.done(at(0.5), (Protocol::Http, 0), i * 1000, None);
        }
        t.done(at(2.5), (Protocol::Http, 0), 5000, Some("timeout".into()));
        t.sockets(at(2.6), 1);
        let o = t.finish(4, &["read".into()]);
        assert_eq!(o.seconds.len(), 4);
        assert_eq!(o.seconds[0].in_flight_peak, 2);
        assert_eq!(o.seconds[0].lag_max_ms.map(|v| v.round()), Some(3.0));
        // Sampled in seconds 0 and 2, carried in between and after.
        let open: Vec<Option<u32>> = o.seconds.iter().map(|s| s.sockets_open).collect();
        assert_eq!(open, vec![Some(3), Some(3), Some(1), Some(1)]);
        assert_eq!(o.seconds[2].errors.get("timeout"), Some(&1));
        let track = &o.latency[0];
        assert_eq!(
            (track.protocol.as_str(), track.tag.as_str()),
            ("http", "read")
        );
        assert_eq!(track.points.len(), 2);
        assert_eq!(track.points[0].count, 100);
        // Two significant figures: p50 of 1..100 ms is 50 ms, p99 99 ms.
        assert_eq!(track.points[0].p50_ms.round(), 50.0);
        assert_eq!(track.points[0].p99_ms.round(), 99.0);
        assert_eq!(track.points[1].t_s, 2);
    }
}
