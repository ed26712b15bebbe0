//! The persona file as written (serde types, unknown fields rejected).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::dist::RawDist;

/// A value that may carry a `note` saying where it comes from: `0.3` or
/// `{ value = 0.3, note = "seed 003: 8–12 % peak concurrency" }`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub(crate) enum Param<T> {
    Bare(T),
    Noted(Noted<T>),
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Noted<T> {
    pub(crate) value: T,
    pub(crate) note: String,
}

impl<T: Clone> Param<T> {
    pub(crate) fn value(&self) -> T {
        match self {
            Param::Bare(v) => v.clone(),
            Param::Noted(n) => n.value.clone(),
        }
    }
    pub(crate) fn note(&self) -> Option<&str> {
        match self {
            Param::Bare(_) => None,
            Param::Noted(n) => Some(&n.note),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPersona {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub share: Param<f64>,
    #[serde(default)]
    pub attributes: BTreeMap<String, RawDist>,
    pub(crate) timing: RawTiming,
    pub habit: RawHabit,
    pub session: RawSession,
    #[serde(default)]
    pub states: BTreeMap<String, RawState>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTiming {
    pub session_gap: RawDist,
    pub(crate) min_gap: Option<Param<String>>,
    pub(crate) max_session: Option<Param<String>>,
    pub(crate) preferred_hours: Option<Param<Vec<f64>>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHabit {
    pub initial: Param<f64>,
    pub(crate) half_life: Param<String>,
    pub investment_gain: Param<f64>,
    pub investment_payoff: Option<Param<f64>>,
    pub reward_gain: Option<Param<f64>>,
    pub churn_hazard: Param<f64>,
    pub churn_curve: Option<Param<f64>>,
    pub(crate) speedup: Option<Param<f64>>,
    pub nudge_response: Param<f64>,
    pub broadcast_response: Option<Param<f64>>,
    pub(crate) broadcast_delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSession {
    pub start: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEdge {
    pub to: String,
    pub delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWeighted {
    pub to: String,
    pub(crate) p: f64,
    pub delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWhen {
    #[serde(rename = "if")]
    pub(crate) condition: String,
    pub to: String,
    pub delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub action: String,
    pub hook: Option<String>,
    pub(crate) note: Option<String>,
    pub chance: Option<Param<f64>>,
    pub(crate) points: Option<RawDist>,
    pub(crate) kills: Option<RawDist>,
    pub(crate) price: Option<RawDist>,
    pub(crate) currency: Option<String>,
    pub(crate) shares: Option<RawDist>,
    pub(crate) accept: Option<Param<f64>>,
    pub(crate) join_delay: Option<RawDist>,
    pub(crate) gain: Option<Param<f64>>,
    pub(crate) next: Option<RawEdge>,
    pub(crate) weighted: Option<Vec<RawWeighted>>,
    pub(crate) when: Option<Vec<RawWhen>>,
    pub(crate) otherwise: Option<RawEdge>,
}
