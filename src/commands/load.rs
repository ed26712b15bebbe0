//! `replay`'s pacing flags (--compress, --rate, --stages, --profile, --max-duration)
//! checked into one mode before any traffic, and `--users auto`: the smallest world whose
//! window holds the events the stages need.

use std::time::Duration;

use simulate_core::diagnostic::Problem;
use simulate_core::engine::{Engine, World};
use simulate_core::units::load::{Profile, RATE_HELP, STAGES_HELP, Stages, parse_rate, split_pace};
use simulate_core::units::parse_duration;
use simulate_core::world::kinds::KindNames;
use simulate_replay::mapping::{Mapping, RequestClass};
use simulate_replay::pace::{Counted, Curve, Target};
use simulate_replay::source::{Window, count_events};

use super::replay::{parse_compress, parse_window, replay_world};
use crate::cli::{ReplayArgs, Users};

/// `--users auto` keeps the average compression of the stages at or under this many
/// simulated ms per wall ms (a day in about a minute and a half), so the replayed world
/// stays a day-shaped world rather than a blur of weeks.
pub(crate) const AUTO_MAX_FACTOR: f64 = 1000.0;

/// How simulated time becomes wall time.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    /// `--compress` (or its default, 1x).
    Compress(f64),
    /// `--rate`, `--stages` or `--profile`.
    Target(Target),
}

/// The pacing of a run, checked.
#[derive(Clone, Debug)]
pub(crate) struct Pacing {
    pub(crate) mode: Mode,
    /// The flag as given, for the summary: `--rate 1000/s`.
    pub(crate) text: String,
    pub(crate) max_wall: Option<Duration>,
}

impl Pacing {
    /// The factor of a `--compress` run; `None` when a target sets it second by second.
    pub(crate) fn factor(&self) -> Option<f64> {
        match self.mode {
            Mode::Compress(f) => Some(f),
            Mode::Target(_) => None,
        }
    }

    pub(crate) fn target(&self) -> Option<&Target> {
        match &self.mode {
            Mode::Target(t) => Some(t),
            Mode::Compress(_) => None,
        }
    }

    /// The requests the plan sends, when it knows: stages of mapped requests.
    pub(crate) fn planned(&self) -> Option<u64> {
        let t = self.target()?;
        let s = self.stages()?;
        (t.counted == Counted::Mapped).then(|| (s.cumulative(s.total_ms()) + 1e-9).floor() as u64)
    }

    pub(crate) fn stages(&self) -> Option<&Stages> {
        match self.target().map(|t| &t.curve) {
            Some(Curve::Stages(s)) => Some(s),
            _ => None,
        }
    }
}

/// The pacing flags, one mode at most; `profile` looks a `--profile` name up. A `KIND=`
/// pace may name any of the world's event kinds (built-in and its own, in the mapping's
/// kind table), a `class:CLASS=` pace a class the mapping gives some request.
pub(crate) fn pacing(
    args: &ReplayArgs,
    mapping: &Mapping,
    profile: &dyn Fn(&str) -> anyhow::Result<Profile>,
) -> anyhow::Result<Pacing> {
    let given: Vec<&str> = [
        ("--compress", args.compress.is_some()),
        ("--rate", args.rate.is_some()),
        ("--stages", args.stages.is_some()),
        ("--profile", args.profile.is_some()),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(f, _)| *f)
    .collect();
    if given.len() > 1 {
        return Err(Problem::new(
            format!("{} are two pacing modes: one per run", given.join(" and ")),
            format!("keep one: --compress 24h:30m, --rate 1000/s, --stages '2m:0..500/s, 5m:500/s' or --profile stress ({STAGES_HELP})"),
        )
        .into());
    }
    let max_wall = match &args.max_duration {
        Some(d) => Some(
            parse_duration(d)
                .ok()
                .filter(|d| d.ms() > 0)
                .map(|d| Duration::from_millis(d.ms() as u64))
                .ok_or_else(|| {
                    Problem::new(
                        format!("--max-duration `{d}` is not a duration above zero"),
                        "write it like 10m or 90s",
                    )
                })?,
        ),
        None => None,
    };
    let (mode, text) = if let Some(r) = &args.rate {
        let bad = |m: String| Problem::new(format!("--rate `{r}`: {m}"), RATE_HELP);
        let spec = parse_rate(r).map_err(bad)?;
        // Nothing would ever be due, and the run waits for the window's end forever
        // (stages may pass through 0/s: they end with their last stage).
        if spec.rate.per_s() <= 0.0 {
            return Err(bad(
                "a rate of 0 sends nothing, and the run would never reach the window's end".into(),
            )
            .into());
        }
        let counted = counted(spec.kind.as_deref(), mapping).map_err(bad)?;
        let curve = Curve::Rate(spec.rate);
        (
            Mode::Target(Target { curve, counted }),
            format!("--rate {r}"),
        )
    } else if let Some(s) = &args.stages {
        let bad = |m: String| Problem::new(format!("--stages `{s}`: {m}"), STAGES_HELP);
        let (kind, rest) = split_pace(s);
        let counted = counted(kind, mapping).map_err(bad)?;
        let curve = Curve::Stages(Stages::parse(rest).map_err(bad)?);
        (
            Mode::Target(Target { curve, counted }),
            format!("--stages {s}"),
        )
    } else if let Some(name) = &args.profile {
        let p = profile(name)?;
        let counted = counted(p.pace.as_deref(), mapping).map_err(|m| {
            Problem::new(
                format!("--profile {name}: its stages' lead: {m}"),
                format!("fix [profiles.{name}] stages in the scenario file (docs/SCENARIOS.md, load profiles)"),
            )
        })?;
        let target = Target {
            curve: Curve::Stages(p.stages),
            counted,
        };
        (Mode::Target(target), format!("--profile {name}"))
    } else {
        let c = args.compress.as_deref().unwrap_or("1x");
        (
            Mode::Compress(parse_compress(c)?),
            format!("--compress {c}"),
        )
    };
    Ok(Pacing {
        mode,
        text,
        max_wall,
    })
}

