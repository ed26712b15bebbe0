//! The scenario: who exists, for how long, on what daily curve, and which named phases happen.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::diagnostic::{FieldPath, Problem, Problems, Source};
use crate::persona::Persona;
use crate::persona::dist::{Dist, RawDist, Unit, usable_weights};
use crate::units::{DAY, HOUR, MINUTE, Span, Start, parse_duration, parse_start};

pub const DEFAULT_SCENARIO: (&str, &str) = (
    "scenarios/default.toml",
    include_str!("../../../scenarios/default.toml"),
);

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub users: Option<u32>,
    pub days: Option<u32>,
    /// The world's length as a duration text (`"36h"`); `days = N` is `span = "Nd"`.
    pub span: Option<String>,
    pub start: Option<String>,
    pub seed: Option<u64>,
    pub signups_per_day: Option<f64>,
    pub mix: Option<BTreeMap<String, f64>>,
    pub activity: Option<RawActivity>,
    pub nudges: Option<RawNudges>,
    pub gifts: Option<RawGifts>,
    pub catalog: Option<RawCatalog>,
    #[serde(default)]
    pub phases: Vec<RawPhase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawActivity {
    pub preset: Option<String>,
    pub hourly: Option<Vec<f64>>,
    pub weekly: Option<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNudges {
    pub reengage_after: Option<String>,
    pub max_per_absence: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGifts {
    pub expire_after: Option<String>,
    pub room_size: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalog {
    pub challenges: Option<u16>,
    pub goals_per_challenge: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub name: String,
    pub kind: String,
    pub at: String,
    pub over: Option<String>,
    pub users: Option<u32>,
    pub share: Option<f64>,
    pub shares: Option<u16>,
    pub updates: Option<RawDist>,
    pub tiers: Option<Vec<RawTier>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub users: u32,
    pub after: String,
}

/// What a phase does to the world.
#[derive(Clone, Debug)]
pub enum PhaseKind {
    /// N users log in with Poisson arrivals over the window.
    LoginRush { users: u32 },
    /// N users finish a game at the same instant, each sending a burst of stat updates.
    GameBurst { users: u32, updates: Dist },
    /// Tiers of users complete a goal and claim it, tier by tier.
    GoalWave { tiers: Vec<(u32, i64)> },
    /// A share of users is nudged, spread over the window.
    NudgeCampaign { share: f64 },
    /// The service is down: no session can start, running sessions break off.
    Outage,
    /// N users each drop a gift of `shares` shares into their room over the window: room
    /// broadcasts pile up and many claimers race for few shares (seed 002's storm).
    GiftStorm { users: u32, shares: u16 },
}

#[derive(Clone, Debug)]
pub struct Phase {
    pub name: String,
    pub kind: PhaseKind,
    pub at_ms: i64,
    pub over_ms: i64,
}

impl Phase {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            PhaseKind::LoginRush { .. } => "login_rush",
            PhaseKind::GameBurst { .. } => "game_burst",
            PhaseKind::GoalWave { .. } => "goal_wave",
            PhaseKind::NudgeCampaign { .. } => "nudge_campaign",
            PhaseKind::Outage => "outage",
            PhaseKind::GiftStorm { .. } => "gift_storm",
        }
    }
    /// The window the phase's traffic falls in, for per-phase metrics.
    pub fn window(&self) -> (i64, i64) {
        let tail = match &self.kind {
            PhaseKind::GoalWave { tiers } => {
                tiers.iter().map(|t| t.1).max().unwrap_or(0) + 10 * MINUTE
            }
            PhaseKind::GameBurst { .. } => 5 * MINUTE,
            _ => self.over_ms + 10 * MINUTE,
        };
        (self.at_ms, self.at_ms + tail.max(self.over_ms))
    }
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub users: u32,
    /// How long the world runs (`--span`, `--days`, or the file's `span`/`days`).
    pub span: Span,
    pub start_ms: i64,
    pub start_text: String,
    pub seed: u64,
    pub signups_per_day: f64,
    pub mix: Option<BTreeMap<String, f64>>,
    pub hourly: [f64; 24],
    pub weekly: [f64; 7],
    pub activity_preset: String,
    pub reengage_after_ms: i64,
    pub max_nudges: u32,
    pub gift_expire_ms: i64,
    pub room_size: u32,
    pub challenges: u16,
    pub goals_per_challenge: u16,
    pub phases: Vec<Phase>,
}

/// Values given on the command line; each replaces the scenario file's.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub users: Option<u32>,
    pub days: Option<u32>,
    /// `--span` as typed: checked with the other values, so every problem shows at once.
    pub span: Option<String>,
    pub seed: Option<u64>,
    pub start: Option<String>,
}

