//! Writes events as JSON lines (schema `schema/event.v1.json`).
//!
//! Hand-written rather than serde-derived: every line has the same shape, all strings but
//! persona labels are ASCII identifiers we generate, and the engine writes millions of
//! lines a second; a generic serializer spends its time on what we already know.

use super::event::*;
use crate::catalog::{Catalog, Labels};
use crate::persona::Persona;
use crate::units::DateCache;
use crate::world::pools::Pools;

pub const SCHEMA_VERSION: u32 = 1;

/// Pre-escaped labels so writing a line never escapes anything.
#[derive(Clone, Debug)]
pub struct LineWriter {
    start_ms: i64,
    personas: Vec<Vec<u8>>,
    platforms: Vec<Vec<Vec<u8>>>,
    locales: Vec<Vec<Vec<u8>>>,
    /// The world's seed and its `[ids]`/`[pools]`, when it declares any: their ids join
    /// `user.signed_up`'s props.
    team: Option<(u64, Pools)>,
    /// The team's catalog ids and stat names, when the scenario gives its own catalog:
    /// goal, challenge and stat props carry them (a generated catalog's are `goal-N`).
    catalog: Option<std::sync::Arc<Labels>>,
    /// Per persona, the attributes `user.signed_up` carries beside platform and locale
    /// (`tz`): a world with a `world.toml` only, so the default world's lines stay.
    attrs: Vec<Vec<AttrOut>>,
}

/// One persona attribute as `user.signed_up` writes it.
#[derive(Clone, Debug)]
struct AttrOut {
    /// Its index among the persona's attributes.
    index: usize,
    /// `,"tz":`, escaped once.
    key: Vec<u8>,
    /// A category's labels as JSON strings; empty for a number.
    labels: Vec<Vec<u8>>,
}

fn json_str(s: &str) -> Vec<u8> {
    serde_json::to_vec(s).unwrap_or_else(|_| b"\"\"".to_vec())
}

fn labels(p: &Persona, attr: &str) -> Vec<Vec<u8>> {
    p.attribute_index(attr)
        .map(|i| {
            p.attributes[i]
                .dist
                .labels()
                .iter()
                .map(|l| json_str(l))
                .collect()
        })
        .unwrap_or_default()
}

