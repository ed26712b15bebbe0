//! Business metrics for analysts, folded from the timeline in one pass (docs/METRICS.md)
//! and written as metrics.json ([`document::MetricsDoc`], built in [`report`]).

mod calendar;
pub mod document;
mod personas;
mod report;
mod series;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::persona::{Action, Persona};
use crate::scenario::Scenario;
use crate::scenario::tags::PhaseTags;
use crate::timeline::*;
use crate::units::{DAY, HOUR, SimDuration};
use calendar::Calendar;
use series::{Add, SeriesFold};
pub use series::{MAX_BUCKETS, Resolution, ResolutionError};

const NOT_SIGNED: u32 = u32::MAX;

/// Where the periodic console report goes.
pub(crate) type ReportFn = Box<dyn FnMut(String) + Send>;

// Funnel flags per user.
const F_ACTION: u8 = 1;
const F_REWARD: u8 = 2;
const F_INVEST: u8 = 4;
const F_PURCHASE: u8 = 8;
/// Not a funnel step: kept in the same byte, set when the user churns.
const F_CHURNED: u8 = 16;
/// A user with no session event yet in any bucket.
const NO_BUCKET: u32 = u32::MAX;

/// Which Hooked-loop step an event shows was reached.
fn step_of(p: &Props) -> u8 {
    match p {
        Props::LoggedIn { .. } | Props::ChallengeViewed { .. } | Props::StatUpdated { .. } => {
            F_ACTION
        }
        Props::PointsEarned { .. } | Props::PointsRedeemed { .. } | Props::GoalClaimed { .. } => {
            F_REWARD
        }
        Props::GiftClaimed {
            outcome: ClaimOutcome::Won { .. },
            ..
        } => F_REWARD,
        Props::CheckIn { .. }
        | Props::ProfileUpdated { .. }
        | Props::Invited { .. }
        | Props::GiftCreated { .. } => F_INVEST,
        Props::Purchase { .. } => F_INVEST | F_PURCHASE,
        _ => 0,
    }
}

#[derive(Default, Clone)]
struct PersonaLoop {
    sessions: u64,
    internal: u64,
    external: u64,
    action: u64,
    reward_tried: u64,
    reward_drawn: u64,
    investment_tried: u64,
    investment_made: u64,
    abandoned: u64,
    timed_out: u64,
    full_loop: u64,
    churned: u64,
    users: u64,
}

#[derive(Default, Clone)]
struct Day {
    new_users: u64,
    sessions: u64,
    events: u64,
    revenue: u64,
    points_earned: u64,
    points_redeemed: u64,
    peak_concurrent: u64,
    churned: u64,
}

pub struct Metrics {
    /// Calendar days the whole span touches.
    days: usize,
    words: usize,
    start_ms: i64,
    span_ms: i64,
    calendar: Calendar,
    persona_names: Vec<String>,
    /// Per persona: whether it has a purchase step, its habit half-life and initial habit.
    can_pay: Vec<bool>,
    half_life_ms: Vec<f64>,
    initial_habit: Vec<f32>,
    phases: Vec<(String, i64, i64)>,
    /// Which phase each event belongs to (the rule replay's statistics use too).
    tags: PhaseTags,
    // Per user.
    persona: Vec<u16>,
    signup_day: Vec<u32>,
    active: Vec<u64>,
    funnel: Vec<u8>,
    session_flags: Vec<u8>,
    user_revenue: Vec<u64>,
    /// The last series bucket the user was active in.
    last_bucket: Vec<u32>,
    /// The user's habit as last seen in an event, and when (whole simulated seconds).
    habit: Vec<f32>,
    habit_s: Vec<u32>,
    // Totals.
    series: SeriesFold,
    per_day: Vec<Day>,
    loops: Vec<PersonaLoop>,
    concurrent: u64,
    peak_concurrent: (u64, i64),
    session_len_s: Histogram<u64>,
    kinds: Vec<u64>,
    /// Every kind's name, built-in then custom (`world::kinds::KindTable` order).
    kind_names: Vec<String>,
    by_hour: Vec<[u64; 24]>,
    by_phase: Vec<Vec<u64>>,
    revenue_by_currency: BTreeMap<String, u64>,
    points_by_source: [u64; 2],
    points_redeemed: u64,
    gift_created: BTreeMap<GiftId, (i64, u16)>,
    gifts_created: u64,
    shares_offered: u64,
    claims: [u64; 3],
    gifts_exhausted: u64,
    time_to_claim_s: Histogram<u64>,
    goals_completed: u64,
    goals_claimed: u64,
    nudges_sent: [u64; 2],
    nudges_opened: u64,
    nudge_open_delay_s: Histogram<u64>,
    triggers: BTreeMap<&'static str, u64>,
    end_reasons: BTreeMap<&'static str, u64>,
    /// For the periodic console report.
    report: Option<(i64, i64, ReportFn)>,
    events_total: u64,
    /// Simulated time reached (the last epoch boundary seen).
    reached_ms: i64,
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60 * 60 * 24 * 365, 3)
        .unwrap_or_else(|_| Histogram::new(3).expect("3 significant figures is valid"))
}

