//! Sizing a world by its concurrency: how many users give a timeline whose busiest
//! instant in a window has N sessions open at once (`replay --concurrency N`).
//!
//! Concurrency here, as everywhere in simulate, means sessions open at the same instant
//! of the timeline: `session.started` minus `session.ended`. A time mapping (`--compress`,
//! `--rate`) changes how fast those sessions are sent, never how many overlap, so the only
//! lever is the number of users. The peak grows with the users but not exactly in
//! proportion (phases, invitations, the day's curve), so the size is searched: scale by
//! the ratio, then bisect the bracket. The engine is deterministic, so the same flags
//! always give the same size.

use std::sync::atomic::AtomicBool;

use crate::timeline::{Event, Props, Sink};

/// Counts sessions open over the whole timeline and keeps the peak inside `[from, to)`;
/// stops the engine at `to`.
pub struct OpenSessions {
    from: i64,
    to: i64,
    open: u64,
    /// The highest count inside the window, and the first instant it was reached.
    pub peak: u64,
    pub peak_at_ms: i64,
}

impl OpenSessions {
    pub fn new(from_ms: i64, to_ms: i64) -> OpenSessions {
        OpenSessions {
            from: from_ms,
            to: to_ms,
            open: 0,
            peak: 0,
            peak_at_ms: from_ms,
        }
    }

    /// Sessions open now (the last event seen).
    pub fn open(&self) -> u64 {
        self.open
    }

    /// One event: a session opened or closed at `t_ms`.
    pub fn observe(&mut self, t_ms: i64, props: &Props) {
        // Sessions already open when the window begins count at its first instant.
        if (self.from..self.to).contains(&t_ms) && self.open > self.peak {
            self.peak = self.open;
            self.peak_at_ms = self.from;
        }
        match props {
            Props::SessionStarted { .. } => self.open += 1,
            Props::SessionEnded { .. } => self.open = self.open.saturating_sub(1),
            _ => return,
        }
        if (self.from..self.to).contains(&t_ms) && self.open > self.peak {
            self.peak = self.open;
            self.peak_at_ms = t_ms;
        }
    }
}

impl Sink for OpenSessions {
    fn event(&mut self, e: &Event, _line: &[u8]) -> std::io::Result<bool> {
        if e.t_ms >= self.to {
            return Ok(false);
        }
        self.observe(e.t_ms, &e.props);
        Ok(true)
    }
}

/// The peak of sessions open inside `[from_ms, to_ms)` of `engine`'s timeline, and when.
pub fn peak_open(
    engine: &mut crate::engine::Engine,
    from_ms: i64,
    to_ms: i64,
) -> std::io::Result<(u64, i64)> {
    let mut sink = OpenSessions::new(from_ms, to_ms);
    engine.run(&mut sink, &AtomicBool::new(false))?;
    Ok((sink.peak, sink.peak_at_ms))
}

/// One size tried while searching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tried {
    pub users: u32,
    pub peak: u64,
    pub peak_at_ms: i64,
}

/// What the search found: the size whose peak is nearest the target (the smaller of two
/// equally near), and every size it tried, in order.
#[derive(Clone, Debug)]
pub struct Sizing {
    pub target: u64,
    pub chosen: Tried,
    pub tried: Vec<Tried>,
}

/// The most worlds simulated while searching; each is a whole engine run up to the window's
/// end, so the search is bounded in time as well as exact when the bracket closes first.
pub const MAX_TRIES: usize = 14;
/// The largest world the search proposes.
pub const MAX_USERS: u32 = 10_000_000;