#[inline]
fn num(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A value in [0, 1] with three decimals, written exactly (no float formatting).
#[inline]
fn unit3(out: &mut Vec<u8>, v: f32) {
    let m = (v.clamp(0.0, 1.0) * 1000.0).round() as u32;
    out.push(b'0' + (m / 1000) as u8);
    out.push(b'.');
    out.push(b'0' + (m / 100 % 10) as u8);
    out.push(b'0' + (m / 10 % 10) as u8);
    out.push(b'0' + (m % 10) as u8);
}

impl LineWriter {
    pub(crate) fn new(start_ms: i64, personas: &[Persona]) -> Self {
        LineWriter {
            start_ms,
            personas: personas.iter().map(|p| json_str(&p.name)).collect(),
            platforms: personas.iter().map(|p| labels(p, "platform")).collect(),
            locales: personas.iter().map(|p| labels(p, "locale")).collect(),
            team: None,
            catalog: None,
            attrs: Vec::new(),
        }
    }

    /// The same writer naming goals, challenges and stats as the team's catalog does
    /// (only for a catalog with the team's names: the default world's lines stay).
    pub(crate) fn with_catalog(mut self, catalog: &Catalog) -> Self {
        self.catalog = catalog.labels.clone();
        self
    }

    /// The same writer adding each user's own attributes (`tz`, any but platform and
    /// locale) to `user.signed_up`, when the personas come with a `world.toml`: replay's
    /// `{user.tz}` reads them there.
    pub(crate) fn with_attributes(mut self, personas: &[Persona]) -> Self {
        if crate::persona::signed_up_attributes(personas).is_empty() {
            return self;
        }
        self.attrs = personas
            .iter()
            .map(|p| {
                p.attributes
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| !crate::persona::LINE_ATTRIBUTES.contains(&a.name.as_str()))
                    .map(|(index, a)| AttrOut {
                        index,
                        key: [&b","[..], &json_str(&a.name), b":"].concat(),
                        labels: a.dist.labels().iter().map(|l| json_str(l)).collect(),
                    })
                    .collect()
            })
            .collect();
        self
    }

    /// Whether `user.signed_up` lines need the user's attributes ([`Self::write_signed_up`]).
    pub(crate) fn writes_attributes(&self) -> bool {
        !self.attrs.is_empty()
    }

    /// `user.signed_up` with the user's own attributes after the team's ids.
    pub(crate) fn write_signed_up(
        &self,
        e: &Event,
        attrs: &[f32],
        out: &mut Vec<u8>,
        dates: &mut DateCache,
    ) {
        self.write_with(e, out, dates, |out| {
            self.props(e, out);
            for a in self.attrs.get(e.persona as usize).into_iter().flatten() {
                out.extend_from_slice(&a.key);
                let v = attrs.get(a.index).copied().unwrap_or(0.0);
                match a.labels.get(v as usize) {
                    Some(l) => out.extend_from_slice(l),
                    None if !a.labels.is_empty() || !v.is_finite() => {
                        out.extend_from_slice(b"null")
                    }
                    // Rust's shortest round-trip form: the same on every machine.
                    None => out.extend_from_slice(v.to_string().as_bytes()),
                }
            }
        });
    }

    /// The same writer adding the team's ids and pools to `user.signed_up` (only for a
    /// world that declares them: the default world's lines stay as they were).
    pub(crate) fn with_team(mut self, seed: u64, pools: &Pools) -> Self {
        self.team = pools.declared().then(|| (seed, pools.clone()));
        self
    }

    fn label<'a>(&self, table: &'a [Vec<Vec<u8>>], persona: u16, i: u8) -> &'a [u8] {
        table
            .get(persona as usize)
            .and_then(|t| t.get(i as usize))
            .map(|v| v.as_slice())
            .unwrap_or(b"null")
    }

    /// Appends one line, newline included.
    pub(crate) fn write(&self, e: &Event, out: &mut Vec<u8>, dates: &mut DateCache) {
        self.write_with(e, out, dates, |out| self.props(e, out));
    }

    /// Appends one line whose `props` members `props` writes: a custom kind's, whose
    /// values exist only while the engine makes the event.
    #[inline]
    pub(crate) fn write_with(
        &self,
        e: &Event,
        out: &mut Vec<u8>,
        dates: &mut DateCache,
        props: impl FnOnce(&mut Vec<u8>),
    ) {
        out.extend_from_slice(b"{\"v\":1,\"ts\":\"");
        dates.write(out, self.start_ms + e.t_ms);
        out.extend_from_slice(b"\",\"t_ms\":");
        num(out, e.t_ms);
        out.extend_from_slice(b",\"user_id\":\"u");
        num(out, e.user);
        out.extend_from_slice(b"\",\"persona\":");
        out.extend_from_slice(&self.personas[e.persona as usize]);
        if e.session == 0 {
            out.extend_from_slice(b",\"session_id\":null");
        } else {
            out.extend_from_slice(b",\"session_id\":\"s");
            num(out, e.user);
            out.push(b'-');
            num(out, e.session);
            out.push(b'"');
        }
        out.extend_from_slice(b",\"seq\":");
        num(out, e.seq);
        out.extend_from_slice(b",\"event\":\"");
        out.extend_from_slice(e.props.name().as_bytes());
        out.extend_from_slice(b"\",\"props\":{");
        props(out);
        out.extend_from_slice(b"}}\n");
    }

    /// The `props` object's members, in the order docs/TIMELINE.md lists them. One arm
    /// per kind (the match stays exhaustive); the longer ones are methods below.
    fn props(&self, e: &Event, out: &mut Vec<u8>) {
        let s = |out: &mut Vec<u8>, b: &[u8]| out.extend_from_slice(b);
        let labels = self.catalog.as_deref();
        match e.props {
            Props::SignedUp {
                source,
                invited_by,
                platform,
                locale,
                room,
            } => self.signed_up(e, out, source, invited_by, (platform, locale), room),
            Props::SessionStarted {
                trigger,
                habit,
                room,
            } => session_started(out, trigger, habit, room),
            Props::SessionEnded {
                reason,
                duration_ms,
                habit,
                reward_tries,
                investment_tries,
            } => session_ended(
                out,
                reason,
                duration_ms,
                habit,
                (reward_tries, investment_tries),
            ),
            Props::LoggedIn { platform } => {
                s(out, b"\"platform\":");
                s(out, self.label(&self.platforms, e.persona, platform));
            }
            Props::NudgeSent { nudge, campaign } => {
                nudge_id(out, e.user, nudge);
                s(out, b",\"channel\":\"push\",\"campaign\":");
                match campaign {
                    Some(c) => num(out, c),
                    None => s(out, b"null"),
                }
            }
            Props::NudgeOpened { nudge, delay_ms } => {
                nudge_id(out, e.user, nudge);
                s(out, b",\"delay_ms\":");
                num(out, delay_ms);
            }
            Props::PointsEarned {
                amount,
                source,
                balance,
            } => points_earned(out, amount, source, balance),
            Props::PointsRedeemed { amount, balance } => {
                s(out, b"\"amount\":");
                num(out, amount);
                s(out, b",\"balance\":");
                num(out, balance);
            }
            Props::ChallengeViewed { challenge } => challenge_viewed(out, labels, challenge),
            Props::StatUpdated { code, value, delta } => {
                stat_updated(out, labels, code, value, delta)
            }
            Props::GoalCompleted {
                goal,
                challenge,
                code,
                target,
            } => goal_completed(out, labels, (goal, challenge), code, target),
            Props::GoalClaimed {
                goal,
                challenge,
                reward,
            } => goal_claimed(out, labels, (goal, challenge), reward),
            Props::GiftCreated {
                gift,
                shares,
                value,
                room,
            } => gift_created(out, gift, shares, value, room),
            Props::GiftClaimed { gift, outcome } => gift_claimed(out, gift, outcome),
            Props::CheckIn {
                day_part,
                mood,
                streak,
            } => check_in(out, day_part, mood, streak),
            Props::Purchase {
                n,
                amount,
                currency,
            } => purchase(out, e.user, n, amount, &currency),
            Props::ProfileUpdated { field } => {
                s(out, b"\"field\":\"");
                let name = PROFILE_FIELDS[field as usize % PROFILE_FIELDS.len()];
                s(out, name.as_bytes());
                s(out, b"\"");
            }
            Props::Invited { invite } => {
                s(out, b"\"invite_id\":\"i");
                num(out, e.user);
                s(out, b"-");
                num(out, invite);
                s(out, b"\"");
            }
            Props::Churned {
                habit,
                days_since_signup,
            } => churned(out, habit, days_since_signup),
            // Written once, when the engine makes the event (`write_with`): the values
            // are not kept, and no line is ever rewritten for a custom kind.
            Props::Custom { .. } => {}
        }
    }

    /// `user.signed_up`: how the user came, who invited them, their platform and locale
    /// labels, their gift room.
    fn signed_up(
        &self,
        e: &Event,
        out: &mut Vec<u8>,
        source: SignupSource,
        invited_by: Option<u32>,
        (platform, locale): (u8, u8),
        room: u32,
    ) {
        out.extend_from_slice(b"\"source\":\"");
        out.extend_from_slice(match source {
            SignupSource::Launch => b"launch",
            SignupSource::Organic => b"organic",
            SignupSource::Invite => b"invite",
        });
        out.extend_from_slice(b"\",\"invited_by\":");
        match invited_by {
            Some(u) => {
                out.extend_from_slice(b"\"u");
                num(out, u);
                out.extend_from_slice(b"\"");
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"platform\":");
        out.extend_from_slice(self.label(&self.platforms, e.persona, platform));
        out.extend_from_slice(b",\"locale\":");
        out.extend_from_slice(self.label(&self.locales, e.persona, locale));
        out.extend_from_slice(b",\"room\":");
        num(out, room);
        if let Some((seed, pools)) = &self.team {
            team_fields(out, *seed, pools, e.user);
        }
    }
}

