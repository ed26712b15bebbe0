//! One user's step: the Hooked loop (trigger → action → variable reward → investment)
//! walked through the persona's state machine, with habit as the feedback.

use rand::distr::Distribution;

use super::rng::{exp, unit};
use super::user::{NEVER, Next, Pending, Script, User};
use super::world::World;
use crate::persona::condition::Counter;
use crate::persona::{Action, Hook, State, Target, Transition};
use crate::timeline::*;
use crate::units::{DAY, HOUR, MINUTE, SECOND};

/// Where a shard's epoch output goes.
#[derive(Default)]
pub(crate) struct Out {
    pub events: Vec<Event>,
    pub(crate) lines: Vec<u8>,
    /// (offset, length) of each event's line in `lines`.
    pub(crate) spans: Vec<(u32, u32)>,
    pub gifts: Vec<(i64, GiftId, u16, u32)>,
    /// (t, user, gift, index of the event in `events`).
    pub(crate) claims: Vec<(i64, u32, GiftId, usize)>,
    /// (join time, inviter, invite number).
    pub(crate) invites: Vec<(i64, u32, u32)>,
    pub(crate) dates: crate::units::DateCache,
}

impl Out {
    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.lines.clear();
        self.spans.clear();
        self.gifts.clear();
        self.claims.clear();
        self.invites.clear();
    }

    /// A `user.signed_up`, its line carrying the user's own attributes when the world
    /// writes them ([`LineWriter::write_signed_up`]).
    pub(crate) fn push_signed_up(&mut self, w: &World, e: Event, attrs: &[f32]) -> usize {
        if !w.writer.writes_attributes() {
            return self.push(w, e);
        }
        if w.serialize {
            let start = self.lines.len();
            w.writer
                .write_signed_up(&e, attrs, &mut self.lines, &mut self.dates);
            self.spans
                .push((start as u32, (self.lines.len() - start) as u32));
        }
        self.events.push(e);
        self.events.len() - 1
    }

    pub(crate) fn push(&mut self, w: &World, e: Event) -> usize {
        if w.serialize {
            let start = self.lines.len();
            w.writer.write(&e, &mut self.lines, &mut self.dates);
            self.spans
                .push((start as u32, (self.lines.len() - start) as u32));
        }
        self.events.push(e);
        self.events.len() - 1
    }
}

fn emit(w: &World, u: &mut User, out: &mut Out, t: i64, props: Props) -> usize {
    let e = event(u, t, props);
    out.push(w, e)
}

/// The user's next event (its `seq` taken).
fn event(u: &mut User, t: i64, props: Props) -> Event {
    let e = Event {
        t_ms: t,
        user: u.id,
        seq: u.seq,
        session: if u.in_session { u.session } else { 0 },
        persona: u.persona,
        props,
    };
    u.seq += 1;
    e
}

/// Handles whatever is due for `u` at `t`. Every branch clears or moves the timer it
/// handled, so the shard's loop always makes progress.
pub(crate) fn wake(w: &World, u: &mut User, out: &mut Out, t: i64) {
    if u.in_session && u.step_at <= t {
        step(w, u, out, t);
    } else if u.campaign_at <= t {
        u.campaign_at = NEVER;
        send_nudge(w, u, out, t, Some(u.campaign));
    } else if u.nudge_at <= t {
        if let Some(end) = w.outage_end(t) {
            u.nudge_at = end + (exp(&mut u.rng, 10.0 * MINUTE as f64) as i64);
            return;
        }
        u.nudges_this_absence += 1;
        u.nudge_at = if (u.nudges_this_absence as u32) < w.scenario.max_nudges {
            t + w.scenario.reengage_after_ms
        } else {
            NEVER
        };
        send_nudge(w, u, out, t, None);
    } else if !u.in_session && u.trigger_at <= t {
        trigger(w, u, out, t);
    }
}

