//! The `series` section of metrics.json: the span cut into equal buckets of simulated time
//! (`--resolution`), each with what happened in it, folded in the same pass as the rest
//! with one fixed-size accumulator per bucket (no allocation per event).

use std::collections::BTreeMap;

use super::document::{Series, SeriesBucket};
use crate::timeline::EVENT_KINDS;
use crate::units::{DAY, HOUR, MINUTE, SECOND, SimDuration, format_rfc3339, parse_duration};

/// Event kinds, as a length arrays can take.
const KINDS: usize = EVENT_KINDS.len();

/// The most buckets a span may be cut into: 100,000 rows keep metrics.json under about
/// 50 MB and a report's chart readable after downsampling.
pub const MAX_BUCKETS: i64 = 100_000;

/// The width of one bucket of the series: at least one simulated second, and at most
/// [`MAX_BUCKETS`] buckets in the span. Buckets start at t = 0, not at a calendar boundary.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Resolution(SimDuration);

/// Why a `--resolution` is refused; [`ResolutionError::fix`] says what to write instead.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResolutionError {
    /// Not a duration at all (the duration parser's words).
    #[error("--resolution {text}: {reason}")]
    NotADuration { text: String, reason: String },
    #[error("--resolution {0} is zero: a bucket must have a width")]
    Zero(String),
    #[error("--resolution {0} is finer than one simulated second")]
    TooFine(String),
    #[error(
        "--resolution {text} cuts the {span} span into {buckets} buckets, more than {MAX_BUCKETS}"
    )]
    TooMany {
        text: String,
        span: String,
        buckets: i64,
        /// The finest resolution the span allows, as written on the command line.
        finest: String,
    },
}

impl ResolutionError {
    pub fn fix(&self) -> String {
        match self {
            ResolutionError::NotADuration { .. } | ResolutionError::Zero(_) => {
                "write a bucket width such as 10m, 1h or 1d".into()
            }
            ResolutionError::TooFine(_) => "use 1s or more".into(),
            ResolutionError::TooMany { finest, .. } => {
                format!("use --resolution {finest} or coarser, or a shorter --span")
            }
        }
    }
}

impl Resolution {
    /// The resolution when none is given: 10 minutes up to a 6 h span (seed 004's 2 h
    /// world gets 12 points), an hour up to 3 days, a day beyond.
    pub fn default_for(span_ms: i64) -> Resolution {
        Resolution(SimDuration(match span_ms {
            s if s <= 6 * HOUR => 10 * MINUTE,
            s if s <= 3 * DAY => HOUR,
            _ => DAY,
        }))
    }

    /// `--resolution TEXT` for a span of `span_ms`: 1 s or more, at most [`MAX_BUCKETS`]
    /// buckets.
    pub fn parse(text: &str, span_ms: i64) -> Result<Resolution, ResolutionError> {
        let d = parse_duration(text).map_err(|e| ResolutionError::NotADuration {
            text: text.to_string(),
            reason: e.to_string(),
        })?;
        let ms = d.ms();
        if ms == 0 {
            return Err(ResolutionError::Zero(text.to_string()));
        }
        if ms < SECOND {
            return Err(ResolutionError::TooFine(text.to_string()));
        }
        let buckets = buckets_in(span_ms, ms);
        if buckets > MAX_BUCKETS {
            return Err(ResolutionError::TooMany {
                text: text.to_string(),
                span: SimDuration(span_ms).to_string(),
                buckets,
                finest: finest(span_ms).to_string(),
            });
        }
        Ok(Resolution(d))
    }

    pub fn ms(self) -> i64 {
        self.0.ms()
    }
}

/// Buckets of `res_ms` that cover `span_ms`: ceil(span / resolution).
fn buckets_in(span_ms: i64, res_ms: i64) -> i64 {
    (span_ms + res_ms - 1) / res_ms
}

/// The finest resolution a span allows, rounded up to a whole second, minute or hour so
/// the fix reads as something a user would type.
fn finest(span_ms: i64) -> SimDuration {
    let raw = (span_ms + MAX_BUCKETS - 1) / MAX_BUCKETS;
    let unit = match raw {
        r if r > HOUR => HOUR,
        r if r > MINUTE => MINUTE,
        _ => SECOND,
    };
    SimDuration((raw + unit - 1) / unit * unit)
}

