//! Replicates: one world run with the seeds seed, seed + 1, …, seed + N − 1, and their
//! metrics folded into summary.json ([`ReplicatesDoc`]), where every number of
//! metrics.json is a mean with its 95 % Student t interval (docs/METRICS.md,
//! "Replicates and intervals"). The seeds are the only difference between replicates,
//! so the spread of a figure over them is the noise of one run of that world.

pub mod fold;
pub mod tdist;

use serde::{Deserialize, Serialize};

pub use fold::{Folder, Interval, Node};

/// The `schema` value of this version of the document.
pub const REPLICATES_SCHEMA: &str = "simulate.replicates.v1";

/// The confidence of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// summary.json: the replicates of one world and their folded metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicatesDoc {
    pub schema: String,
    pub scenario: String,
    /// 0.95.
    pub confidence: f64,
    /// How each interval is computed, in words.
    pub interval: String,
    /// Every replicate run, in seed order, with its folder under the output folder.
    pub replicates: Vec<Replicate>,
    /// The seeds folded into `metrics`: every replicate that ran its whole span (an
    /// interrupted one is written but left out).
    pub folded_seeds: Vec<u64>,
    /// metrics.json's shape with every number an [`Interval`].
    pub metrics: Node,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replicate {
    pub seed: u64,
    /// `replicates/<seed>`, relative to summary.json's folder.
    pub folder: String,
    pub events: u64,
    /// As in the replicate's run.json: the same as a single run with this seed.
    pub events_sha256: String,
    pub interrupted: bool,
}

impl ReplicatesDoc {
    /// Folds the metrics of the replicates that completed (`docs[i]` belongs to
    /// `replicates[i]`: each a `MetricsDoc`), in seed order.
    pub fn new<D: Serialize>(
        scenario: &str,
        replicates: Vec<Replicate>,
        docs: &[D],
    ) -> ReplicatesDoc {
        let (folded_seeds, values): (Vec<u64>, Vec<serde_json::Value>) = replicates
            .iter()
            .zip(docs)
            .filter(|(r, _)| !r.interrupted)
            .map(|(r, d)| {
                // Plain structs with string keys: serializing cannot fail.
                let v = serde_json::to_value(d).unwrap_or(serde_json::Value::Null);
                (r.seed, v)
            })
            .unzip();
        ReplicatesDoc {
            schema: REPLICATES_SCHEMA.into(),
            scenario: scenario.into(),
            confidence: CONFIDENCE,
            interval: "mean ± t(0.975, n − 1) · sd / √n over the replicates that have the figure"
                .into(),
            replicates,
            folded_seeds,
            metrics: Folder::new(CONFIDENCE).fold(&values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replicate(seed: u64, interrupted: bool) -> Replicate {
        Replicate {
            seed,
            folder: format!("replicates/{seed}"),
            events: 1,
            events_sha256: "0".repeat(64),
            interrupted,
        }
    }

    #[test]
    fn an_interrupted_replicate_is_listed_but_not_folded() {
        let doc = ReplicatesDoc::new(
            "default",
            vec![replicate(1, false), replicate(2, true), replicate(3, false)],
            &[json!({"dau": 10}), json!({"dau": 1000}), json!({"dau": 20})],
        );
        assert_eq!(doc.folded_seeds, [1, 3]);
        assert_eq!(doc.replicates.len(), 3);
        let dau = doc.metrics.interval(&["dau"]).unwrap();
        assert_eq!((dau.mean, dau.n), (15.0, 2));
        assert_eq!(doc.schema, REPLICATES_SCHEMA);
    }
}
