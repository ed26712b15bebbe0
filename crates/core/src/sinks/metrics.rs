//! Business metrics for analysts, folded from the timeline in one pass (docs/METRICS.md).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::persona::Persona;
use crate::scenario::Scenario;
use crate::timeline::*;
use crate::units::{DAY, HOUR, SimDuration, format_rfc3339};

mod calendar;
use calendar::Calendar;

const NOT_SIGNED: u32 = u32::MAX;

/// Where the periodic console report goes.
pub type ReportFn = Box<dyn FnMut(String) + Send>;

// Funnel flags per user.
const F_ACTION: u8 = 1;
const F_REWARD: u8 = 2;
const F_INVEST: u8 = 4;
const F_PURCHASE: u8 = 8;

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
    phases: Vec<(String, i64, i64)>,
    // Per user.
    persona: Vec<u16>,
    signup_day: Vec<u32>,
    active: Vec<u64>,
    funnel: Vec<u8>,
    session_flags: Vec<u8>,
    user_revenue: Vec<u64>,
    // Totals.
    per_day: Vec<Day>,
    loops: Vec<PersonaLoop>,
    concurrent: u64,
    peak_concurrent: (u64, i64),
    session_len_s: Histogram<u64>,
    kinds: Vec<u64>,
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

fn pct(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    json!({
        "count": h.len(),
        "mean": round(h.mean(), 2),
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "max": h.max(),
    })
}

fn round(v: f64, places: i32) -> f64 {
    if !v.is_finite() {
        return 0.0;
    }
    let f = 10f64.powi(places);
    (v * f).round() / f
}

fn ratio(a: u64, b: u64) -> Value {
    if b == 0 {
        Value::Null
    } else {
        json!(round(a as f64 / b as f64, 4))
    }
}