/// Which events count: every mapped one, the kind named (one of the world's: its own
/// kinds from world.toml pace as the built-in ones do), or those whose mapped request is
/// of the class named (`class:api`), which the mapping must give some request.
pub(crate) fn counted(pace: Option<&str>, mapping: &Mapping) -> Result<Counted, String> {
    let Some(pace) = pace else {
        return Ok(Counted::Mapped);
    };
    if let Some(name) = pace.strip_prefix("class:") {
        let names = || {
            RequestClass::ALL
                .map(|c| format!("class:{}", c.name()))
                .join(", ")
        };
        let class = RequestClass::ALL
            .into_iter()
            .find(|c| c.name() == name.trim())
            .ok_or_else(|| format!("`{pace}` is not a request class; use {}", names()))?;
        if mapping.kinds_of(class).is_empty() {
            return Err(no_request_of(class, mapping));
        }
        return Ok(Counted::Class(class));
    }
    let kinds = mapping.kinds();
    kinds.index(pace).map(Counted::Kind).ok_or_else(|| {
        format!(
            "`{pace}` is not an event kind of this world; known kinds: {}",
            kinds.all().join(", ")
        )
    })
}

/// Why `class:NAME` cannot set the pace when no request has that class, and what can:
/// the classes the mapping's requests do have, or how to give one.
fn no_request_of(class: RequestClass, mapping: &Mapping) -> String {
    let name = class.name();
    let present: Vec<String> = RequestClass::ALL
        .into_iter()
        .filter(|c| !mapping.kinds_of(*c).is_empty())
        .map(|c| format!("class:{}", c.name()))
        .collect();
    let instead = if present.is_empty() {
        format!(
            "no request of this mapping has a class: add class = \"{name}\" to the [[request]] tables whose requests should set the pace, or pace by an event kind"
        )
    } else {
        format!(
            "pace by {} (what its requests have), or add class = \"{name}\" to the [[request]] tables whose requests should set it",
            present.join(" or ")
        )
    };
    format!(
        "no [[request]] of the mapping has class = \"{name}\", so nothing would set the pace; {instead}"
    )
}

/// The events the stages need and what counts as one, shown in messages.
pub(crate) fn what(counted: &Counted, kinds: &KindNames) -> String {
    match counted {
        Counted::Mapped => "mapped requests".into(),
        Counted::Kind(k) => format!("{} events", kinds.name(*k).unwrap_or("unknown")),
        Counted::Class(c) => format!("requests of class {}", c.name()),
    }
}

/// `n` rounded up to two significant figures (12,345 → 13,000).
fn round_up(n: f64) -> u32 {
    let n = n.max(1.0).ceil();
    let step = 10f64.powi((n.log10().floor() as i32 - 1).max(0));
    ((n / step).ceil() * step).min(u32::MAX as f64) as u32
}

