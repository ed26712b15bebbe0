//! What `simulate compare` prints: the two runs, a table of the headline figures with
//! their differences and what the noise says, and the `--fail-if` verdicts.

use simulate_core::compare::{Basis, CompareDoc, FigureDiff, Noise, Side, Unit};
use simulate_core::replicates::Interval;

/// A value as the table shows it: 29.6 %, 12.34 (money in major units), 250.3.
pub fn value_text(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Share => format!("{:.1} %", v * 100.0),
        Unit::Money => format!("{:.2}", v / 100.0),
        Unit::Number if v.abs() >= 1000.0 => format!("{v:.0}"),
        Unit::Number => format!("{v:.1}"),
    }
}

/// A mean with its interval when it has one: `29.6 % [27.1 %, 32.0 %]`.
pub fn interval_text(i: &Interval, unit: Unit) -> String {
    match (i.lo, i.hi) {
        (Some(lo), Some(hi)) => format!(
            "{} [{}, {}]",
            value_text(i.mean, unit),
            value_text(lo, unit),
            value_text(hi, unit)
        ),
        _ => value_text(i.mean, unit),
    }
}

/// A difference: percentage points for shares, signed.
fn difference_text(d: f64, unit: Unit) -> String {
    match unit {
        Unit::Share => format!("{:+.1} pp", d * 100.0),
        Unit::Money => format!("{:+.2}", d / 100.0),
        Unit::Number if d.abs() >= 1000.0 => format!("{d:+.0}"),
        Unit::Number => format!("{d:+.1}"),
    }
}

fn noise_text(f: &FigureDiff) -> &'static str {
    match f.noise {
        Noise::NoDifference => "no difference",
        Noise::WithinNoise => "within noise",
        Noise::ExceedsNoise => "EXCEEDS NOISE",
        Noise::Unknown => "noise unknown",
        Noise::Missing => "n/a",
    }
}

fn side_text(label: &str, s: &Side) -> String {
    let runs = match (s.runs, s.seeds.as_slice()) {
        (1, [seed]) => format!("1 run, seed {seed}"),
        (1, _) => "1 run".into(),
        (n, [first, .., last]) => format!("{n} replicates, seeds {first}..={last}"),
        (n, _) => format!("{n} replicates"),
    };
    format!("{label}: {} ({runs})", s.dir)
}

/// The whole comparison as text.
pub fn table(doc: &CompareDoc) -> String {
    let mut rows = vec![[
        "figure".to_string(),
        "A".into(),
        "B".into(),
        "B − A".into(),
        "relative".into(),
        "noise".into(),
    ]];
    // A persona's figure neither run has (D30 of a 3-day world) would repeat n/a per
    // persona: left out here (the JSON keeps it).
    let shown = doc
        .figures
        .iter()
        .filter(|f| f.persona.is_none() || f.a.is_some() || f.b.is_some());
    for f in shown {
        let v = |i: &Option<Interval>| {
            i.as_ref()
                .map_or("n/a".into(), |i| interval_text(i, f.unit))
        };
        rows.push([
            f.figure.clone(),
            v(&f.a),
            v(&f.b),
            f.difference
                .map_or("n/a".into(), |d| difference_text(d, f.unit)),
            f.relative
                .map_or(String::new(), |r| format!("{:+.1} %", r * 100.0)),
            noise_text(f).into(),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = format!("{}\n{}\n\n", side_text("A", &doc.a), side_text("B", &doc.b));
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                let pad = " ".repeat(w - cell.chars().count());
                // Figure names left, numbers right, the noise verdict left.
                if i == 0 || i == 5 {
                    format!("{cell}{pad}")
                } else {
                    format!("{pad}{cell}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if doc.a.runs < 2 || doc.b.runs < 2 {
        out.push_str(
            "\nnoise unknown: a run without replicates cannot tell a difference from chance \
             (run both with --replicates N to judge it)\n",
        );
    }
    out.push_str(&rules_text(doc));
    out
}

fn rules_text(doc: &CompareDoc) -> String {
    let mut out = String::new();
    if doc.rules.is_empty() {
        return out;
    }
    out.push('\n');
    for r in &doc.rules {
        let how = match r.basis {
            Basis::Interval => format!(
                "judged on the {:.0} % interval of the difference",
                doc.confidence * 100.0
            ),
            Basis::PointEstimate => "judged on the values alone: noise unknown".into(),
            Basis::NotJudged => format!("not judged: {} is n/a in a run", r.figure),
        };
        let verdict = if r.fired { "FAILED" } else { "ok" };
        out.push_str(&format!("{verdict:<6}  {}  ({how})\n", r.rule));
    }
    out
}
