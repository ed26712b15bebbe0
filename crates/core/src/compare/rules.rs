//! `--fail-if` rules: `<figure> decreased|increased [by more than X%]`, several
//! comma-separated, parsed before any file is read and judged on a comparison.

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Problem, Problems};

/// The grammar, as every parse error shows it.
pub const GRAMMAR: &str = "write rules as `<figure> decreased|increased [by more than X%]`, \
     comma-separated, with figure names as `simulate compare` prints them: \
     --fail-if 'D7 decreased, revenue decreased by more than 5%, hunter D1 decreased'";

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Decreased,
    Increased,
}

/// One parsed rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// As written.
    pub text: String,
    /// The figure's name as written (matched without regard to case).
    pub figure: String,
    pub direction: Direction,
    /// A change of at most this share of A's value does not count (`by more than 5%`
    /// is 0.05); 0 when the rule names no size.
    pub by_more_than: f64,
}

/// Every rule of `--fail-if` values (each may hold several, comma-separated); every bad
/// one reported at once.
pub fn parse(values: &[String]) -> Result<Vec<Rule>, Problems> {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for text in values.iter().flat_map(|v| v.split(',')) {
        match parse_one(text.trim()) {
            Ok(r) => rules.push(r),
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(Problems(problems))
    }
}

fn parse_one(text: &str) -> Result<Rule, Problem> {
    let bad = |why: String| Problem::new(format!("--fail-if `{text}`: {why}"), GRAMMAR);
    if text.is_empty() {
        return Err(bad("an empty rule".into()));
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(at) = words
        .iter()
        .rposition(|w| matches!(w.to_ascii_lowercase().as_str(), "decreased" | "increased"))
    else {
        return Err(bad("it says neither `decreased` nor `increased`".into()));
    };
    if at == 0 {
        return Err(bad("it names no figure before the direction".into()));
    }
    let direction = if words[at].eq_ignore_ascii_case("decreased") {
        Direction::Decreased
    } else {
        Direction::Increased
    };
    let by_more_than = match &words[at + 1..] {
        [] => 0.0,
        [by, more, than, size @ ..]
            if by.eq_ignore_ascii_case("by")
                && more.eq_ignore_ascii_case("more")
                && than.eq_ignore_ascii_case("than") =>
        {
            percent(&size.concat()).ok_or_else(|| {
                bad(format!(
                    "`{}` is not a percentage like 5% or 0.5%",
                    size.join(" ")
                ))
            })?
        }
        rest => {
            return Err(bad(format!(
                "`{}` after `{}` is not `by more than X%`",
                rest.join(" "),
                words[at]
            )));
        }
    };
    Ok(Rule {
        text: text.into(),
        figure: words[..at].join(" "),
        direction,
        by_more_than,
    })
}

/// `5%` as 0.05; a percentage must say `%`, be finite and not negative.
fn percent(s: &str) -> Option<f64> {
    let v: f64 = s.strip_suffix('%')?.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_in_every_form() {
        let rules = parse(&[
            "D7 decreased, revenue increased by more than 5%".into(),
            "hunter D1 DECREASED by more than 0.5 %".into(),
        ])
        .unwrap();
        let got: Vec<_> = rules
            .iter()
            .map(|r| (r.figure.as_str(), r.direction, r.by_more_than))
            .collect();
        assert_eq!(
            got,
            [
                ("D7", Direction::Decreased, 0.0),
                ("revenue", Direction::Increased, 0.05),
                ("hunter D1", Direction::Decreased, 0.005),
            ]
        );
    }

    #[test]
    fn every_bad_rule_is_named_with_the_grammar() {
        let e = parse(&[
            "D7 fell, decreased, D1 decreased by 5%, ,D1 increased by more than -2%".into(),
        ])
        .unwrap_err();
        let text = e.to_string();
        for part in [
            "`D7 fell`: it says neither",
            "`decreased`: it names no figure",
            "`by 5%` after `decreased` is not `by more than X%`",
            "an empty rule",
            "`-2%` is not a percentage",
            "<figure> decreased|increased [by more than X%]",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
        assert_eq!(e.0.len(), 5);
    }
}
