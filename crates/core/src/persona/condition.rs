//! Guards on transitions: `balance >= 500`, `platform == "ios"`.

use std::fmt;

/// A quantity of the user a guard can read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    Balance,
    Habit,
    Sessions,
    Streak,
    LoginCount,
    EnemyKills,
    GamesPlayed,
    UnclaimedGoals,
    KnownGifts,
    DaysSinceSignup,
    Purchases,
    Hour,
    /// An attribute of the persona, by index in its sorted attribute list.
    Attribute(u8),
    /// A custom counter (`counters.dashboards`), by index in `Declared::counters`.
    Custom(u16),
}

pub(crate) const COUNTERS: &[(&str, Counter)] = &[
    ("balance", Counter::Balance),
    ("habit", Counter::Habit),
    ("sessions", Counter::Sessions),
    ("streak", Counter::Streak),
    ("login_count", Counter::LoginCount),
    ("enemy_kills", Counter::EnemyKills),
    ("games_played", Counter::GamesPlayed),
    ("unclaimed_goals", Counter::UnclaimedGoals),
    ("known_gifts", Counter::KnownGifts),
    ("days_since_signup", Counter::DaysSinceSignup),
    ("purchases", Counter::Purchases),
    ("hour", Counter::Hour),
];

/// Resolves an attribute name to its index and, for a category, its labels.
pub(crate) type AttributeLookup<'a> = &'a dyn Fn(&str) -> Option<(u8, Vec<String>)>;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub(crate) lhs: Counter,
    pub(crate) op: Op,
    /// For a categorical attribute, the index of the label.
    pub(crate) rhs: f64,
    pub(crate) text: String,
}

impl Condition {
    pub(crate) fn holds(&self, v: f64) -> bool {
        match self.op {
            Op::Lt => v < self.rhs,
            Op::Le => v <= self.rhs,
            Op::Gt => v > self.rhs,
            Op::Ge => v >= self.rhs,
            Op::Eq => (v - self.rhs).abs() < 1e-9,
            Op::Ne => (v - self.rhs).abs() >= 1e-9,
        }
    }

    /// Parses `lhs op rhs`; `attribute` resolves attribute names to (index, labels),
    /// `counters` are the world's custom counters (`counters.<name>`).
    pub(crate) fn parse(
        text: &str,
        attribute: AttributeLookup,
        counters: &[String],
    ) -> Result<Condition, (String, String)> {
        let ops = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let (pos, sym, op) = ops
            .iter()
            .filter_map(|(s, o)| text.find(s).map(|p| (p, *s, *o)))
            .min_by_key(|(p, s, _)| (*p, usize::MAX - s.len()))
            .ok_or_else(|| {
                (
                    format!("`{text}` has no comparison"),
                    "write e.g. \"balance >= 500\" or \"platform == \\\"ios\\\"\"".to_string(),
                )
            })?;
        let name = text[..pos].trim();
        let value = text[pos + sym.len()..].trim();
        let known = || {
            let mut names: Vec<&str> = COUNTERS.iter().map(|(n, _)| *n).collect();
            names.push("<attribute name>");
            names.push("counters.<name>");
            names.join(", ")
        };
        let custom = name.strip_prefix("counters.").map(|c| {
            counters.iter().position(|k| k == c).ok_or_else(|| {
                (
                    format!("`{c}` is not a counter any custom action bumps"),
                    if counters.is_empty() {
                        "declare it: counters = { NAME = 1 } under an [actions.NAME] of world.toml"
                            .to_string()
                    } else {
                        format!(
                            "use one of: {}",
                            counters
                                .iter()
                                .map(|k| format!("counters.{k}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                )
            })
        });
        let builtin = COUNTERS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
        if let Some(c) = match custom {
            Some(i) => Some(Counter::Custom(i? as u16)),
            None => builtin,
        } {
            let rhs: f64 = value.parse().map_err(|_| {
                (
                    format!("`{value}` is not a number"),
                    format!("compare `{name}` with a number"),
                )
            })?;
            return Ok(Condition {
                lhs: c,
                op,
                rhs,
                text: text.to_string(),
            });
        }
        let (idx, labels) = attribute(name).ok_or_else(|| {
            (
                format!("`{name}` is neither a counter nor an attribute"),
                format!("use one of: {}", known()),
            )
        })?;
        let rhs = if labels.is_empty() {
            value.parse().map_err(|_| {
                (
                    format!("`{value}` is not a number"),
                    format!("compare `{name}` with a number"),
                )
            })?
        } else {
            let label = value.trim_matches('"').trim_matches('\'');
            if !matches!(op, Op::Eq | Op::Ne) {
                return Err((
                    format!("`{name}` is a category: only == and != apply"),
                    "use == or !=".into(),
                ));
            }
            labels.iter().position(|l| l == label).ok_or_else(|| {
                (
                    format!("`{label}` is not a value of attribute `{name}`"),
                    format!("use one of: {}", labels.join(", ")),
                )
            })? as f64
        };
        Ok(Condition {
            lhs: Counter::Attribute(idx),
            op,
            rhs,
            text: text.to_string(),
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(name: &str) -> Option<(u8, Vec<String>)> {
        (name == "platform").then(|| (1, vec!["android".into(), "ios".into()]))
    }

    #[test]
    fn parses_counters_and_attributes() {
        let c = Condition::parse("balance >= 500", &attrs, &[]).unwrap();
        assert_eq!((c.lhs, c.op, c.rhs), (Counter::Balance, Op::Ge, 500.0));
        assert!(c.holds(500.0) && !c.holds(499.0));
        let c = Condition::parse("platform == \"ios\"", &attrs, &[]).unwrap();
        assert_eq!((c.lhs, c.rhs), (Counter::Attribute(1), 1.0));
        assert!(
            Condition::parse("platform == \"symbian\"", &attrs, &[])
                .unwrap_err()
                .1
                .contains("android, ios")
        );
        assert!(
            Condition::parse("mana > 3", &attrs, &[])
                .unwrap_err()
                .0
                .contains("neither")
        );
        assert!(Condition::parse("balance 3", &attrs, &[]).is_err());
        assert_eq!(
            Condition::parse("streak<3", &attrs, &[]).unwrap().op,
            Op::Lt
        );
        let counters = ["dashboards".to_string()];
        let c = Condition::parse("counters.dashboards >= 3", &attrs, &counters).unwrap();
        assert_eq!((c.lhs, c.rhs), (Counter::Custom(0), 3.0));
        let e = Condition::parse("counters.dashbords >= 3", &attrs, &counters).unwrap_err();
        assert!(
            e.0.contains("dashbords") && e.1.contains("counters.dashboards"),
            "{e:?}"
        );
    }
}