impl Metrics {
    pub fn new(scenario: &Scenario, personas: &[Persona]) -> Metrics {
        let calendar = Calendar::new(scenario.start_ms, scenario.end_ms());
        let days = calendar.days_planned();
        let kind_names: Vec<String> = crate::world::kinds::KindTable::of(personas)
            .names()
            .into_iter()
            .map(String::from)
            .collect();
        let kinds_n = kind_names.len();
        let mut series = SeriesFold::new(
            Resolution::default_for(scenario.end_ms()),
            scenario.end_ms(),
        );
        series.custom_kinds(kind_names[EVENT_KINDS.len()..].to_vec());
        Metrics {
            days,
            words: days.div_ceil(64),
            start_ms: scenario.start_ms,
            span_ms: scenario.end_ms(),
            calendar,
            persona_names: personas.iter().map(|p| p.name.clone()).collect(),
            can_pay: personas
                .iter()
                .map(|p| p.states.iter().any(|s| s.action == Action::Purchase))
                .collect(),
            half_life_ms: personas.iter().map(|p| p.habit.half_life_ms).collect(),
            initial_habit: personas.iter().map(|p| p.habit.initial as f32).collect(),
            phases: scenario
                .phases
                .iter()
                .map(|p| {
                    let (a, b) = p.window();
                    (p.name.clone(), a, b)
                })
                .collect(),
            tags: PhaseTags::of(scenario),
            persona: Vec::new(),
            signup_day: Vec::new(),
            active: Vec::new(),
            funnel: Vec::new(),
            session_flags: Vec::new(),
            user_revenue: Vec::new(),
            last_bucket: Vec::new(),
            habit: Vec::new(),
            habit_s: Vec::new(),
            series,
            per_day: vec![Day::default(); days],
            loops: vec![PersonaLoop::default(); personas.len()],
            concurrent: 0,
            peak_concurrent: (0, 0),
            session_len_s: hist(),
            kinds: vec![0; kinds_n],
            by_hour: vec![[0; 24]; kinds_n],
            by_phase: vec![vec![0; kinds_n]; scenario.phases.len()],
            kind_names,
            revenue_by_currency: BTreeMap::new(),
            points_by_source: [0; 2],
            points_redeemed: 0,
            gift_created: BTreeMap::new(),
            gifts_created: 0,
            shares_offered: 0,
            claims: [0; 3],
            gifts_exhausted: 0,
            time_to_claim_s: hist(),
            goals_completed: 0,
            goals_claimed: 0,
            nudges_sent: [0; 2],
            nudges_opened: 0,
            nudge_open_delay_s: hist(),
            triggers: BTreeMap::new(),
            end_reasons: BTreeMap::new(),
            report: None,
            events_total: 0,
            reached_ms: 0,
        }
    }

