//! Pacing to a target rate: which simulated span each wall second plays.
//!
//! `--compress` maps simulated to wall time by one factor. `--rate` and `--stages` map it
//! by a factor that changes at most once per wall second (piecewise linear): for wall
//! second k the target says how many counted events are due (the rate's integral, the
//! fractions carried over), and the simulated span of the second ends where the next
//! counted event is, in the schedule's own density. Inside the second the span is
//! stretched linearly, so bursts keep their shape, each user's events keep their order
//! and relative spacing, and every event is sent once.

use std::collections::VecDeque;

use simulate_core::units::load::{Rate, Stages};

use crate::mapping::{Mapping, RequestClass, Route};

/// What the wall seconds must hold.
#[derive(Clone, Debug)]
pub enum Curve {
    /// The same rate until the window ends.
    Rate(Rate),
    /// Ramps and holds; the run ends with the last stage.
    Stages(Stages),
}

impl Curve {
    /// Events due from the start up to `wall_ms`.
    fn cumulative(&self, wall_ms: i64) -> f64 {
        match self {
            Curve::Rate(r) => r.per_s() * wall_ms as f64 / 1000.0,
            Curve::Stages(s) => s.cumulative(wall_ms),
        }
    }

    /// The plan's wall length; `None` for a rate (the window decides).
    pub fn end_ms(&self) -> Option<i64> {
        match self {
            Curve::Rate(_) => None,
            Curve::Stages(s) => Some(s.total_ms()),
        }
    }

    pub fn rate_at(&self, wall_ms: i64) -> f64 {
        match self {
            Curve::Rate(r) => r.per_s(),
            Curve::Stages(s) => s.rate_at(wall_ms),
        }
    }

    /// 1 + the stage holding `wall_ms`; 0 for a plain rate.
    fn stage_at(&self, wall_ms: i64) -> u8 {
        match self {
            Curve::Rate(_) => 0,
            Curve::Stages(s) => (s.index_at(wall_ms) + 1).min(255) as u8,
        }
    }
}

/// Which events count towards the rate.
#[derive(Clone, Debug, PartialEq)]
pub enum Counted {
    /// Every event the mapping sends.
    Mapped,
    /// One event kind (its index in the world's kinds, built-in then its own); the others
    /// follow its factor.
    Kind(u16),
    /// The events whose mapped request is of this class (`class:api`): the API load of a
    /// mapping that also sends events; the others follow its factor.
    Class(RequestClass),
}

impl Counted {
    /// Whether an event of `kind` counts towards the rate under `mapping`.
    pub fn counts(&self, mapping: &Mapping, kind: u16) -> bool {
        match self {
            Counted::Mapped => matches!(mapping.route(kind), Route::Send(_)),
            Counted::Kind(k) => kind == *k,
            Counted::Class(c) => {
                matches!(mapping.route(kind), Route::Send(m) if m.class == Some(*c))
            }
        }
    }
}

/// The pace of a `--rate` or `--stages` run.
#[derive(Clone, Debug)]
pub struct Target {
    pub curve: Curve,
    pub counted: Counted,
}

