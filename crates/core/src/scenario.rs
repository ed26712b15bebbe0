//! The scenario: who exists, for how long, on what daily curve, and which named phases happen.

pub(crate) mod data;
pub mod size;
pub mod tags;
mod team;

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::catalog::Catalog;
use crate::catalog::load::RawCatalog;
use crate::diagnostic::{FieldPath, Problem, Problems, Source};
use crate::persona::Persona;
use crate::persona::dist::{Dist, RawDist, Unit, usable_weights};
use crate::units::load::{Profile, STAGES_HELP};
use crate::units::{DAY, HOUR, MINUTE, Span, Start, parse_duration, parse_start};
use crate::world::pools::Pools;
use size::RawSize;

pub(crate) const DEFAULT_SCENARIO: (&str, &str) = (
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
    pub(crate) mix: Option<BTreeMap<String, f64>>,
    pub(crate) activity: Option<RawActivity>,
    pub(crate) nudges: Option<RawNudges>,
    pub gifts: Option<RawGifts>,
    pub(crate) catalog: Option<RawCatalog>,
    /// `[ids]`: users' ids in the team's format ([`team`]).
    pub(crate) ids: Option<team::RawIds>,
    /// `[pools.<name>]`: the team's groups users are assigned to ([`team`]).
    #[serde(default)]
    pub(crate) pools: BTreeMap<String, team::RawPool>,
    #[serde(default)]
    pub phases: Vec<RawPhase>,
    /// Named load plans for `replay --profile NAME`.
    #[serde(default)]
    pub(crate) profiles: BTreeMap<String, RawProfile>,
}