fn send_nudge(w: &World, u: &mut User, out: &mut Out, t: i64, campaign: Option<u8>) {
    if !u.signed_up {
        return;
    }
    u.nudges += 1;
    let nudge = u.nudges;
    emit(w, u, out, t, Props::NudgeSent { nudge, campaign });
    if u.churned || u.in_session {
        return;
    }
    let p = &w.personas[u.persona as usize];
    let h = u.habit_at(t, p.habit.half_life_ms) as f64;
    if unit(&mut u.rng) < p.habit.nudge_response * (0.3 + 0.7 * h) {
        let open = t + 1 + exp(&mut u.rng, 20.0 * MINUTE as f64) as i64;
        if open < u.trigger_at {
            u.trigger_at = open;
            u.pending = Pending::Nudge { nudge, sent_at: t };
        }
    }
}

fn trigger(w: &World, u: &mut User, out: &mut Out, t: i64) {
    if let Some(end) = w.outage_end(t) {
        // Nobody gets in during an outage; they retry when it ends: the reconnect storm.
        u.trigger_at = end + (exp(&mut u.rng, 3.0 * MINUTE as f64) as i64);
        return;
    }
    let p = &w.personas[u.persona as usize];
    let pending = u.pending;
    u.trigger_at = NEVER;
    let (trig, script) = match pending {
        Pending::Signup => {
            u.signed_up = true;
            u.signup_ms = t;
            u.habit_ms = t;
            let platform = attr(w, u, "platform");
            let locale = attr(w, u, "locale");
            let e = event(
                u,
                t,
                Props::SignedUp {
                    source: u.source,
                    invited_by: u.invited_by,
                    platform,
                    locale,
                    room: u.room,
                },
            );
            out.push_signed_up(w, e, &u.attrs);
            if w.scenario.pools.existing(u.id) {
                // A user the team's system already holds is there at t = 0 but comes
                // back when their day brings them, like any launch user: not all at once.
                u.pending = Pending::Internal;
                u.trigger_at = first_arrival(w, u, t, w.scenario.launch_window_ms()).max(t + 1);
                return;
            }
            (Trigger::Internal, Script::Persona)
        }
        Pending::Internal => {
            // Churn is a hazard rate per day of absence that grows as habit fades.
            let h = u.habit_at(t, p.habit.half_life_ms) as f64;
            let rate = p.habit.churn_hazard * (1.0 - h).powf(p.habit.churn_curve);
            let away_days = (t - u.habit_ms).max(0) as f64 / DAY as f64;
            if unit(&mut u.rng) < 1.0 - (-rate * away_days).exp() {
                u.churned = true;
                u.settle_habit(t, p.habit.half_life_ms);
                let days = ((t - u.signup_ms) / DAY) as u32;
                let habit = u.habit;
                emit(
                    w,
                    u,
                    out,
                    t,
                    Props::Churned {
                        habit,
                        days_since_signup: days,
                    },
                );
                return;
            }
            (Trigger::Internal, Script::Persona)
        }
        Pending::Nudge { nudge, sent_at } => {
            emit(
                w,
                u,
                out,
                t,
                Props::NudgeOpened {
                    nudge,
                    delay_ms: t - sent_at,
                },
            );
            (Trigger::Nudge, Script::Persona)
        }
        Pending::Broadcast => (Trigger::Broadcast, Script::Persona),
        Pending::Phase { phase, script } => (Trigger::Phase(phase), script),
    };
    if u.churned {
        return;
    }
    start_session(w, u, out, t, trig, script);
}

fn attr(w: &World, u: &User, name: &str) -> u8 {
    w.personas[u.persona as usize]
        .attribute_index(name)
        .map(|i| u.attrs.get(i).copied().unwrap_or(0.0) as u8)
        .unwrap_or(0)
}

fn start_session(w: &World, u: &mut User, out: &mut Out, t: i64, trigger: Trigger, script: Script) {
    let p = &w.personas[u.persona as usize];
    u.settle_habit(t, p.habit.half_life_ms);
    u.in_session = true;
    u.session += 1;
    u.session_start = t;
    u.reward_tries = 0;
    u.investment_tries = 0;
    u.nudge_at = NEVER;
    u.nudges_this_absence = 0;
    u.script = script;
    let habit = u.habit;
    let room = u.room;
    emit(
        w,
        u,
        out,
        t,
        Props::SessionStarted {
            trigger,
            habit,
            room,
        },
    );
    u.next = match script {
        Script::Persona => Next::State(p.start),
        _ => Next::Scripted(0),
    };
    u.step_at = t;
    step(w, u, out, t);
}

