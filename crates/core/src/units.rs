//! Units of simulated time: integer milliseconds, so arithmetic is exact and portable.

use std::fmt;

pub mod span;
pub mod start;
pub use span::{Span, SpanRecord};
pub use start::{Start, parse_start};

pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR;

/// A span of simulated time in milliseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub i64);

impl SimDuration {
    pub fn ms(self) -> i64 {
        self.0
    }
    pub fn from_secs_f64(s: f64) -> SimDuration {
        SimDuration((s * 1000.0).round() as i64)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, name) in [(DAY, "d"), (HOUR, "h"), (MINUTE, "m"), (SECOND, "s")] {
            if ms != 0 && ms % unit == 0 {
                return write!(f, "{}{}", ms / unit, name);
            }
        }
        write!(f, "{ms}ms")
    }
}

/// An instant of the timeline as its day and wall-clock time from t = 0: `1d 18:46:18`
/// (day 0 is the first day). Sub-second parts are dropped.
pub fn timeline_clock(ms: i64) -> String {
    let (day, rest) = (ms.div_euclid(DAY), ms.rem_euclid(DAY) / SECOND);
    format!(
        "{day}d {:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Why a duration or a date does not parse; the message says how to write one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    #[error("empty duration: write e.g. `30s`, `5m`, `2h` or `7d`")]
    Empty,
    #[error("`{0}` has no unit: write e.g. `30s`, `5m`, `2h` or `7d`")]
    NoUnit(String),
    #[error("`{0}` is not a duration: a number must come before each unit")]
    NotANumber(String),
    #[error("unknown unit `{unit}` in `{text}`: use ms, s, m, h, d or w")]
    UnknownUnit { unit: String, text: String },
    #[error("`{0}` must be a non-negative duration")]
    Negative(String),
    #[error("`{0}` is not a date: write YYYY-MM-DD, e.g. 2026-01-05")]
    NotADate(String),
}

/// Parses `500ms`, `30s`, `5m`, `2.5h`, `7d`, or a sum such as `1d8h30m`. A bare number
/// is rejected: units are where wrong configs hide.
pub fn parse_duration(s: &str) -> Result<SimDuration, UnitError> {
    let text = s.trim();
    if text.is_empty() {
        return Err(UnitError::Empty);
    }
    let mut rest = text;
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .ok_or_else(|| UnitError::NoUnit(text.to_string()))?;
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let value: f64 = num
            .parse()
            .map_err(|_| UnitError::NotANumber(text.to_string()))?;
        let scale = match unit.trim() {
            "ms" => 1.0,
            "s" => SECOND as f64,
            "m" | "min" => MINUTE as f64,
            "h" => HOUR as f64,
            "d" => DAY as f64,
            "w" => 7.0 * DAY as f64,
            other => {
                return Err(UnitError::UnknownUnit {
                    unit: other.to_string(),
                    text: text.to_string(),
                });
            }
        };
        if !value.is_finite() || value < 0.0 {
            return Err(UnitError::Negative(text.to_string()));
        }
        total += value * scale;
        rest = tail;
    }
    Ok(SimDuration(total.round() as i64))
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
/// Written by hand because the timeline formats millions of timestamps a second and
/// only ever needs UTC: a calendar crate would add weight for no gain.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses `YYYY-MM-DD` into Unix milliseconds at 00:00 UTC.
pub fn parse_date(s: &str) -> Result<i64, UnitError> {
    let bad = || UnitError::NotADate(s.to_string());
    let mut it = s.trim().split('-');
    let (y, m, d) = (it.next(), it.next(), it.next());
    if it.next().is_some() {
        return Err(bad());
    }
    let y: i64 = y.and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let m: u32 = m.and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let d: u32 = d.and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || civil_from_days(days_from_civil(y, m, d)) != (y, m, d)
    {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * DAY)
}

/// Day of week for Unix milliseconds: 0 = Monday … 6 = Sunday.
pub(crate) fn weekday(epoch_ms: i64) -> usize {
    // 1970-01-01 was a Thursday (index 3).
    ((epoch_ms.div_euclid(DAY) + 3).rem_euclid(7)) as usize
}

/// Remembers the last day's `YYYY-MM-DDT` so most timestamps skip the calendar maths.
#[derive(Clone, Debug)]
pub struct DateCache {
    day: i64,
    prefix: [u8; 11],
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache {
            day: i64::MIN,
            prefix: [0; 11],
        }
    }
}

