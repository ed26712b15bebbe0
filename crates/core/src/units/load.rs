//! Load in the team's terms: a rate (`1000/s`) and stages that ramp or hold
//! (`2m:0..500/s, 5m:500/s, 2m:500..0/s`, like k6's ramping-arrival-rate).
//!
//! Pure grammar and arithmetic: the replay pacer turns a [`Stages`] curve into wall
//! seconds, the scenario file names curves as profiles. Errors are plain reasons; the
//! caller adds where they came from and [`RATE_HELP`] / [`STAGES_HELP`] as the fix.

use super::parse_duration;

/// The fix shown with a bad `--rate`.
pub const RATE_HELP: &str = "write RATE, KIND=RATE or class:CLASS=RATE, RATE a number per second, minute or hour: e.g. 1000/s, 30000/m, points.earned=1000/s or class:api=500/s";

/// The fix shown with a bad `--stages` or profile.
pub const STAGES_HELP: &str = "write stages as DURATION:RATE (hold) or DURATION:FROM..TO (linear ramp), comma-separated, each optionally NAME=…, the whole optionally led by KIND= or class:CLASS=; e.g. `2m:0..500/s, 5m:500/s, 2m:500..0/s`, `warm=30s:0..100/s, peak=2m:100/s` or `class:api=l50=1m:50/s, l100=1m:100/s`";

/// Highest rate accepted, per second: far above what one generator sends.
const MAX_RATE: f64 = 10_000_000.0;

/// A rate in events per wall second: finite, not negative.
#[derive(Copy, Clone, Debug, PartialEq, PartialOrd)]
pub struct Rate(f64);

impl Rate {
    pub fn per_s(self) -> f64 {
        self.0
    }

    /// A rate of `v` per second, if it is one (finite, 0 to ten million).
    pub fn new(v: f64) -> Option<Rate> {
        (v.is_finite() && (0.0..=MAX_RATE).contains(&v)).then_some(Rate(v))
    }

    /// `1000/s`, `60/m`, `3600/h`; `unit` is the default unit of a bare number (`/s`
    /// after a ramp's `FROM..`), or `None` when the unit is required.
    fn parse(text: &str, unit: Option<f64>) -> Result<Rate, String> {
        let t = text.trim();
        let (num, per) = match t.rsplit_once('/') {
            Some((n, u)) => {
                let per = match u.trim() {
                    "s" => 1.0,
                    "m" | "min" => 60.0,
                    "h" => 3600.0,
                    other => return Err(format!("`/{other}` is not a unit: use /s, /m or /h")),
                };
                (n.trim(), per)
            }
            None => match unit {
                Some(u) => (t, u),
                None if t.parse::<f64>().is_ok() => {
                    return Err(format!("`{t}` has no unit: write it like {t}/s"));
                }
                None => return Err(format!("`{t}` is not a rate")),
            },
        };
        let v: f64 = num
            .parse()
            .map_err(|_| format!("`{t}` is not a rate: a number must come before /s"))?;
        if v < 0.0 {
            return Err(format!("`{t}` is negative: a rate is 0 or more"));
        }
        Rate::new(v / per).ok_or_else(|| format!("`{t}` is out of range (0 to {MAX_RATE}/s)"))
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/s", (self.0 * 1000.0).round() / 1000.0)
    }
}

/// `--rate`: one pace for the run, of every mapped request, of one event kind or of the
/// requests of one class.
#[derive(Clone, Debug, PartialEq)]
pub struct RateSpec {
    /// What sets the pace (`points.earned` or `class:api` before `=`); `None`: all mapped.
    pub kind: Option<String>,
    pub rate: Rate,
}

/// What leads stages, if anything does: `points.earned=2m:0..500/s` (an event kind: it has
/// a dot, a stage name has none) or `class:api=l50=1m:50/s` (the mapping's class); the
/// rest is the stages.
pub fn split_pace(text: &str) -> (Option<&str>, &str) {
    match text.split_once('=') {
        Some((k, rest)) if k.contains('.') && !k.contains([':', ',']) => (Some(k.trim()), rest),
        Some((k, rest)) if k.trim_start().starts_with("class:") && !k.contains(',') => {
            (Some(k.trim()), rest)
        }
        _ => (None, text),
    }
}