fn end_session(w: &World, u: &mut User, out: &mut Out, t: i64, reason: EndReason) {
    let (habit, reward_tries, investment_tries) = (u.habit, u.reward_tries, u.investment_tries);
    emit(
        w,
        u,
        out,
        t,
        Props::SessionEnded {
            reason,
            duration_ms: t - u.session_start,
            habit,
            reward_tries,
            investment_tries,
        },
    );
    u.in_session = false;
    u.step_at = NEVER;
    u.habit_ms = t;
    u.trigger_at = next_internal(w, u, t);
    u.pending = Pending::Internal;
    u.nudge_at = t + w.scenario.reengage_after_ms;
}

/// The next habit-driven session. The gap is drawn from the persona (shortened by habit)
/// in *activity time*: the clock runs faster in busy hours and slower at night, so
/// sessions land in proportion to the hour-of-day and day-of-week curve instead of
/// piling up at the first busy hour (which rejection sampling would do).
pub(crate) fn next_internal(w: &World, u: &mut User, t: i64) -> i64 {
    let p = &w.personas[u.persona as usize];
    let h = u.habit as f64;
    let mult = (-p.habit.speedup * (h - 0.5)).exp();
    let gap = p.session_gap.sample(&mut u.rng) * mult;
    w.warp(u.persona, t, gap).max(t + p.min_gap_ms)
}

/// A time on day 0 drawn from the activity curve: when a launch-day user first arrives.
pub(crate) fn first_arrival(w: &World, u: &mut User, from: i64, span: i64) -> i64 {
    let peak = w.peak[u.persona as usize];
    for _ in 0..1000 {
        let c = from + (unit(&mut u.rng) * span as f64) as i64;
        if unit(&mut u.rng) * peak < w.intensity(u.persona, c) {
            return c;
        }
    }
    from
}

fn step(w: &World, u: &mut User, out: &mut Out, t: i64) {
    let p = &w.personas[u.persona as usize];
    if w.outage_end(t).is_some() {
        return end_session(w, u, out, t, EndReason::Outage);
    }
    let state = match u.next {
        Next::End(reason) => return end_session(w, u, out, t, reason),
        Next::Scripted(k) => return scripted(w, u, out, t, k),
        Next::State(s) => s,
    };
    let st = &p.states[state as usize];
    match st.hook {
        Hook::Reward => u.reward_tries = u.reward_tries.saturating_add(1),
        Hook::Investment => u.investment_tries = u.investment_tries.saturating_add(1),
        _ => {}
    }
    let done = act(w, u, out, t, state);
    if done && let Some(gain) = st.habit_gain {
        u.strengthen(gain);
    } else if done {
        match st.hook {
            Hook::Reward => u.strengthen(p.habit.reward_gain),
            Hook::Investment => u.strengthen(st.gain * p.habit.investment_payoff),
            _ => {}
        }
    }
    let edge = match &st.transition {
        Transition::Direct(e) => e,
        Transition::Weighted { edges, index, .. } => &edges[index.sample(&mut u.rng)],
        Transition::Conditional { cases, otherwise } => cases
            .iter()
            .find(|(c, _)| c.holds(counter(w, u, c.lhs, t)))
            .map(|(_, e)| e)
            .unwrap_or(otherwise),
    };
    let delay = edge.delay.sample(&mut u.rng) as i64;
    let deadline = u.session_start + p.max_session_ms;
    let at = t + delay.max(0);
    u.next = match edge.to {
        Target::State(s) => Next::State(s),
        Target::End => Next::End(EndReason::Completed),
        Target::Abandon => Next::End(EndReason::Abandoned),
    };
    u.step_at = if at > deadline {
        u.next = Next::End(EndReason::Timeout);
        deadline.max(t)
    } else {
        at
    };
}

