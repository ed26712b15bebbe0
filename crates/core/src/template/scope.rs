//! What a template reads when it renders: a [`Scope`]. Replay's is [`Ctx`] (an event
//! line, its parsed JSON when a field needs it, and the user's token); seed rows and
//! custom actions bring their own.

use std::borrow::Cow;

use serde_json::Value;

use super::field::{Field, UserField};
use super::value::{Val, parse_ts};
use crate::ids;
use crate::world::pools::Team;

/// The values of a place's fields. `push` and `json` are the fast paths for a hole that
/// is exactly one field (every template written before expressions existed): a scope
/// overrides them to write straight from its own data.
pub trait Scope {
    /// A field's value; null when this event does not carry it.
    fn field(&self, f: &Field) -> Val<'_>;

    /// A field's text appended to `out`.
    fn push(&self, f: &Field, out: &mut String) {
        self.field(f).write_text(out);
    }

    /// A field as a JSON value (numbers stay numbers in bodies).
    fn json(&self, f: &Field) -> Value {
        self.field(f).to_json()
    }

    /// `lookup(pool, id, field)`: the member of pool `field` that member `id` of `pool`
    /// belongs to, in this scope's world; `None` where there is no world of pools.
    fn lookup(&self, _pool: &str, _id: &str, _field: &str) -> Option<String> {
        None
    }
}

/// No fields at all: for constants, folded when a template compiles.
pub struct Constants;

impl Scope for Constants {
    fn field(&self, _: &Field) -> Val<'_> {
        Val::Null
    }
}

/// What a replay render may look at: the event's own fields and line, its parsed JSON
/// when a field needs it ([`super::Template::needs_json`]), and the user's token.
pub struct Ctx<'a> {
    pub user_id: &'a str,
    pub seq: u32,
    /// The user's session number (from 1), 0 outside a session.
    pub session: u32,
    pub t_ms: i64,
    /// The event kind's name.
    pub event: &'a str,
    /// The event's JSON line, without its newline.
    pub line: &'a [u8],
    pub json: Option<&'a Value>,
    pub token: Option<&'a str>,
    /// The captured values the template reads (`vars.*`, `entity.*.*`), looked up by
    /// the replay before it renders; a field not here renders null.
    pub vars: &'a [(Field, String)],
    /// The props of the user's `user.signed_up` (`user.<name>`): the team's id, pools,
    /// attributes. `None` when the source kept none (no template reads `user.*`).
    pub user: Option<&'a serde_json::Map<String, Value>>,
    /// The world's ids and pools, for `lookup(…)`; `None` where the world is not known
    /// (a foreign log, a seed row): the lookup renders null.
    pub team: Option<&'a Team>,
    /// The entity this event (or row) names, in the team's format (`[ids] gift`): the
    /// prop naming it (`gift_id`) and the team's id, which `{props.gift_id}` renders
    /// instead of the timeline's `g3-1`. `None` when the world names it no other way.
    pub entity: Option<(&'a str, &'a str)>,
}

impl<'a> Ctx<'a> {
    /// The session's id in the team's format (`[ids] session`), when the world names
    /// sessions so and the event is in one.
    fn team_session(&self) -> Option<String> {
        let team = self.team?;
        team.pools.sessions.as_ref()?;
        let user: u32 = self.user_id.strip_prefix('u')?.parse().ok()?;
        (self.session > 0)
            .then(|| team.pools.session_id(team.seed, user, self.session))
            .flatten()
    }

    /// The team's id when `f` is the prop naming this event's entity (`props.gift_id`).
    #[inline]
    fn team_entity(&self, f: &Field) -> Option<&'a str> {
        let (prop, id) = self.entity?;
        match f {
            Field::Prop(path) if path.len() == 1 && path[0] == prop => Some(id),
            _ => None,
        }
    }

    /// A captured value the replay looked up for this render.
    fn var(&self, f: &Field) -> Option<&'a str> {
        self.vars
            .iter()
            .find(|(k, _)| k == f)
            .map(|(_, v)| v.as_str())
    }

    fn lookup(&self, f: &Field) -> Option<&'a Value> {
        let j = self.json;
        match f {
            Field::Prop(path) => {
                let mut v = j?.get("props")?;
                for k in path {
                    v = v.get(k.as_str())?;
                }
                Some(v)
            }
            Field::SessionId => j?.get("session_id"),
            Field::Persona => j?.get("persona"),
            Field::Ts => j?.get("ts"),
            // `user.id`, an attribute or a pool: the user's `user.signed_up` props.
            Field::User(UserField::Id) => self.user?.get("id"),
            Field::User(UserField::Attr(n) | UserField::SignedUp(n)) => self.user?.get(&**n),
            _ => None,
        }
    }
}