/// Hourly activity presets (UTC hours, relative weights).
pub fn hourly_preset(name: &str) -> Option<[f64; 24]> {
    match name {
        // A consumer app: quiet nights, a lunch bump, an evening peak.
        "default" => Some([
            0.35, 0.2, 0.12, 0.1, 0.1, 0.15, 0.35, 0.7, 1.0, 1.0, 0.95, 1.0, 1.15, 1.1, 1.0, 1.0,
            1.05, 1.2, 1.45, 1.65, 1.7, 1.5, 1.05, 0.6,
        ]),
        // Seed 001's 24 h DAU curve: 00–08 50 ev/s, 08–10 1,000, 10–18 300, 18–22 2,000, 22–24 200.
        "challenge-dau" => {
            let mut h = [0.0; 24];
            for (i, w) in h.iter_mut().enumerate() {
                *w = match i {
                    0..=7 => 50.0,
                    8..=9 => 1000.0,
                    10..=17 => 300.0,
                    18..=21 => 2000.0,
                    _ => 200.0,
                };
            }
            Some(h)
        }
        "flat" => Some([1.0; 24]),
        _ => None,
    }
}

fn duration(src: &Source, path: &FieldPath, text: &str, problems: &mut Vec<Problem>) -> i64 {
    match parse_duration(text) {
        Ok(d) => d.ms(),
        Err(m) => {
            problems.push(src.problem(path, m, "write an offset such as \"1d8h\" or \"90m\""));
            0
        }
    }
}

