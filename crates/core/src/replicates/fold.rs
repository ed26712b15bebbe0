//! Folding replicates' documents into one: every number becomes an [`Interval`], found
//! at the same path in each replicate (object keys by name, arrays by index), so any
//! field a document gains is covered without a line here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::tdist::two_sided_quantile;

/// One figure over the replicates that have it: the mean and its two-sided Student t
/// interval, `mean ± t(n − 1) · sd / √n`. `lo`, `hi` and `sd` are null when `n` is 1:
/// one replicate says nothing about the noise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    pub mean: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// Replicates with a number here (fewer than all when some had null: a ratio with
    /// nothing to divide, a day one replicate never reached).
    pub n: u64,
    /// Sample standard deviation (n − 1 in the denominator).
    pub sd: Option<f64>,
}

impl Interval {
    /// A single measurement: its value, noise unknown.
    pub fn single(value: f64) -> Interval {
        Interval {
            mean: value,
            lo: None,
            hi: None,
            n: 1,
            sd: None,
        }
    }
}

/// A document with its numbers folded: the shape of the replicates' documents, numbers
/// replaced by intervals. Text the replicates agree on is kept; text that differs (the
/// instant of a peak) and values no replicate has are null. Keys are sorted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Node {
    Interval(Interval),
    Object(BTreeMap<String, Node>),
    Array(Vec<Node>),
    Text(String),
    Flag(bool),
    Null,
}

