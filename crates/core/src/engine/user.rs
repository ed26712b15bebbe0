//! One simulated user's state: small, because there are hundreds of thousands of them.

use super::rng::SimRng;
use crate::timeline::{GiftId, SignupSource};

pub(crate) const NEVER: i64 = i64::MAX;

/// What kind of session start is pending.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    Signup,
    Internal,
    Nudge { nudge: u32, sent_at: i64 },
    Broadcast,
    Phase { phase: u8, script: Script },
}

/// A scripted session a scenario phase imposes instead of the persona's machine.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Script {
    /// Follow the persona's state machine.
    Persona,
    /// Finish a game: a burst of this many stat updates in rapid succession.
    Burst { updates: u8 },
    /// Complete the next goal of a challenge, then claim it.
    GoalWave,
    /// Drop a gift of this many shares (`None`: one of `[gifts] sizes`) into the user's
    /// room, then leave.
    GiftDrop { shares: Option<u16> },
    /// Perform custom action `action` `times` times, a second or so apart, then leave.
    Action { action: u16, times: u8 },
}

/// A session end decided by a transition, taking effect at `step_at`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    State(u16),
    End(crate::timeline::EndReason),
    /// Scripted step number.
    Scripted(u8),
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) id: u32,
    pub persona: u16,
    pub(crate) attrs: [f32; super::MAX_ATTRIBUTES],
    pub(crate) room: u32,
    pub(crate) rng: SimRng,
    pub source: SignupSource,
    pub(crate) invited_by: Option<u32>,
    pub signed_up: bool,
    pub(crate) churned: bool,
    pub(crate) signup_ms: i64,

    pub habit: f32,
    pub(crate) habit_ms: i64,

    // Timers; the user's wake-up is the earliest.
    pub(crate) trigger_at: i64,
    pub(crate) pending: Pending,
    pub(crate) nudge_at: i64,
    pub(crate) campaign_at: i64,
    pub(crate) campaign: u8,
    pub(crate) step_at: i64,
    pub(crate) wake: i64,

    // Session.
    pub(crate) in_session: bool,
    pub session: u32,
    pub(crate) session_start: i64,
    pub(crate) next: Next,
    pub(crate) script: Script,
    pub(crate) reward_tries: u8,
    pub(crate) investment_tries: u8,

    // Counters.
    pub seq: u32,
    pub(crate) balance: i64,
    pub(crate) streak: u16,
    pub(crate) last_checkin_day: u32,
    pub(crate) stats: [u32; 3],
    pub(crate) engaged: u64,
    /// Completed goals' bits, then claimed goals' bits (one allocation for both).
    pub goals: Box<[u64]>,
    pub(crate) unclaimed: u16,
    pub(crate) nudges: u32,
    pub(crate) nudges_this_absence: u8,
    pub(crate) gifts_created: u32,
    pub(crate) invites: u32,
    pub(crate) purchases: u32,
    pub(crate) known_gifts: Vec<(GiftId, i64)>,
    /// The world's custom counters (`counters.<name>`), empty without any.
    pub(crate) counters: Box<[i64]>,
}

impl User {
    /// Habit strength at `t`: it halves every `half_life_ms` of time away.
    pub(crate) fn habit_at(&self, t: i64, half_life_ms: f64) -> f32 {
        let away = (t - self.habit_ms).max(0) as f64;
        (self.habit as f64 * (-(away / half_life_ms) * std::f64::consts::LN_2).exp()) as f32
    }

    pub(crate) fn settle_habit(&mut self, t: i64, half_life_ms: f64) {
        self.habit = self.habit_at(t, half_life_ms);
        self.habit_ms = t;
    }

    /// Moves habit a fraction `gain` of the way towards 1.
    pub(crate) fn strengthen(&mut self, gain: f64) {
        self.habit = (self.habit as f64 + gain * (1.0 - self.habit as f64)).min(1.0) as f32;
    }

    pub(crate) fn recompute_wake(&mut self) -> i64 {
        self.wake = if self.in_session {
            self.step_at.min(self.nudge_at).min(self.campaign_at)
        } else {
            self.trigger_at.min(self.nudge_at).min(self.campaign_at)
        };
        self.wake
    }

    pub(crate) fn completed(&self) -> &[u64] {
        &self.goals[..self.goals.len() / 2]
    }

    pub(crate) fn claimed(&self) -> &[u64] {
        &self.goals[self.goals.len() / 2..]
    }

    /// Goal `g` as a bit index into `goals`: completed when `claimed` is false.
    pub(crate) fn goal_bit(&self, g: u16, claimed: bool) -> u16 {
        g + if claimed {
            (self.goals.len() / 2 * 64) as u16
        } else {
            0
        }
    }

    pub(crate) fn bit(words: &[u64], i: u16) -> bool {
        words[i as usize / 64] >> (i % 64) & 1 == 1
    }

    pub(crate) fn set_bit(words: &mut [u64], i: u16) {
        words[i as usize / 64] |= 1 << (i % 64);
    }
}
