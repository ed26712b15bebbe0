//! Writes events as JSON lines (schema `schema/event.v1.json`).
//!
//! Hand-written rather than serde-derived: every line has the same shape, all strings but
//! persona labels are ASCII identifiers we generate, and the engine writes millions of
//! lines a second; a generic serializer spends its time on what we already know.

use super::event::*;
use crate::persona::Persona;
use crate::units::DateCache;

pub const SCHEMA_VERSION: u32 = 1;

/// Pre-escaped labels so writing a line never escapes anything.
#[derive(Clone, Debug)]
pub struct LineWriter {
    start_ms: i64,
    personas: Vec<Vec<u8>>,
    platforms: Vec<Vec<Vec<u8>>>,
    locales: Vec<Vec<Vec<u8>>>,
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
        }
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
        self.props(e, out);
        out.extend_from_slice(b"}}\n");
    }

    #[expect(clippy::too_many_lines, reason = "issue 17 cuts it into named steps")]
    fn props(&self, e: &Event, out: &mut Vec<u8>) {
        let s = |out: &mut Vec<u8>, b: &[u8]| out.extend_from_slice(b);
        match e.props {
            Props::SignedUp {
                source,
                invited_by,
                platform,
                locale,
                room,
            } => {
                s(out, b"\"source\":\"");
                s(
                    out,
                    match source {
                        SignupSource::Launch => b"launch",
                        SignupSource::Organic => b"organic",
                        SignupSource::Invite => b"invite",
                    },
                );
                s(out, b"\",\"invited_by\":");
                match invited_by {
                    Some(u) => {
                        s(out, b"\"u");
                        num(out, u);
                        s(out, b"\"");
                    }
                    None => s(out, b"null"),
                }
                s(out, b",\"platform\":");
                s(out, self.label(&self.platforms, e.persona, platform));
                s(out, b",\"locale\":");
                s(out, self.label(&self.locales, e.persona, locale));
                s(out, b",\"room\":");
                num(out, room);
            }
            Props::SessionStarted {
                trigger,
                habit,
                room,
            } => {
                s(out, b"\"trigger\":\"");
                match trigger {
                    Trigger::Internal => s(out, b"internal\""),
                    Trigger::Nudge => s(out, b"nudge\""),
                    Trigger::Broadcast => s(out, b"broadcast\""),
                    Trigger::Phase(i) => {
                        s(out, b"phase\",\"phase\":");
                        num(out, i);
                    }
                }
                s(out, b",\"habit\":");
                unit3(out, habit);
                s(out, b",\"room\":");
                num(out, room);
            }
            Props::SessionEnded {
                reason,
                duration_ms,
                habit,
                reward_tries,
                investment_tries,
            } => {
                s(out, b"\"reason\":\"");
                s(out, reason.name().as_bytes());
                s(out, b"\",\"duration_ms\":");
                num(out, duration_ms);
                s(out, b",\"habit\":");
                unit3(out, habit);
                s(out, b",\"reward_tries\":");
                num(out, reward_tries);
                s(out, b",\"investment_tries\":");
                num(out, investment_tries);
            }
            Props::LoggedIn { platform } => {
                s(out, b"\"platform\":");
                s(out, self.label(&self.platforms, e.persona, platform));
            }
            Props::NudgeSent { nudge, campaign } => {
                s(out, b"\"nudge_id\":\"n");
                num(out, e.user);
                s(out, b"-");
                num(out, nudge);
                s(out, b"\",\"channel\":\"push\",\"campaign\":");
                match campaign {
                    Some(c) => num(out, c),
                    None => s(out, b"null"),
                }
            }
            Props::NudgeOpened { nudge, delay_ms } => {
                s(out, b"\"nudge_id\":\"n");
                num(out, e.user);
                s(out, b"-");
                num(out, nudge);
                s(out, b"\",\"delay_ms\":");
                num(out, delay_ms);
            }
            Props::PointsEarned {
                amount,
                source,
                balance,
            } => {
                s(out, b"\"amount\":");
                num(out, amount);
                s(out, b",\"source\":\"");
                s(
                    out,
                    if source == PointsSource::Goal {
                        b"goal"
                    } else {
                        b"activity"
                    },
                );
                s(out, b"\",\"balance\":");
                num(out, balance);
            }
            Props::PointsRedeemed { amount, balance } => {
                s(out, b"\"amount\":");
                num(out, amount);
                s(out, b",\"balance\":");
                num(out, balance);
            }
            Props::ChallengeViewed { challenge } => {
                s(out, b"\"challenge_id\":\"challenge-");
                num(out, challenge);
                s(out, b"\"");
            }
            Props::StatUpdated { code, value, delta } => {
                s(out, b"\"statCode\":\"");
                s(out, code.name().as_bytes());
                s(out, b"\",\"value\":");
                num(out, value);
                s(out, b",\"delta\":");
                num(out, delta);
            }
            Props::GoalCompleted {
                goal,
                challenge,
                code,
                target,
            } => {
                s(out, b"\"goal_id\":\"goal-");
                num(out, goal);
                s(out, b"\",\"challenge_id\":\"challenge-");
                num(out, challenge);
                s(out, b"\",\"statCode\":\"");
                s(out, code.name().as_bytes());
                s(out, b"\",\"target\":");
                num(out, target);
            }
            Props::GoalClaimed {
                goal,
                challenge,
                reward,
            } => {
                s(out, b"\"goal_id\":\"goal-");
                num(out, goal);
                s(out, b"\",\"challenge_id\":\"challenge-");
                num(out, challenge);
                s(out, b"\",\"reward\":");
                num(out, reward);
            }
            Props::GiftCreated {
                gift,
                shares,
                value,
                room,
            } => {
                gift_id(out, gift);
                s(out, b",\"shares\":");
                num(out, shares);
                s(out, b",\"value\":");
                num(out, value);
                s(out, b",\"room\":");
                num(out, room);
            }
            Props::GiftClaimed { gift, outcome } => {
                gift_id(out, gift);
                match outcome {
                    ClaimOutcome::Won { share } => {
                        s(out, b",\"outcome\":\"won\",\"share\":");
                        num(out, share);
                    }
                    ClaimOutcome::Exhausted => s(out, b",\"outcome\":\"exhausted\",\"share\":null"),
                    ClaimOutcome::Expired => s(out, b",\"outcome\":\"expired\",\"share\":null"),
                    ClaimOutcome::Pending => s(out, b",\"outcome\":\"pending\",\"share\":null"),
                }
            }
            Props::CheckIn {
                day_part,
                mood,
                streak,
            } => {
                s(out, b"\"dayPart\":\"");
                s(out, DAY_PARTS[day_part as usize % 4].as_bytes());
                s(out, b"\",\"mood\":");
                num(out, mood);
                s(out, b",\"streak\":");
                num(out, streak);
            }
            Props::Purchase {
                n,
                amount,
                currency,
            } => {
                s(out, b"\"purchase_id\":\"p");
                num(out, e.user);
                s(out, b"-");
                num(out, n);
                s(out, b"\",\"amount\":");
                num(out, amount);
                s(out, b",\"currency\":\"");
                s(out, &currency);
                s(out, b"\",\"sku\":\"sku-");
                num(out, amount);
                s(out, b"\"");
            }
            Props::ProfileUpdated { field } => {
                s(out, b"\"field\":\"");
                s(
                    out,
                    PROFILE_FIELDS[field as usize % PROFILE_FIELDS.len()].as_bytes(),
                );
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
            } => {
                s(out, b"\"habit\":");
                unit3(out, habit);
                s(out, b",\"days_since_signup\":");
                num(out, days_since_signup);
            }
        }
    }
}

fn gift_id(out: &mut Vec<u8>, g: GiftId) {
    out.extend_from_slice(b"\"gift_id\":\"g");
    num(out, g.creator);
    out.push(b'-');
    num(out, g.n);
    out.push(b'"');
}
