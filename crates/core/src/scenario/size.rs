//! How many users a phase involves: a number (`users = 500`) or a share of the world's
//! users (`users = "5%"`). Shares keep a scenario plausible at any `--users`: a login rush
//! of 1,000 users is a tenth of a 10,000-user world but every user of a 300-user one,
//! which made its day-1 retention 70 % where a large world's is about 32 %.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A size as written.
#[derive(Clone, Debug, PartialEq)]
pub enum RawSize {
    Count(u32),
    /// The text of a share, `"5%"`, checked when resolved (so its problem has a line).
    Share(String),
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawSize, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a number of users like 500, or a share of the users like "5%""#)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawSize, E> {
                u32::try_from(n)
                    .map(RawSize::Count)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawSize, E> {
                u32::try_from(n)
                    .map(RawSize::Count)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawSize, E> {
                Ok(RawSize::Share(s.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A size resolved against the world's users.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Size {
    pub(crate) users: u32,
    /// Given as a number (not a share): warned about when it exceeds the world.
    pub(crate) absolute: bool,
}

/// Why a share does not resolve: the message and its fix.
pub(crate) type SizeError = (String, &'static str);

impl RawSize {
    /// The number of users of a world of `population`; a share rounds to the nearest
    /// user, at least one.
    pub(crate) fn resolve(&self, population: u32) -> Result<Size, SizeError> {
        let text = match self {
            RawSize::Count(n) => {
                return Ok(Size {
                    users: *n,
                    absolute: true,
                });
            }
            RawSize::Share(t) => t.trim(),
        };
        let fix = r#"write a share of the users like "5%" (more than 0, at most 100), or a number of users like 500"#;
        let Some(number) = text.strip_suffix('%') else {
            return Err((format!("`{text}` is not a share of the users"), fix));
        };
        match number.trim().parse::<f64>() {
            Ok(p) if p > 0.0 && p <= 100.0 => Ok(Size {
                users: (population as f64 * p / 100.0).round().max(1.0) as u32,
                absolute: false,
            }),
            _ => Err((format!("`{text}` is not a share of the users"), fix)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_resolve_against_the_population_and_counts_stay() {
        let share = |t: &str| RawSize::Share(t.into());
        assert_eq!(share("10%").resolve(10_000).unwrap().users, 1000);
        assert_eq!(share("0.5%").resolve(10_000).unwrap().users, 50);
        assert_eq!(share(" 5 %").resolve(300).unwrap().users, 15);
        // Never zero: a phase with a share has someone in it.
        assert_eq!(share("0.1%").resolve(300).unwrap().users, 1);
        let n = RawSize::Count(1000).resolve(300).unwrap();
        assert_eq!((n.users, n.absolute), (1000, true));
        for bad in ["5", "0%", "101%", "-3%", "x%", ""] {
            assert!(share(bad).resolve(300).is_err(), "{bad}");
        }
    }
}