/// The team's ids of a user in `user.signed_up`: `"id":"c-0001"`, each pool's member by
/// the pool's name, and `"existing":true` for a user from the team's users file.
fn team_fields(out: &mut Vec<u8>, seed: u64, pools: &Pools, user: u32) {
    for (name, value) in pools.fields(seed, user) {
        out.push(b',');
        out.extend_from_slice(&json_str(name));
        out.push(b':');
        out.extend_from_slice(&json_str(&value));
    }
    if pools.existing(user) {
        out.extend_from_slice(b",\"existing\":true");
    }
}

/// `session.started`: what triggered it (a phase with its index), the habit, the room.
fn session_started(out: &mut Vec<u8>, trigger: Trigger, habit: f32, room: u32) {
    out.extend_from_slice(b"\"trigger\":\"");
    match trigger {
        Trigger::Internal => out.extend_from_slice(b"internal\""),
        Trigger::Nudge => out.extend_from_slice(b"nudge\""),
        Trigger::Broadcast => out.extend_from_slice(b"broadcast\""),
        Trigger::Phase(i) => {
            out.extend_from_slice(b"phase\",\"phase\":");
            num(out, i);
        }
    }
    out.extend_from_slice(b",\"habit\":");
    unit3(out, habit);
    out.extend_from_slice(b",\"room\":");
    num(out, room);
}