fn counter(w: &World, u: &User, c: Counter, t: i64) -> f64 {
    match c {
        Counter::Balance => u.balance as f64,
        Counter::Habit => u.habit as f64,
        Counter::Sessions => u.session as f64,
        Counter::Streak => u.streak as f64,
        Counter::LoginCount => u.stats[StatCode::LoginCount as usize] as f64,
        Counter::EnemyKills => u.stats[StatCode::EnemyKills as usize] as f64,
        Counter::GamesPlayed => u.stats[StatCode::GamesPlayed as usize] as f64,
        Counter::UnclaimedGoals => u.unclaimed as f64,
        Counter::KnownGifts => u.known_gifts.iter().filter(|(_, exp)| *exp > t).count() as f64,
        Counter::DaysSinceSignup => ((t - u.signup_ms) / DAY) as f64,
        Counter::Purchases => u.purchases as f64,
        Counter::Hour => ((w.scenario.start_ms + t).rem_euclid(DAY) / HOUR) as f64,
        Counter::Attribute(i) => u.attrs.get(i as usize).copied().unwrap_or(0.0) as f64,
        Counter::Custom(i) => u.counters.get(i as usize).copied().unwrap_or(0) as f64,
    }
}

/// Performs a state's action; true when its step succeeded.
fn act(w: &World, u: &mut User, out: &mut Out, t: i64, state: u16) -> bool {
    let p = &w.personas[u.persona as usize];
    let st = &p.states[state as usize];
    // Drawn first, whatever the action: each user's stream of draws must not depend on
    // which branch ran (determinism).
    let lucky = st.chance >= 1.0 || unit(&mut u.rng) < st.chance;
    match st.action {
        Action::Login => {
            let platform = attr(w, u, "platform");
            emit(w, u, out, t, Props::LoggedIn { platform });
            stat(w, u, out, t, StatCode::LoginCount, 1);
            true
        }
        Action::ViewChallenges => {
            view_challenge(w, u, out, t);
            true
        }
        Action::PlayGame => {
            let skill = p
                .attribute_index("skill")
                .map(|i| u.attrs[i].max(0.1) as f64)
                .unwrap_or(1.0);
            let kills = (magnitude(st, u) * skill).round().max(0.0) as u32;
            stat(w, u, out, t, StatCode::EnemyKills, kills);
            stat(w, u, out, t, StatCode::GamesPlayed, 1);
            true
        }
        Action::EarnPoints => {
            let amount = magnitude(st, u).round().max(1.0) as u32;
            lucky && earn_points(w, u, out, t, amount)
        }
        Action::ClaimGoal => claim_goal(w, u, out, t, lucky),
        Action::ClaimGift => claim_gift(w, u, out, t),
        Action::RedeemPoints => {
            let cost = magnitude(st, u).round().max(1.0) as u32;
            lucky && redeem_points(w, u, out, t, cost)
        }
        Action::CheckIn => lucky && check_in(w, u, out, t),
        Action::UpdateProfile => {
            if !lucky {
                return false;
            }
            let field = (unit(&mut u.rng) * PROFILE_FIELDS.len() as f64) as u8;
            emit(w, u, out, t, Props::ProfileUpdated { field });
            true
        }
        Action::Invite => lucky && invite(w, u, out, t, st),
        Action::CreateGift => {
            let shares = match gift_size(w, u) {
                Some(s) => s,
                None => magnitude(st, u).round().clamp(1.0, 10_000.0) as u16,
            };
            if !lucky {
                return false;
            }
            drop_gift(w, u, out, t, shares);
            true
        }
        Action::Purchase => {
            let amount = magnitude(st, u).round().max(1.0) as u32;
            lucky && purchase(w, u, out, t, st, amount)
        }
        Action::Custom(i) => lucky && super::custom::act(w, u, out, t, i),
    }
}