/// The name of each stage of a run, by index: its own, else its number from 1.
pub fn stage_names(target: Option<&Target>) -> Vec<String> {
    match target.map(|t| &t.curve) {
        Some(Curve::Stages(s)) => s
            .stages()
            .iter()
            .enumerate()
            .map(|(i, st)| st.name.clone().unwrap_or_else(|| (i + 1).to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

/// Names stages by their tag (1 + index) for the summary; `""` for none.
pub(crate) fn stage_namer(target: Option<&Target>) -> impl Fn(u8) -> String {
    let names = stage_names(target);
    move |s: u8| {
        (s as usize)
            .checked_sub(1)
            .and_then(|i| names.get(i).cloned())
            .unwrap_or_default()
    }
}

/// The mean factor of a paced run that reached simulated `sim_ms` in `wall_s` seconds.
pub(crate) fn mean_factor(sim_ms: i64, window: crate::source::Window, wall_s: f64) -> f64 {
    let played = (sim_ms - window.from_ms).max(0) as f64;
    ((played / (wall_s * 1000.0) * 1000.0).round() / 1000.0).max(0.001)
}

/// One wall step: wall `[wall_from, wall_to)` ms after the start plays the simulated
/// span `[sim_from, sim_to)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Step {
    pub(crate) index: u64,
    pub(crate) wall_from: i64,
    pub(crate) wall_to: i64,
    pub(crate) sim_from: i64,
    pub(crate) sim_to: i64,
    /// The statistics tag of its requests: 1 + the stage's index, 0 without stages.
    pub(crate) stage: u8,
    /// The target rate at its start, per second.
    pub(crate) target: f64,
}

impl Step {
    /// Wall ms after the start at which simulated instant `t` (inside the step) is due.
    pub(crate) fn wall_ms(&self, t: i64) -> f64 {
        let span = (self.sim_to - self.sim_from).max(1) as f64;
        self.wall_from as f64
            + (t - self.sim_from) as f64 / span * (self.wall_to - self.wall_from) as f64
    }

    /// Simulated ms per wall ms in this step.
    pub(crate) fn factor(&self) -> f64 {
        (self.sim_to - self.sim_from) as f64 / (self.wall_to - self.wall_from).max(1) as f64
    }
}

/// Wall ms per step: the factor changes at most this often.
const STEP_MS: i64 = 1000;

/// Walks the plan one wall second at a time.
#[derive(Debug)]
pub(crate) struct Stepper {
    curve: Curve,
    next: u64,
    sim_at: i64,
    /// Counted events placed in earlier steps.
    placed: u64,
    /// The last step's factor that came from the schedule, for a tail without a next event.
    last_factor: Option<f64>,
}

impl Stepper {
    pub(crate) fn new(curve: Curve, sim_from: i64) -> Stepper {
        Stepper {
            curve,
            next: 0,
            sim_at: sim_from,
            placed: 0,
            last_factor: None,
        }
    }

    fn bounds(&self) -> Option<(i64, i64)> {
        let from = self.next as i64 * STEP_MS;
        let end = self.curve.end_ms().unwrap_or(i64::MAX);
        (from < end).then(|| (from, (from + STEP_MS).min(end)))
    }

    /// Counted events the next step must see ahead (its own and the one after); `None`
    /// when the plan has ended.
    pub(crate) fn need(&self) -> Option<u64> {
        let (_, to) = self.bounds()?;
        Some(self.due_by(to) + 1)
    }

    fn due_by(&self, wall_ms: i64) -> u64 {
        let due = (self.curve.cumulative(wall_ms) + 1e-9).floor() as u64;
        due.saturating_sub(self.placed)
    }

    /// The next step, from the events not yet placed (`(t_ms, counted)`, in time order,
    /// holding [`Stepper::need`] counted ones unless `exhausted`); `None` when the plan
    /// has ended or nothing is left.
    pub(crate) fn advance<I>(&mut self, ahead: I, exhausted: bool) -> Option<Step>
    where
        I: Iterator<Item = (i64, bool)> + Clone,
    {
        let (wall_from, wall_to) = self.bounds()?;
        let n = self.due_by(wall_to);
        let sim_from = self.sim_at;
        let mut last = None;
        let mut seen = 0u64;
        let mut boundary = None;
        for (t, counted) in ahead.clone() {
            last = Some(t);
            if counted {
                seen += 1;
                if seen == n + 1 {
                    boundary = Some(t);
                    break;
                }
            }
        }
        let wall = (wall_to - wall_from) as f64;
        let sim_to = if n == 0 {
            // Nothing due: the simulated clock waits.
            sim_from
        } else if let Some(t) = boundary {
            // Counted events sharing the boundary's instant go together: now, when that
            // comes closer to n than leaving them all to the next second.
            let (mut before, mut upto) = (0u64, 0u64);
            for (at, counted) in ahead.clone().take_while(|(at, _)| *at <= t) {
                before += (counted && at < t) as u64;
                upto += counted as u64;
            }
            let to = if n - before > upto - n {
                t + 1
            } else {
                t.max(sim_from + 1)
            };
            self.last_factor = Some((to - sim_from) as f64 / wall);
            to
        } else {
            let last = last?;
            debug_assert!(exhausted, "the step was given too few events ahead");
            // No next counted event in sight: the last factor goes on (or, before any,
            // everything left plays now).
            match self.last_factor {
                Some(f) => sim_from + ((f * wall).round() as i64).max(1),
                None => last + 1,
            }
        };
        if exhausted && last.is_none() {
            return None;
        }
        self.placed += ahead
            .take_while(|(t, _)| *t < sim_to)
            .filter(|(_, c)| *c)
            .count() as u64;
        self.sim_at = sim_to;
        self.next += 1;
        Some(Step {
            index: self.next - 1,
            wall_from,
            wall_to,
            sim_from,
            sim_to,
            stage: self.curve.stage_at(wall_from),
            target: self.curve.rate_at(wall_from),
        })
    }
}

/// Events read ahead of the clock, with how many of them count.
pub(crate) struct Ahead<T> {
    pub(crate) queue: VecDeque<T>,
    pub(crate) counted: u64,
}

impl<T> Default for Ahead<T> {
    fn default() -> Self {
        Ahead {
            queue: VecDeque::new(),
            counted: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps over a schedule held in memory, every event counted unless `counted` says.
    fn steps(
        curve: Curve,
        times: &[i64],
        counted: impl Fn(usize) -> bool,
    ) -> Vec<(Step, Vec<usize>)> {
        let mut s = Stepper::new(curve, 0);
        let mut at = 0;
        let mut out = Vec::new();
        let all: Vec<(i64, bool)> = times
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, counted(i)))
            .collect();
        while let Some(step) = s.advance(all[at..].iter().copied(), true) {
            let mut idx = Vec::new();
            while at < all.len() && all[at].0 < step.sim_to {
                idx.push(at);
                at += 1;
            }
            out.push((step, idx));
            if at == all.len() && s.curve.end_ms().is_none() {
                break;
            }
        }
        out
    }

    #[test]
    fn a_rate_puts_that_many_counted_events_in_each_second() {
        // Uneven density, no two events at the same instant.
        let sorted: Vec<i64> = (0..1000).map(|i| i * i / 7 + 3 * i + i % 3).collect();
        let out = steps(Curve::Rate(Rate::new(40.0).unwrap()), &sorted, |_| true);
        // The last seconds have no next event to end on: they keep the last factor.
        for (step, idx) in &out[..out.len() - 2] {
            assert_eq!(idx.len(), 40, "step {}", step.index);
        }
        let sent: usize = out.iter().map(|(_, i)| i.len()).sum();
        assert_eq!(sent, 1000, "every event once");
        // Only every third event counts: 10 counted a second, the rest follow.
        let out = steps(Curve::Rate(Rate::new(10.0).unwrap()), &sorted, |i| {
            i % 3 == 0
        });
        for (_, idx) in &out[..out.len() - 2] {
            assert_eq!(idx.iter().filter(|i| *i % 3 == 0).count(), 10);
        }
        // Events sharing an instant at a boundary go together; the next second makes up.
        let ties: Vec<i64> = (0..300).map(|i| i / 4 * 10).collect();
        let out = steps(Curve::Rate(Rate::new(10.0).unwrap()), &ties, |_| true);
        let per: Vec<usize> = out.iter().map(|(_, i)| i.len()).collect();
        assert!(
            per[..per.len() - 1].iter().all(|n| (8..=12).contains(n)),
            "{per:?}"
        );
        assert_eq!(per.iter().sum::<usize>(), 300);
        let mut placed = 0;
        for (k, n) in per[..per.len() - 2].iter().enumerate() {
            placed += n;
            assert!(placed.abs_diff(10 * (k + 1)) <= 3, "{per:?}");
        }
    }

    #[test]
    fn stages_ramp_hold_and_end_on_time() {
        let times: Vec<i64> = (0..100_000).map(|i| i * 10).collect();
        let stages = Stages::parse("4s:0..100/s, 3s:100/s").unwrap();
        let out = steps(Curve::Stages(stages), &times, |_| true);
        assert_eq!(out.len(), 7, "one step per wall second of the plan");
        let per: Vec<usize> = out.iter().map(|(_, i)| i.len()).collect();
        // 0..100/s over 4 s: 12.5, 37.5, 62.5, 87.5 due each second.
        assert_eq!(per, vec![12, 38, 62, 88, 100, 100, 100]);
        assert_eq!(out[5].0.stage, 2);
        // Evenly spaced events: the factor follows the rate.
        assert!(
            (out[5].0.factor() - 1.0).abs() < 0.02,
            "{}",
            out[5].0.factor()
        );
    }

    #[test]
    fn within_a_step_gaps_scale_by_the_local_factor() {
        let times = [0, 10, 30, 70, 150, 160, 400, 1000, 1001, 1003, 3000];
        let out = steps(Curve::Rate(Rate::new(5.0).unwrap()), &times, |_| true);
        let (s0, _) = out[0];
        // Second 0 plays 0..160 (the 6th event): 6.25 ms of wall per sim ms.
        assert_eq!((s0.sim_from, s0.sim_to), (0, 160));
        assert_eq!(s0.wall_ms(10), 62.5);
        assert_eq!(s0.wall_ms(70) - s0.wall_ms(30), 250.0);
        let (s1, _) = out[1];
        assert_eq!((s1.sim_from, s1.sim_to), (160, 3000));
    }
}
