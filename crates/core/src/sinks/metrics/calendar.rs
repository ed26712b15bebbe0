//! The UTC calendar days a world touches: metrics count days as analysts do (2026-01-05,
//! 2026-01-06, …), so a world that starts at 18:00, or lasts 36 h, has partial days, and
//! each day says how much of it the run covered.

use crate::units::{DAY, format_rfc3339};

/// Day 0 is the UTC date of t = 0; day d is the d-th date after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Calendar {
    /// Unix ms of t = 0.
    start_ms: i64,
    /// The world's length in ms.
    span_ms: i64,
}

impl Calendar {
    pub fn new(start_ms: i64, span_ms: i64) -> Calendar {
        Calendar { start_ms, span_ms }
    }

    /// Unix ms of the midnight that opens day 0.
    fn first_midnight(&self) -> i64 {
        self.start_ms.div_euclid(DAY) * DAY
    }

    /// The calendar day an offset `t` (ms from t = 0) falls on.
    pub fn day_of(&self, t: i64) -> usize {
        ((self.start_ms + t.max(0)).div_euclid(DAY) - self.start_ms.div_euclid(DAY)) as usize
    }

    /// Calendar days the whole span touches (at least 1).
    pub fn days_planned(&self) -> usize {
        self.day_of(self.span_ms - 1) + 1
    }

    /// Calendar days the run touched, having simulated up to `reached` ms.
    pub fn days_touched(&self, reached: i64) -> usize {
        match reached.min(self.span_ms) {
            r if r <= 0 => 0,
            r => self.day_of(r - 1) + 1,
        }
    }

    /// Milliseconds of day `day` that lie in [t = 0, min(span, reached)): a full day is
    /// 86,400,000; the first day of an 18:00 start has 6 h, the last day of a 36 h world 12 h.
    pub fn covered_ms(&self, day: usize, reached: i64) -> i64 {
        let from = self.first_midnight() + day as i64 * DAY;
        let lo = from.max(self.start_ms);
        let hi = (from + DAY).min(self.start_ms + reached.min(self.span_ms));
        (hi - lo).max(0)
    }

    /// Whether the run covered all of day `day`: day-N retention and average DAU count
    /// only such days, so a partial day never reads as users lost.
    pub fn complete(&self, day: usize, reached: i64) -> bool {
        self.covered_ms(day, reached) == DAY
    }

    /// `YYYY-MM-DD` of day `day`.
    pub fn date(&self, day: usize) -> String {
        format_rfc3339(self.first_midnight() + day as i64 * DAY)[..10].to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{HOUR, parse_date};

    #[test]
    fn midnight_start_is_the_old_day_arithmetic() {
        let c = Calendar::new(parse_date("2026-01-05").unwrap(), 3 * DAY);
        for t in [0, 1, DAY - 1, DAY, 2 * DAY + 5, 3 * DAY - 1] {
            assert_eq!(c.day_of(t), (t / DAY) as usize);
        }
        assert_eq!(c.days_planned(), 3);
        assert!((0..3).all(|d| c.complete(d, 3 * DAY)));
        // Interrupted halfway through day 1: day 1 is partial, day 2 untouched.
        assert_eq!(c.days_touched(DAY + 12 * HOUR), 2);
        assert_eq!(c.covered_ms(1, DAY + 12 * HOUR), 12 * HOUR);
        assert_eq!(c.covered_ms(2, DAY + 12 * HOUR), 0);
        assert_eq!(c.days_touched(0), 0);
        assert_eq!(c.date(2), "2026-01-07");
    }

    #[test]
    fn evening_start_has_partial_first_and_last_days() {
        let start = parse_date("2026-01-05").unwrap() + 18 * HOUR;
        let c = Calendar::new(start, 36 * HOUR);
        // 18:00 Monday to 06:00 Wednesday: Monday 6 h, Tuesday whole, Wednesday 6 h.
        assert_eq!(c.days_planned(), 3);
        assert_eq!(c.day_of(0), 0);
        assert_eq!(c.day_of(6 * HOUR - 1), 0);
        assert_eq!(c.day_of(6 * HOUR), 1);
        assert_eq!(c.day_of(30 * HOUR), 2);
        let full = 36 * HOUR;
        assert_eq!(
            (0..3).map(|d| c.covered_ms(d, full)).collect::<Vec<_>>(),
            [6 * HOUR, DAY, 6 * HOUR]
        );
        assert_eq!((0..3).filter(|&d| c.complete(d, full)).count(), 1);
        assert_eq!(
            (c.date(0).as_str(), c.date(2).as_str()),
            ("2026-01-05", "2026-01-07")
        );
        // A 2 h world at 23:00 touches two dates.
        let late = Calendar::new(parse_date("2026-01-05").unwrap() + 23 * HOUR, 2 * HOUR);
        assert_eq!(late.days_planned(), 2);
        assert_eq!(
            [late.covered_ms(0, 2 * HOUR), late.covered_ms(1, 2 * HOUR)],
            [HOUR, HOUR]
        );
    }
}