/// `[profiles.NAME]` of a scenario: stages, and what paces them when they are led by a
/// kind or a class (`stages = "class:api=l50=1m:50/s, …"`); `None`: every mapped request.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub pace: Option<String>,
    pub stages: Stages,
}

impl Profile {
    /// The profile written as `stages = "…"`.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let (pace, rest) = split_pace(text);
        Ok(Profile {
            pace: pace.map(str::to_string),
            stages: Stages::parse(rest)?,
        })
    }
}

/// `1000/s` or `points.earned=1000/s`.
pub fn parse_rate(text: &str) -> Result<RateSpec, String> {
    let (kind, rate) = match text.split_once('=') {
        Some((k, r)) => {
            let k = k.trim();
            if k.is_empty() {
                return Err("the event kind before `=` is empty".into());
            }
            (Some(k.to_string()), r)
        }
        None => (None, text),
    };
    Ok(RateSpec {
        kind,
        rate: Rate::parse(rate, None)?,
    })
}

/// One stage: for `ms` of wall time the rate goes linearly from `from` to `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// The statistics tag of the requests due in it (`stage:NAME`).
    pub name: Option<String>,
    pub ms: i64,
    pub from: Rate,
    pub to: Rate,
}

/// Stages in order; never empty, every stage longer than zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Stages(Vec<Stage>);

/// Most stages in one plan.
const MAX_STAGES: usize = 200;

impl Stages {
    /// `DURATION:RATE` or `DURATION:FROM..TO`, comma-separated, each optionally `NAME=…`.
    pub fn parse(text: &str) -> Result<Stages, String> {
        let mut out = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err("an empty stage (two commas, or a trailing comma)".into());
            }
            out.push(stage(part).map_err(|m| format!("stage `{part}`: {m}"))?);
        }
        if out.len() > MAX_STAGES {
            return Err(format!(
                "{} stages: at most {MAX_STAGES} in one plan",
                out.len()
            ));
        }
        Ok(Stages(out))
    }

    /// One stage holding `rate` for `ms`.
    pub fn hold(ms: i64, rate: Rate, name: Option<String>) -> Stages {
        Stages(vec![Stage {
            name,
            ms: ms.max(1),
            from: rate,
            to: rate,
        }])
    }

    pub fn stages(&self) -> &[Stage] {
        &self.0
    }

    /// Gives every stage without a name this one (a profile's stages carry its name).
    pub fn named(mut self, name: &str) -> Stages {
        for s in &mut self.0 {
            s.name.get_or_insert_with(|| name.to_string());
        }
        self
    }

    /// The plan's wall length in ms.
    pub fn total_ms(&self) -> i64 {
        self.0.iter().map(|s| s.ms).sum()
    }

    /// Events due from the start to `wall_ms` (the rate's integral).
    pub fn cumulative(&self, wall_ms: i64) -> f64 {
        let mut at = 0;
        let mut sum = 0.0;
        for s in &self.0 {
            let d = (wall_ms - at).clamp(0, s.ms);
            let (a, b) = (s.from.per_s(), s.to.per_s());
            // The area under the line from a to the rate at d.
            let end = a + (b - a) * d as f64 / s.ms as f64;
            sum += (a + end) / 2.0 * d as f64 / 1000.0;
            at += s.ms;
            if wall_ms <= at {
                break;
            }
        }
        sum
    }

    /// The target rate at `wall_ms`, per second; 0 past the end.
    pub fn rate_at(&self, wall_ms: i64) -> f64 {
        let mut at = 0;
        for s in &self.0 {
            if wall_ms < at + s.ms {
                let (a, b) = (s.from.per_s(), s.to.per_s());
                return a + (b - a) * (wall_ms - at).max(0) as f64 / s.ms as f64;
            }
            at += s.ms;
        }
        0.0
    }

    /// The index of the stage that holds `wall_ms` (the last one past the end).
    pub fn index_at(&self, wall_ms: i64) -> usize {
        let mut at = 0;
        for (i, s) in self.0.iter().enumerate() {
            at += s.ms;
            if wall_ms < at {
                return i;
            }
        }
        self.0.len().saturating_sub(1)
    }
}

