//! Per persona and per sign-up cohort, in one pass over the users: funnel, payers,
//! revenue, habit at the end, the D1..D30 retention curve and the cohort table. The whole
//! run's figures are the personas' added up, so they agree by construction.

use super::document::{Cohort, HabitAtEnd, RetentionPoint, RetentionRates};
use super::report::round;
use super::{F_ACTION, F_CHURNED, F_INVEST, F_PURCHASE, F_REWARD, Metrics, NOT_SIGNED};

/// The longest retention curve and cohort row, in days after sign-up.
const CURVE_DAYS: usize = 30;

/// One sign-up day's users: how many, their revenue, and how many were active on each
/// day after sign-up (day 0 = the sign-up day).
#[derive(Clone)]
pub(super) struct CohortAcc {
    users: u64,
    revenue: u64,
    active: [u64; CURVE_DAYS + 1],
}

/// What one persona's signed-up users add up to (or the whole run's, merged).
#[derive(Clone)]
pub(super) struct PersonaAcc {
    pub(super) users: u64,
    /// Users reaching action, reward, investment, purchase.
    pub(super) funnel: [u64; 4],
    pub(super) payers: u64,
    pub(super) revenue: u64,
    /// Sums and counts of habit at the end: all users, then those who had not churned.
    habit: [(f64, u64); 2],
    /// Day N: (retained, users whose day N is complete); index 0 unused.
    curve: [(u64, u64); CURVE_DAYS + 1],
    /// By sign-up day, over the days the run touched.
    cohorts: Vec<CohortAcc>,
}

impl PersonaAcc {
    fn new(days_n: usize) -> PersonaAcc {
        PersonaAcc {
            users: 0,
            funnel: [0; 4],
            payers: 0,
            revenue: 0,
            habit: [(0.0, 0); 2],
            curve: [(0, 0); CURVE_DAYS + 1],
            cohorts: vec![
                CohortAcc {
                    users: 0,
                    revenue: 0,
                    active: [0; CURVE_DAYS + 1],
                };
                days_n
            ],
        }
    }

    /// The sum of several personas' figures: the whole run.
    pub(super) fn total(parts: &[PersonaAcc], days_n: usize) -> PersonaAcc {
        let mut t = PersonaAcc::new(days_n);
        for p in parts {
            t.users += p.users;
            t.payers += p.payers;
            t.revenue += p.revenue;
            for k in 0..4 {
                t.funnel[k] += p.funnel[k];
            }
            for k in 0..2 {
                t.habit[k].0 += p.habit[k].0;
                t.habit[k].1 += p.habit[k].1;
            }
            for (a, b) in t.curve.iter_mut().zip(&p.curve) {
                *a = (a.0 + b.0, a.1 + b.1);
            }
            for (a, b) in t.cohorts.iter_mut().zip(&p.cohorts) {
                a.users += b.users;
                a.revenue += b.revenue;
                for (x, y) in a.active.iter_mut().zip(&b.active) {
                    *x += y;
                }
            }
        }
        t
    }

    /// Day-N retention for N = 1, 7, 14, 30 (null when no cohort reaches day N).
    pub(super) fn rates(&self) -> RetentionRates {
        let rate = |n: usize| {
            let (k, b) = self.curve[n];
            (b != 0).then(|| round(k as f64 / b as f64, 4))
        };
        RetentionRates {
            d1: rate(1),
            d7: rate(7),
            d14: rate(14),
            d30: rate(30),
        }
    }

    /// D1..D30, the days some cohort completes inside the window.
    pub(super) fn curve(&self) -> Vec<RetentionPoint> {
        (1..=CURVE_DAYS)
            .filter(|&n| self.curve[n].1 > 0)
            .map(|n| {
                let (retained, users) = self.curve[n];
                RetentionPoint {
                    day: n as u64,
                    users,
                    retained,
                    share: round(retained as f64 / users as f64, 4),
                }
            })
            .collect()
    }

    pub(super) fn habit(&self) -> HabitAtEnd {
        let mean = |(sum, n): (f64, u64)| (n != 0).then(|| round(sum / n as f64, 4));
        HabitAtEnd {
            mean: mean(self.habit[0]),
            mean_not_churned: mean(self.habit[1]),
        }
    }

    /// Per sign-up day with users: their active share on each of their first 31 days that
    /// the run touched, and their revenue per user so far.
    pub(super) fn cohorts(&self, date: impl Fn(usize) -> String) -> Vec<Cohort> {
        let days_n = self.cohorts.len();
        self.cohorts
            .iter()
            .enumerate()
            .filter(|(_, c)| c.users > 0)
            .map(|(d, c)| Cohort {
                signup_day: d as u64,
                date: date(d),
                users: c.users,
                active_share_by_day: c.active[..(days_n - d).min(CURVE_DAYS + 1)]
                    .iter()
                    .map(|&k| round(k as f64 / c.users as f64, 4))
                    .collect(),
                ltv_so_far: round(c.revenue as f64 / c.users as f64, 2),
            })
            .collect()
    }
}

impl Metrics {
    /// Each persona's figures over its signed-up users, for a run that touched `days_n`
    /// calendar days.
    pub(super) fn per_persona(&self, days_n: usize) -> Vec<PersonaAcc> {
        let complete: Vec<bool> = (0..self.days)
            .map(|d| self.calendar.complete(d, self.reached_ms))
            .collect();
        let end_ms = self.reached_ms.clamp(0, self.span_ms) as f64;
        let mut accs = vec![PersonaAcc::new(days_n); self.persona_names.len()];
        for i in 0..self.persona.len() {
            if self.signup_day[i] == NOT_SIGNED {
                continue;
            }
            let c = self.signup_day[i] as usize;
            let p = self.persona[i] as usize;
            let a = &mut accs[p];
            a.users += 1;
            let flags = self.funnel[i];
            for (k, f) in [F_ACTION, F_REWARD, F_INVEST, F_PURCHASE]
                .iter()
                .enumerate()
            {
                a.funnel[k] += (flags & f != 0) as u64;
            }
            let revenue = self.user_revenue[i];
            a.revenue += revenue;
            a.payers += (revenue > 0) as u64;
            // Habit halves every half-life away from the last time an event showed it.
            let away = (end_ms - self.habit_s[i] as f64 * 1000.0).max(0.0);
            let h = self.habit[i] as f64
                * (-away / self.half_life_ms[p] * std::f64::consts::LN_2).exp();
            a.habit[0] = (a.habit[0].0 + h, a.habit[0].1 + 1);
            if flags & F_CHURNED == 0 {
                a.habit[1] = (a.habit[1].0 + h, a.habit[1].1 + 1);
            }
            // Day N counts only when c + N is a complete day (a partial day is not a loss).
            for n in 1..=CURVE_DAYS {
                let target = c + n;
                if target >= self.days {
                    break;
                }
                if complete[target] {
                    a.curve[n].1 += 1;
                    a.curve[n].0 += self.is_active(i, target) as u64;
                }
            }
            if let Some(co) = a.cohorts.get_mut(c) {
                co.users += 1;
                co.revenue += revenue;
                for n in 0..(days_n - c).min(CURVE_DAYS + 1) {
                    co.active[n] += self.is_active(i, c + n) as u64;
                }
            }
        }
        accs
    }
}
