//! Probability distributions a persona file can name, validated into samplers.

use std::collections::BTreeMap;
use std::fmt;

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_distr::{Exp, LogNormal, Normal, Poisson};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::units::parse_duration;

/// `len` finite, non-negative weights, at least one of them positive.
pub(crate) fn usable_weights(v: &[f64], len: usize) -> bool {
    v.len() == len && v.iter().all(|w| w.is_finite() && *w >= 0.0) && v.iter().any(|w| *w > 0.0)
}

/// A number or a duration string, as written in the file.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Quantity {
    Num(f64),
    Text(String),
}

/// By hand, not `#[serde(untagged)]`: see `Param` (its errors name no field and no shape).
impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a number or a duration like "30s""#)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity::Num(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity::Num(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A distribution as written: a bare constant (`"30s"`, `12`) or a table.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum RawDist {
    Const(Quantity),
    Table(Box<RawDistTable>),
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDistTable {
    pub dist: String,
    pub(crate) value: Option<Quantity>,
    pub(crate) min: Option<Quantity>,
    pub(crate) max: Option<Quantity>,
    pub(crate) mean: Option<Quantity>,
    pub(crate) sd: Option<Quantity>,
    pub(crate) median: Option<Quantity>,
    pub(crate) sigma: Option<f64>,
    pub(crate) table: Option<BTreeMap<String, f64>>,
    /// Where the numbers come from; kept for `personas show`.
    pub(crate) note: Option<String>,
}