/// What one bucket has counted so far.
#[derive(Clone, Debug, Default)]
struct Acc {
    active_users: u64,
    open_peak: u64,
    open_end: u64,
    sessions_started: u64,
    new_users: u64,
    events: u64,
    kinds: [u64; KINDS],
    /// Custom kinds' counts (`world.toml`), by index after the built-ins; empty in a
    /// world without them, so a long series of the default world costs nothing more.
    custom: Vec<u64>,
    conversions: u64,
    revenue: u64,
    points_earned: u64,
    points_redeemed: u64,
}

/// The series as it is folded. Buckets are appended as simulated time reaches them (the
/// timeline comes in time order), so an interrupted run holds only what it reached.
pub(crate) struct SeriesFold {
    res: Resolution,
    /// Buckets in the whole span.
    planned: usize,
    buckets: Vec<Acc>,
    /// The custom kinds' names, in `KindTable` order after the built-ins.
    custom_names: Vec<String>,
}

/// What an event adds to its bucket besides its kind; the caller knows which applies.
#[derive(Copy, Clone, Debug)]
pub(crate) enum Add {
    NewUser,
    SessionStarted,
    Conversion,
    Revenue(u64),
    PointsEarned(u64),
    PointsRedeemed(u64),
    ActiveUser,
}

impl SeriesFold {
    pub(crate) fn new(res: Resolution, span_ms: i64) -> SeriesFold {
        SeriesFold {
            res,
            planned: buckets_in(span_ms, res.ms()).max(1) as usize,
            buckets: Vec::new(),
            custom_names: Vec::new(),
        }
    }

    /// Names the world's custom kinds (after the built-in ones).
    pub(crate) fn custom_kinds(&mut self, names: Vec<String>) {
        self.custom_names = names;
    }

    /// The bucket of an event at `t_ms`, created (with the buckets before it) when time
    /// first reaches it; `open` is the number of sessions open when it is entered.
    pub(crate) fn enter(&mut self, t_ms: i64, open: u64) -> usize {
        let b = ((t_ms.max(0) / self.res.ms()) as usize).min(self.planned - 1);
        while self.buckets.len() <= b {
            self.buckets.push(Acc {
                open_peak: open,
                open_end: open,
                ..Acc::default()
            });
        }
        b
    }

    /// Counts an event of kind `kind` in bucket `b`, with `open` sessions open after it.
    pub(crate) fn event(&mut self, b: usize, kind: usize, open: u64) {
        let a = &mut self.buckets[b];
        a.events += 1;
        match a.kinds.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                let c = kind - KINDS;
                if a.custom.len() <= c {
                    a.custom.resize(c + 1, 0);
                }
                a.custom[c] += 1;
            }
        }
        a.open_peak = a.open_peak.max(open);
        a.open_end = open;
    }

    pub(crate) fn add(&mut self, b: usize, what: Add) {
        let a = &mut self.buckets[b];
        match what {
            Add::NewUser => a.new_users += 1,
            Add::SessionStarted => a.sessions_started += 1,
            Add::Conversion => a.conversions += 1,
            Add::Revenue(v) => a.revenue += v,
            Add::PointsEarned(v) => a.points_earned += v,
            Add::PointsRedeemed(v) => a.points_redeemed += v,
            Add::ActiveUser => a.active_users += 1,
        }
    }

    /// The section for a run that simulated up to `reached` ms of a span of `span_ms`
    /// starting at unix ms `start_ms`, with `open` sessions open at the end. Buckets the
    /// run reached without an event in them are written with zero counts.
    pub(crate) fn document(&self, start_ms: i64, span_ms: i64, reached: i64, open: u64) -> Series {
        let res = self.res.ms();
        let reached = reached.clamp(0, span_ms);
        let n = buckets_in(reached, res) as usize;
        let quiet = Acc {
            open_peak: open,
            open_end: open,
            ..Acc::default()
        };
        let buckets = (0..n)
            .map(|b| {
                let a = self.buckets.get(b).unwrap_or(&quiet);
                let t_ms = b as i64 * res;
                SeriesBucket {
                    t_ms,
                    start: format_rfc3339(start_ms + t_ms),
                    covered_ms: (t_ms + res).min(reached) - t_ms,
                    active_users: a.active_users,
                    sessions_open_peak: a.open_peak,
                    sessions_open_end: a.open_end,
                    sessions_started: a.sessions_started,
                    new_users: a.new_users,
                    events: a.events,
                    events_by_kind: kinds_seen(&a.kinds, &a.custom, &self.custom_names),
                    conversions: a.conversions,
                    revenue: a.revenue,
                    points_earned: a.points_earned,
                    points_redeemed: a.points_redeemed,
                }
            })
            .collect();
        Series {
            resolution: self.res.0.to_string(),
            resolution_ms: res,
            buckets,
        }
    }
}