/// `session.ended`: why, how long, the habit, and the Hooked-loop tries.
fn session_ended(
    out: &mut Vec<u8>,
    reason: EndReason,
    duration_ms: i64,
    habit: f32,
    (reward_tries, investment_tries): (u8, u8),
) {
    out.extend_from_slice(b"\"reason\":\"");
    out.extend_from_slice(reason.name().as_bytes());
    out.extend_from_slice(b"\",\"duration_ms\":");
    num(out, duration_ms);
    out.extend_from_slice(b",\"habit\":");
    unit3(out, habit);
    out.extend_from_slice(b",\"reward_tries\":");
    num(out, reward_tries);
    out.extend_from_slice(b",\"investment_tries\":");
    num(out, investment_tries);
}

fn points_earned(out: &mut Vec<u8>, amount: u32, source: PointsSource, balance: i64) {
    out.extend_from_slice(b"\"amount\":");
    num(out, amount);
    out.extend_from_slice(b",\"source\":\"");
    let goal = source == PointsSource::Goal;
    out.extend_from_slice(if goal { b"goal" } else { b"activity" });
    out.extend_from_slice(b"\",\"balance\":");
    num(out, balance);
}

fn gift_created(out: &mut Vec<u8>, gift: GiftId, shares: u16, value: u32, room: u32) {
    gift_id(out, gift);
    out.extend_from_slice(b",\"shares\":");
    num(out, shares);
    out.extend_from_slice(b",\"value\":");
    num(out, value);
    out.extend_from_slice(b",\"room\":");
    num(out, room);
}

fn check_in(out: &mut Vec<u8>, day_part: u8, mood: u8, streak: u16) {
    out.extend_from_slice(b"\"dayPart\":\"");
    out.extend_from_slice(DAY_PARTS[day_part as usize % 4].as_bytes());
    out.extend_from_slice(b"\",\"mood\":");
    num(out, mood);
    out.extend_from_slice(b",\"streak\":");
    num(out, streak);
}

/// `challenge.viewed`: `"challenge_id":"challenge-<c>"`, or the team's id.
fn challenge_viewed(out: &mut Vec<u8>, labels: Option<&Labels>, challenge: u16) {
    match labels {
        Some(l) => {
            out.extend_from_slice(b"\"challenge_id\":");
            out.extend_from_slice(&l.challenges_json[challenge as usize]);
        }
        None => {
            out.extend_from_slice(b"\"challenge_id\":\"challenge-");
            num(out, challenge);
            out.push(b'"');
        }
    }
}

/// `"statCode":"<name>"`: the engine's name, or the team's.
fn stat_code(out: &mut Vec<u8>, labels: Option<&Labels>, code: StatCode) {
    out.extend_from_slice(b"\"statCode\":");
    match labels {
        Some(l) => out.extend_from_slice(&l.stats_json[code as usize]),
        None => {
            out.push(b'"');
            out.extend_from_slice(code.name().as_bytes());
            out.push(b'"');
        }
    }
}