/// The args with `--users` set so the world holds the events the stages need: `auto`
/// picks the smallest round number; a given number that is too small is refused before
/// any traffic, naming the users it would take. Without stages, `auto` is refused.
pub(crate) fn sized(
    args: &ReplayArgs,
    pacing: &Pacing,
    mapping: &Mapping,
) -> anyhow::Result<ReplayArgs> {
    let auto = args.world.users == Some(Users::Auto);
    let (Some(stages), Some(target)) = (pacing.stages(), pacing.target()) else {
        if auto {
            return Err(Problem::new(
                "--users auto sizes the world for stages, and this run has none",
                "add --stages '2m:0..500/s, 5m:500/s' or --profile NAME, or give --users N",
            )
            .into());
        }
        return Ok(args.clone());
    };
    let need = (stages.cumulative(stages.total_ms()) + 1e-9).floor() as u64;
    let counts = |kind: u16| target.counted.counts(mapping, kind);
    let count = |a: &ReplayArgs, cap: Option<i64>, enough: u64| -> anyhow::Result<(u64, u32)> {
        let (personas, scenario) = replay_world(a)?;
        let users = scenario.users;
        let mut window = window_of(a, scenario.end_ms())?;
        if let Some(cap) = cap {
            window.to_ms = window.to_ms.min(window.from_ms.saturating_add(cap));
        }
        let engine = Engine::new(World::new(personas, scenario, false)?, 1);
        let stop = std::sync::atomic::AtomicBool::new(false);
        Ok((count_events(engine, window, &counts, enough, &stop)?, users))
    };
    let mut a = args.clone();
    if !auto {
        let (have, users) = count(&a, None, need)?;
        if have >= need {
            return Ok(a);
        }
        let would = round_up(users as f64 * need as f64 / have.max(1) as f64 * 1.05);
        return Err(Problem::new(
            format!(
                "the stages need {need} {} but the window of this {users}-user world holds {have}",
                what(&target.counted, mapping.kinds())
            ),
            format!(
                "use --users {would} (about what it takes), or --users auto, or lower the stages"
            ),
        )
        .into());
    }
    a.world.users = None;
    let cap = (stages.total_ms() as f64 * AUTO_MAX_FACTOR) as i64;
    let (have, users0) = count(&a, Some(cap), u64::MAX)?;
    let mut users = round_up(users0 as f64 * need as f64 / have.max(1) as f64 * 1.02);
    for _ in 0..6 {
        a.world.users = Some(Users::Count(users));
        let (have, _) = count(&a, Some(cap), need)?;
        if have >= need {
            eprintln!(
                "--users auto: {users} users (the smallest round number whose window holds the {need} {} the stages need at {AUTO_MAX_FACTOR}× compression or less)",
                what(&target.counted, mapping.kinds())
            );
            return Ok(a);
        }
        let short = need as f64 / have.max(1) as f64;
        users = round_up(users as f64 * short.max(1.1));
    }
    Err(Problem::new(
        format!(
            "--users auto found no world of up to {users} users whose window holds the {need} {} the stages need",
            what(&target.counted, mapping.kinds())
        ),
        "lower the stages, pace by a more frequent kind, or widen --window / --span",
    )
    .into())
}

/// The window the args name, in a world ending at `end`.
fn window_of(args: &ReplayArgs, end: i64) -> anyhow::Result<Window> {
    Ok(match &args.window {
        Some(s) => parse_window(s, end)?,
        None => Window {
            from_ms: 0,
            to_ms: end,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_numbers_and_kinds() {
        assert_eq!(round_up(12_345.0), 13_000);
        assert_eq!(round_up(7.2), 8);
        assert_eq!(round_up(100.0), 100);
        let src = simulate_core::diagnostic::Source::new(
            "m.toml",
            "[[request]]\nevent = \"goal.claimed\"\nmethod = \"POST\"\npath = \"/c\"\nclass = \"api\"\n",
        );
        let mapping = Mapping::from_source(&src, None).unwrap();
        assert!(counted(Some("points.eraned"), &mapping).is_err());
        let k = mapping.kinds().index("points.earned").unwrap();
        assert_eq!(
            counted(Some("points.earned"), &mapping),
            Ok(Counted::Kind(k))
        );
        assert_eq!(
            counted(Some("class:api"), &mapping),
            Ok(Counted::Class(RequestClass::Api))
        );
        // A class no request has would never set the pace; a class that is none, neither.
        let e = counted(Some("class:event"), &mapping).unwrap_err();
        assert!(e.contains("class = \"event\""), "{e}");
        assert!(
            e.contains("pace by class:api (what its requests have)"),
            "{e}"
        );
        let classless = simulate_core::diagnostic::Source::new(
            "n.toml",
            "[[request]]\nevent = \"goal.claimed\"\npath = \"/c\"\n",
        );
        let classless = Mapping::from_source(&classless, None).unwrap();
        let e = counted(Some("class:api"), &classless).unwrap_err();
        assert!(e.contains("no request of this mapping has a class"), "{e}");
        let e = counted(Some("class:apis"), &mapping).unwrap_err();
        assert!(
            e.contains("class:api, class:event") || e.contains("class:event, class:api"),
            "{e}"
        );
        assert_eq!(
            what(&Counted::Class(RequestClass::Api), mapping.kinds()),
            "requests of class api"
        );
        // A world's own kind is named in messages as a built-in one is.
        let world = KindNames::with_custom(["stats.viewed"]);
        let c = Counted::Kind(world.index("stats.viewed").unwrap());
        assert_eq!(what(&c, &world), "stats.viewed events");
    }
}