impl Node {
    /// The node at `path` (object keys), if there is one.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, key| match node {
            Node::Object(map) => map.get(*key),
            _ => None,
        })
    }

    /// The interval at `path`, if that is a number.
    pub fn interval(&self, path: &[&str]) -> Option<&Interval> {
        match self.at(path)? {
            Node::Interval(i) => Some(i),
            _ => None,
        }
    }

    /// The object's keys at `path` (persona names), sorted.
    pub fn keys(&self, path: &[&str]) -> Vec<String> {
        match self.at(path) {
            Some(Node::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// Folds documents (one per replicate, in seed order) at `confidence` (0.95).
pub struct Folder {
    confidence: f64,
    /// t quantiles by degrees of freedom: every leaf of a run has the same n.
    quantiles: BTreeMap<u64, Option<f64>>,
}

impl Folder {
    pub fn new(confidence: f64) -> Folder {
        Folder {
            confidence,
            quantiles: BTreeMap::new(),
        }
    }

    /// The folded tree of `docs`. Values are taken in the order given, so the same
    /// documents give the same bytes.
    pub fn fold(&mut self, docs: &[Value]) -> Node {
        let all: Vec<&Value> = docs.iter().collect();
        self.node(&all)
    }

    fn node(&mut self, values: &[&Value]) -> Node {
        let objects: Vec<_> = values.iter().filter_map(|v| v.as_object()).collect();
        if !objects.is_empty() {
            let keys: BTreeSet<&String> = objects.iter().flat_map(|o| o.keys()).collect();
            let mut out = BTreeMap::new();
            for key in keys {
                let sub: Vec<&Value> = objects.iter().filter_map(|o| o.get(key)).collect();
                out.insert(key.clone(), self.node(&sub));
            }
            return Node::Object(out);
        }
        let arrays: Vec<_> = values.iter().filter_map(|v| v.as_array()).collect();
        if !arrays.is_empty() {
            let len = arrays.iter().map(|a| a.len()).max().unwrap_or(0);
            return Node::Array(
                (0..len)
                    .map(|i| {
                        let sub: Vec<&Value> = arrays.iter().filter_map(|a| a.get(i)).collect();
                        self.node(&sub)
                    })
                    .collect(),
            );
        }
        let numbers: Vec<f64> = values.iter().filter_map(|v| v.as_f64()).collect();
        if !numbers.is_empty() {
            return Node::Interval(self.interval(&numbers));
        }
        agreed(values)
    }

    /// The mean and t interval of `xs` (not empty).
    pub fn interval(&mut self, xs: &[f64]) -> Interval {
        let n = xs.len();
        let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if n < 2 {
            return Interval::single(min);
        }
        if min == max {
            // Exactly: a sum divided back may differ from the value in its last bit.
            return Interval {
                mean: min,
                lo: Some(min),
                hi: Some(min),
                n: n as u64,
                sd: Some(0.0),
            };
        }
        let mean = (xs.iter().sum::<f64>() / n as f64).clamp(min, max);
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        let confidence = self.confidence;
        let q = *self
            .quantiles
            .entry(n as u64 - 1)
            .or_insert_with(|| two_sided_quantile((n - 1) as f64, confidence));
        let half = q.map(|q| q * sd / (n as f64).sqrt());
        Interval {
            mean,
            lo: half.map(|h| mean - h),
            hi: half.map(|h| mean + h),
            n: n as u64,
            sd: Some(sd),
        }
    }
}

/// Text or flags every replicate has alike; else null.
fn agreed(values: &[&Value]) -> Node {
    let Some(first) = values.first() else {
        return Node::Null;
    };
    if values.iter().any(|v| v != first) {
        return Node::Null;
    }
    match first {
        Value::String(s) => Node::Text(s.clone()),
        Value::Bool(b) => Node::Flag(*b),
        _ => Node::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fold(docs: &[Value]) -> Node {
        Folder::new(0.95).fold(docs)
    }

    #[test]
    fn equal_values_give_a_zero_width_interval_at_the_value() {
        let node = fold(&[json!({"r": 0.1}), json!({"r": 0.1}), json!({"r": 0.1})]);
        let i = node.interval(&["r"]).unwrap();
        assert_eq!(
            (i.mean, i.lo, i.hi, i.n, i.sd),
            (0.1, Some(0.1), Some(0.1), 3, Some(0.0))
        );
    }

    #[test]
    fn an_interval_contains_its_mean_and_follows_the_t_formula() {
        let node = fold(&[json!({"x": 1}), json!({"x": 2}), json!({"x": 6})]);
        let i = node.interval(&["x"]).unwrap();
        assert_eq!((i.mean, i.n), (3.0, 3));
        let sd = 7f64.sqrt(); // ((4 + 1 + 9) / 2)^½
        assert!((i.sd.unwrap() - sd).abs() < 1e-12);
        let half = 4.302_652_729_911 * sd / 3f64.sqrt();
        assert!((i.hi.unwrap() - (3.0 + half)).abs() < 1e-6, "{i:?}");
        assert!((i.lo.unwrap() - (3.0 - half)).abs() < 1e-6, "{i:?}");
    }

    #[test]
    fn paths_are_folded_by_key_and_index_and_nulls_are_skipped() {
        let docs = [
            json!({"days": [{"dau": 10, "date": "2026-01-05"}, {"dau": 4}], "d30": null, "at": "a"}),
            json!({"days": [{"dau": 12, "date": "2026-01-05"}], "d30": 0.5, "at": "b"}),
        ];
        let node = fold(&docs);
        let Some(Node::Array(days)) = node.at(&["days"]) else {
            panic!("{node:?}")
        };
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].interval(&["dau"]).unwrap().mean, 11.0);
        assert_eq!(
            days[0].at(&["date"]),
            Some(&Node::Text("2026-01-05".into()))
        );
        // Only the first replicate reached day 1; only the second has a D30.
        assert_eq!(days[1].interval(&["dau"]), Some(&Interval::single(4.0)));
        assert_eq!(node.interval(&["d30"]), Some(&Interval::single(0.5)));
        assert_eq!(node.at(&["at"]), Some(&Node::Null));
    }

    #[test]
    fn the_tree_reads_back_as_written() {
        let node = fold(&[
            json!({"a": {"mean": 1, "n": [1, 2]}, "s": "x", "ok": true, "none": null}),
            json!({"a": {"mean": 3, "n": [1]}, "s": "x", "ok": true, "none": null}),
        ]);
        let text = serde_json::to_string(&node).unwrap();
        let back: Node = serde_json::from_str(&text).unwrap();
        assert_eq!(back, node);
        assert_eq!(back.at(&["ok"]), Some(&Node::Flag(true)));
        assert_eq!(back.interval(&["a", "mean"]).unwrap().mean, 2.0);
    }
}
