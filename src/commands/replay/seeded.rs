//! `replay --seeded`: what the seeded database holds against what the replay sends. A
//! window over seeded time sends events the target has applied (overlap); one starting
//! after the seed's end skips the time between (the gap), whose sign-ups the target never
//! sees. Each warning carries a fix that works as written.

use std::path::Path;

use simulate_core::units::{DAY, SimDuration, Span};
use simulate_replay::source::{Gap, Window};

use crate::cli::ReplayArgs;
use crate::world::world_clashes;

/// What the seeded database says about this replay.
pub(crate) struct Seeded {
    /// Said before any traffic.
    pub(super) warnings: Vec<String>,
    /// The time neither seeded nor sent, when the window starts after the seed's end.
    pub(super) gap: Option<Gap>,
    /// The fixes of the gap's warning, repeated with the count of users it left unknown.
    gap_fix: String,
}

impl Seeded {
    /// After the replay: how many users the target met without having seen them sign up.
    pub(super) fn gap_users_warning(&self, users: Option<u64>) -> Option<String> {
        let gap = self.gap?;
        let n = users.filter(|n| *n > 0)?;
        Some(format!(
            "{n} users sent events without the target having seen them sign up: they signed up in {}..{}, which was neither seeded nor sent (fix: {})",
            SimDuration(gap.from_ms),
            SimDuration(gap.to_ms),
            self.gap_fix
        ))
    }
}

/// Reads the seed's run_meta and compares its world and length with this replay's.
pub(super) fn notes(db: &str, args: &ReplayArgs, window: Window) -> anyhow::Result<Seeded> {
    let is_url = db.starts_with("postgres://") || db.starts_with("postgresql://");
    let ((config, _, _), place) = super::super::on_seeded(
        is_url.then_some(db),
        (&args.seeded_schema, super::super::Reader::Replay),
        Path::new(db),
        |d, rt| rt.block_on(d.run_meta()).map_err(super::super::refused),
    )?;
    let mut warnings = Vec::new();
    if args.from_log.is_none() {
        // The replayed world is usually longer than the seeded one: its length may differ.
        let mut given = args.world.clone();
        given.days = None;
        given.span = None;
        let (_, clashes) = world_clashes(&config, &given);
        if !clashes.is_empty() {
            warnings.push(format!(
                "{place} holds another world: {}; the target's state will not match these events (fix: the same --users --seed --start --personas --scenario as the seed)",
                clashes.join("; ")
            ));
        }
    }
    let mut seeded = Seeded {
        warnings,
        gap: None,
        gap_fix: String::new(),
    };
    if let Some(span) = config.length.span() {
        let open = window_is_open(args.window.as_deref());
        match against(span, window, open, &place) {
            Against::Overlap(w) => seeded.warnings.push(w),
            Against::Gap { warning, gap, fix } => {
                seeded.warnings.push(warning);
                seeded.gap = Some(gap);
                seeded.gap_fix = fix;
            }
            Against::Continues => {}
        }
    }
    Ok(seeded)
}

/// Whether `--window` leaves its end open (`30d..`, or no window at all).
fn window_is_open(text: Option<&str>) -> bool {
    text.is_none_or(|w| {
        w.split_once("..")
            .is_none_or(|(_, to)| to.trim().is_empty())
    })
}

/// The window against the seeded length.
#[derive(Debug, PartialEq)]
enum Against {
    /// The window starts where the seed ends.
    Continues,
    /// The window starts inside the seeded time.
    Overlap(String),
    /// The window starts after the seed's end.
    Gap {
        warning: String,
        gap: Gap,
        fix: String,
    },
}

/// Compares a window with a seed of `seeded` length; `open` when the window's end was
/// left open (its end is then the world's). Every fix parses and runs as written: a
/// `seed --span` only for a day or more, for a shorter world is its own (its launch
/// users arrive over its span), not the first hours of this one.
fn against(seeded: Span, window: Window, open: bool, place: &str) -> Against {
    let (from, end) = (window.from_ms, seeded.ms());
    if from == end {
        return Against::Continues;
    }
    let day = from as f64 / DAY as f64;
    // The same replay, started where the seed ends: to the same end, or (a window wholly
    // inside the seed) as long as it was.
    let to = if open {
        String::new()
    } else if window.to_ms > end {
        SimDuration(window.to_ms).to_string()
    } else {
        SimDuration(end + (window.to_ms - from)).to_string()
    };
    let continues = format!("--window {}..{to}", SimDuration(end));
    let reseed = reseed_span(from).map(|s| {
        format!("seed again with `simulate seed --span {s}` and the same world flags, so the database ends where the window starts")
    });
    let fix = |what: &str| match &reseed {
        Some(r) => format!("{continues} {what}, or {r}"),
        None => format!("{continues} {what}"),
    };
    if from < end {
        return Against::Overlap(format!(
            "the window starts at day {day:.2} ({}), but {place} already holds 0..{seeded}: the target has applied the events of {}..{} and will see them again (fix: {})",
            SimDuration(from),
            SimDuration(from),
            SimDuration(window.to_ms.min(end)),
            fix("continues the seeded world")
        ));
    }
    let fix = fix("sends them too");
    Against::Gap {
        warning: format!(
            "the window starts at day {day:.2} ({}), but {place} holds the world only up to {seeded}: the events of {seeded}..{} are neither seeded nor sent, so users who sign up then are unknown to the target, and what they did then (points, gifts, goals) is missing (fix: {fix})",
            SimDuration(from),
            SimDuration(from),
        ),
        gap: Gap {
            from_ms: end,
            to_ms: from,
        },
        fix,
    }
}

