//! The persona file as written (serde types, unknown fields rejected).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

use super::dist::RawDist;

/// A value that may carry a `note` saying where it comes from: `0.3` or
/// `{ value = 0.3, note = "seed 003: 8–12 % peak concurrency" }`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param<T> {
    Bare(T),
    Noted(Noted<T>),
}

/// What a bare value of this type looks like, for the error when it is something else.
pub(crate) trait Shape {
    const SHAPE: &'static str;
}

impl Shape for f64 {
    const SHAPE: &'static str = "a number like 0.3";
}

/// Every `Param<String>` in a persona is a duration.
impl Shape for String {
    const SHAPE: &'static str = r#"a duration like "3d""#;
}

impl Shape for Vec<f64> {
    const SHAPE: &'static str = "a list of numbers";
}

/// Written by hand rather than `#[serde(untagged)]`: serde's untagged enums answer any
/// mistake with "data did not match any variant of untagged enum Param", which names
/// neither the field nor what it takes.
impl<'de, T: Deserialize<'de> + Shape> Deserialize<'de> for Param<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Shape> Visitor<'de> for V<T> {
            type Value = Param<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    r#"{}, or a table like {{ value = …, note = "where it comes from" }}"#,
                    T::SHAPE
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer())
                    .map(Param::Bare)
                    .map_err(|_: E| E::invalid_type(Unexpected::Signed(v), &self))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer())
                    .map(Param::Bare)
                    .map_err(|_: E| E::invalid_type(Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer())
                    .map(Param::Bare)
                    .map_err(|_: E| E::invalid_type(Unexpected::Float(v), &self))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Err(E::invalid_type(Unexpected::Bool(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer())
                    .map(Param::Bare)
                    .map_err(|_: E| E::invalid_type(Unexpected::Str(v), &self))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Param::Bare)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Noted::deserialize(de::value::MapAccessDeserializer::new(map)).map(Param::Noted)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
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

/// Where a state goes next: a state name (`next = "end"`), or a table with a delay
/// (`next = { to = "end", delay = "15m" }`).
#[derive(Clone, Debug)]
pub(crate) struct RawEdge {
    pub to: String,
    pub delay: Option<RawDist>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeTable {
    to: String,
    delay: Option<RawDist>,
}

impl<'de> Deserialize<'de> for RawEdge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawEdge;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    r#"a table like { to = "end", delay = "15m" } or a state name like "end""#,
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEdge, E> {
                Ok(RawEdge {
                    to: v.to_string(),
                    delay: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawEdge, A::Error> {
                let t = EdgeTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawEdge {
                    to: t.to,
                    delay: t.delay,
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = r#"a table like { to = "browse", p = 0.7 }"#
)]
pub(crate) struct RawWeighted {
    pub to: String,
    pub(crate) p: f64,
    pub delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = r#"a table like { if = "known_gifts > 0", to = "claim" }"#
)]
pub(crate) struct RawWhen {
    #[serde(rename = "if")]
    pub(crate) condition: String,
    pub to: String,
    pub delay: Option<RawDist>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = r#"a table [states.NAME] with action = "…" and where it goes next"#
)]
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
