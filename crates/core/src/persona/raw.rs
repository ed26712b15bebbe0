//! The persona file as written (serde types, unknown fields rejected).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::dist::RawDist;

/// A value that may carry a `note` saying where it comes from: `0.3` or
/// `{ value = 0.3, note = "seed 003: 8–12 % peak concurrency" }`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Param<T> {
    Bare(T),
    Noted(Noted<T>),
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Noted<T> {
    pub value: T,
    pub note: String,
}

impl<T: Clone> Param<T> {
    pub fn value(&self) -> T {
        match self {
            Param::Bare(v) => v.clone(),
            Param::Noted(n) => n.value.clone(),
        }
    }
    pub fn note(&self) -> Option<&str> {
        match self {
            Param::Bare(_) => None,
            Param::Noted(n) => Some(&n.note),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPersona {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub share: Param<f64>,
    #[serde(default)]
    pub attributes: BTreeMap<String, RawDist>,
    pub timing: RawTiming,
    pub habit: RawHabit,
    pub session: RawSession,
    #[serde(default)]
    pub states: BTreeMap<String, RawState>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTiming {
    pub session_gap: RawDist,
    pub min_gap: Option<Param<String>>,
    pub max_session: Option<Param<String>>,
    pub preferred_hours: Option<Param<Vec<f64>>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHabit {
    pub initial: Param<f64>,
    pub half_life: Param<String>,
    pub investment_gain: Param<f64>,
    pub investment_payoff: Option<Param<f64>>,
    pub reward_gain: Option<Param<f64>>,
    pub churn_hazard: Param<f64>,
    pub churn_curve: Option<Param<f64>>,
    pub speedup: Option<Param<f64>>,
    pub nudge_response: Param<f64>,
    pub broadcast_response: Option<Param<f64>>,
    pub broadcast_delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub start: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEdge {
    pub to: String,
    pub delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeighted {
    pub to: String,
    pub p: f64,
    pub delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    #[serde(rename = "if")]
    pub condition: String,
    pub to: String,
    pub delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    pub action: String,
    pub hook: Option<String>,
    pub note: Option<String>,
    pub chance: Option<Param<f64>>,
    pub points: Option<RawDist>,
    pub kills: Option<RawDist>,
    pub price: Option<RawDist>,
    pub currency: Option<String>,
    pub shares: Option<RawDist>,
    pub accept: Option<Param<f64>>,
    pub join_delay: Option<RawDist>,
    pub gain: Option<Param<f64>>,
    pub next: Option<RawEdge>,
    pub weighted: Option<Vec<RawWeighted>>,
    pub when: Option<Vec<RawWhen>>,
    pub otherwise: Option<RawEdge>,
}