impl<'de> Deserialize<'de> for RawDist {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDist;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, a duration like \"30s\", or a table like { dist = \"lognormal\", median = \"6h\", sigma = 0.8 }")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDist, E> {
                Ok(RawDist::Const(Quantity::Num(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDist, E> {
                Ok(RawDist::Const(Quantity::Num(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDist, E> {
                Ok(RawDist::Const(Quantity::Num(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDist, E> {
                Ok(RawDist::Const(Quantity::Text(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDist, A::Error> {
                RawDistTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawDist::Table(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

/// What the sampled values mean, which decides how quantities are read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Milliseconds, written as `30s`, `5m`, `2h`.
    Duration,
    /// A plain number (points, counts, money in minor units).
    Number,
    /// A label drawn from a weighted table.
    Category,
}

/// A validated distribution; samples are f64 (ms for durations, index for categories).
#[derive(Clone, Debug)]
pub enum Dist {
    Constant(f64),
    Uniform {
        min: f64,
        max: f64,
    },
    Normal {
        mean: f64,
        d: Normal<f64>,
    },
    LogNormal {
        median: f64,
        sigma: f64,
        d: LogNormal<f64>,
    },
    Exponential {
        mean: f64,
        d: Exp<f64>,
    },
    Poisson {
        mean: f64,
        d: Poisson<f64>,
    },
    Weighted {
        values: Vec<f64>,
        labels: Vec<String>,
        index: WeightedIndex<f64>,
    },
}

impl Dist {
    /// Draws one value; durations and counts never go below zero.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let v = match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { min, max } => {
                let u = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                min + (max - min) * u
            }
            Dist::Normal { d, .. } => d.sample(rng),
            Dist::LogNormal { d, .. } => d.sample(rng),
            Dist::Exponential { d, .. } => d.sample(rng),
            Dist::Poisson { d, .. } => d.sample(rng),
            Dist::Weighted { values, index, .. } => values[index.sample(rng)],
        };
        v.max(0.0)
    }

    pub fn labels(&self) -> &[String] {
        match self {
            Dist::Weighted { labels, .. } => labels,
            _ => &[],
        }
    }

    /// The distribution's mean, used for estimates and statistical tests.
    pub(crate) fn mean(&self) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Normal { mean, .. }
            | Dist::Exponential { mean, .. }
            | Dist::Poisson { mean, .. } => *mean,
            Dist::LogNormal { median, sigma, .. } => median * (sigma * sigma / 2.0).exp(),
            Dist::Weighted { values, index, .. } => {
                let w = index.weights().collect::<Vec<_>>();
                let total: f64 = w.iter().sum();
                values.iter().zip(w).map(|(v, w)| v * w).sum::<f64>() / total
            }
        }
    }
}

/// Why a distribution was rejected, and which field of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DistError {
    pub(crate) field: &'static str,
    pub message: String,
    pub fix: String,
}

fn err(field: &'static str, message: impl Into<String>, fix: impl Into<String>) -> DistError {
    DistError {
        field,
        message: message.into(),
        fix: fix.into(),
    }
}

/// A value a distribution needs above zero.
fn positive(v: f64, field: &'static str) -> Result<f64, DistError> {
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(err(
            field,
            format!("`{field}` must be greater than zero, found {v}"),
            "use a positive value",
        ))
    }
}

/// `{ dist = "weighted", table = { … } }`: labels (a category) or numeric keys, drawn
/// by their weights.
fn weighted(t: &RawDistTable, unit: Unit) -> Result<Dist, DistError> {
    let table = t.table.as_ref().filter(|t| !t.is_empty()).ok_or_else(|| {
        err(
            "table",
            "a weighted distribution needs a non-empty `table`",
            "add table = { a = 3, b = 1 }",
        )
    })?;
    if let Some((k, w)) = table.iter().find(|(_, w)| !(**w >= 0.0 && w.is_finite())) {
        return Err(err(
            "table",
            format!("weight of `{k}` is {w}: weights must be zero or more"),
            "use non-negative weights",
        ));
    }
    let labels: Vec<String> = table.keys().cloned().collect();
    let values = match unit {
        Unit::Category => (0..labels.len()).map(|i| i as f64).collect(),
        _ => labels
            .iter()
            .map(|l| {
                quantity(&Some(Quantity::Text(l.clone())), "table", unit).or_else(|_| {
                    l.parse::<f64>().map_err(|_| {
                        err(
                            "table",
                            format!("key `{l}` is not a number"),
                            "use numeric keys such as \"5\" = 2",
                        )
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let index = WeightedIndex::new(table.values().copied()).map_err(|e| {
        err(
            "table",
            format!("unusable weights: {e}"),
            "give at least one positive weight",
        )
    })?;
    Ok(Dist::Weighted {
        values,
        labels,
        index,
    })
}

fn quantity(q: &Option<Quantity>, field: &'static str, unit: Unit) -> Result<f64, DistError> {
    let q = q.as_ref().ok_or_else(|| {
        err(
            field,
            format!("`{field}` is required for this distribution"),
            format!("add `{field} = …`"),
        )
    })?;
    match (q, unit) {
        (Quantity::Num(n), Unit::Number | Unit::Category) => Ok(*n),
        (Quantity::Text(t), Unit::Duration) => {
            parse_duration(t).map(|d| d.ms() as f64).map_err(|m| {
                err(
                    field,
                    m.to_string(),
                    "write a duration such as \"45s\", \"10m\" or \"6h\"",
                )
            })
        }
        (Quantity::Num(n), Unit::Duration) => Err(err(
            field,
            format!("`{n}` is a bare number where a duration is expected"),
            format!("write it with a unit, e.g. \"{n}s\" or \"{n}m\""),
        )),
        (Quantity::Text(t), _) => Err(err(
            field,
            format!("`{t}` is text where a number is expected"),
            "write a number",
        )),
    }
}

impl Dist {
    pub(crate) fn from_raw(raw: &RawDist, unit: Unit) -> Result<Dist, DistError> {
        let t = match raw {
            RawDist::Const(q) => {
                if unit == Unit::Category {
                    return Err(err(
                        "dist",
                        "a category needs a weighted table",
                        "write { dist = \"weighted\", table = { a = 1, b = 2 } }",
                    ));
                }
                return Ok(Dist::Constant(quantity(&Some(q.clone()), "value", unit)?));
            }
            RawDist::Table(t) => t,
        };
        let d = match t.dist.as_str() {
            "constant" => Dist::Constant(quantity(&t.value, "value", unit)?),
            "uniform" => {
                let (min, max) = (
                    quantity(&t.min, "min", unit)?,
                    quantity(&t.max, "max", unit)?,
                );
                if min > max {
                    return Err(err(
                        "min",
                        format!("min ({min}) is above max ({max})"),
                        "swap them",
                    ));
                }
                Dist::Uniform { min, max }
            }
            "normal" => {
                let mean = quantity(&t.mean, "mean", unit)?;
                let sd = positive(quantity(&t.sd, "sd", unit)?, "sd")?;
                Dist::Normal {
                    mean,
                    d: Normal::new(mean, sd)
                        .map_err(|e| err("sd", e.to_string(), "use a positive sd"))?,
                }
            }
            "lognormal" => {
                let median = positive(quantity(&t.median, "median", unit)?, "median")?;
                let sigma = t.sigma.ok_or_else(|| {
                    err(
                        "sigma",
                        "`sigma` is required for lognormal",
                        "add `sigma = 0.8` (spread of the log)",
                    )
                })?;
                let sigma = positive(sigma, "sigma")?;
                Dist::LogNormal {
                    median,
                    sigma,
                    d: LogNormal::new(median.ln(), sigma)
                        .map_err(|e| err("sigma", e.to_string(), "use a positive sigma"))?,
                }
            }
            "exponential" => {
                let mean = positive(quantity(&t.mean, "mean", unit)?, "mean")?;
                Dist::Exponential {
                    mean,
                    d: Exp::new(1.0 / mean)
                        .map_err(|e| err("mean", e.to_string(), "use a positive mean"))?,
                }
            }
            "poisson" => {
                let mean = positive(quantity(&t.mean, "mean", unit)?, "mean")?;
                Dist::Poisson {
                    mean,
                    d: Poisson::new(mean)
                        .map_err(|e| err("mean", e.to_string(), "use a positive mean"))?,
                }
            }
            "weighted" => weighted(t, unit)?,
            other => {
                return Err(err(
                    "dist",
                    format!("unknown distribution `{other}`"),
                    "use constant, uniform, normal, lognormal, exponential, poisson or weighted",
                ));
            }
        };
        if unit == Unit::Category && !matches!(d, Dist::Weighted { .. }) {
            return Err(err(
                "dist",
                "a category needs a weighted table",
                "write { dist = \"weighted\", table = { a = 1, b = 2 } }",
            ));
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn parse(s: &str) -> RawDist {
        #[derive(Deserialize)]
        struct W {
            d: RawDist,
        }
        toml::from_str::<W>(&format!("d = {s}")).unwrap().d
    }

    fn sample_mean(d: &Dist, n: usize) -> f64 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / n as f64
    }

    #[test]
    fn each_family_samples_its_declared_mean() {
        let cases = [
            ("{ dist = \"constant\", value = 5 }", 5.0),
            ("{ dist = \"uniform\", min = 2, max = 6 }", 4.0),
            ("{ dist = \"normal\", mean = 50, sd = 5 }", 50.0),
            ("{ dist = \"exponential\", mean = 20 }", 20.0),
            ("{ dist = \"poisson\", mean = 7 }", 7.0),
            (
                "{ dist = \"weighted\", table = { \"10\" = 1, \"20\" = 3 } }",
                17.5,
            ),
            (
                "{ dist = \"lognormal\", median = 100, sigma = 0.5 }",
                100.0 * (0.125f64).exp(),
            ),
        ];
        for (src, mean) in cases {
            let d = Dist::from_raw(&parse(src), Unit::Number).unwrap();
            let m = sample_mean(&d, 200_000);
            assert!(
                (m - mean).abs() / mean < 0.02,
                "{src}: sampled {m}, expected {mean}"
            );
            assert!(
                (d.mean() - mean).abs() / mean < 1e-6,
                "{src}: declared {} vs {mean}",
                d.mean()
            );
        }
    }

    #[test]
    fn durations_need_units_and_categories_need_tables() {
        let d = Dist::from_raw(&parse("\"90s\""), Unit::Duration).unwrap();
        assert_eq!(
            d.sample(&mut Xoshiro256PlusPlus::seed_from_u64(1)),
            90_000.0
        );
        let e = Dist::from_raw(
            &parse("{ dist = \"exponential\", mean = 30 }"),
            Unit::Duration,
        )
        .unwrap_err();
        assert_eq!(e.field, "mean");
        assert!(e.fix.contains("30s"));
        let e = Dist::from_raw(&parse("{ dist = \"gamma\", mean = 3 }"), Unit::Number).unwrap_err();
        assert!(e.message.contains("unknown distribution"));
        let e = Dist::from_raw(
            &parse("{ dist = \"uniform\", min = 3, max = 1 }"),
            Unit::Number,
        )
        .unwrap_err();
        assert_eq!(e.field, "min");
        let c = Dist::from_raw(
            &parse("{ dist = \"weighted\", table = { ios = 1, web = 0 } }"),
            Unit::Category,
        )
        .unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        assert!((0..100).all(|_| c.labels()[c.sample(&mut rng) as usize] == "ios"));
    }
}