    /// Cuts the series into buckets of `res` instead of the span's default; call it before
    /// the run.
    pub fn resolution(&mut self, res: Resolution) {
        self.series = SeriesFold::new(res, self.span_ms);
        self.series
            .custom_kinds(self.kind_names[EVENT_KINDS.len()..].to_vec());
    }

    /// Prints a compact table every `every_ms` of simulated time through `print`.
    pub fn report_every(&mut self, every_ms: i64, print: ReportFn) {
        if every_ms > 0 {
            self.report = Some((every_ms, every_ms, print));
        }
    }

    fn user(&mut self, id: u32, persona: u16) -> usize {
        let i = id as usize;
        if i >= self.persona.len() {
            let n = i + 1;
            // Grow capacity in 1/16 steps: doubling could leave half the arrays unused.
            if n > self.persona.capacity() {
                let extra =
                    n.max(self.persona.len() + self.persona.len() / 16 + 1024) - self.persona.len();
                self.persona.reserve_exact(extra);
                self.signup_day.reserve_exact(extra);
                self.active.reserve_exact(extra * self.words);
                self.funnel.reserve_exact(extra);
                self.session_flags.reserve_exact(extra);
                self.user_revenue.reserve_exact(extra);
                self.last_bucket.reserve_exact(extra);
                self.habit.reserve_exact(extra);
                self.habit_s.reserve_exact(extra);
            }
            self.persona.resize(n, 0);
            self.signup_day.resize(n, NOT_SIGNED);
            self.active.resize(n * self.words, 0);
            self.funnel.resize(n, 0);
            self.session_flags.resize(n, 0);
            self.user_revenue.resize(n, 0);
            self.last_bucket.resize(n, NO_BUCKET);
            self.habit.resize(n, 0.0);
            self.habit_s.resize(n, 0);
        }
        self.persona[i] = persona;
        i
    }

    fn is_active(&self, i: usize, day: usize) -> bool {
        self.active[i * self.words + day / 64] >> (day % 64) & 1 == 1
    }