/// The length a seed holding `0..from_ms` of this world is written with: a day or more
/// (a world of a day or more is a prefix of a longer one, docs/TIMELINE.md).
fn reseed_span(from_ms: i64) -> Option<Span> {
    (from_ms >= DAY)
        .then(|| Span::from_ms(from_ms).ok())
        .flatten()
}

/// The note printed when an engine replay starts after t = 0, without `--seeded`: the
/// skipped time, and how to seed a target that should hold it (only when that works).
pub(super) fn skipped_note(from_ms: i64) -> String {
    let days = from_ms as f64 / DAY as f64;
    match reseed_span(from_ms) {
        Some(s) => format!(
            "note: the engine first simulates the {days:.2} days before the window without sending them (`simulate seed --span {s}` with the same world flags seeds a database that holds them; pass it as --seeded to check)"
        ),
        None => format!(
            "note: the engine first simulates the {days:.2} days before the window without sending them"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simulate_core::units::{HOUR, parse_duration};

    fn window(from: &str, to: &str) -> Window {
        let ms = |t: &str| parse_duration(t).unwrap().ms();
        Window {
            from_ms: ms(from),
            to_ms: ms(to),
        }
    }

    /// The flags a fix names, parsed as the command line would: each must be valid.
    fn check_flags(text: &str) {
        if let Some(w) = text.split("--window ").nth(1) {
            let w = w.split_whitespace().next().unwrap();
            super::super::parse_window(w, 10 * DAY).unwrap();
        }
        if let Some(s) = text.split("seed --span ").nth(1) {
            Span::parse(s.split('`').next().unwrap()).unwrap();
        }
    }

    #[test]
    fn a_window_after_the_seed_warns_of_the_gap_with_fixes_that_parse() {
        let seeded = Span::from_days(2).unwrap();
        let Against::Gap { warning, gap, fix } = against(seeded, window("3d", "3d6h"), false, "db")
        else {
            panic!("a gap");
        };
        assert_eq!((gap.from_ms, gap.to_ms), (2 * DAY, 3 * DAY));
        assert!(
            warning.contains("the events of 2d..3d are neither seeded nor sent"),
            "{warning}"
        );
        assert!(
            fix.contains("--window 2d..78h") && fix.contains("seed --span 3d"),
            "{fix}"
        );
        check_flags(&fix);
        // Half a day after a one-day seed: the re-seed is `--span 36h`, never `--days 0`.
        let seeded = Span::from_days(1).unwrap();
        let Against::Gap { fix, .. } = against(seeded, window("36h", "40h"), true, "db") else {
            panic!("a gap");
        };
        assert!(
            fix.contains("--window 1d.. ") && fix.contains("--span 36h"),
            "{fix}"
        );
        check_flags(&fix);
    }

    #[test]
    fn a_window_over_seeded_time_warns_of_the_overlap_with_fixes_that_parse() {
        let seeded = Span::from_days(2).unwrap();
        // Wholly inside the seed: the fix moves the window after it, as long as it was.
        let Against::Overlap(w) = against(seeded, window("1d", "1d6h"), false, "db") else {
            panic!("an overlap");
        };
        assert!(
            w.contains("--window 2d..54h") && w.contains("seed --span 1d"),
            "{w}"
        );
        check_flags(&w);
        // Hours into the world: no `seed --span 6h` (a world of its own), the window only.
        let Against::Overlap(w) = against(seeded, window("6h", "3d"), false, "db") else {
            panic!("an overlap");
        };
        assert!(
            w.contains("--window 2d..3d ") && !w.contains("seed --span"),
            "{w}"
        );
        assert_eq!(
            against(seeded, window("2d", "3d"), false, "db"),
            Against::Continues
        );
        assert!(skipped_note(36 * HOUR).contains("seed --span 36h"));
        assert!(!skipped_note(12 * HOUR).contains("seed"));
    }
}