fn stage(part: &str) -> Result<Stage, String> {
    let (name, spec) = match part.split_once('=') {
        Some((n, s)) => {
            let n = n.trim();
            if n.is_empty()
                || !n
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
            {
                return Err(format!(
                    "`{n}` is not a stage name (letters, digits, _ and -)"
                ));
            }
            (Some(n.to_string()), s.trim())
        }
        None => (None, part),
    };
    let (dur, rates) = spec
        .split_once(':')
        .ok_or("no `:` between the duration and the rate")?;
    let ms = parse_duration(dur).map_err(|e| e.to_string())?.ms();
    if ms <= 0 {
        return Err("the duration must be above zero".into());
    }
    let (from, to) = match rates.split_once("..") {
        Some((a, b)) => {
            if a.trim().is_empty() || b.trim().is_empty() {
                return Err("a ramp needs both ends: FROM..TO like 0..500/s".into());
            }
            let to = Rate::parse(b, None)?;
            // `0..500/s`: the unit written once, at the end, serves both ends.
            let unit = b.rsplit_once('/').map(|(_, u)| match u.trim() {
                "m" | "min" => 60.0,
                "h" => 3600.0,
                _ => 1.0,
            });
            (Rate::parse(a, unit)?, to)
        }
        None => {
            let r = Rate::parse(rates, None)?;
            (r, r)
        }
    };
    Ok(Stage { name, ms, from, to })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_units_and_kinds() {
        assert_eq!(parse_rate("1000/s").unwrap().rate.per_s(), 1000.0);
        assert_eq!(parse_rate("600/m").unwrap().rate.per_s(), 10.0);
        let r = parse_rate("points.earned=1000/s").unwrap();
        assert_eq!(r.kind.as_deref(), Some("points.earned"));
        assert_eq!(
            parse_rate("class:api=50/s").unwrap().kind.as_deref(),
            Some("class:api")
        );
        for bad in ["fast", "1000", "-5/s", "5/day", "=5/s", "1e12/s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_kind_or_a_class_may_lead_stages() {
        assert_eq!(
            split_pace("points.earned=2m:0..5/s"),
            (Some("points.earned"), "2m:0..5/s")
        );
        assert_eq!(
            split_pace("class:api=l50=1m:50/s, 1m:100/s"),
            (Some("class:api"), "l50=1m:50/s, 1m:100/s")
        );
        // A stage name is not a pace, nor is a name after the first stage.
        assert_eq!(split_pace("warm=2m:5/s"), (None, "warm=2m:5/s"));
        assert_eq!(
            split_pace("1m:5/s, class:api=1m:5/s"),
            (None, "1m:5/s, class:api=1m:5/s")
        );
        let p = Profile::parse("class:api=1m:50/s").unwrap();
        assert_eq!(
            (p.pace.as_deref(), p.stages.total_ms()),
            (Some("class:api"), 60_000)
        );
    }

    #[test]
    fn stages_ramp_and_hold() {
        let s = Stages::parse("2m:0..500/s, 5m:500/s, 2m:500..0/s").unwrap();
        assert_eq!(s.total_ms(), 9 * 60_000);
        assert_eq!(s.rate_at(60_000), 250.0);
        assert_eq!(s.rate_at(3 * 60_000), 500.0);
        // Ramps are triangles: 2 × 60 s × 500/s / 2 … twice, plus 300 s × 500/s.
        assert_eq!(s.cumulative(s.total_ms()), 30_000.0 + 150_000.0 + 30_000.0);
        assert_eq!(s.cumulative(60_000), 7_500.0);
        assert_eq!(s.index_at(2 * 60_000), 1);
        let named = Stages::parse("warm=30s:0..100/s, peak=1m:100/s").unwrap();
        assert_eq!(named.stages()[1].name.as_deref(), Some("peak"));
        let p = Stages::parse("1m:10/s").unwrap().named("smoke");
        assert_eq!(p.stages()[0].name.as_deref(), Some("smoke"));
        for bad in [
            "2m:..",
            "2m:0..",
            "2m",
            "2m:fast",
            "2m:0..-5/s",
            "0s:5/s",
            "2m:5/s,,1m:5/s",
            "x y=1m:5/s",
        ] {
            assert!(Stages::parse(bad).is_err(), "{bad}");
        }
    }
}
