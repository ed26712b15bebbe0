//! What flows add to the statistics: requests not sent because a value they needed will
//! not come (by event kind, and by the dependency named), and answers counted by an
//! outcome field (claims: claimed / empty / already_claimed / not_found).

use simulate_core::world::kinds::KindNames;

use std::collections::BTreeMap;

use crate::summary::{DependencyCount, OutcomeCounts};

/// A dependency's description is cut to this many characters in the summary.
const DEPENDENCY_TEXT: usize = 200;

/// Distinct dependencies named at most; the rest are added under one line.
const DEPENDENCIES: usize = 100;

#[derive(Clone, Debug, Default)]
pub(crate) struct FlowCounts {
    /// Requests not sent for a failed dependency, by event kind.
    pub(crate) skipped: BTreeMap<u16, u64>,
    /// The same, by the dependency's description.
    pub(crate) dependencies: BTreeMap<String, u64>,
    /// Answers by (event kind, request tag): the outcome field and each value's count.
    pub(crate) outcomes: BTreeMap<(u16, u16), (String, BTreeMap<String, u64>)>,
}

impl FlowCounts {
    /// A request of `kind` not sent: `dependency` is what it waited for in vain.
    pub(crate) fn skip(&mut self, kind: u16, dependency: &str) {
        *self.skipped.entry(kind).or_default() += 1;
        let mut text: String = dependency.chars().take(DEPENDENCY_TEXT).collect();
        if !self.dependencies.contains_key(&text) && self.dependencies.len() >= DEPENDENCIES {
            text = "other dependencies".into();
        }
        *self.dependencies.entry(text).or_default() += 1;
    }

    /// An answer of (`kind`, `tag`) whose outcome field `field` held `value`.
    pub(crate) fn outcome(&mut self, (kind, tag): (u16, u16), field: &str, value: String) {
        let (_, counts) = self
            .outcomes
            .entry((kind, tag))
            .or_insert_with(|| (field.to_string(), BTreeMap::new()));
        *counts.entry(value).or_default() += 1;
    }

    /// Requests skipped for a failed dependency, all kinds.
    pub(crate) fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub(crate) fn skipped_by_kind(&self, kinds: &KindNames) -> BTreeMap<String, u64> {
        self.skipped
            .iter()
            .map(|(k, n)| (kind_name(kinds, *k), *n))
            .collect()
    }

    /// The summary's `dependencies`, most frequent first.
    pub(crate) fn dependency_list(&self) -> Vec<DependencyCount> {
        let mut v: Vec<DependencyCount> = self
            .dependencies
            .iter()
            .map(|(d, n)| DependencyCount {
                dependency: d.clone(),
                skipped: *n,
            })
            .collect();
        v.sort_by(|a, b| {
            b.skipped
                .cmp(&a.skipped)
                .then(a.dependency.cmp(&b.dependency))
        });
        v
    }

    /// The summary's `outcomes`, by event kind and request tag.
    pub(crate) fn outcome_list(&self, tags: &[String], kinds: &KindNames) -> Vec<OutcomeCounts> {
        self.outcomes
            .iter()
            .map(|((k, t), (field, counts))| OutcomeCounts {
                event: kind_name(kinds, *k),
                kind: tags.get(*t as usize).cloned().unwrap_or_default(),
                field: field.clone(),
                total: counts.values().sum(),
                counts: counts.clone(),
            })
            .collect()
    }
}

/// The kind's name in the replayed world, its custom kinds included.
fn kind_name(kinds: &KindNames, k: u16) -> String {
    kinds.name(k).unwrap_or("unknown").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_counted_by_name_and_bounded() {
        let mut c = FlowCounts::default();
        c.skip(3, "a");
        c.skip(3, "a");
        c.skip(4, "b");
        assert_eq!(c.skipped_total(), 3);
        let l = c.dependency_list();
        assert_eq!((l[0].dependency.as_str(), l[0].skipped), ("a", 2));
        for i in 0..200 {
            c.skip(1, &format!("d{i}"));
        }
        assert!(c.dependencies.len() <= DEPENDENCIES + 1);
        assert!(c.dependencies.contains_key("other dependencies"));
    }
}