/// Searches the users whose peak is `target`, starting from `start` users; `peak_of`
/// simulates one size. Stops when a size hits the target exactly, when the bracket
/// between a size below and a size above is one user wide, or after [`MAX_TRIES`].
pub fn users_for<E>(
    target: u64,
    start: u32,
    mut peak_of: impl FnMut(u32) -> Result<(u64, i64), E>,
) -> Result<Sizing, E> {
    let target = target.max(1);
    let mut tried: Vec<Tried> = Vec::new();
    let mut next = start.clamp(1, MAX_USERS);
    // The largest size below the target and the smallest at or above it.
    let (mut lo, mut hi): (Option<Tried>, Option<Tried>) = (None, None);
    while tried.len() < MAX_TRIES && !tried.iter().any(|t| t.users == next) {
        let (peak, peak_at_ms) = peak_of(next)?;
        let t = Tried {
            users: next,
            peak,
            peak_at_ms,
        };
        tried.push(t);
        if peak == target {
            break;
        }
        if peak < target {
            lo = Some(lo.map_or(t, |l| if t.users > l.users { t } else { l }));
        } else {
            hi = Some(hi.map_or(t, |h| if t.users < h.users { t } else { h }));
        }
        next = match (lo, hi) {
            (Some(l), Some(h)) if h.users - l.users <= 1 => break,
            (Some(l), Some(h)) => interpolate(target, l, h),
            // Scale by the ratio; a world with no session at all doubles.
            (_, _) if peak == 0 => next.saturating_mul(2),
            _ => (next as f64 * target as f64 / peak as f64).round() as u32,
        }
        .clamp(1, MAX_USERS);
    }
    let chosen = *tried
        .iter()
        .min_by_key(|t| (t.peak.abs_diff(target), t.users))
        .expect("at least one size is tried");
    Ok(Sizing {
        target,
        chosen,
        tried,
    })
}

/// A size strictly inside the bracket, where the straight line between its ends meets the
/// target.
fn interpolate(target: u64, lo: Tried, hi: Tried) -> u32 {
    let span = (hi.peak - lo.peak).max(1) as f64;
    let x = lo.users as f64 + (target - lo.peak) as f64 / span * (hi.users - lo.users) as f64;
    (x.round() as u32).clamp(lo.users + 1, hi.users - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up world whose peak is a step function of the users (not proportional).
    fn steps(u: u32) -> Result<(u64, i64), ()> {
        Ok(((u as u64 * 7) / 100 + if u > 3000 { 40 } else { 0 }, 0))
    }

    #[test]
    fn finds_the_nearest_size_for_a_non_proportional_peak() {
        let s = users_for(300, 1000, steps).unwrap();
        let exact: Vec<u32> = (1..10_000)
            .filter(|u| steps(*u).unwrap().0 == 300)
            .collect();
        assert!(!exact.is_empty());
        assert_eq!(s.chosen.peak, 300, "tried {:?}", s.tried);
        assert!(exact.contains(&s.chosen.users));
        assert!(s.tried.len() <= MAX_TRIES);
    }

    #[test]
    fn an_unreachable_target_takes_the_nearest_and_stops() {
        // The peak jumps from 210 to 250 at 3,001 users: 230 is never hit exactly.
        let s = users_for(230, 500, steps).unwrap();
        assert_eq!(s.chosen.users, 3000, "tried {:?}", s.tried);
        assert_eq!(s.chosen.peak, 210);
        // A world with no sessions at all doubles until it has some.
        let s = users_for(5, 1, |u| Ok::<_, ()>((u as u64 / 8, 0))).unwrap();
        assert_eq!(s.chosen.peak, 5);
    }

    #[test]
    fn timeline_clock_reads_as_day_and_time() {
        use crate::units::{DAY, HOUR, timeline_clock};
        assert_eq!(timeline_clock(67_578_119), "0d 18:46:18");
        assert_eq!(timeline_clock(DAY + 20 * HOUR + 14 * 60_000), "1d 20:14:00");
    }

    #[test]
    fn the_window_peak_counts_sessions_opened_before_it() {
        use crate::timeline::EndReason;
        let mut o = OpenSessions::new(100, 200);
        let start = Props::SessionStarted {
            trigger: crate::timeline::Trigger::Internal,
            habit: 0.0,
            room: 0,
        };
        o.observe(10, &start);
        o.observe(20, &start);
        assert_eq!(o.peak, 0, "before the window nothing counts");
        let end = Props::SessionEnded {
            reason: EndReason::Completed,
            duration_ms: 1,
            habit: 0.0,
            reward_tries: 0,
            investment_tries: 0,
        };
        o.observe(150, &end);
        assert_eq!((o.peak, o.peak_at_ms, o.open()), (2, 100, 1));
        o.observe(160, &start);
        o.observe(170, &start);
        assert_eq!((o.peak, o.peak_at_ms), (3, 170));
        o.observe(250, &start);
        assert_eq!(o.peak, 3, "after the window nothing counts");
    }
}