/// `[profiles.NAME]`: stages `replay --profile NAME` paces by.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfile {
    pub(crate) stages: String,
    /// What the profile is for, shown nowhere but the file.
    #[allow(dead_code)]
    pub(crate) description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawActivity {
    pub(crate) preset: Option<String>,
    pub(crate) hourly: Option<Vec<f64>>,
    pub(crate) weekly: Option<Vec<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNudges {
    pub(crate) reengage_after: Option<String>,
    pub(crate) max_per_absence: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGifts {
    pub(crate) expire_after: Option<String>,
    pub(crate) room_size: Option<u32>,
    /// The shares a gift can have (`[50, 100]`), one drawn per gift.
    pub(crate) sizes: Option<Vec<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub name: String,
    pub(crate) kind: String,
    pub(crate) at: String,
    pub(crate) over: Option<String>,
    /// A number of users, or a share of the world's (`"5%"`): [`size`].
    pub users: Option<RawSize>,
    pub share: Option<f64>,
    pub(crate) shares: Option<u16>,
    pub(crate) updates: Option<RawDist>,
    pub(crate) tiers: Option<Vec<RawTier>>,
    /// An action burst's custom action (`world.toml`), and how many times each user does it.
    pub(crate) action: Option<String>,
    pub(crate) times: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTier {
    pub users: RawSize,
    pub(crate) after: String,
}

/// What a phase does to the world.
#[derive(Clone, Debug)]
pub(crate) enum PhaseKind {
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
    /// N users each drop a gift of `shares` shares (`None`: one of `[gifts] sizes`, drawn
    /// per gift) into their room over the window: room broadcasts pile up and many
    /// claimers race for few shares (seed 002's storm).
    GiftStorm { users: u32, shares: Option<u16> },
    /// N users arrive over the window and each performs a custom action `times` times
    /// (a burst of the team's own event: `daily_metrics.posted` at 21:00).
    ActionBurst { users: u32, action: u16, times: u8 },
}

#[derive(Clone, Debug)]
pub struct Phase {
    pub name: String,
    pub(crate) kind: PhaseKind,
    pub(crate) at_ms: i64,
    pub(crate) over_ms: i64,
}

impl Phase {
    /// The window the phase's traffic falls in, for per-phase figures: its span plus 10
    /// minutes (a game burst: 5 minutes; a goal wave: its last tier plus 10 minutes).
    /// Which phase an event belongs to when windows overlap is [`tags::PhaseTags`]'s rule.
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
    pub(crate) mix: Option<BTreeMap<String, f64>>,
    pub(crate) hourly: [f64; 24],
    pub(crate) weekly: [f64; 7],
    pub(crate) reengage_after_ms: i64,
    pub(crate) max_nudges: u32,
    pub(crate) gift_expire_ms: i64,
    pub(crate) room_size: u32,
    /// `[gifts] sizes`: the shares a gift is drawn from; empty for the persona's own draw.
    pub(crate) gift_sizes: Vec<u16>,
    /// The challenges and goals: generated at `[catalog]`'s size, or the team's.
    pub catalog: Catalog,
    pub phases: Vec<Phase>,
    /// `[ids]` and `[pools.*]`: the team's ids and pools (empty for the default world).
    pub pools: Pools,
    /// `[profiles.NAME]`: load plans for `replay --profile NAME`, each stage named after it.
    pub profiles: BTreeMap<String, Profile>,
    /// What is said, not refused: a phase sized beyond the world's users (it gets every
    /// user it can pick). The commands print them before the run.
    pub warnings: Vec<Problem>,
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
            problems.push(src.problem(
                path,
                m.to_string(),
                "write an offset such as \"1d8h\" or \"90m\"",
            ));
            0
        }
    }
}

/// Where a world length was given, for naming it in a problem.
enum LengthFrom {
    Flag(&'static str),
    File(&'static str),
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

    /// Raw → validated, with the command line's overrides; every problem at once.
    pub fn validate(
        raw: RawScenario,
        src: &Source,
        over: &Overrides,
        personas: &[Persona],
    ) -> Result<Scenario, Problems> {
        let mut c = Check {
            src,
            p: Vec::new(),
            warnings: Vec::new(),
            users: 0,
            actions: personas
                .first()
                .map(|p| p.declared.actions.iter().map(|a| a.name.clone()).collect())
                .unwrap_or_default(),
            gift_sizes: false,
        };
        let users = c.users(over, &raw);
        c.users = users;
        let span = c.length(&raw, over);
        let start = c.start(&raw, over);
        let signups_per_day = c.signups(raw.signups_per_day);
        // The scenario's mix replaces the personas' shares; without one, theirs must do.
        match &raw.mix {
            Some(mix) => c.mix(mix, personas),
            None => c.p.extend(crate::persona::shares_problem(personas)),
        }
        let (hourly, weekly) = c.activity(raw.activity.as_ref());
        let root = FieldPath::root();
        let np = root.key("nudges");
        let reengage_after_ms = raw
            .nudges
            .as_ref()
            .and_then(|n| n.reengage_after.as_deref())
            .map(|t| c.duration(&np.key("reengage_after"), t))
            .unwrap_or(2 * DAY);
        let gp = root.key("gifts");
        let gift_expire_ms = raw
            .gifts
            .as_ref()
            .and_then(|g| g.expire_after.as_deref())
            .map(|t| c.duration(&gp.key("expire_after"), t))
            .unwrap_or(DAY);
        let (catalog, problems) = crate::catalog::load::check(src, raw.catalog.as_ref());
        c.p.extend(problems);
        let gift_sizes = c.gift_sizes(raw.gifts.as_ref());
        c.gift_sizes = !gift_sizes.is_empty();
        let mut phases: Vec<Phase> = raw
            .phases
            .iter()
            .enumerate()
            .filter_map(|(i, ph)| c.phase(i, ph))
            .collect();
        let profiles = c.profiles(&raw.profiles);
        let pools = c.team(&raw, over);
        // The custom actions' props read pools (`user.team`): checked now that both are known.
        if let Some(p) = personas.first() {
            c.p.extend(crate::persona::declared::check_team_reads(
                &p.declared,
                personas,
                &pools,
                &src.name,
            ));
        }
        let pool_names: Vec<&str> = pools.pools.iter().map(|p| p.name.as_str()).collect();
        c.p.extend(crate::persona::attribute_clashes(personas, &pool_names));
        // Phases beyond the window are dropped, not errors: --days often shortens a scenario.
        phases.retain(|ph| ph.at_ms < span.ms());
        phases.sort_by_key(|ph| ph.at_ms);
        if !c.p.is_empty() {
            return Err(Problems(c.p));
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
            reengage_after_ms: reengage_after_ms.max(HOUR),
            max_nudges: raw
                .nudges
                .as_ref()
                .and_then(|n| n.max_per_absence)
                .unwrap_or(2),
            gift_expire_ms: gift_expire_ms.max(MINUTE),
            room_size: raw
                .gifts
                .as_ref()
                .and_then(|g| g.room_size)
                .unwrap_or(400)
                .max(1),
            gift_sizes,
            catalog,
            phases,
            pools,
            profiles,
            warnings: c.warnings,
        })
    }

    /// `replay --profile NAME`: the profile's stages, each named after it, and its pace.
    pub fn profile(&self, name: &str) -> Result<Profile, Problem> {
        self.profiles
            .get(name)
            .map(|p| Profile {
                pace: p.pace.clone(),
                stages: p.stages.clone().named(name),
            })
            .ok_or_else(|| {
                let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
                Problem::new(
                    format!("--profile `{name}`: scenario {} has no such profile", self.name),
                    if known.is_empty() {
                        "add [profiles.NAME] with stages = \"2m:0..500/s, 5m:500/s\" to the scenario file (docs/SCENARIOS.md), and pass it with --scenario".to_string()
                    } else {
                        format!("use one of: {}", known.join(", "))
                    },
                )
            })
    }
}

/// What validating a scenario collects: every problem, in file order.
struct Check<'a> {
    src: &'a Source,
    p: Vec<Problem>,
    warnings: Vec<Problem>,
    /// The world's users, which shares of users are of.
    users: u32,
    /// The custom actions the personas' `world.toml` declares, which phases may name.
    actions: Vec<String>,
    /// Whether `[gifts] sizes` is given (a gift storm without `shares` draws from them).
    gift_sizes: bool,
}

impl Check<'_> {
    /// `[profiles.NAME] stages = "…"`, each parsed.
    fn profiles(&mut self, raw: &BTreeMap<String, RawProfile>) -> BTreeMap<String, Profile> {
        let mut out = BTreeMap::new();
        for (name, p) in raw {
            let path = FieldPath::root().key("profiles").key(name);
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
            {
                self.at(
                    &path,
                    format!("`{name}` is not a profile name"),
                    "use letters, digits, _ and -",
                );
                continue;
            }
            match Profile::parse(&p.stages) {
                Ok(s) => {
                    out.insert(name.clone(), s);
                }
                Err(m) => self.at(&path.key("stages"), m, STAGES_HELP),
            }
        }
        out
    }

    /// `[ids]` and `[pools]`, and `--users` against a users file's length.
    fn team(&mut self, raw: &RawScenario, over: &Overrides) -> Pools {
        let (pools, problems) = team::check(self.src, raw.ids.as_ref(), &raw.pools, self.users);
        self.p.extend(problems);
        if let Some((message, fix)) = team::users_beyond_file(&pools, self.users) {
            match over.users {
                Some(_) => self.flag("--users", message, &fix),
                None => self.at(&FieldPath::root().key("users"), message, fix),
            }
        }
        pools
    }

    fn at(&mut self, path: &FieldPath, message: impl Into<String>, fix: impl Into<String>) {
        self.p.push(self.src.problem(path, message, fix));
    }

    /// A problem with a flag of the command line.
    fn flag(&mut self, name: &str, message: String, fix: &str) {
        self.p
            .push(Problem::in_file("command line", None, message, fix).at_field(name));
    }

    fn duration(&mut self, path: &FieldPath, text: &str) -> i64 {
        duration(self.src, path, text, &mut self.p)
    }

    /// Users, the flag over the file.
    fn users(&mut self, over: &Overrides, raw: &RawScenario) -> u32 {
        let users = over.users.or(raw.users).unwrap_or(10_000);
        if users == 0 {
            self.flag("--users", "zero users".into(), "give at least one user");
        }
        if users > 50_000_000 {
            self.flag(
                "--users",
                format!("{users} users is beyond what one machine should simulate"),
                "use at most 50,000,000",
            );
        }
        users
    }

    /// The world's length from the command line (`--span`, `--days`) or else the file
    /// (`span`, `days`), default 7 days. Giving both of a pair, or a length out of range,
    /// is a problem.
    fn length(&mut self, raw: &RawScenario, over: &Overrides) -> Span {
        let week = Span::from_days(7).expect("7 days is a valid span");
        if raw.span.is_some() && raw.days.is_some() {
            self.at(
                &FieldPath::root().key("span"),
                "both days and span are set",
                "keep one (span = \"2d\" is days = 2)",
            );
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
                self.flag(
                    "--span",
                    "--span and --days both set the world's length".into(),
                    "keep one: --span 3d is the same as --days 3",
                );
                return week;
            }
            (Some(t), None, _, _) => (text(t), LengthFrom::Flag("--span")),
            (None, Some(d), _, _) => (days(d), LengthFrom::Flag("--days")),
            (None, None, Some(t), _) => (text(t), LengthFrom::File("span")),
            (None, None, None, Some(d)) => (days(d), LengthFrom::File("days")),
            (None, None, None, None) => return week,
        };
        span.unwrap_or_else(|(message, fix)| {
            match from {
                LengthFrom::Flag(name) => self.flag(name, message, &fix),
                LengthFrom::File(key) => self.at(&FieldPath::root().key(key), message, fix),
            }
            week
        })
    }

    /// t = 0 of the timeline from `--start`, else the file's `start`, else 2026-01-05 (a
    /// Monday), named where it was given when it does not parse.
    fn start(&mut self, raw: &RawScenario, over: &Overrides) -> Start {
        let text = over.start.as_deref().or(raw.start.as_deref());
        parse_start(text.unwrap_or("2026-01-05")).unwrap_or_else(|e| {
            match over.start {
                Some(_) => self.flag("--start", e.to_string(), &e.fix()),
                None => self.at(&FieldPath::root().key("start"), e.to_string(), e.fix()),
            }
            Start {
                epoch_ms: 0,
                text: String::new(),
            }
        })
    }

    fn signups(&mut self, raw: Option<f64>) -> f64 {
        let per_day = raw.unwrap_or(0.02);
        if !(0.0..=10.0).contains(&per_day) {
            self.at(
                &FieldPath::root().key("signups_per_day"),
                format!("{per_day} is out of range"),
                "use a share of --users per day between 0 and 10 (0.02 = 2 % a day)",
            );
        }
        per_day
    }

    /// `[mix]`: shares of known personas that add up to 1.
    fn mix(&mut self, mix: &BTreeMap<String, f64>, personas: &[Persona]) {
        let mp = FieldPath::root().key("mix");
        for (name, w) in mix {
            if !personas.iter().any(|q| &q.name == name) {
                let names: Vec<&str> = personas.iter().map(|q| q.name.as_str()).collect();
                self.at(
                    &mp.key(name),
                    format!("no persona is called `{name}`"),
                    format!("use one of: {}", names.join(", ")),
                );
            }
            if !(0.0..=1.0).contains(w) {
                self.at(
                    &mp.key(name),
                    format!("{w} is not a share"),
                    "use a value between 0 and 1",
                );
            }
        }
        let sum: f64 = mix.values().sum();
        if (sum - 1.0).abs() > 0.01 {
            self.at(
                &mp,
                format!("the mix adds up to {sum:.3}"),
                "make the shares add up to 1",
            );
        }
    }

    /// `[activity]`: the hourly curve (a preset, or 24 weights) and 7 weekday weights.
    fn activity(&mut self, act: Option<&RawActivity>) -> ([f64; 24], [f64; 7]) {
        let ap = FieldPath::root().key("activity");
        let preset = act
            .and_then(|a| a.preset.clone())
            .unwrap_or_else(|| "default".into());
        let mut hourly = hourly_preset(&preset).unwrap_or_else(|| {
            self.at(
                &ap.key("preset"),
                format!("unknown activity preset `{preset}`"),
                "use default, challenge-dau or flat",
            );
            [1.0; 24]
        });
        if let Some(h) = act.and_then(|a| a.hourly.as_ref()) {
            if !usable_weights(h, 24) {
                self.at(
                    &ap.key("hourly"),
                    format!("{} weights given", h.len()),
                    "give 24 non-negative weights, one per UTC hour",
                );
            } else {
                hourly.copy_from_slice(h);
            }
        }
        let mut weekly = [1.0; 7];
        if let Some(w) = act.and_then(|a| a.weekly.as_ref()) {
            if w.len() != 7 || w.iter().any(|x| x.is_nan() || *x <= 0.0) {
                self.at(
                    &ap.key("weekly"),
                    format!("{} weights given", w.len()),
                    "give 7 positive weights, Monday to Sunday",
                );
            } else {
                weekly.copy_from_slice(w);
            }
        }
        (hourly, weekly)
    }

    /// `[gifts] sizes`: each 1 to 10,000 shares.
    fn gift_sizes(&mut self, gifts: Option<&RawGifts>) -> Vec<u16> {
        let Some(sizes) = gifts.and_then(|g| g.sizes.as_ref()) else {
            return Vec::new();
        };
        let path = FieldPath::root().key("gifts").key("sizes");
        if sizes.is_empty() {
            self.at(
                &path,
                "no sizes given",
                "list the shares a gift can have, like sizes = [50, 100]",
            );
        }
        for (i, n) in sizes.iter().enumerate() {
            if !(1..=10_000).contains(n) {
                self.at(
                    &path.index(i),
                    format!("a gift of {n} shares"),
                    "give each size as 1 to 10,000 shares",
                );
            }
        }
        sizes.iter().map(|n| (*n).clamp(1, 10_000) as u16).collect()
    }

    /// One `[[phases]]` entry; `None` for an unknown kind.
    fn phase(&mut self, i: usize, ph: &RawPhase) -> Option<Phase> {
        let pp = FieldPath::root().key("phases").index(i);
        let at_ms = self.duration(&pp.key("at"), &ph.at);
        let over_ms = ph
            .over
            .as_deref()
            .map(|t| self.duration(&pp.key("over"), t))
            .unwrap_or(0);
        let kind = match ph.kind.as_str() {
            "login_rush" => {
                if over_ms == 0 {
                    self.at(
                        &pp.key("over"),
                        "a login rush needs a window",
                        "add `over = \"60s\"`",
                    );
                }
                PhaseKind::LoginRush {
                    users: self.size(&pp, ph),
                }
            }
            "game_burst" => self.game_burst(&pp, ph),
            "action_burst" => self.action_burst(&pp, ph),
            "goal_wave" => self.goal_wave(&pp, ph),
            "nudge_campaign" => {
                let share = ph.share.unwrap_or(1.0);
                if !(0.0..=1.0).contains(&share) {
                    self.at(
                        &pp.key("share"),
                        format!("{share} is not a share"),
                        "use a value between 0 and 1",
                    );
                }
                PhaseKind::NudgeCampaign { share }
            }
            "outage" => {
                if over_ms == 0 {
                    self.at(
                        &pp.key("over"),
                        "an outage needs a duration",
                        "add `over = \"15m\"`",
                    );
                }
                PhaseKind::Outage
            }
            "gift_storm" => {
                // Without its own `shares`, a storm's gifts take [gifts] sizes, else 3.
                let shares = ph.shares.or((!self.gift_sizes).then_some(3));
                if shares == Some(0) {
                    self.at(
                        &pp.key("shares"),
                        "a gift needs at least one share",
                        "use shares = 1 or more",
                    );
                }
                PhaseKind::GiftStorm {
                    users: self.size(&pp, ph),
                    shares,
                }
            }
            other => {
                self.at(
                    &pp.key("kind"),
                    format!("unknown phase kind `{other}`"),
                    "use login_rush, game_burst, goal_wave, nudge_campaign, gift_storm, action_burst or outage",
                );
                return None;
            }
        };
        Some(Phase {
            name: ph.name.clone(),
            kind,
            at_ms,
            over_ms,
        })
    }

    /// The `users` the phase's kind requires, resolved against the world's users.
    fn size(&mut self, pp: &FieldPath, ph: &RawPhase) -> u32 {
        let Some(raw) = &ph.users else {
            self.at(
                pp,
                format!("a {} phase needs `users`", ph.kind),
                r#"add `users = "10%"` (a share of the world's users) or a number of users"#,
            );
            return 0;
        };
        let path = pp.key("users");
        let users = self.resolve(&path, raw);
        self.beyond_the_world(&path, users.into(), matches!(raw, RawSize::Count(_)));
        users
    }

    /// A size as a number of users; 0 after a problem.
    fn resolve(&mut self, path: &FieldPath, raw: &RawSize) -> u32 {
        match raw.resolve(self.users) {
            Ok(s) => s.users,
            Err((message, fix)) => {
                self.at(path, message, fix);
                0
            }
        }
    }

    /// A warning when a number of users (not a share) exceeds the world's users: the
    /// phase then takes whoever it can, and the world is not the one the scenario meant.
    fn beyond_the_world(&mut self, path: &FieldPath, users: u64, absolute: bool) {
        if absolute && users > u64::from(self.users) {
            self.warnings.push(self.src.problem(
                path,
                format!(
                    "{users} users is more than the world's {}: the phase takes every user it can pick",
                    self.users
                ),
                format!(
                    r#"size the phase as a share of the world's users, like users = "10%" (docs/SCENARIOS.md), or run with --users {users} or more"#
                ),
            ));
        }
    }

    /// `action_burst`: a custom action the personas' world.toml declares.
    fn action_burst(&mut self, pp: &FieldPath, ph: &RawPhase) -> PhaseKind {
        let users = self.size(pp, ph);
        let name = ph.action.as_deref().unwrap_or("");
        let action = self.actions.iter().position(|a| a == name);
        if action.is_none() {
            self.at(
                &pp.key("action"),
                if name.is_empty() {
                    "an action burst needs `action`".to_string()
                } else {
                    format!("`{name}` is not a custom action of the personas' world.toml")
                },
                if self.actions.is_empty() {
                    "declare it under [actions.NAME] in the personas folder's world.toml (docs/PERSONAS.md)".to_string()
                } else {
                    format!("use one of: {}", self.actions.join(", "))
                },
            );
        }
        let times = ph.times.unwrap_or(1);
        if times == 0 {
            self.at(&pp.key("times"), "`times` is 0", "use 1 or more");
        }
        PhaseKind::ActionBurst {
            users,
            action: action.unwrap_or(0) as u16,
            times: times.max(1),
        }
    }

    fn game_burst(&mut self, pp: &FieldPath, ph: &RawPhase) -> PhaseKind {
        let users = self.size(pp, ph);
        let updates = match &ph.updates {
            Some(d) => Dist::from_raw(d, Unit::Number).unwrap_or_else(|e| {
                self.at(&pp.key("updates").key(e.field), e.message, e.fix);
                Dist::Constant(5.0)
            }),
            None => Dist::Uniform {
                min: 5.0,
                max: 10.0,
            },
        };
        PhaseKind::GameBurst { users, updates }
    }

    fn goal_wave(&mut self, pp: &FieldPath, ph: &RawPhase) -> PhaseKind {
        let tiers = ph.tiers.as_ref().map(|ts| {
            ts.iter()
                .enumerate()
                .map(|(j, t)| {
                    let tp = pp.key("tiers").index(j);
                    let after = self.duration(&tp.key("after"), &t.after);
                    (self.resolve(&tp.key("users"), &t.users), after)
                })
                .collect::<Vec<_>>()
        });
        if let Some(ts) = &ph.tiers {
            let total: u64 = tiers.iter().flatten().map(|t| u64::from(t.0)).sum();
            let absolute = ts.iter().any(|t| matches!(t.users, RawSize::Count(_)));
            self.beyond_the_world(&pp.key("tiers"), total, absolute);
        }
        let tiers = tiers.filter(|t| !t.is_empty()).unwrap_or_else(|| {
            self.at(
                pp,
                "a goal wave needs `tiers`",
                r#"add tiers = [{ users = "5%", after = "0m" }]"#,
            );
            Vec::new()
        });
        PhaseKind::GoalWave { tiers }
    }
}

