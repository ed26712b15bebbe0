//! Per-second series of a replay, by wall clock from the first request due: one for every
//! request and one per (protocol, request tag), so events per second and API requests
//! per second read apart.

use hdrhistogram::Histogram;

use crate::stats::ms;
use crate::summary;

/// One second's counts.
#[derive(Clone, Debug, Default)]
pub(crate) struct Second {
    /// Requests due (skipped events are not requests: they count in `skipped`).
    pub(crate) scheduled: u32,
    /// Events due and not sent (server-side, unmapped, without a token).
    pub(crate) skipped: u32,
    pub(crate) sent: u32,
    completed: u32,
    errors: u32,
    p95_us: Option<u64>,
    /// With a target rate: the pace of this second (see `pace::Step`).
    pace: Option<Pace>,
    /// The most sessions open at once in this second, when a session event fell in it.
    sessions_open: Option<u64>,
}

/// The pace of one wall second of a `--rate` or `--stages` run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pace {
    pub(crate) sim_ms: i64,
    pub(crate) factor: f64,
    pub(crate) target: f64,
}

/// One series: a second's counts, and the latencies of the second being completed (its
/// p95 is kept when the next second starts).
#[derive(Clone, Debug)]
pub(crate) struct Series {
    seconds: Vec<Second>,
    current: (usize, Histogram<u64>),
}

impl Default for Series {
    fn default() -> Self {
        Series {
            seconds: Vec::new(),
            // Two significant figures: a per-second p95 needs no more.
            current: (
                0,
                Histogram::new(2).expect("2 significant figures is valid"),
            ),
        }
    }
}

impl Series {
    fn at(&mut self, s: usize) -> &mut Second {
        if self.seconds.len() <= s {
            self.seconds.resize(s + 1, Second::default());
        }
        &mut self.seconds[s]
    }

    /// A request fell due in second `s`.
    pub(crate) fn scheduled(&mut self, s: usize) {
        self.at(s).scheduled += 1;
    }

    /// Second `s` plays simulated time at this pace.
    pub(crate) fn pace(&mut self, s: usize, pace: Pace) {
        self.at(s).pace = Some(pace);
    }

    /// An event fell due in second `s` and was skipped (in the series of all).
    pub(crate) fn skipped(&mut self, s: usize) {
        self.at(s).skipped += 1;
    }

    pub(crate) fn sent(&mut self, s: usize) {
        self.at(s).sent += 1;
    }

    /// A session event in second `s` left `open` sessions open.
    pub(crate) fn sessions_open(&mut self, s: usize, open: u64) {
        let sec = self.at(s);
        sec.sessions_open = Some(sec.sessions_open.map_or(open, |m| m.max(open)));
    }

    /// A request ended in second `s` after `latency_us`. Completions reach here from
    /// many tasks, so one for an earlier second can arrive after the next second
    /// started: it is counted in its second, but its latency stays out of that second's
    /// p95 (rolled already, or never opened), which is the p95 of the completions that
    /// arrived while their second was the latest. Rolling back to it instead would
    /// replace a full second's p95 by a one-sample one.
    pub(crate) fn completed(&mut self, s: usize, latency_us: u64, error: bool) {
        if s > self.current.0 {
            self.roll();
            self.current.0 = s;
        }
        if s == self.current.0 {
            let _ = self.current.1.record(latency_us);
        }
        let sec = self.at(s);
        sec.completed += 1;
        sec.errors += error as u32;
    }

    /// Closes the current second: its p95 into its entry.
    fn roll(&mut self) {
        if !self.current.1.is_empty() {
            let p95 = self.current.1.value_at_quantile(0.95);
            let s = self.current.0;
            self.at(s).p95_us = Some(p95);
            self.current.1.reset();
        }
    }

    /// Second `s − 1` (the last full one at `s`) and its p95, or the current second's
    /// p95 while it has not rolled.
    pub(crate) fn last(&self, s: usize) -> (Option<&Second>, Option<u64>) {
        let last = s.checked_sub(1).and_then(|i| self.seconds.get(i));
        let p95 = last.and_then(|x| x.p95_us).or_else(|| {
            (self.current.0 + 1 >= s && !self.current.1.is_empty())
                .then(|| self.current.1.value_at_quantile(0.95))
        });
        (last, p95)
    }

    /// The series as the summary gives it, closing the current second first. `open` is
    /// the sessions open at the start (`None` where sessions are not counted); a second
    /// without session events carries the figure of the one before.
    pub(crate) fn export(&mut self, mut open: Option<u64>) -> Vec<summary::Second> {
        self.roll();
        self.seconds
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if s.sessions_open.is_some() {
                    open = s.sessions_open;
                }
                summary::Second {
                    t_s: i as u64,
                    scheduled: s.scheduled,
                    skipped: s.skipped,
                    sent: s.sent,
                    completed: s.completed,
                    errors: s.errors,
                    p95_ms: s.p95_us.map(ms),
                    sim_ms: s.pace.map(|p| p.sim_ms),
                    factor: s.pace.map(|p| (p.factor * 1000.0).round() / 1000.0),
                    target_per_s: s.pace.map(|p| (p.target * 1000.0).round() / 1000.0),
                    sessions_open: open,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_second_and_each_second_keeps_its_p95() {
        let mut s = Series::default();
        s.scheduled(0);
        s.sent(0);
        s.completed(0, 1_000, false);
        s.scheduled(2);
        s.sent(2);
        s.completed(2, 9_000, true);
        let out = s.export(None);
        assert_eq!(out.len(), 3);
        assert_eq!((out[0].sent, out[0].completed, out[0].errors), (1, 1, 0));
        assert_eq!(out[0].p95_ms.map(f64::round), Some(1.0));
        assert_eq!((out[1].sent, out[1].p95_ms), (0, None));
        assert_eq!(
            (out[2].errors, out[2].p95_ms.map(f64::round)),
            (1, Some(9.0))
        );
    }

    #[test]
    fn a_late_completion_counts_in_its_second_without_replacing_its_p95() {
        let mut s = Series::default();
        for _ in 0..100 {
            s.completed(0, 10_000, false);
        }
        s.completed(1, 2_000, false);
        // Second 0's straggler, after second 1 started.
        s.completed(0, 1_000, true);
        s.completed(1, 2_000, false);
        let out = s.export(None);
        assert_eq!((out[0].completed, out[0].errors), (101, 1));
        assert_eq!(out[0].p95_ms.map(f64::round), Some(10.0));
        assert_eq!(
            (out[1].completed, out[1].p95_ms.map(f64::round)),
            (2, Some(2.0))
        );
    }
}
