//! `simulate compare`: two runs' headline figures side by side, each difference judged
//! against the runs' noise when both have replicates (Welch's t interval of the
//! difference of means), and `--fail-if` rules judged on the result. The runs come in as
//! folded trees ([`Node`]): summary.json's as written, a single run's metrics.json
//! folded alone (n = 1: noise unknown), so both kinds read the same way.

pub mod rules;

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Problem, Problems};
use crate::replicates::tdist::two_sided_quantile;
use crate::replicates::{CONFIDENCE, Interval, Node};
pub use rules::{Direction, Rule};

/// The `schema` value of this version of the document.
pub const COMPARE_SCHEMA: &str = "simulate.compare.v1";

/// How a figure reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A share, 0..1 (retention, conversion): printed as a percentage.
    Share,
    /// Money in minor units (cents): printed in major units.
    Money,
    /// A count or a plain number.
    Number,
}

/// The headline figures of the whole world: (name as printed, path in metrics.json).
const OVERALL: &[(&str, &[&str], Unit)] = &[
    ("DAU", &["engagement", "avg_dau"], Unit::Number),
    ("D1", &["retention", "overall", "d1"], Unit::Share),
    ("D7", &["retention", "overall", "d7"], Unit::Share),
    ("D30", &["retention", "overall", "d30"], Unit::Share),
    ("conversion", &["revenue", "conversion"], Unit::Share),
    ("ARPU", &["revenue", "arpu"], Unit::Money),
    ("revenue", &["revenue", "total_minor_units"], Unit::Money),
    (
        "events/user-day",
        &["events", "per_active_user_day"],
        Unit::Number,
    ),
];

/// The same per persona, under `personas.<name>`: a path neither run has is skipped, so
/// figures a newer metrics.json adds appear once both runs have them.
const PER_PERSONA: &[(&str, &[&str], Unit)] = &[
    ("users", &["users"], Unit::Number),
    ("D1", &["retention", "d1"], Unit::Share),
    ("D7", &["retention", "d7"], Unit::Share),
    ("D30", &["retention", "d30"], Unit::Share),
    // Payers / users: the persona's conversion to payer.
    ("conversion", &["payer_share"], Unit::Share),
    ("ARPU", &["arpu"], Unit::Money),
    ("revenue", &["revenue"], Unit::Money),
];

/// One run folder as compare read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// The folder as given.
    pub dir: String,
    /// Runs behind each figure: 1 for a single run (noise unknown).
    pub runs: u64,
    pub seeds: Vec<u64>,
}

/// What the difference of one figure says about noise.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// The two values are equal.
    NoDifference,
    /// The difference's interval contains 0.
    WithinNoise,
    /// The difference's interval excludes 0.
    ExceedsNoise,
    /// A side has a single run: the difference may be all noise.
    Unknown,
    /// A side has no value (D30 in a 3-day world).
    Missing,
}

/// One figure of both runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FigureDiff {
    /// As printed and as `--fail-if` names it: `D7`, `hunter D1`.
    pub figure: String,
    pub persona: Option<String>,
    pub unit: Unit,
    pub a: Option<Interval>,
    pub b: Option<Interval>,
    /// B − A of the means.
    pub difference: Option<f64>,
    /// (B − A) / |A|; null when A is 0.
    pub relative: Option<f64>,
    /// The 95 % Welch interval of the difference, when both sides have replicates.
    pub difference_lo: Option<f64>,
    pub difference_hi: Option<f64>,
    pub noise: Noise,
}

/// How a rule was judged.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// On the difference's interval: the whole interval is past the rule's size.
    Interval,
    /// Noise unknown (a side without replicates): on the difference of the values.
    PointEstimate,
    /// The figure is missing on a side: the rule cannot fire.
    NotJudged,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleVerdict {
    pub rule: String,
    pub figure: String,
    pub fired: bool,
    pub basis: Basis,
}

/// `simulate compare --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareDoc {
    pub schema: String,
    pub confidence: f64,
    pub a: Side,
    pub b: Side,
    pub figures: Vec<FigureDiff>,
    pub rules: Vec<RuleVerdict>,
    /// Whether any rule fired.
    pub failed: bool,
}

