//! The instant a timeline starts (`--start`, the scenario's `start`): a UTC date, or a date
//! and a time of day, so a two-hour world can sit at the evening peak.

use super::{HOUR, MINUTE, SECOND, parse_date};

/// Why a start is refused; the message says what to write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    NotADate(String),
    #[error("{0} has no time zone; times are UTC")]
    NoZone(String),
    #[error("{0} is not a UTC time: write HH:MM or HH:MM:SS after the T, then Z")]
    NotATime(String),
}

impl StartError {
    pub fn fix(&self) -> String {
        match self {
            StartError::NotADate(_) | StartError::NotATime(_) => {
                "use a date such as 2026-01-05, or a UTC time such as 2026-01-05T18:00Z".into()
            }
            StartError::NoZone(text) => format!("write {}Z", text.trim()),
        }
    }
}

/// A parsed start: Unix milliseconds, and the one text for that instant, in its shortest
/// form (`2026-01-05` for midnight, `2026-01-05T18:00Z`, `2026-01-05T18:00:30Z`), which
/// run.json and run_meta record and which compares equal for equal instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub epoch_ms: i64,
    pub text: String,
}

/// `YYYY-MM-DD` (00:00 UTC), `YYYY-MM-DDTHH:MMZ` or `YYYY-MM-DDTHH:MM:SSZ`. Only UTC is
/// taken: an offset or a missing `Z` is refused rather than guessed.
pub fn parse_start(s: &str) -> Result<Start, StartError> {
    let text = s.trim();
    let Some((date, time)) = text.split_once(['T', 't']) else {
        let epoch_ms = parse_date(text).map_err(|m| StartError::NotADate(m.to_string()))?;
        return Ok(Start {
            epoch_ms,
            text: text.to_string(),
        });
    };
    let day_ms = parse_date(date).map_err(|m| StartError::NotADate(m.to_string()))?;
    let Some(clock) = time.strip_suffix(['Z', 'z']) else {
        return Err(if time.contains(['+', '-']) {
            StartError::NotATime(text.to_string())
        } else {
            StartError::NoZone(text.to_string())
        });
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let field = |i: usize, max: i64| -> Option<i64> {
        let p = parts.get(i)?;
        let v: i64 = p.parse().ok()?;
        (p.len() == 2 && (0..=max).contains(&v)).then_some(v)
    };
    let (h, m, sec) = match parts.len() {
        2 => (field(0, 23), field(1, 59), Some(0)),
        3 => (field(0, 23), field(1, 59), field(2, 59)),
        _ => (None, None, None),
    };
    let (Some(h), Some(m), Some(sec)) = (h, m, sec) else {
        return Err(StartError::NotATime(text.to_string()));
    };
    let text = match (h, m, sec) {
        (0, 0, 0) => date.to_string(),
        (h, m, 0) => format!("{date}T{h:02}:{m:02}Z"),
        (h, m, sec) => format!("{date}T{h:02}:{m:02}:{sec:02}Z"),
    };
    Ok(Start {
        epoch_ms: day_ms + h * HOUR + m * MINUTE + sec * SECOND,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_with_time() {
        let day = parse_date("2026-01-05").unwrap();
        let ok = |t: &str| parse_start(t).unwrap();
        assert_eq!(
            ok("2026-01-05"),
            Start {
                epoch_ms: day,
                text: "2026-01-05".into()
            }
        );
        assert_eq!(ok("2026-01-05T18:00Z").epoch_ms, day + 18 * HOUR);
        assert_eq!(ok("2026-01-05T18:00Z").text, "2026-01-05T18:00Z");
        assert_eq!(
            ok("2026-01-05T18:00:30Z").epoch_ms,
            day + 18 * HOUR + 30 * SECOND
        );
        // One text per instant: seconds of 00 are left out, a lower-case z is upper-cased.
        assert_eq!(ok("2026-01-05T18:00:00z").text, "2026-01-05T18:00Z");
        assert_eq!(ok("2026-01-05T00:00:00Z"), ok("2026-01-05"));

        let no_zone = parse_start("2026-01-05T18:00").unwrap_err();
        assert_eq!(
            no_zone.to_string(),
            "2026-01-05T18:00 has no time zone; times are UTC"
        );
        assert_eq!(no_zone.fix(), "write 2026-01-05T18:00Z");
        for bad in [
            "2026-01-05T18:00+02:00",
            "2026-01-05T24:00Z",
            "2026-01-05T8:00Z",
            "2026-01-05TZ",
        ] {
            assert!(
                matches!(parse_start(bad), Err(StartError::NotATime(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_start("2026-02-30T10:00Z"),
            Err(StartError::NotADate(_))
        ));
        assert!(matches!(
            parse_start("tomorrow"),
            Err(StartError::NotADate(_))
        ));
    }
}