/// Where a world length was given, for naming it in a problem.
enum LengthFrom {
    Flag(&'static str),
    File(&'static str),
}

/// The world's length from the command line (`--span`, `--days`) or else the file (`span`,
/// `days`), default 7 days. Giving both of a pair, or a length out of range, is a problem.
fn world_length(raw: &RawScenario, src: &Source, over: &Overrides, p: &mut Vec<Problem>) -> Span {
    let week = Span::from_days(7).expect("7 days is a valid span");
    let flag = |field: &str, message: String, fix: String| Problem {
        file: "command line".into(),
        line: None,
        field: field.into(),
        message,
        fix,
    };
    if raw.span.is_some() && raw.days.is_some() {
        p.push(src.problem(
            &FieldPath::root().key("span"),
            "both days and span are set",
            "keep one (span = \"2d\" is days = 2)",
        ));
    }
    let days = |days: u32| {
        Span::from_days(days).map_err(|_| {
            let fix = "use 1 to 3650 days".to_string();
            (format!("{days} days is out of range"), fix)
        })
    };
    let text = |t: &str| Span::parse(t).map_err(|e| (e.to_string(), e.fix().to_string()));
    let (span, from) = match (&over.span, over.days, &raw.span, raw.days) {
        (Some(_), Some(_), _, _) => {
            let fix = "keep one: --span 3d is the same as --days 3".to_string();
            let message = "--span and --days both set the world's length".to_string();
            p.push(flag("--span", message, fix));
            return week;
        }
        (Some(t), None, _, _) => (text(t), LengthFrom::Flag("--span")),
        (None, Some(d), _, _) => (days(d), LengthFrom::Flag("--days")),
        (None, None, Some(t), _) => (text(t), LengthFrom::File("span")),
        (None, None, None, Some(d)) => (days(d), LengthFrom::File("days")),
        (None, None, None, None) => return week,
    };
    span.unwrap_or_else(|(message, fix)| {
        p.push(match from {
            LengthFrom::Flag(name) => flag(name, message, fix),
            LengthFrom::File(key) => src.problem(&FieldPath::root().key(key), message, fix),
        });
        week
    })
}

/// t = 0 of the timeline from `--start`, else the file's `start`, else 2026-01-05 (a
/// Monday), named where it was given when it does not parse.
fn world_start(raw: &RawScenario, src: &Source, over: &Overrides, p: &mut Vec<Problem>) -> Start {
    let text = over.start.as_deref().or(raw.start.as_deref());
    match parse_start(text.unwrap_or("2026-01-05")) {
        Ok(start) => start,
        Err(e) => {
            p.push(match over.start {
                Some(_) => Problem {
                    file: "command line".into(),
                    line: None,
                    field: "--start".into(),
                    message: e.to_string(),
                    fix: e.fix(),
                },
                None => src.problem(&FieldPath::root().key("start"), e.to_string(), e.fix()),
            });
            Start {
                epoch_ms: 0,
                text: String::new(),
            }
        }
    }
}

impl Scenario {
    /// The built-in scenario, or a file; then the command-line overrides.
    pub fn load(
        file: Option<&std::path::Path>,
        over: &Overrides,
        personas: &[Persona],
    ) -> Result<Scenario, Problems> {
        let src = match file {
            Some(p) => Source::read(p)?,
            None => Source::new(DEFAULT_SCENARIO.0, DEFAULT_SCENARIO.1),
        };
        Scenario::from_source(&src, over, personas)
    }

    /// A scenario file's text, parsed and validated.
    pub fn from_source(
        src: &Source,
        over: &Overrides,
        personas: &[Persona],
    ) -> Result<Scenario, Problems> {
        let raw: RawScenario = src.parse_documented("docs/SCENARIOS.md")?;
        Scenario::validate(raw, src, over, personas)
    }

    #[expect(clippy::too_many_lines, reason = "issue 17 cuts it into named steps")]
    pub fn validate(
        raw: RawScenario,
        src: &Source,
        over: &Overrides,
        personas: &[Persona],
    ) -> Result<Scenario, Problems> {
        let mut p = Vec::new();
        let root = FieldPath::root();
        let flag = |name: &str, msg: String, fix: &str| Problem {
            file: "command line".into(),
            line: None,
            field: name.into(),
            message: msg,
            fix: fix.into(),
        };
        let users = over.users.or(raw.users).unwrap_or(10_000);
        let span = world_length(&raw, src, over, &mut p);
        if users == 0 {
            p.push(flag(
                "--users",
                "zero users".into(),
                "give at least one user",
            ));
        }
        if users > 50_000_000 {
            p.push(flag(
                "--users",
                format!("{users} users is beyond what one machine should simulate"),
                "use at most 50,000,000",
            ));
        }
        let start = world_start(&raw, src, over, &mut p);
        let signups_per_day = raw.signups_per_day.unwrap_or(0.02);
        if !(0.0..=10.0).contains(&signups_per_day) {
            p.push(src.problem(
                &root.key("signups_per_day"),
                format!("{signups_per_day} is out of range"),
                "use a share of --users per day between 0 and 10 (0.02 = 2 % a day)",
            ));
        }
        if let Some(mix) = &raw.mix {
            for (name, w) in mix {
                if !personas.iter().any(|q| &q.name == name) {
                    let names: Vec<&str> = personas.iter().map(|q| q.name.as_str()).collect();
                    p.push(src.problem(
                        &root.key("mix").key(name),
                        format!("no persona is called `{name}`"),
                        format!("use one of: {}", names.join(", ")),
                    ));
                }
                if !(0.0..=1.0).contains(w) {
                    p.push(src.problem(
                        &root.key("mix").key(name),
                        format!("{w} is not a share"),
                        "use a value between 0 and 1",
                    ));
                }
            }
            let sum: f64 = mix.values().sum();
            if (sum - 1.0).abs() > 0.01 {
                p.push(src.problem(
                    &root.key("mix"),
                    format!("the mix adds up to {sum:.3}"),
                    "make the shares add up to 1",
                ));
            }
        }
        let act = raw.activity.as_ref();
        let ap = root.key("activity");
        let activity_preset = act
            .and_then(|a| a.preset.clone())
            .unwrap_or_else(|| "default".into());
        let mut hourly = hourly_preset(&activity_preset).unwrap_or_else(|| {
            p.push(src.problem(
                &ap.key("preset"),
                format!("unknown activity preset `{activity_preset}`"),
                "use default, challenge-dau or flat",
            ));
            [1.0; 24]
        });
        if let Some(h) = act.and_then(|a| a.hourly.as_ref()) {
            if !usable_weights(h, 24) {
                p.push(src.problem(
                    &ap.key("hourly"),
                    format!("{} weights given", h.len()),
                    "give 24 non-negative weights, one per UTC hour",
                ));
            } else {
                hourly.copy_from_slice(h);
            }
        }
        let mut weekly = [1.0; 7];
        if let Some(w) = act.and_then(|a| a.weekly.as_ref()) {
            if w.len() != 7 || w.iter().any(|x| x.is_nan() || *x <= 0.0) {
                p.push(src.problem(
                    &ap.key("weekly"),
                    format!("{} weights given", w.len()),
                    "give 7 positive weights, Monday to Sunday",
                ));
            } else {
                weekly.copy_from_slice(w);
            }
        }
        let np = root.key("nudges");
        let reengage_after_ms = raw
            .nudges
            .as_ref()
            .and_then(|n| n.reengage_after.as_deref())
            .map(|t| duration(src, &np.key("reengage_after"), t, &mut p))
            .unwrap_or(2 * DAY);
        let max_nudges = raw
            .nudges
            .as_ref()
            .and_then(|n| n.max_per_absence)
            .unwrap_or(2);
        let gp = root.key("gifts");
        let gift_expire_ms = raw
            .gifts
            .as_ref()
            .and_then(|g| g.expire_after.as_deref())
            .map(|t| duration(src, &gp.key("expire_after"), t, &mut p))
            .unwrap_or(DAY);
        let room_size = raw
            .gifts
            .as_ref()
            .and_then(|g| g.room_size)
            .unwrap_or(400)
            .max(1);
        let challenges = raw
            .catalog
            .as_ref()
            .and_then(|c| c.challenges)
            .unwrap_or(10);
        let goals_per_challenge = raw
            .catalog
            .as_ref()
            .and_then(|c| c.goals_per_challenge)
            .unwrap_or(50);
        if !(1..=64).contains(&challenges) {
            p.push(src.problem(
                &root.key("catalog").key("challenges"),
                format!("{challenges} challenges"),
                "use 1 to 64 challenges",
            ));
        }
        if !(1..=200).contains(&goals_per_challenge) {
            p.push(src.problem(
                &root.key("catalog").key("goals_per_challenge"),
                format!("{goals_per_challenge} goals"),
                "use 1 to 200 goals per challenge",
            ));
        }

        let mut phases = Vec::new();
        for (i, ph) in raw.phases.iter().enumerate() {
            let pp = root.key("phases").index(i);
            let at_ms = duration(src, &pp.key("at"), &ph.at, &mut p);
            let over_ms = ph
                .over
                .as_deref()
                .map(|t| duration(src, &pp.key("over"), t, &mut p))
                .unwrap_or(0);
            let need = |field: &str, v: Option<u32>, p: &mut Vec<Problem>| -> u32 {
                v.unwrap_or_else(|| {
                    p.push(src.problem(
                        &pp,
                        format!("a {} phase needs `{field}`", ph.kind),
                        format!("add `{field} = …`"),
                    ));
                    0
                })
            };
            let kind = match ph.kind.as_str() {
                "login_rush" => {
                    if over_ms == 0 {
                        p.push(src.problem(
                            &pp.key("over"),
                            "a login rush needs a window",
                            "add `over = \"60s\"`",
                        ));
                    }
                    PhaseKind::LoginRush {
                        users: need("users", ph.users, &mut p),
                    }
                }
                "game_burst" => {
                    let users = need("users", ph.users, &mut p);
                    let updates = match &ph.updates {
                        Some(d) => Dist::from_raw(d, Unit::Number).unwrap_or_else(|e| {
                            p.push(src.problem(&pp.key("updates").key(e.field), e.message, e.fix));
                            Dist::Constant(5.0)
                        }),
                        None => Dist::Uniform {
                            min: 5.0,
                            max: 10.0,
                        },
                    };
                    PhaseKind::GameBurst { users, updates }
                }
                "goal_wave" => {
                    let tiers = ph.tiers.as_ref().map(|ts| {
                        ts.iter()
                            .enumerate()
                            .map(|(j, t)| {
                                (
                                    t.users,
                                    duration(
                                        src,
                                        &pp.key("tiers").index(j).key("after"),
                                        &t.after,
                                        &mut p,
                                    ),
                                )
                            })
                            .collect::<Vec<_>>()
                    });
                    let tiers = tiers.filter(|t| !t.is_empty()).unwrap_or_else(|| {
                        p.push(src.problem(
                            &pp,
                            "a goal wave needs `tiers`",
                            "add tiers = [{ users = 500, after = \"0m\" }]",
                        ));
                        Vec::new()
                    });
                    PhaseKind::GoalWave { tiers }
                }
                "nudge_campaign" => {
                    let share = ph.share.unwrap_or(1.0);
                    if !(0.0..=1.0).contains(&share) {
                        p.push(src.problem(
                            &pp.key("share"),
                            format!("{share} is not a share"),
                            "use a value between 0 and 1",
                        ));
                    }
                    PhaseKind::NudgeCampaign { share }
                }
                "outage" => {
                    if over_ms == 0 {
                        p.push(src.problem(
                            &pp.key("over"),
                            "an outage needs a duration",
                            "add `over = \"15m\"`",
                        ));
                    }
                    PhaseKind::Outage
                }
                "gift_storm" => {
                    let shares = ph.shares.unwrap_or(3);
                    if shares == 0 {
                        p.push(src.problem(
                            &pp.key("shares"),
                            "a gift needs at least one share",
                            "use shares = 1 or more",
                        ));
                    }
                    PhaseKind::GiftStorm {
                        users: need("users", ph.users, &mut p),
                        shares,
                    }
                }
                other => {
                    p.push(src.problem(
                        &pp.key("kind"),
                        format!("unknown phase kind `{other}`"),
                        "use login_rush, game_burst, goal_wave, nudge_campaign, gift_storm or outage",
                    ));
                    continue;
                }
            };
            phases.push(Phase {
                name: ph.name.clone(),
                kind,
                at_ms,
                over_ms,
            });
        }
        // Phases beyond the window are dropped, not errors: --days often shortens a scenario.
        phases.retain(|ph| ph.at_ms < span.ms());
        phases.sort_by_key(|ph| ph.at_ms);
        if !p.is_empty() {
            return Err(Problems(p));
        }
        Ok(Scenario {
            name: raw.name.unwrap_or_else(|| "custom".into()),
            users,
            span,
            start_ms: start.epoch_ms,
            start_text: start.text,
            seed: over.seed.or(raw.seed).unwrap_or(42),
            signups_per_day,
            mix: raw.mix,
            hourly,
            weekly,
            activity_preset,
            reengage_after_ms: reengage_after_ms.max(HOUR),
            max_nudges,
            gift_expire_ms: gift_expire_ms.max(MINUTE),
            room_size,
            challenges,
            goals_per_challenge,
            phases,
        })
    }

    pub fn end_ms(&self) -> i64 {
        self.span.ms()
    }

    /// The time over which the users who exist at t = 0 arrive: a day, or the whole span
    /// of a world shorter than a day, so a 2 h world has all its launch users in it.
    /// Worlds of a day or more are therefore the events they always were.
    pub fn launch_window_ms(&self) -> i64 {
        self.span.ms().min(DAY)
    }

    /// Persona shares after the scenario's mix override.
    pub fn shares(&self, personas: &[Persona]) -> Vec<f64> {
        personas
            .iter()
            .map(|q| match &self.mix {
                Some(m) => m.get(&q.name).copied().unwrap_or(0.0),
                None => q.share,
            })
            .collect()
    }
}