    fn observe(&mut self, e: &Event) {
        let i = self.user(e.user, e.persona);
        let day = self
            .calendar
            .day_of(e.t_ms)
            .min(self.days.saturating_sub(1));
        let kind = e.props.kind();
        let hour = ((self.start_ms + e.t_ms).rem_euclid(DAY) / HOUR) as usize;
        let bucket = self.series.enter(e.t_ms, self.concurrent);
        self.events_total += 1;
        self.kinds[kind] += 1;
        self.by_hour[kind][hour] += 1;
        self.per_day[day].events += 1;
        if let Some(row) = (self.tags.event(e) as usize)
            .checked_sub(1)
            .and_then(|p| self.by_phase.get_mut(p))
        {
            row[kind] += 1;
        }
        let persona = e.persona as usize;
        if e.session != 0 {
            self.active[i * self.words + day / 64] |= 1 << (day % 64);
            if self.last_bucket[i] != bucket as u32 {
                self.last_bucket[i] = bucket as u32;
                self.series.add(bucket, Add::ActiveUser);
            }
            let step = step_of(&e.props);
            self.session_flags[i] |= step;
            if step != 0 && self.signup_day[i] != NOT_SIGNED {
                self.funnel[i] |= step;
            }
        }
        match e.props {
            Props::SignedUp { .. } => {
                self.series.add(bucket, Add::NewUser);
                self.seen_habit(i, e.t_ms, self.initial_habit[persona]);
                self.signup_day[i] = day as u32;
                self.per_day[day].new_users += 1;
                self.loops[persona].users += 1;
            }
            Props::SessionStarted { trigger, habit, .. } => {
                self.series.add(bucket, Add::SessionStarted);
                self.seen_habit(i, e.t_ms, habit);
                self.session_started(e, i, day, persona, trigger)
            }
            Props::SessionEnded {
                reason,
                duration_ms,
                habit,
                reward_tries,
                investment_tries,
                ..
            } => {
                self.seen_habit(i, e.t_ms, habit);
                self.session_ended(
                    i,
                    persona,
                    reason,
                    duration_ms,
                    (reward_tries, investment_tries),
                )
            }
            Props::NudgeSent { campaign, .. } => self.nudges_sent[campaign.is_some() as usize] += 1,
            Props::NudgeOpened { delay_ms, .. } => {
                self.nudges_opened += 1;
                let _ = self
                    .nudge_open_delay_s
                    .record((delay_ms / 1000).max(1) as u64);
            }
            Props::PointsEarned { amount, source, .. } => {
                self.points_by_source[(source == PointsSource::Goal) as usize] += amount as u64;
                self.series.add(bucket, Add::PointsEarned(amount as u64));
                self.per_day[day].points_earned += amount as u64;
            }
            Props::PointsRedeemed { amount, .. } => {
                self.points_redeemed += amount as u64;
                self.series.add(bucket, Add::PointsRedeemed(amount as u64));
                self.per_day[day].points_redeemed += amount as u64;
            }
            Props::GoalCompleted { .. } => self.goals_completed += 1,
            Props::GoalClaimed { .. } => self.goals_claimed += 1,
            Props::GiftCreated { gift, shares, .. } => {
                self.gifts_created += 1;
                self.shares_offered += shares as u64;
                self.gift_created.insert(gift, (e.t_ms, shares));
            }
            Props::GiftClaimed { gift, outcome } => match outcome {
                ClaimOutcome::Won { share } => {
                    self.claims[0] += 1;
                    if let Some((t, shares)) = self.gift_created.get(&gift) {
                        let _ = self
                            .time_to_claim_s
                            .record(((e.t_ms - t) / 1000).max(1) as u64);
                        if share == *shares {
                            self.gifts_exhausted += 1;
                        }
                    }
                }
                ClaimOutcome::Exhausted => {
                    self.claims[1] += 1;
                }
                ClaimOutcome::Expired | ClaimOutcome::Pending => self.claims[2] += 1,
            },
            Props::Purchase {
                amount, currency, ..
            } => self.purchase(i, day, bucket, amount as u64, currency),
            Props::Churned { habit, .. } => {
                self.seen_habit(i, e.t_ms, habit);
                self.funnel[i] |= F_CHURNED;
                self.loops[persona].churned += 1;
                self.per_day[day].churned += 1;
            }
            _ => {}
        }
        self.series.event(bucket, kind, self.concurrent);
    }

    /// A purchase: revenue by currency, user, day and bucket, and a conversion when it is
    /// the user's first.
    fn purchase(&mut self, i: usize, day: usize, bucket: usize, amount: u64, currency: [u8; 3]) {
        let code = String::from_utf8_lossy(&currency);
        match self.revenue_by_currency.get_mut(code.as_ref()) {
            Some(v) => *v += amount,
            None => {
                self.revenue_by_currency.insert(code.into_owned(), amount);
            }
        }
        if self.user_revenue[i] == 0 && amount > 0 {
            self.series.add(bucket, Add::Conversion);
        }
        self.series.add(bucket, Add::Revenue(amount));
        self.user_revenue[i] += amount;
        self.per_day[day].revenue += amount;
    }

    /// Keeps the latest habit an event showed for user `i`.
    fn seen_habit(&mut self, i: usize, t_ms: i64, habit: f32) {
        self.habit[i] = habit;
        self.habit_s[i] = (t_ms.max(0) / 1000).min(u32::MAX as i64) as u32;
    }