impl Scope for Ctx<'_> {
    fn field(&self, f: &Field) -> Val<'_> {
        match f {
            Field::UserId => Val::Str(Cow::Borrowed(self.user_id)),
            Field::Seq => Val::Int(self.seq as i64),
            Field::Event => Val::Str(Cow::Borrowed(self.event)),
            Field::TMs => Val::Int(self.t_ms),
            Field::Token => self.token.map_or(Val::Null, |t| Val::Str(Cow::Borrowed(t))),
            Field::Var(_) | Field::Entity(..) => self
                .var(f)
                .map_or(Val::Null, |v| Val::Str(Cow::Borrowed(v))),
            Field::Line => {
                serde_json::from_slice(self.line).map_or(Val::Null, |v| Val::Json(Cow::Owned(v)))
            }
            Field::EventId => Val::Str(Cow::Owned(ids::event_id(self.user_id, self.seq))),
            Field::Traceparent => Val::Str(Cow::Owned(ids::traceparent(
                self.user_id,
                self.session,
                self.seq,
            ))),
            Field::Ts => match self.lookup(f) {
                Some(Value::String(s)) => parse_ts(s).map_or(Val::Null, Val::Ts),
                _ => Val::Null,
            },
            Field::SessionId if self.team.is_some() => match self.team_session() {
                Some(s) => Val::Str(Cow::Owned(s)),
                None => self.lookup(f).map_or(Val::Null, Val::from_json),
            },
            Field::Prop(_) if self.entity.is_some() => match self.team_entity(f) {
                Some(id) => Val::Str(Cow::Borrowed(id)),
                None => self.lookup(f).map_or(Val::Null, Val::from_json),
            },
            // Without the team's `[ids]` a user's id is the timeline's.
            Field::User(UserField::Id) if self.lookup(f).is_none() => {
                Val::Str(Cow::Borrowed(self.user_id))
            }
            other => self.lookup(other).map_or(Val::Null, Val::from_json),
        }
    }

    fn push(&self, f: &Field, out: &mut String) {
        match f {
            Field::UserId => out.push_str(self.user_id),
            Field::Seq => out.push_str(itoa::Buffer::new().format(self.seq)),
            Field::Event => out.push_str(self.event),
            Field::TMs => out.push_str(itoa::Buffer::new().format(self.t_ms)),
            Field::Token => out.push_str(self.token.unwrap_or("")),
            Field::Var(_) | Field::Entity(..) => out.push_str(self.var(f).unwrap_or("")),
            Field::Line => out.push_str(&String::from_utf8_lossy(self.line)),
            Field::EventId => out.push_str(&ids::event_id(self.user_id, self.seq)),
            Field::Traceparent => {
                out.push_str(&ids::traceparent(self.user_id, self.session, self.seq))
            }
            Field::User(UserField::Id) if self.lookup(f).is_none() => out.push_str(self.user_id),
            Field::SessionId if self.team.is_some() => out.push_str(&self.field(f).to_text()),
            Field::Prop(_) if self.team_entity(f).is_some() => {
                out.push_str(self.team_entity(f).unwrap_or(""))
            }
            other => match self.lookup(other) {
                Some(Value::String(s)) => out.push_str(s),
                Some(Value::Null) | None => {}
                Some(v) => out.push_str(&v.to_string()),
            },
        }
    }

    fn lookup(&self, pool: &str, id: &str, field: &str) -> Option<String> {
        self.team?.lookup(pool, id, field)
    }

    fn json(&self, f: &Field) -> Value {
        match f {
            Field::Seq => Value::from(self.seq),
            Field::TMs => Value::from(self.t_ms),
            Field::Line => serde_json::from_slice(self.line).unwrap_or(Value::Null),
            Field::SessionId if self.team.is_some() => self.field(f).to_json(),
            Field::Prop(_) if self.team_entity(f).is_some() => self.field(f).to_json(),
            Field::Prop(_) | Field::SessionId | Field::Persona | Field::Ts => {
                self.lookup(f).cloned().unwrap_or(Value::Null)
            }
            Field::User(_) => match self.lookup(f) {
                Some(v) => v.clone(),
                None => self.field(f).to_json(),
            },
            _ => {
                let mut s = String::new();
                self.push(f, &mut s);
                Value::String(s)
            }
        }
    }
}