/// The quantity a state's action draws (points, kills, price, shares), 0 without one.
/// A gift's shares from the scenario's `[gifts] sizes`, one drawn uniformly; `None`
/// without sizes (the persona's `shares` then draws them).
fn gift_size(w: &World, u: &mut User) -> Option<u16> {
    let sizes = &w.scenario.gift_sizes;
    if sizes.is_empty() {
        return None;
    }
    let i = (unit(&mut u.rng) * sizes.len() as f64) as usize;
    Some(sizes[i.min(sizes.len() - 1)])
}

fn magnitude(st: &State, u: &mut User) -> f64 {
    st.magnitude
        .as_ref()
        .map(|d| d.sample(&mut u.rng))
        .unwrap_or(0.0)
}

fn earn_points(w: &World, u: &mut User, out: &mut Out, t: i64, amount: u32) -> bool {
    u.balance += amount as i64;
    let balance = u.balance;
    let source = PointsSource::Activity;
    emit(
        w,
        u,
        out,
        t,
        Props::PointsEarned {
            amount,
            source,
            balance,
        },
    );
    true
}

fn redeem_points(w: &World, u: &mut User, out: &mut Out, t: i64, cost: u32) -> bool {
    if u.balance < cost as i64 {
        return false;
    }
    u.balance -= cost as i64;
    let balance = u.balance;
    emit(
        w,
        u,
        out,
        t,
        Props::PointsRedeemed {
            amount: cost,
            balance,
        },
    );
    true
}

/// A claim of the newest gift the user knows of; whether it pays is decided when the
/// race is resolved, so the step reports no reward yet.
fn claim_gift(w: &World, u: &mut User, out: &mut Out, t: i64) -> bool {
    u.known_gifts.retain(|(_, exp)| *exp > t);
    if let Some((gift, _)) = u.known_gifts.pop() {
        let outcome = ClaimOutcome::Pending;
        let idx = emit(w, u, out, t, Props::GiftClaimed { gift, outcome });
        out.claims.push((t, u.id, gift, idx));
    }
    false
}

/// A check-in: the streak of consecutive days, the part of the day, a mood that
/// follows the habit.
fn check_in(w: &World, u: &mut User, out: &mut Out, t: i64) -> bool {
    let abs = w.scenario.start_ms + t;
    let day = (abs / DAY) as u32;
    u.streak = if u.last_checkin_day + 1 == day {
        u.streak + 1
    } else if u.last_checkin_day == day && u.streak > 0 {
        u.streak
    } else {
        1
    };
    u.last_checkin_day = day;
    let hour = (abs.rem_euclid(DAY) / HOUR) as u8;
    let day_part = match hour {
        5..=11 => 0,
        12..=16 => 1,
        17..=21 => 2,
        _ => 3,
    };
    // 0.5 ..= 5.5, rounding to 1 ..= 5: a habit of 0 gives 1–3, of 1 gives 3–5 (mean
    // 2 + 2 × habit). It was 1.5 ..= 5.5, which never rounded to 1.
    let mood_draw = 0.5 + 2.0 * u.habit as f64 + 3.0 * unit(&mut u.rng);
    let mood = mood_draw.round().clamp(1.0, 5.0) as u8;
    let streak = u.streak;
    emit(
        w,
        u,
        out,
        t,
        Props::CheckIn {
            day_part,
            mood,
            streak,
        },
    );
    true
}

/// An invite, and whether (and when) the invitee joins.
fn invite(w: &World, u: &mut User, out: &mut Out, t: i64, st: &State) -> bool {
    u.invites += 1;
    let invite = u.invites;
    emit(w, u, out, t, Props::Invited { invite });
    if unit(&mut u.rng) < st.accept {
        let delay = st
            .join_delay
            .as_ref()
            .map(|d| d.sample(&mut u.rng))
            .unwrap_or(6.0 * HOUR as f64);
        out.invites.push((t + 1 + delay as i64, u.id, invite));
    }
    true
}

fn purchase(w: &World, u: &mut User, out: &mut Out, t: i64, st: &State, amount: u32) -> bool {
    u.purchases += 1;
    let n = u.purchases;
    let mut currency = *b"USD";
    if st.currency.len() == 3 {
        currency.copy_from_slice(st.currency.as_bytes());
    }
    emit(
        w,
        u,
        out,
        t,
        Props::Purchase {
            n,
            amount,
            currency,
        },
    );
    true
}