/// Counts by kind name, kinds with no event left out (a 100,000-bucket series stays small).
fn kinds_seen(kinds: &[u64; KINDS], custom: &[u64], names: &[String]) -> BTreeMap<String, u64> {
    EVENT_KINDS
        .iter()
        .copied()
        .zip(kinds)
        .chain(names.iter().map(String::as_str).zip(custom))
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (k.to_string(), *n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions_are_checked_against_the_span() {
        let two_h = 2 * HOUR;
        assert_eq!(Resolution::parse("10m", two_h).unwrap().ms(), 10 * MINUTE);
        assert_eq!(Resolution::parse("1s", two_h).unwrap().ms(), SECOND);
        let err = |t: &str, span| Resolution::parse(t, span).unwrap_err();
        assert_eq!(err("0m", two_h), ResolutionError::Zero("0m".into()));
        assert!(matches!(
            err("7x", two_h),
            ResolutionError::NotADuration { .. }
        ));
        assert!(err("7x", two_h).to_string().contains("unknown unit `x`"));
        assert_eq!(
            err("500ms", two_h),
            ResolutionError::TooFine("500ms".into())
        );
        let many = err("1s", 3 * DAY);
        assert_eq!(
            many.to_string(),
            "--resolution 1s cuts the 3d span into 259200 buckets, more than 100000"
        );
        assert_eq!(
            many.fix(),
            "use --resolution 3s or coarser, or a shorter --span"
        );
        // The fix's value is itself accepted.
        assert!(Resolution::parse("3s", 3 * DAY).is_ok());
        assert_eq!(finest(3650 * DAY).to_string(), "53m");
        assert!(Resolution::parse("53m", 3650 * DAY).is_ok());
    }

    #[test]
    fn defaults_grow_with_the_span() {
        let d = |span| Resolution::default_for(span).0.to_string();
        assert_eq!(
            [d(2 * HOUR), d(36 * HOUR), d(3 * DAY), d(30 * DAY)],
            ["10m", "1h", "1h", "1d"]
        );
    }

    #[test]
    fn buckets_cover_the_span_and_carry_open_sessions() {
        let res = Resolution::parse("1h", 150 * MINUTE).unwrap();
        let mut s = SeriesFold::new(res, 150 * MINUTE);
        let b = s.enter(10 * MINUTE, 0);
        s.event(b, 1, 1);
        s.add(b, Add::SessionStarted);
        // Nothing happens in the second hour; the session is still open in it.
        let b = s.enter(2 * HOUR + 5 * MINUTE, 1);
        assert_eq!(b, 2);
        s.event(b, 2, 0);
        let doc = s.document(0, 150 * MINUTE, 150 * MINUTE, 0);
        let covered: Vec<i64> = doc.buckets.iter().map(|b| b.covered_ms).collect();
        assert_eq!(covered, [HOUR, HOUR, 30 * MINUTE]);
        let open: Vec<(u64, u64)> = doc
            .buckets
            .iter()
            .map(|b| (b.sessions_open_peak, b.sessions_open_end))
            .collect();
        assert_eq!(open, [(1, 1), (1, 1), (1, 0)]);
        assert_eq!(doc.buckets[0].events_by_kind["session.started"], 1);
        assert!(doc.buckets[1].events_by_kind.is_empty());
        // An interrupted run writes the buckets it reached.
        assert_eq!(s.document(0, 150 * MINUTE, 61 * MINUTE, 0).buckets.len(), 2);
    }
}