/// Compares `b` against `a` and judges `rules`; a rule naming no figure either run has
/// is bad input, with the names there are.
pub fn compare(
    (a, a_tree): (Side, &Node),
    (b, b_tree): (Side, &Node),
    rules: &[Rule],
) -> Result<CompareDoc, Problems> {
    let figures = figures(a_tree, b_tree);
    let mut verdicts = Vec::new();
    let mut problems = Vec::new();
    for rule in rules {
        match figures
            .iter()
            .find(|f| f.figure.eq_ignore_ascii_case(&rule.figure))
        {
            Some(f) => verdicts.push(judge(rule, f)),
            None => problems.push(unknown_figure(rule, &figures)),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    Ok(CompareDoc {
        schema: COMPARE_SCHEMA.into(),
        confidence: CONFIDENCE,
        a,
        b,
        failed: verdicts.iter().any(|v| v.fired),
        figures,
        rules: verdicts,
    })
}

fn unknown_figure(rule: &Rule, figures: &[FigureDiff]) -> Problem {
    let names: Vec<&str> = figures.iter().map(|f| f.figure.as_str()).collect();
    Problem::new(
        format!(
            "--fail-if `{}`: neither run has a figure `{}`",
            rule.text, rule.figure
        ),
        format!("name one of: {}", names.join(", ")),
    )
}

/// The headline figures, overall then per persona (personas of either run, sorted).
fn figures(a: &Node, b: &Node) -> Vec<FigureDiff> {
    let mut out: Vec<FigureDiff> = OVERALL
        .iter()
        .map(|(name, path, unit)| diff(name.to_string(), None, *unit, a, b, path))
        .collect();
    let mut personas = a.keys(&["personas"]);
    personas.extend(b.keys(&["personas"]));
    personas.sort();
    personas.dedup();
    for p in &personas {
        for (name, rel, unit) in PER_PERSONA {
            let path: Vec<&str> = ["personas", p.as_str()]
                .into_iter()
                .chain(rel.iter().copied())
                .collect();
            let present = |t: &Node| t.at(&path).is_some();
            if present(a) || present(b) {
                out.push(diff(
                    format!("{p} {name}"),
                    Some(p.clone()),
                    *unit,
                    a,
                    b,
                    &path,
                ));
            }
        }
    }
    out
}

/// One figure's difference and what the noise says of it.
fn diff(
    figure: String,
    persona: Option<String>,
    unit: Unit,
    a: &Node,
    b: &Node,
    path: &[&str],
) -> FigureDiff {
    let (ia, ib) = (a.interval(path).cloned(), b.interval(path).cloned());
    let mut out = FigureDiff {
        figure,
        persona,
        unit,
        a: ia.clone(),
        b: ib.clone(),
        difference: None,
        relative: None,
        difference_lo: None,
        difference_hi: None,
        noise: Noise::Missing,
    };
    let (Some(ia), Some(ib)) = (ia, ib) else {
        return out;
    };
    let d = ib.mean - ia.mean;
    out.difference = Some(d);
    out.relative = (ia.mean != 0.0).then(|| d / ia.mean.abs());
    let welch = welch(&ia, &ib);
    if let Some((lo, hi)) = welch {
        out.difference_lo = Some(lo);
        out.difference_hi = Some(hi);
    }
    out.noise = match welch {
        _ if d == 0.0 => Noise::NoDifference,
        None => Noise::Unknown,
        Some((lo, hi)) if lo > 0.0 || hi < 0.0 => Noise::ExceedsNoise,
        Some(_) => Noise::WithinNoise,
    };
    out
}

/// The 95 % interval of B − A by Welch's t: `d ± t(ν) · √(sa²/na + sb²/nb)` with the
/// Welch–Satterthwaite ν. `None` when a side has fewer than two replicates.
pub fn welch(a: &Interval, b: &Interval) -> Option<(f64, f64)> {
    let (sa, sb) = (a.sd?, b.sd?);
    if a.n < 2 || b.n < 2 {
        return None;
    }
    let d = b.mean - a.mean;
    let va = sa * sa / a.n as f64;
    let vb = sb * sb / b.n as f64;
    if va + vb == 0.0 {
        // No spread on either side: the difference is exact.
        return Some((d, d));
    }
    let df = (va + vb).powi(2) / (va * va / (a.n - 1) as f64 + vb * vb / (b.n - 1) as f64);
    let half = two_sided_quantile(df, CONFIDENCE)? * (va + vb).sqrt();
    Some((d - half, d + half))
}

/// A rule fires when the change is in its direction and larger than its size (a share
/// of |A|): with noise known, the whole interval of the difference must be past it;
/// with noise unknown, the difference of the values is judged (the basis says so).
fn judge(rule: &Rule, f: &FigureDiff) -> RuleVerdict {
    let verdict = |fired, basis| RuleVerdict {
        rule: rule.text.clone(),
        figure: f.figure.clone(),
        fired,
        basis,
    };
    let (Some(a), Some(d)) = (&f.a, f.difference) else {
        return verdict(false, Basis::NotJudged);
    };
    let size = rule.by_more_than * a.mean.abs();
    let (basis, lo, hi) = match (f.difference_lo, f.difference_hi) {
        (Some(lo), Some(hi)) => (Basis::Interval, lo, hi),
        _ => (Basis::PointEstimate, d, d),
    };
    let fired = match rule.direction {
        Direction::Decreased => hi < -size,
        Direction::Increased => lo > size,
    };
    verdict(fired, basis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replicates::Folder;
    use serde_json::{Value, json};

    fn side(runs: u64) -> Side {
        Side {
            dir: "x".into(),
            runs,
            seeds: Vec::new(),
        }
    }

    fn doc(d1: f64, revenue: u64) -> Value {
        json!({
            "retention": {"overall": {"d1": d1, "d7": 0.1, "d30": null}},
            "revenue": {"total_minor_units": revenue, "conversion": 0.02, "arpu": 1.5},
            "personas": {"hunter": {"users": 10, "retention": {"d1": d1}, "revenue": revenue}},
        })
    }

    fn tree(docs: &[Value]) -> Node {
        Folder::new(CONFIDENCE).fold(docs)
    }

    fn rules(text: &str) -> Vec<Rule> {
        rules::parse(&[text.to_string()]).unwrap()
    }

    #[test]
    fn a_run_against_itself_has_no_difference_and_fires_nothing() {
        let t = tree(&[doc(0.3, 100)]);
        let c = compare(
            (side(1), &t),
            (side(1), &t),
            &rules("D1 decreased, D1 increased"),
        )
        .unwrap();
        assert!(!c.failed);
        let d1 = c.figures.iter().find(|f| f.figure == "D1").unwrap();
        assert_eq!((d1.difference, d1.noise), (Some(0.0), Noise::NoDifference));
        let d30 = c.figures.iter().find(|f| f.figure == "D30").unwrap();
        assert_eq!(d30.noise, Noise::Missing);
        // Per-persona figures follow the overall ones, absent paths skipped.
        let names: Vec<&str> = c.figures.iter().map(|f| f.figure.as_str()).collect();
        assert!(
            names.ends_with(&["hunter users", "hunter D1", "hunter revenue"]),
            "{names:?}"
        );
    }

    #[test]
    fn single_runs_are_judged_on_their_values_with_noise_unknown() {
        let (a, b) = (tree(&[doc(0.3, 100)]), tree(&[doc(0.25, 104)]));
        let c = compare(
            (side(1), &a),
            (side(1), &b),
            &rules("D1 decreased, revenue increased by more than 5%, hunter d1 DECREASED"),
        )
        .unwrap();
        let fired: Vec<(bool, Basis)> = c.rules.iter().map(|r| (r.fired, r.basis)).collect();
        assert_eq!(
            fired,
            [
                (true, Basis::PointEstimate),
                (false, Basis::PointEstimate),
                (true, Basis::PointEstimate)
            ]
        );
        assert!(c.failed);
        let d1 = c.figures.iter().find(|f| f.figure == "D1").unwrap();
        assert_eq!(d1.noise, Noise::Unknown);
        assert!((d1.relative.unwrap() + 1.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn replicates_tell_noise_from_a_difference() {
        let a = tree(&[doc(0.30, 100), doc(0.32, 90), doc(0.28, 110)]);
        // D1 far below A's spread; revenue inside it.
        let b = tree(&[doc(0.20, 95), doc(0.21, 112), doc(0.19, 101)]);
        let c = compare(
            (side(3), &a),
            (side(3), &b),
            &rules("D1 decreased, revenue decreased"),
        )
        .unwrap();
        let noise = |name: &str| c.figures.iter().find(|f| f.figure == name).unwrap().noise;
        assert_eq!(noise("D1"), Noise::ExceedsNoise);
        assert_eq!(noise("revenue"), Noise::WithinNoise);
        assert_eq!(noise("D7"), Noise::NoDifference);
        let fired: Vec<bool> = c.rules.iter().map(|r| r.fired).collect();
        assert_eq!(fired, [true, false]);
        assert!(c.rules.iter().all(|r| r.basis == Basis::Interval));
    }

    #[test]
    fn welch_matches_a_worked_example() {
        // a = {1, 2, 3}, b = {14, 16, 18}: va = 1/3, vb = 4/3, ν = (5/3)² / (1/18 + 16/18) = 2.941…
        let mut f = Folder::new(CONFIDENCE);
        let (a, b) = (
            f.interval(&[1.0, 2.0, 3.0]),
            f.interval(&[14.0, 16.0, 18.0]),
        );
        let (lo, hi) = welch(&a, &b).unwrap();
        let df = (5.0f64 / 3.0).powi(2) / (17.0 / 18.0);
        let half = two_sided_quantile(df, 0.95).unwrap() * (5.0f64 / 3.0).sqrt();
        assert!((lo - (14.0 - half)).abs() < 1e-9 && (hi - (14.0 + half)).abs() < 1e-9);
        assert!(
            (4.1..4.2).contains(&half),
            "t(2.94) ≈ 3.22 times se ≈ 1.29: {half}"
        );
        assert!(lo > 0.0, "{lo}");
        assert_eq!(welch(&Interval::single(1.0), &b), None);
    }

    #[test]
    fn a_rule_on_a_figure_no_run_has_lists_the_names() {
        let t = tree(&[doc(0.3, 100)]);
        let e = compare((side(1), &t), (side(1), &t), &rules("D2 decreased")).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("neither run has a figure `D2`"), "{text}");
        assert!(
            text.contains("name one of: DAU, D1, D7, D30, conversion"),
            "{text}"
        );
    }
}