    /// A session opened: per day, per persona loop, by trigger, and the concurrency peak.
    fn session_started(
        &mut self,
        e: &Event,
        i: usize,
        day: usize,
        persona: usize,
        trigger: Trigger,
    ) {
        self.session_flags[i] = 0;
        self.per_day[day].sessions += 1;
        let l = &mut self.loops[persona];
        l.sessions += 1;
        let name = match trigger {
            Trigger::Internal => {
                l.internal += 1;
                "internal"
            }
            Trigger::Nudge => {
                l.external += 1;
                "nudge"
            }
            Trigger::Broadcast => {
                l.external += 1;
                "broadcast"
            }
            Trigger::Phase(_) => {
                l.external += 1;
                "phase"
            }
        };
        *self.triggers.entry(name).or_default() += 1;
        self.concurrent += 1;
        if self.concurrent > self.peak_concurrent.0 {
            self.peak_concurrent = (self.concurrent, e.t_ms);
        }
        let d = &mut self.per_day[day];
        d.peak_concurrent = d.peak_concurrent.max(self.concurrent);
    }

    /// A session closed: its length, why, and how far it got through the Hooked loop.
    fn session_ended(
        &mut self,
        i: usize,
        persona: usize,
        reason: EndReason,
        duration_ms: i64,
        (reward_tries, investment_tries): (u8, u8),
    ) {
        self.concurrent = self.concurrent.saturating_sub(1);
        let _ = self
            .session_len_s
            .record((duration_ms / 1000).max(1) as u64);
        *self.end_reasons.entry(reason.name()).or_default() += 1;
        let f = self.session_flags[i];
        let l = &mut self.loops[persona];
        if f & F_ACTION != 0 {
            l.action += 1;
        }
        if reward_tries > 0 {
            l.reward_tried += 1;
        }
        if f & F_REWARD != 0 {
            l.reward_drawn += 1;
        }
        if investment_tries > 0 {
            l.investment_tried += 1;
        }
        if f & F_INVEST != 0 {
            l.investment_made += 1;
        }
        if f & (F_ACTION | F_REWARD | F_INVEST) == F_ACTION | F_REWARD | F_INVEST {
            l.full_loop += 1;
        }
        match reason {
            EndReason::Abandoned => l.abandoned += 1,
            EndReason::Timeout => l.timed_out += 1,
            _ => {}
        }
    }

    fn dau(&self, day: usize) -> u64 {
        (0..self.persona.len())
            .filter(|&i| self.is_active(i, day))
            .count() as u64
    }

    fn active_within(&self, i: usize, from: usize, to: usize) -> bool {
        (from..=to).any(|d| self.is_active(i, d))
    }

    /// Calendar days the run actually touched: an interrupted run reports only those.
    fn window_days(&self) -> usize {
        self.calendar.days_touched(self.reached_ms).min(self.days)
    }

    fn report_line(&self, now: i64) -> String {
        let day = self.calendar.day_of(now - 1);
        let today = self.per_day.get(day).cloned().unwrap_or_default();
        let dau = self.dau(day.min(self.days.saturating_sub(1)));
        let revenue: u64 = self.user_revenue.iter().sum();
        format!(
            "{:>9} │ events {:>11} │ DAU today {:>8} │ online {:>6} │ sessions today {:>8} │ new {:>6} │ revenue {:>10.2} │ gifts won {:>7}",
            format!("+{}", SimDuration(now)),
            self.events_total,
            dau,
            self.concurrent,
            today.sessions,
            today.new_users,
            revenue as f64 / 100.0,
            self.claims[0],
        )
    }
}

impl Sink for Metrics {
    fn event(&mut self, e: &Event, _line: &[u8]) -> std::io::Result<bool> {
        self.observe(e);
        Ok(true)
    }

    fn tick(&mut self, now: i64) -> std::io::Result<()> {
        self.reached_ms = now;
        let due = matches!(&self.report, Some((_, next, _)) if now >= *next);
        if due {
            let line = self.report_line(now);
            if let Some((every, next, print)) = &mut self.report {
                print(line);
                while *next <= now {
                    *next += *every;
                }
            }
        }
        Ok(())
    }
}