impl Scenario {
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
    pub(crate) fn shares(&self, personas: &[Persona]) -> Vec<f64> {
        personas
            .iter()
            .map(|q| match &self.mix {
                Some(m) => m.get(&q.name).copied().unwrap_or(0.0),
                None => q.share,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Result<Scenario, Problems> {
        let personas = crate::persona::load(None).expect("shipped personas");
        Scenario::from_source(
            &Source::new("team.toml", text),
            &Overrides::default(),
            &personas,
        )
    }

    #[test]
    fn profiles_parse_and_bad_stages_name_their_line_and_field() {
        let s = scenario("[profiles.smoke]\nstages = \"30s:0..20/s, 1m:20/s\"\n").unwrap();
        let smoke = s.profile("smoke").unwrap();
        assert_eq!(smoke.pace, None);
        assert_eq!(smoke.stages.total_ms(), 90_000);
        assert_eq!(smoke.stages.stages()[1].name.as_deref(), Some("smoke"));
        // A class or a kind may lead a profile's stages: it paces them; stage names stay.
        let led =
            scenario("[profiles.api]\nstages = \"class:api=l50=1m:50/s, 1m:100/s\"\n").unwrap();
        let api = led.profile("api").unwrap();
        assert_eq!(api.pace.as_deref(), Some("class:api"));
        let names: Vec<_> = api.stages.stages().iter().map(|s| s.name.clone()).collect();
        assert_eq!(names, [Some("l50".to_string()), Some("api".to_string())]);
        let led = scenario("[profiles.e]\nstages = \"points.earned=1m:5/s\"\n").unwrap();
        assert_eq!(
            led.profile("e").unwrap().pace.as_deref(),
            Some("points.earned")
        );
        let e = s.profile("stress").unwrap_err();
        assert!(e.fix.contains("smoke"), "{e}");
        let e = scenario("users = 10\n\n[profiles.stress]\nstages = \"2m:0..-5/s\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("team.toml") && e.contains("profiles.stress.stages") && e.contains(":4"),
            "{e}"
        );
    }
}