impl DateCache {
    /// Same output as [`write_rfc3339`].
    #[inline]
    pub fn write(&mut self, out: &mut Vec<u8>, epoch_ms: i64) {
        let day = epoch_ms.div_euclid(DAY);
        if day != self.day {
            let mut v = Vec::with_capacity(24);
            write_rfc3339(&mut v, day * DAY);
            self.prefix.copy_from_slice(&v[..11]);
            self.day = day;
        }
        let rem = epoch_ms.rem_euclid(DAY);
        let (h, mi, s, ms) = (rem / HOUR, rem / MINUTE % 60, rem / SECOND % 60, rem % 1000);
        let two = |v: i64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        let mut buf = [0u8; 24];
        buf[..11].copy_from_slice(&self.prefix);
        buf[11..13].copy_from_slice(&two(h));
        buf[13] = b':';
        buf[14..16].copy_from_slice(&two(mi));
        buf[16] = b':';
        buf[17..19].copy_from_slice(&two(s));
        buf[19] = b'.';
        buf[20] = b'0' + (ms / 100) as u8;
        buf[21..23].copy_from_slice(&two(ms % 100));
        buf[23] = b'Z';
        out.extend_from_slice(&buf);
    }
}

/// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` for Unix milliseconds.
pub(crate) fn write_rfc3339(out: &mut Vec<u8>, epoch_ms: i64) {
    let days = epoch_ms.div_euclid(DAY);
    let rem = epoch_ms.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s, ms) = (rem / HOUR, rem / MINUTE % 60, rem / SECOND % 60, rem % 1000);
    let mut buf = *b"0000-00-00T00:00:00.000Z";
    let put = |b: &mut [u8; 24], at: usize, v: i64, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut buf, 0, y, 4);
    put(&mut buf, 5, m as i64, 2);
    put(&mut buf, 8, d as i64, 2);
    put(&mut buf, 11, h, 2);
    put(&mut buf, 14, mi, 2);
    put(&mut buf, 17, s, 2);
    put(&mut buf, 20, ms, 3);
    out.extend_from_slice(&buf);
}

pub fn format_rfc3339(epoch_ms: i64) -> String {
    let mut v = Vec::with_capacity(24);
    write_rfc3339(&mut v, epoch_ms);
    String::from_utf8(v).unwrap_or_default()
}

/// A size for people: `840 B`, `12.5 kB`, `3.42 MB`, `1.20 GB` (decimal units, as disks
/// are sold and `df -H` prints), three significant digits.
pub fn bytes_text(n: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n.max(0.0);
    let mut u = 0;
    while v >= 999.5 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    match u {
        0 => format!("{v:.0} B"),
        _ if v >= 99.95 => format!("{v:.0} {}", units[u]),
        _ if v >= 9.995 => format!("{v:.1} {}", units[u]),
        _ => format!("{v:.2} {}", units[u]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_only() {
        assert_eq!(parse_duration("500ms").unwrap(), SimDuration(500));
        assert_eq!(parse_duration("1.5h").unwrap(), SimDuration(90 * MINUTE));
        assert_eq!(parse_duration("7d").unwrap(), SimDuration(7 * DAY));
        assert!(
            parse_duration("30")
                .unwrap_err()
                .to_string()
                .contains("no unit")
        );
        assert!(
            parse_duration("3y")
                .unwrap_err()
                .to_string()
                .contains("unknown unit")
        );
        assert_eq!(SimDuration(2 * HOUR).to_string(), "2h");
        assert_eq!(
            parse_duration("1d8h30m").unwrap(),
            SimDuration(DAY + 8 * HOUR + 30 * MINUTE)
        );
    }

    #[test]
    fn calendar_round_trips_and_formats() {
        for z in [-1000, 0, 10_957, 20_000, 60_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        let t = parse_date("2026-01-05").unwrap() + 13 * HOUR + 7 * MINUTE + 9 * SECOND + 42;
        assert_eq!(format_rfc3339(t), "2026-01-05T13:07:09.042Z");
        assert_eq!(weekday(parse_date("2026-01-05").unwrap()), 0, "a Monday");
        assert!(parse_date("2026-02-30").is_err());
        let mut cache = DateCache::default();
        for ms in [t, t + 1, t + DAY - 1, t + 3 * DAY + 999, -5] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            cache.write(&mut a, ms);
            write_rfc3339(&mut b, ms);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn sizes_read_in_useful_units() {
        assert_eq!(bytes_text(0.0), "0 B");
        assert_eq!(bytes_text(840.0), "840 B");
        assert_eq!(bytes_text(12_480.0), "12.5 kB");
        assert_eq!(bytes_text(3_420_000.0), "3.42 MB");
        assert_eq!(bytes_text(1.2e9), "1.20 GB");
        assert_eq!(bytes_text(999_999.0), "1.00 MB");
        assert_eq!(bytes_text(250e9), "250 GB");
    }
}
