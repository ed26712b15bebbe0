//! Which scenario phase an event belongs to: one rule for `run`'s metrics.json and
//! `replay`'s statistics, so the two report the same rows.
//!
//! The rule (docs/SCENARIOS.md, "Which phase an event belongs to"):
//! 1. an event of a session a phase started (its `session.started` says
//!    `"trigger":"phase"`) belongs to that phase, however long the session lasts;
//! 2. any other event belongs to the latest phase started whose window
//!    ([`Phase::window`](super::Phase::window)) holds its time;
//! 3. else to none (`steady`).
//!
//! So a game burst ten minutes after a login rush is the burst's, while the rush's own
//! sessions stay the rush's. Windows used to be searched first-match-wins, which gave a
//! burst inside the rush's ten-minute tail to the rush.

use std::collections::BTreeMap;

use super::Scenario;
use crate::timeline::{Event, Props, Trigger};

/// What an event says about the session it opens, for rule 1.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Opens {
    /// Not a `session.started`.
    Nothing,
    /// A `session.started`; `Some(i)` when phase `i` (0-based, the scenario's order)
    /// started it.
    Session(Option<u8>),
}

/// The tagger: the phases' windows and who is in a session a phase started. Feed it every
/// event in timeline order, from t = 0 (a replay window's events are tagged right only if
/// the sessions opened before the window were seen).
#[derive(Clone, Debug, Default)]
pub struct PhaseTags {
    /// Each phase's `[from, to)` window, in the scenario's order (by start time).
    windows: Vec<(i64, i64)>,
    /// Users now in a session a phase started: user → 1 + the phase's index. Only those
    /// users are here, and each leaves at their next session, so it stays small.
    caused: BTreeMap<u32, u8>,
}

impl PhaseTags {
    pub fn of(s: &Scenario) -> PhaseTags {
        PhaseTags::new(s.phases.iter().map(|p| p.window()).collect())
    }

    /// From the phases' windows, in the scenario's order (sorted by start).
    pub fn new(windows: Vec<(i64, i64)>) -> PhaseTags {
        PhaseTags {
            windows,
            caused: BTreeMap::new(),
        }
    }

    /// The phase of one event as 1 + its index, 0 for none (`steady`). `user` is `None`
    /// for a user id this version cannot read (a foreign log): rule 2 alone then applies.
    pub fn tag(&mut self, t_ms: i64, user: Option<u32>, session: u32, opens: Opens) -> u8 {
        if let (Some(u), Opens::Session(by)) = (user, opens) {
            match by {
                Some(i) if (i as usize) < self.windows.len() => {
                    self.caused.insert(u, i.saturating_add(1));
                }
                _ => {
                    self.caused.remove(&u);
                }
            }
        }
        if session != 0
            && let Some(p) = user.and_then(|u| self.caused.get(&u))
        {
            return *p;
        }
        self.latest_at(t_ms)
    }

    /// One engine event (its kind and trigger read from its props).
    pub fn event(&mut self, e: &Event) -> u8 {
        let opens = match e.props {
            Props::SessionStarted {
                trigger: Trigger::Phase(i),
                ..
            } => Opens::Session(Some(i)),
            Props::SessionStarted { .. } => Opens::Session(None),
            _ => Opens::Nothing,
        };
        self.tag(e.t_ms, Some(e.user), e.session, opens)
    }

    /// Rule 2: the latest phase started whose window holds `t`, as 1 + index; 0 for none.
    fn latest_at(&self, t: i64) -> u8 {
        self.windows
            .iter()
            .enumerate()
            .filter(|(_, (a, b))| (*a..*b).contains(&t))
            .max_by_key(|(i, (a, _))| (*a, *i))
            .map_or(0, |(i, _)| (i + 1).min(255) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::MINUTE;

    /// A login rush at 0 over 60 s (window 11 min) and a game burst at 10 min (window
    /// 5 min): the case.
    fn rush_then_burst() -> PhaseTags {
        PhaseTags::new(vec![(0, 11 * MINUTE), (10 * MINUTE, 15 * MINUTE)])
    }

    #[test]
    fn the_latest_phase_started_wins_outside_caused_sessions() {
        let mut t = rush_then_burst();
        assert_eq!(t.tag(5 * MINUTE, Some(1), 0, Opens::Nothing), 1);
        assert_eq!(t.tag(10 * MINUTE, Some(1), 0, Opens::Nothing), 2);
        assert_eq!(t.tag(12 * MINUTE, None, 3, Opens::Nothing), 2);
        assert_eq!(t.tag(15 * MINUTE, Some(1), 0, Opens::Nothing), 0);
    }

    #[test]
    fn a_session_a_phase_started_stays_that_phases() {
        let mut t = rush_then_burst();
        // User 7 opens a rush session at 9 min and is still in it at 10.5 and 20 min.
        assert_eq!(t.tag(9 * MINUTE, Some(7), 1, Opens::Session(Some(0))), 1);
        assert_eq!(t.tag(10 * MINUTE + 30_000, Some(7), 1, Opens::Nothing), 1);
        assert_eq!(t.tag(20 * MINUTE, Some(7), 1, Opens::Nothing), 1);
        // User 8's burst session inside the rush's tail is the burst's.
        assert_eq!(t.tag(10 * MINUTE, Some(8), 4, Opens::Session(Some(1))), 2);
        // Outside a session (session 0), the time decides.
        assert_eq!(t.tag(10 * MINUTE + 1, Some(7), 0, Opens::Nothing), 2);
        // User 7's next session is organic: the time decides again.
        assert_eq!(t.tag(30 * MINUTE, Some(7), 2, Opens::Session(None)), 0);
        assert_eq!(t.tag(30 * MINUTE + 1, Some(7), 2, Opens::Nothing), 0);
        assert!(!t.caused.contains_key(&7));
    }
}