fn view_challenge(w: &World, u: &mut User, out: &mut Out, t: i64) -> u16 {
    let n = w.catalog.challenges();
    let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    let fresh = all & !u.engaged;
    let challenge = if fresh != 0 && (u.engaged == 0 || unit(&mut u.rng) < 0.12) {
        // The k-th not-yet-engaged challenge.
        let k = (unit(&mut u.rng) * fresh.count_ones() as f64) as u32;
        nth_bit(fresh, k)
    } else {
        let k = (unit(&mut u.rng) * u.engaged.count_ones() as f64) as u32;
        nth_bit(u.engaged, k)
    };
    emit(w, u, out, t, Props::ChallengeViewed { challenge });
    if u.engaged & (1 << challenge) == 0 {
        u.engaged |= 1 << challenge;
        // Goals of a newly joined challenge that the user's stats already meet complete now.
        for g in w.catalog.goals_of(challenge) {
            let goal = &w.catalog.goals[g as usize];
            if goal.met(u.stats[goal.code as usize]) {
                complete(w, u, out, t, g);
            }
        }
    }
    challenge
}

fn nth_bit(mut bits: u64, k: u32) -> u16 {
    for _ in 0..k {
        bits &= bits - 1;
    }
    bits.trailing_zeros() as u16
}

fn complete(w: &World, u: &mut User, out: &mut Out, t: i64, g: u16) {
    if User::bit(u.completed(), g) {
        return;
    }
    let bit = u.goal_bit(g, false);
    User::set_bit(&mut u.goals, bit);
    u.unclaimed += 1;
    let goal = &w.catalog.goals[g as usize];
    emit(
        w,
        u,
        out,
        t,
        Props::GoalCompleted {
            goal: g,
            challenge: goal.challenge,
            code: goal.code,
            target: goal.target,
        },
    );
}

fn stat(w: &World, u: &mut User, out: &mut Out, t: i64, code: StatCode, delta: u32) {
    let old = u.stats[code as usize];
    let value = old.saturating_add(delta);
    u.stats[code as usize] = value;
    emit(w, u, out, t, Props::StatUpdated { code, value, delta });
    if u.engaged == 0 {
        return;
    }
    // Runs on every stat update: no allocation, the crossed goals come from the catalog.
    let engaged = u.engaged;
    for g in w.catalog.crossed(code, old, value) {
        if engaged >> w.catalog.goals[g as usize].challenge & 1 == 1 {
            complete(w, u, out, t, g);
        }
    }
}

fn claim_goal(w: &World, u: &mut User, out: &mut Out, t: i64, lucky: bool) -> bool {
    if u.unclaimed == 0 || !lucky {
        return false;
    }
    let found = u
        .completed()
        .iter()
        .zip(u.claimed().iter())
        .enumerate()
        .find_map(|(i, (c, k))| {
            let open = c & !k;
            (open != 0).then(|| (i * 64) as u16 + open.trailing_zeros() as u16)
        });
    let Some(g) = found else { return false };
    let bit = u.goal_bit(g, true);
    User::set_bit(&mut u.goals, bit);
    u.unclaimed -= 1;
    let goal = &w.catalog.goals[g as usize];
    let reward = goal.reward;
    emit(
        w,
        u,
        out,
        t,
        Props::GoalClaimed {
            goal: g,
            challenge: goal.challenge,
            reward,
        },
    );
    // A reward that is not points (the team's item, say) earns none.
    if reward > 0 {
        u.balance += reward as i64;
        let balance = u.balance;
        emit(
            w,
            u,
            out,
            t,
            Props::PointsEarned {
                amount: reward,
                source: PointsSource::Goal,
                balance,
            },
        );
    }
    true
}

