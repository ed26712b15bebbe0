//! The simulated length of a world (`--span 2h`, `span = "36h"`, `--days 3`): one type, so
//! every command reads, checks and prints a length the same way.

use std::fmt;

use super::{DAY, MINUTE, SimDuration, parse_duration};

/// How long the simulated world runs: at least one simulated minute, at most 3,650 days.
/// Worlds of whole days are the ones `--days N` has always made; a shorter world is its
/// own world (its launch users arrive over the span, see `Scenario::launch_window_ms`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(SimDuration);

/// Why a length is refused; [`SpanError::fix`] says what to write instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpanError {
    /// Not a duration at all (the duration parser's words).
    #[error("{0}")]
    NotADuration(String),
    #[error("{0} is shorter than one simulated minute")]
    TooShort(String),
    #[error("{0} is longer than 3650 days")]
    TooLong(String),
}

impl SpanError {
    pub fn fix(&self) -> &'static str {
        match self {
            SpanError::NotADuration(_) => "write a simulated length such as 2h, 36h or 3d",
            SpanError::TooShort(_) => "use at least 1m",
            SpanError::TooLong(_) => "use at most 3650d",
        }
    }
}

impl Span {
    pub const MIN_MS: i64 = MINUTE;
    pub const MAX_MS: i64 = 3650 * DAY;

    /// `2h`, `36h`, `3d`, `1d12h`: the grammar of [`parse_duration`], 1m to 3650d.
    pub fn parse(text: &str) -> Result<Span, SpanError> {
        let d = parse_duration(text).map_err(|m| SpanError::NotADuration(m.to_string()))?;
        Span::from_ms(d.ms())
    }

    /// A length in milliseconds, checked against the bounds.
    pub fn from_ms(ms: i64) -> Result<Span, SpanError> {
        let shown = || SimDuration(ms).to_string();
        if ms < Self::MIN_MS {
            Err(SpanError::TooShort(shown()))
        } else if ms > Self::MAX_MS {
            Err(SpanError::TooLong(shown()))
        } else {
            Ok(Span(SimDuration(ms)))
        }
    }

    /// `--days N`: exactly `N` whole days (N = 1..=3650, checked like any span).
    pub fn from_days(days: u32) -> Result<Span, SpanError> {
        Span::from_ms(days as i64 * DAY)
    }

    pub fn ms(self) -> i64 {
        self.0.ms()
    }

    /// The number of days when the span is a whole number of them (`3d` → 3, `36h` → None).
    pub fn whole_days(self) -> Option<u32> {
        (self.ms() % DAY == 0).then_some((self.ms() / DAY) as u32)
    }

    /// Days started by the span, at least 1 (`36h` → 2): where a whole number is stored,
    /// such as run_meta's `days` column.
    pub fn days_ceil(self) -> u32 {
        ((self.ms() + DAY - 1) / DAY).max(1) as u32
    }
}

/// A world's length as the documents record it (run.json's and run_meta's `config`, the
/// replay summary's world): `days`, the span rounded up (what readers before spans know),
/// and since spans `span` and `span_ms`. Flattened into those types, so one place builds
/// and reads it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpanRecord {
    pub days: u32,
    /// The world's length as written back (`36h`, `7d`); none in records older than it.
    #[serde(default)]
    pub span: Option<String>,
    #[serde(default)]
    pub span_ms: Option<i64>,
}

impl SpanRecord {
    pub fn of(span: Span) -> SpanRecord {
        SpanRecord {
            days: span.days_ceil(),
            span: Some(span.to_string()),
            span_ms: Some(span.ms()),
        }
    }

    /// The recorded length: `span_ms` since spans came, `days` before.
    pub fn span(&self) -> Option<Span> {
        match self.span_ms {
            Some(ms) => Span::from_ms(ms).ok(),
            None => Span::from_days(self.days).ok(),
        }
    }
}

impl fmt::Display for Span {
    /// The shortest text that parses back to the same span: `3d`, `36h`, `90m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::HOUR;

    #[test]
    fn spans_parse_within_bounds_and_print_back() {
        assert_eq!(Span::parse("2h").unwrap().ms(), 2 * HOUR);
        assert_eq!(Span::parse("1d12h").unwrap().to_string(), "36h");
        assert_eq!(Span::parse("3d").unwrap(), Span::from_days(3).unwrap());
        assert_eq!(Span::parse("1m").unwrap().ms(), MINUTE);
        assert_eq!(Span::parse("3650d").unwrap().whole_days(), Some(3650));
        for text in ["2h", "36h", "3d", "90m", "1w", "1d30m", "45s1m"] {
            let s = Span::parse(text).unwrap();
            assert_eq!(Span::parse(&s.to_string()).unwrap(), s, "{text}");
        }
        assert!(matches!(
            Span::parse("30s"),
            Err(SpanError::TooShort(t)) if t == "30s"
        ));
        assert!(matches!(Span::parse("3651d"), Err(SpanError::TooLong(_))));
        assert!(matches!(Span::from_days(0), Err(SpanError::TooShort(_))));
        let e = Span::parse("2x").unwrap_err();
        assert!(e.to_string().contains("unknown unit `x`"), "{e}");
        assert!(e.fix().contains("2h, 36h or 3d"));
        assert!(matches!(Span::parse("2"), Err(SpanError::NotADuration(_))));
    }

    #[test]
    fn whole_and_started_days() {
        let s = |t: &str| Span::parse(t).unwrap();
        assert_eq!(s("36h").whole_days(), None);
        assert_eq!(s("36h").days_ceil(), 2);
        assert_eq!(s("2h").days_ceil(), 1);
        assert_eq!(s("7d").days_ceil(), 7);
        assert_eq!(s("7d").whole_days(), Some(7));
    }
}