impl Metrics {
    pub fn new(scenario: &Scenario, personas: &[Persona]) -> Metrics {
        let calendar = Calendar::new(scenario.start_ms, scenario.end_ms());
        let days = calendar.days_planned();
        Metrics {
            days,
            words: days.div_ceil(64),
            start_ms: scenario.start_ms,
            span_ms: scenario.end_ms(),
            calendar,
            persona_names: personas.iter().map(|p| p.name.clone()).collect(),
            phases: scenario
                .phases
                .iter()
                .map(|p| {
                    let (a, b) = p.window();
                    (p.name.clone(), a, b)
                })
                .collect(),
            persona: Vec::new(),
            signup_day: Vec::new(),
            active: Vec::new(),
            funnel: Vec::new(),
            session_flags: Vec::new(),
            user_revenue: Vec::new(),
            per_day: vec![Day::default(); days],
            loops: vec![PersonaLoop::default(); personas.len()],
            concurrent: 0,
            peak_concurrent: (0, 0),
            session_len_s: hist(),
            kinds: vec![0; EVENT_KINDS.len()],
            by_hour: vec![[0; 24]; EVENT_KINDS.len()],
            by_phase: vec![vec![0; EVENT_KINDS.len()]; scenario.phases.len()],
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
            }
            self.persona.resize(n, 0);
            self.signup_day.resize(n, NOT_SIGNED);
            self.active.resize(n * self.words, 0);
            self.funnel.resize(n, 0);
            self.session_flags.resize(n, 0);
            self.user_revenue.resize(n, 0);
        }
        self.persona[i] = persona;
        i
    }

    fn is_active(&self, i: usize, day: usize) -> bool {
        self.active[i * self.words + day / 64] >> (day % 64) & 1 == 1
    }

    #[expect(clippy::too_many_lines, reason = "issue 17 cuts it into named steps")]
    fn observe(&mut self, e: &Event) {
        let i = self.user(e.user, e.persona);
        let day = self
            .calendar
            .day_of(e.t_ms)
            .min(self.days.saturating_sub(1));
        let kind = e.props.kind();
        let hour = ((self.start_ms + e.t_ms).rem_euclid(DAY) / HOUR) as usize;
        self.events_total += 1;
        self.kinds[kind] += 1;
        self.by_hour[kind][hour] += 1;
        self.per_day[day].events += 1;
        for (p, (_, a, b)) in self.phases.iter().enumerate() {
            if e.t_ms >= *a && e.t_ms < *b {
                self.by_phase[p][kind] += 1;
            }
        }
        let persona = e.persona as usize;
        if e.session != 0 {
            self.active[i * self.words + day / 64] |= 1 << (day % 64);
            let step = step_of(&e.props);
            self.session_flags[i] |= step;
            if step != 0 && self.signup_day[i] != NOT_SIGNED {
                self.funnel[i] |= step;
            }
        }
        match e.props {
            Props::SignedUp { .. } => {
                self.signup_day[i] = day as u32;
                self.per_day[day].new_users += 1;
                self.loops[persona].users += 1;
            }
            Props::SessionStarted { trigger, .. } => {
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
            Props::SessionEnded {
                reason,
                duration_ms,
                reward_tries,
                investment_tries,
                ..
            } => {
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
            Props::NudgeSent { campaign, .. } => self.nudges_sent[campaign.is_some() as usize] += 1,
            Props::NudgeOpened { delay_ms, .. } => {
                self.nudges_opened += 1;
                let _ = self
                    .nudge_open_delay_s
                    .record((delay_ms / 1000).max(1) as u64);
            }
            Props::PointsEarned { amount, source, .. } => {
                self.points_by_source[(source == PointsSource::Goal) as usize] += amount as u64;
                self.per_day[day].points_earned += amount as u64;
            }
            Props::PointsRedeemed { amount, .. } => {
                self.points_redeemed += amount as u64;
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
            } => {
                *self
                    .revenue_by_currency
                    .entry(String::from_utf8_lossy(&currency).into_owned())
                    .or_default() += amount as u64;
                self.user_revenue[i] += amount as u64;
                self.per_day[day].revenue += amount as u64;
            }
            Props::Churned { .. } => {
                self.loops[persona].churned += 1;
                self.per_day[day].churned += 1;
            }
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

    /// Day-N retention: of the users who signed up on day c, the share active on day c+N,
    /// over every cohort for which day c+N is a complete day of the run (a partial day,
    /// the last of a 36 h world or of an interrupted run, would read as users lost).
    fn retention(&self, n: usize, persona: Option<u16>) -> (u64, u64) {
        let (mut kept, mut base) = (0, 0);
        for i in 0..self.persona.len() {
            let c = self.signup_day[i];
            if c == NOT_SIGNED || persona.is_some_and(|p| p != self.persona[i]) {
                continue;
            }
            let target = c as usize + n;
            if target >= self.days || !self.calendar.complete(target, self.reached_ms) {
                continue;
            }
            base += 1;
            kept += self.is_active(i, target) as u64;
        }
        (kept, base)
    }

    /// Retention on day N for the shipped tests and reports; None when no cohort reaches day N.
    pub fn retention_rate(&self, n: usize) -> Option<f64> {
        let (k, b) = self.retention(n, None);
        (b > 0).then(|| k as f64 / b as f64)
    }

    /// Calendar days the run actually touched: an interrupted run reports only those.
    fn window_days(&self) -> usize {
        self.calendar.days_touched(self.reached_ms).min(self.days)
    }

    #[expect(clippy::too_many_lines, reason = "issue 17 cuts it into named steps")]
    pub fn to_json(&self, scenario: &Scenario) -> Value {
        let days_n = self.window_days();
        let signed: Vec<usize> = (0..self.persona.len())
            .filter(|&i| self.signup_day[i] != NOT_SIGNED)
            .collect();
        let users = signed.len() as u64;
        let mut days = Vec::new();
        let mut dau_sum = 0;
        // Average DAU is over complete days only: a 6 h evening is not a low day.
        let (mut complete_dau, mut complete_days) = (0, 0);
        for d in 0..days_n {
            let dau = self.dau(d);
            dau_sum += dau;
            let covered_ms = self.calendar.covered_ms(d, self.reached_ms);
            if covered_ms == DAY {
                complete_dau += dau;
                complete_days += 1;
            }
            let wau = signed
                .iter()
                .filter(|&&i| self.active_within(i, d.saturating_sub(6), d))
                .count() as u64;
            let mau = signed
                .iter()
                .filter(|&&i| self.active_within(i, d.saturating_sub(29), d))
                .count() as u64;
            let x = &self.per_day[d];
            days.push(json!({
                "day": d,
                "date": self.calendar.date(d),
                "dau": dau, "wau": wau, "mau": mau,
                "stickiness": ratio(dau, mau),
                "new_users": x.new_users,
                "sessions": x.sessions,
                "events": x.events,
                "revenue": x.revenue,
                "points_earned": x.points_earned,
                "points_redeemed": x.points_redeemed,
                "peak_concurrent_sessions": x.peak_concurrent,
                "churned": x.churned,
                "covered_ms": covered_ms,
            }));
        }
        let revenue: u64 = self.user_revenue.iter().sum();
        let payers = self.user_revenue.iter().filter(|r| **r > 0).count() as u64;
        let sessions: u64 = self.loops.iter().map(|l| l.sessions).sum();

        let ret = |persona: Option<u16>| {
            let mut m = serde_json::Map::new();
            for n in [1usize, 7, 14, 30] {
                let (k, b) = self.retention(n, persona);
                m.insert(
                    format!("d{n}"),
                    if b == 0 {
                        Value::Null
                    } else {
                        json!(round(k as f64 / b as f64, 4))
                    },
                );
            }
            Value::Object(m)
        };
        let mut cohorts = Vec::new();
        for c in 0..days_n {
            let members: Vec<usize> = signed
                .iter()
                .copied()
                .filter(|&i| self.signup_day[i] as usize == c)
                .collect();
            if members.is_empty() {
                continue;
            }
            let mut by_day = Vec::new();
            for n in 0..(days_n - c).min(31) {
                let k = members
                    .iter()
                    .filter(|&&i| self.is_active(i, c + n))
                    .count() as u64;
                by_day.push(round(k as f64 / members.len() as f64, 4));
            }
            let rev: u64 = members.iter().map(|&i| self.user_revenue[i]).sum();
            cohorts.push(json!({
                "signup_day": c,
                "users": members.len(),
                "active_share_by_day": by_day,
                "ltv_so_far": round(rev as f64 / members.len() as f64, 2),
            }));
        }
        let mut by_persona = serde_json::Map::new();
        for (p, name) in self.persona_names.iter().enumerate() {
            let l = &self.loops[p];
            let rev: u64 = signed
                .iter()
                .filter(|&&i| self.persona[i] as usize == p)
                .map(|&i| self.user_revenue[i])
                .sum();
            by_persona.insert(
                name.clone(),
                json!({
                    "users": l.users,
                    "share": ratio(l.users, users),
                    "sessions": l.sessions,
                    "sessions_per_user": ratio(l.sessions, l.users),
                    "retention": ret(Some(p as u16)),
                    "churned": l.churned,
                    "churn_rate": ratio(l.churned, l.users),
                    "revenue": rev,
                    "hooked_loop": {
                        "trigger": { "internal": l.internal, "external": l.external },
                        "action": { "reached": l.action, "missed": l.sessions - l.action.min(l.sessions) },
                        "reward": { "tried": l.reward_tried, "drawn": l.reward_drawn, "failed": l.reward_tried.saturating_sub(l.reward_drawn) },
                        "investment": { "tried": l.investment_tried, "made": l.investment_made, "skipped": l.sessions.saturating_sub(l.investment_made) },
                        "abandoned": l.abandoned,
                        "timed_out": l.timed_out,
                        "completed_loops": l.full_loop,
                        "completion_rate": ratio(l.full_loop, l.sessions),
                    },
                }),
            );
        }
        let funnel_count = |flag: u8| {
            signed
                .iter()
                .filter(|&&i| self.funnel[i] & flag != 0)
                .count() as u64
        };
        let mix_hour: serde_json::Map<String, Value> = EVENT_KINDS
            .iter()
            .enumerate()
            .filter(|(k, _)| self.kinds[*k] > 0)
            .map(|(k, name)| (name.to_string(), json!(self.by_hour[k].to_vec())))
            .collect();
        let mix_phase: Vec<Value> = self
            .phases
            .iter()
            .enumerate()
            .map(|(p, (name, a, b))| {
                let counts: serde_json::Map<String, Value> = EVENT_KINDS
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| self.by_phase[p][*k] > 0)
                    .map(|(k, n)| (n.to_string(), json!(self.by_phase[p][k])))
                    .collect();
                json!({ "phase": name, "from_ms": a, "to_ms": b, "events": counts })
            })
            .collect();
        let points_earned = self.points_by_source[0] + self.points_by_source[1];
        let mau_last = days.last().and_then(|d| d["mau"].as_u64()).unwrap_or(0);
        let avg_dau = (complete_days > 0).then(|| complete_dau as f64 / complete_days as f64);
        let reached = self.reached_ms.clamp(0, self.span_ms);
        json!({
            "schema": "simulate.metrics.v1",
            "scenario": scenario.name,
            "window": {
                "start": format_rfc3339(self.start_ms),
                "days": days_n,
                "days_planned": self.days,
                "complete": reached == self.span_ms,
                "span": SimDuration(self.span_ms).to_string(),
                "span_ms": self.span_ms,
                "end": format_rfc3339(self.start_ms + self.span_ms),
                "covered_ms": reached,
            },
            "users": {
                "signed_up": users,
                "with_events": self.persona.len(),
                "churned": self.loops.iter().map(|l| l.churned).sum::<u64>(),
            },
            "engagement": {
                "days": days,
                "avg_dau": avg_dau.map(|a| round(a, 2)),
                "stickiness_dau_over_mau": match avg_dau {
                    Some(a) if mau_last > 0 => json!(round(a / mau_last as f64, 4)),
                    _ => Value::Null,
                },
                "peak_concurrent_sessions": { "sessions": self.peak_concurrent.0, "at": format_rfc3339(self.start_ms + self.peak_concurrent.1) },
                "sessions": sessions,
                "sessions_per_user": ratio(sessions, users),
                "session_length_seconds": pct(&self.session_len_s),
                "session_triggers": self.triggers,
                "session_end_reasons": self.end_reasons,
            },
            "retention": {
                "overall": ret(None),
                "by_cohort": cohorts,
            },
            "funnel": {
                "signed_up": users,
                "first_action": funnel_count(F_ACTION),
                "first_reward": funnel_count(F_REWARD),
                "first_investment": funnel_count(F_INVEST),
                "purchase": funnel_count(F_PURCHASE),
            },
            "revenue": {
                "total_minor_units": revenue,
                "by_currency": self.revenue_by_currency,
                "paying_users": payers,
                "conversion": ratio(payers, users),
                "arpu": round(revenue as f64 / users.max(1) as f64, 2),
                "arppu": round(revenue as f64 / payers.max(1) as f64, 2),
                "arpdau": round(revenue as f64 / dau_sum.max(1) as f64, 4),
                "ltv_so_far": round(revenue as f64 / users.max(1) as f64, 2),
            },
            "points": {
                "earned": points_earned,
                "earned_from_activity": self.points_by_source[0],
                "earned_from_goals": self.points_by_source[1],
                "redeemed": self.points_redeemed,
                "outstanding_liability": points_earned as i64 - self.points_redeemed as i64,
                "redemption_rate": ratio(self.points_redeemed, points_earned),
            },
            "gifts": {
                "created": self.gifts_created,
                "shares_offered": self.shares_offered,
                "claim_attempts": self.claims.iter().sum::<u64>(),
                "claimed": self.claims[0],
                "gifts_fully_claimed": self.gifts_exhausted,
                "failed_exhausted": self.claims[1],
                "failed_expired": self.claims[2],
                "share_fill_rate": ratio(self.claims[0], self.shares_offered),
                "time_to_claim_seconds": pct(&self.time_to_claim_s),
            },
            "goals": {
                "completed": self.goals_completed,
                "claimed": self.goals_claimed,
                "claim_rate": ratio(self.goals_claimed, self.goals_completed),
            },
            "nudges": {
                "sent": self.nudges_sent[0] + self.nudges_sent[1],
                "sent_reengagement": self.nudges_sent[0],
                "sent_campaign": self.nudges_sent[1],
                "opened": self.nudges_opened,
                "open_rate": ratio(self.nudges_opened, self.nudges_sent[0] + self.nudges_sent[1]),
                "time_to_open_seconds": pct(&self.nudge_open_delay_s),
            },
            "personas": by_persona,
            "events": {
                "total": self.events_total,
                "by_kind": EVENT_KINDS.iter().enumerate().map(|(k, n)| (n.to_string(), json!(self.kinds[k]))).collect::<serde_json::Map<_, _>>(),
                "per_active_user_day": ratio(self.events_total, dau_sum),
                "by_hour_utc": mix_hour,
                "by_phase": mix_phase,
            },
        })
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