/// A gift into the user's room; the engine broadcasts it to the room's members.
fn drop_gift(w: &World, u: &mut User, out: &mut Out, t: i64, shares: u16) {
    u.gifts_created += 1;
    let gift = GiftId {
        creator: u.id,
        n: u.gifts_created,
    };
    let value = 100 * shares as u32;
    let room = u.room;
    emit(
        w,
        u,
        out,
        t,
        Props::GiftCreated {
            gift,
            shares,
            value,
            room,
        },
    );
    out.gifts.push((t, gift, shares, room));
}

/// Scripted sessions imposed by scenario phases (seed 001's patterns 2 and 3, seed 002's
/// gift storm).
fn scripted(w: &World, u: &mut User, out: &mut Out, t: i64, k: u8) {
    match u.script {
        Script::Burst { updates } => {
            if k < updates {
                let delta = 1 + (unit(&mut u.rng) * 4.0) as u32;
                stat(w, u, out, t, StatCode::EnemyKills, delta);
                u.next = Next::Scripted(k + 1);
                u.step_at = t + 50 + (unit(&mut u.rng) * 100.0) as i64;
            } else {
                stat(w, u, out, t, StatCode::GamesPlayed, 1);
                if unit(&mut u.rng) < 0.5 {
                    view_challenge(w, u, out, t);
                }
                u.next = Next::End(EndReason::Completed);
                u.step_at = t + 2 * SECOND;
            }
        }
        Script::GoalWave => {
            if k == 0 {
                let c = if u.engaged == 0 {
                    view_challenge(w, u, out, t)
                } else {
                    nth_bit(u.engaged, 0)
                };
                // The challenge's first open goal an increase can still meet.
                let open = w.catalog.goals_of(c).find_map(|g| {
                    let goal = &w.catalog.goals[g as usize];
                    let delta = goal.needs(u.stats[goal.code as usize])?;
                    (!User::bit(u.completed(), g)).then_some((g, goal.code, delta))
                });
                if let Some((g, code, delta)) = open {
                    stat(w, u, out, t, code, delta);
                    complete(w, u, out, t, g);
                }
                u.next = Next::Scripted(1);
                u.step_at = t + 2 * SECOND + (unit(&mut u.rng) * 3000.0) as i64;
            } else {
                u.reward_tries = u.reward_tries.saturating_add(1);
                if claim_goal(w, u, out, t, true) {
                    let gain = w.personas[u.persona as usize].habit.reward_gain;
                    u.strengthen(gain);
                }
                u.next = Next::End(EndReason::Completed);
                u.step_at = t + SECOND;
            }
        }
        Script::GiftDrop { shares } => {
            if k == 0 {
                let shares = shares.or_else(|| gift_size(w, u)).unwrap_or(3);
                drop_gift(w, u, out, t, shares);
                u.next = Next::Scripted(1);
                u.step_at = t + SECOND + (unit(&mut u.rng) * 2000.0) as i64;
            } else {
                u.next = Next::End(EndReason::Completed);
                u.step_at = t;
            }
        }
        Script::Action { action, times } => scripted_action(w, u, out, t, (k, times), action),
        Script::Persona => {
            u.next = Next::End(EndReason::Completed);
            u.step_at = t;
        }
    }
}

/// One step of an action burst: the custom action, with its habit effect on success,
/// until it was done `times` times.
fn scripted_action(
    w: &World,
    u: &mut User,
    out: &mut Out,
    t: i64,
    (k, times): (u8, u8),
    action: u16,
) {
    if k >= times {
        u.next = Next::End(EndReason::Completed);
        u.step_at = t;
        return;
    }
    if super::custom::act(w, u, out, t, action) {
        let a = &w.declared.actions[action as usize];
        let p = &w.personas[u.persona as usize];
        match (a.habit, a.hook) {
            (Some(gain), _) => u.strengthen(gain),
            (None, Hook::Reward) => u.strengthen(p.habit.reward_gain),
            (None, Hook::Investment) => {
                u.strengthen(p.habit.investment_gain * p.habit.investment_payoff)
            }
            _ => {}
        }
    }
    u.next = Next::Scripted(k + 1);
    u.step_at = t + SECOND + (unit(&mut u.rng) * 2000.0) as i64;
}
