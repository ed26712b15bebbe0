//! The captured ids a run's teardown repeats over (`for_each = "entity.gift.id"`), as
//! `replay --captured-ids FILE` writes them at the end of a run and `replay
//! --teardown-only --captured-ids FILE` reads them back: what the run created can be
//! removed later, on another day or from another machine, without replaying.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `schema` value of the file (schema/captured-ids.v1.json).
pub const CAPTURED_IDS_SCHEMA: &str = "simulate.captured-ids.v1";

/// Every value the mapping's teardown repeats over, by variable.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedIds {
    pub schema: String,
    /// The mapping that captured them (its file name, as given).
    pub mapping: String,
    /// By variable (`entity.gift.id`): one entry per entity that captured it, in the
    /// order of their keys. Every variable a `for_each` names is here, empty when
    /// nothing was captured into it.
    pub values: BTreeMap<String, Vec<CapturedValue>>,
}

/// One entity's captured value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedValue {
    /// The entity as the timeline names it (`g5186-1`, its `entity` key).
    pub key: String,
    /// What the target answered (`42`).
    pub value: String,
}

impl CapturedIds {
    pub(crate) fn new(mapping: &str) -> CapturedIds {
        CapturedIds {
            schema: CAPTURED_IDS_SCHEMA.into(),
            mapping: mapping.into(),
            values: BTreeMap::new(),
        }
    }

    /// The variables `wanted` names that the file lacks: a file written for another
    /// mapping.
    pub fn missing<'a>(&self, wanted: &'a [String]) -> Vec<&'a str> {
        wanted
            .iter()
            .filter(|v| !self.values.contains_key(*v))
            .map(String::as_str)
            .collect()
    }
}
