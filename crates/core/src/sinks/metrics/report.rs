//! The metrics document built from what [`Metrics`] folded, one section per step.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::document::*;
use super::personas::PersonaAcc;
use super::{Metrics, NOT_SIGNED, PersonaLoop};
use crate::scenario::Scenario;
use crate::units::{DAY, SimDuration, format_rfc3339};

pub(super) fn round(v: f64, places: i32) -> f64 {
    if !v.is_finite() {
        return 0.0;
    }
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// `a / b` to four places; `None` when there is nothing to divide by.
fn ratio(a: u64, b: u64) -> Option<f64> {
    (b != 0).then(|| round(a as f64 / b as f64, 4))
}

fn pct(h: &Histogram<u64>) -> Option<Percentiles> {
    (!h.is_empty()).then(|| Percentiles {
        count: h.len(),
        mean: round(h.mean(), 2),
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
    })
}

/// What several sections share: the users who signed up, Σ DAU, the persona folds.
struct Basis {
    signed: Vec<usize>,
    /// Sum of DAU over the covered days.
    dau_sum: u64,
    /// Per persona, and the whole run (their sum).
    personas: Vec<PersonaAcc>,
    total: PersonaAcc,
}

impl Metrics {
    /// metrics.json for the days the run covered.
    pub fn document(&self, scenario: &Scenario) -> MetricsDoc {
        let days_n = self.window_days();
        let signed: Vec<usize> = (0..self.persona.len())
            .filter(|&i| self.signup_day[i] != NOT_SIGNED)
            .collect();
        let days = self.days_figures(days_n, &signed);
        let personas = self.per_persona(days_n);
        let b = Basis {
            dau_sum: days.iter().map(|d| d.dau).sum(),
            signed,
            total: PersonaAcc::total(&personas, days_n),
            personas,
        };
        let users = b.signed.len() as u64;
        MetricsDoc {
            schema: METRICS_SCHEMA.to_string(),
            scenario: scenario.name.clone(),
            window: self.window(days_n),
            users: Users {
                signed_up: users,
                with_events: self.persona.len() as u64,
                churned: self.loops.iter().map(|l| l.churned).sum(),
            },
            engagement: self.engagement(days, &b),
            retention: Retention {
                overall: b.total.rates(),
                by_cohort: b.total.cohorts(|d| self.calendar.date(d)),
                curve: b.total.curve(),
            },
            funnel: funnel_figures(&b.total),
            revenue: self.revenue_figures(&b),
            points: self.points_figures(),
            gifts: self.gift_figures(),
            goals: Goals {
                completed: self.goals_completed,
                claimed: self.goals_claimed,
                claim_rate: ratio(self.goals_claimed, self.goals_completed),
            },
            nudges: self.nudge_figures(),
            personas: self.persona_figures(&b),
            events: Events {
                hourly_weights: scenario.hourly.to_vec(),
                ..self.event_figures(&b)
            },
            series: self.series.document(
                self.start_ms,
                self.span_ms,
                self.reached_ms,
                self.concurrent,
            ),
        }
    }

    fn window(&self, days_n: usize) -> Window {
        let reached = self.reached_ms.clamp(0, self.span_ms);
        Window {
            start: format_rfc3339(self.start_ms),
            days: days_n as u64,
            days_planned: self.days as u64,
            complete: reached == self.span_ms,
            span: SimDuration(self.span_ms).to_string(),
            span_ms: self.span_ms,
            end: format_rfc3339(self.start_ms + self.span_ms),
            covered_ms: reached,
        }
    }

    fn days_figures(&self, days_n: usize, signed: &[usize]) -> Vec<DayFigures> {
        let active_users = |from: usize, to: usize| {
            signed
                .iter()
                .filter(|&&i| self.active_within(i, from, to))
                .count() as u64
        };
        (0..days_n)
            .map(|d| {
                let (dau, mau) = (self.dau(d), active_users(d.saturating_sub(29), d));
                let x = &self.per_day[d];
                DayFigures {
                    day: d as u64,
                    date: self.calendar.date(d),
                    dau,
                    wau: active_users(d.saturating_sub(6), d),
                    mau,
                    stickiness: ratio(dau, mau),
                    new_users: x.new_users,
                    sessions: x.sessions,
                    events: x.events,
                    revenue: x.revenue,
                    points_earned: x.points_earned,
                    points_redeemed: x.points_redeemed,
                    peak_concurrent_sessions: x.peak_concurrent,
                    churned: x.churned,
                    covered_ms: self.calendar.covered_ms(d, self.reached_ms),
                }
            })
            .collect()
    }

    fn engagement(&self, days: Vec<DayFigures>, b: &Basis) -> Engagement {
        let sessions: u64 = self.loops.iter().map(|l| l.sessions).sum();
        let mau_last = days.last().map_or(0, |d| d.mau);
        // Average DAU is over complete days only: a 6 h evening is not a low day.
        let complete: Vec<u64> = days
            .iter()
            .filter(|d| d.covered_ms == DAY)
            .map(|d| d.dau)
            .collect();
        let avg_dau = (!complete.is_empty())
            .then(|| complete.iter().sum::<u64>() as f64 / complete.len() as f64);
        let names =
            |m: &BTreeMap<&'static str, u64>| m.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        Engagement {
            days,
            avg_dau: avg_dau.map(|a| round(a, 2)),
            stickiness_dau_over_mau: avg_dau
                .filter(|_| mau_last != 0)
                .map(|a| round(a / mau_last as f64, 4)),
            peak_concurrent_sessions: Peak {
                sessions: self.peak_concurrent.0,
                at: format_rfc3339(self.start_ms + self.peak_concurrent.1),
            },
            sessions,
            sessions_per_user: ratio(sessions, b.signed.len() as u64),
            session_length_seconds: pct(&self.session_len_s),
            session_triggers: names(&self.triggers),
            session_end_reasons: names(&self.end_reasons),
        }
    }

    fn revenue_figures(&self, b: &Basis) -> Revenue {
        let revenue: u64 = self.user_revenue.iter().sum();
        let payers = self.user_revenue.iter().filter(|r| **r > 0).count() as u64;
        let users = b.signed.len() as u64;
        Revenue {
            total_minor_units: revenue,
            by_currency: self.revenue_by_currency.clone(),
            paying_users: payers,
            conversion: ratio(payers, users),
            arpu: round(revenue as f64 / users.max(1) as f64, 2),
            arppu: round(revenue as f64 / payers.max(1) as f64, 2),
            arpdau: round(revenue as f64 / b.dau_sum.max(1) as f64, 4),
            ltv_so_far: round(revenue as f64 / users.max(1) as f64, 2),
        }
    }

    fn points_figures(&self) -> Points {
        let earned = self.points_by_source[0] + self.points_by_source[1];
        Points {
            earned,
            earned_from_activity: self.points_by_source[0],
            earned_from_goals: self.points_by_source[1],
            redeemed: self.points_redeemed,
            outstanding_liability: earned as i64 - self.points_redeemed as i64,
            redemption_rate: ratio(self.points_redeemed, earned),
        }
    }

    fn gift_figures(&self) -> Gifts {
        Gifts {
            created: self.gifts_created,
            shares_offered: self.shares_offered,
            claim_attempts: self.claims.iter().sum(),
            claimed: self.claims[0],
            gifts_fully_claimed: self.gifts_exhausted,
            failed_exhausted: self.claims[1],
            failed_expired: self.claims[2],
            share_fill_rate: ratio(self.claims[0], self.shares_offered),
            time_to_claim_seconds: pct(&self.time_to_claim_s),
        }
    }

    fn nudge_figures(&self) -> Nudges {
        let sent = self.nudges_sent[0] + self.nudges_sent[1];
        Nudges {
            sent,
            sent_reengagement: self.nudges_sent[0],
            sent_campaign: self.nudges_sent[1],
            opened: self.nudges_opened,
            open_rate: ratio(self.nudges_opened, sent),
            time_to_open_seconds: pct(&self.nudge_open_delay_s),
        }
    }

    fn persona_figures(&self, b: &Basis) -> BTreeMap<String, PersonaFigures> {
        let users = b.signed.len() as u64;
        let mut out = BTreeMap::new();
        for (p, name) in self.persona_names.iter().enumerate() {
            let l = &self.loops[p];
            let a = &b.personas[p];
            let figures = PersonaFigures {
                users: l.users,
                share: ratio(l.users, users),
                sessions: l.sessions,
                sessions_per_user: ratio(l.sessions, l.users),
                retention: a.rates(),
                churned: l.churned,
                churn_rate: ratio(l.churned, l.users),
                revenue: a.revenue,
                hooked_loop: hooked_loop(l),
                funnel: funnel_figures(a),
                payers: a.payers,
                payer_share: ratio(a.payers, a.users),
                never_pays: !self.can_pay[p],
                arpu: round(a.revenue as f64 / a.users.max(1) as f64, 2),
                arppu: round(a.revenue as f64 / a.payers.max(1) as f64, 2),
                retention_curve: a.curve(),
                habit: a.habit(),
                by_cohort: a.cohorts(|d| self.calendar.date(d)),
            };
            out.insert(name.clone(), figures);
        }
        out
    }

    fn event_figures(&self, b: &Basis) -> Events {
        let by_hour_utc = self
            .kind_names
            .iter()
            .enumerate()
            .filter(|(k, _)| self.kinds[*k] > 0)
            .map(|(k, name)| (name.to_string(), self.by_hour[k].to_vec()))
            .collect();
        let by_phase = self
            .phases
            .iter()
            .enumerate()
            .map(|(p, (name, a, b))| PhaseEvents {
                phase: name.clone(),
                from_ms: *a,
                to_ms: *b,
                events: self
                    .kind_names
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| self.by_phase[p][*k] > 0)
                    .map(|(k, n)| (n.to_string(), self.by_phase[p][k]))
                    .collect(),
            })
            .collect();
        Events {
            total: self.events_total,
            by_kind: self
                .kind_names
                .iter()
                .enumerate()
                .map(|(k, n)| (n.to_string(), self.kinds[k]))
                .collect(),
            per_active_user_day: ratio(self.events_total, b.dau_sum),
            by_hour_utc,
            hourly_weights: Vec::new(),
            by_phase,
        }
    }
}

/// Users of `a` reaching each step, ever.
fn funnel_figures(a: &PersonaAcc) -> Funnel {
    Funnel {
        signed_up: a.users,
        first_action: a.funnel[0],
        first_reward: a.funnel[1],
        first_investment: a.funnel[2],
        purchase: a.funnel[3],
    }
}

/// How far one persona's sessions got through the Hooked loop.
fn hooked_loop(l: &PersonaLoop) -> HookedLoop {
    HookedLoop {
        trigger: Triggers {
            internal: l.internal,
            external: l.external,
        },
        action: Action {
            reached: l.action,
            missed: l.sessions - l.action.min(l.sessions),
        },
        reward: Reward {
            tried: l.reward_tried,
            drawn: l.reward_drawn,
            failed: l.reward_tried.saturating_sub(l.reward_drawn),
        },
        investment: Investment {
            tried: l.investment_tried,
            made: l.investment_made,
            skipped: l.sessions.saturating_sub(l.investment_made),
        },
        abandoned: l.abandoned,
        timed_out: l.timed_out,
        completed_loops: l.full_loop,
        completion_rate: ratio(l.full_loop, l.sessions),
    }
}