fn stat_updated(
    out: &mut Vec<u8>,
    labels: Option<&Labels>,
    code: StatCode,
    value: u32,
    delta: u32,
) {
    stat_code(out, labels, code);
    out.extend_from_slice(b",\"value\":");
    num(out, value);
    out.extend_from_slice(b",\"delta\":");
    num(out, delta);
}

fn goal_completed(
    out: &mut Vec<u8>,
    labels: Option<&Labels>,
    (goal, challenge): (u16, u16),
    code: StatCode,
    target: u32,
) {
    goal_ids(out, labels, goal, challenge);
    out.push(b',');
    stat_code(out, labels, code);
    out.extend_from_slice(b",\"target\":");
    num(out, target);
}

fn goal_claimed(
    out: &mut Vec<u8>,
    labels: Option<&Labels>,
    (goal, challenge): (u16, u16),
    reward: u32,
) {
    goal_ids(out, labels, goal, challenge);
    out.extend_from_slice(b",\"reward\":");
    num(out, reward);
}

fn churned(out: &mut Vec<u8>, habit: f32, days_since_signup: u32) {
    out.extend_from_slice(b"\"habit\":");
    unit3(out, habit);
    out.extend_from_slice(b",\"days_since_signup\":");
    num(out, days_since_signup);
}

/// `"nudge_id":"n<user>-<n>"`.
fn nudge_id(out: &mut Vec<u8>, user: u32, nudge: impl itoa::Integer) {
    out.extend_from_slice(b"\"nudge_id\":\"n");
    num(out, user);
    out.push(b'-');
    num(out, nudge);
    out.push(b'"');
}

/// `"goal_id":"goal-<g>","challenge_id":"challenge-<c>"`, or the team's catalog's ids.
fn goal_ids(out: &mut Vec<u8>, labels: Option<&Labels>, goal: u16, challenge: u16) {
    if let Some(l) = labels {
        out.extend_from_slice(b"\"goal_id\":");
        out.extend_from_slice(&l.goals_json[goal as usize]);
        out.extend_from_slice(b",\"challenge_id\":");
        out.extend_from_slice(&l.challenges_json[challenge as usize]);
        return;
    }
    out.extend_from_slice(b"\"goal_id\":\"goal-");
    num(out, goal);
    out.extend_from_slice(b"\",\"challenge_id\":\"challenge-");
    num(out, challenge);
    out.push(b'"');
}

/// `gift.claimed`: the gift and what came of the claim (a share won, or why not).
fn gift_claimed(out: &mut Vec<u8>, gift: GiftId, outcome: ClaimOutcome) {
    gift_id(out, gift);
    match outcome {
        ClaimOutcome::Won { share } => {
            out.extend_from_slice(b",\"outcome\":\"won\",\"share\":");
            num(out, share);
        }
        ClaimOutcome::Exhausted => {
            out.extend_from_slice(b",\"outcome\":\"exhausted\",\"share\":null")
        }
        ClaimOutcome::Expired => out.extend_from_slice(b",\"outcome\":\"expired\",\"share\":null"),
        ClaimOutcome::Pending => out.extend_from_slice(b",\"outcome\":\"pending\",\"share\":null"),
    }
}

/// `purchase.completed`: `p<user>-<n>`, the amount in minor units, the currency, the SKU.
fn purchase(out: &mut Vec<u8>, user: u32, n: impl itoa::Integer, amount: u32, currency: &[u8]) {
    out.extend_from_slice(b"\"purchase_id\":\"p");
    num(out, user);
    out.push(b'-');
    num(out, n);
    out.extend_from_slice(b"\",\"amount\":");
    num(out, amount);
    out.extend_from_slice(b",\"currency\":\"");
    out.extend_from_slice(currency);
    out.extend_from_slice(b"\",\"sku\":\"sku-");
    num(out, amount);
    out.push(b'"');
}

fn gift_id(out: &mut Vec<u8>, g: GiftId) {
    out.extend_from_slice(b"\"gift_id\":\"g");
    num(out, g.creator);
    out.push(b'-');
    num(out, g.n);
    out.push(b'"');
}
