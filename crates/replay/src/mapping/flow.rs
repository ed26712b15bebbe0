//! Flows: what a mapped event does beyond one request (docs/REPLAY.md, "Flows"). An
//! event may become several requests in order (steps), each answer may give values to
//! later requests (captures: the user's `{vars.NAME}`, or a timeline entity's
//! `{entity.ENTITY.NAME}`), be counted by a field (outcomes), or be polled until its
//! checks hold. The model here knows no transport: `crate::flows` runs it.

use std::time::Duration;

use serde_json::Value;
use simulate_core::template::{Field, Template};

/// Where a captured value is kept.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VarRef {
    /// `vars.NAME`: the user's, for their later requests.
    User(String),
    /// `entity.ENTITY.NAME`: the entity the request's `entity` table names (the gift
    /// `g5186-1`), for every user's requests about it.
    Entity(String, String),
}

impl VarRef {
    /// `vars.token`, `entity.gift.id`: as written in a template and in `into`.
    pub fn name(&self) -> String {
        match self {
            VarRef::User(n) => format!("vars.{n}"),
            VarRef::Entity(e, n) => format!("entity.{e}.{n}"),
        }
    }

    /// Parses `vars.NAME` or `entity.ENTITY.NAME`.
    pub(crate) fn parse(text: &str) -> Option<VarRef> {
        let parts: Vec<&str> = text.split('.').collect();
        let ok = |s: &&str| !s.is_empty();
        match parts[..] {
            ["vars", n] if ok(&n) => Some(VarRef::User(n.into())),
            ["entity", e, n] if ok(&e) && ok(&n) => Some(VarRef::Entity(e.into(), n.into())),
            _ => None,
        }
    }

    /// The template field that reads it.
    pub(crate) fn field(&self) -> Field {
        match self {
            VarRef::User(n) => Field::Var(n.clone()),
            VarRef::Entity(e, n) => Field::Entity(e.clone(), n.clone()),
        }
    }

    /// The variable a template field reads, if it reads one.
    pub(crate) fn of_field(f: &Field) -> Option<VarRef> {
        match f {
            Field::Var(n) => Some(VarRef::User(n.clone())),
            Field::Entity(e, n) => Some(VarRef::Entity(e.clone(), n.clone())),
            _ => None,
        }
    }
}

/// Where in an answer a captured value is read.
#[derive(Clone, Debug, PartialEq)]
pub enum From {
    /// A field path of the answer's JSON: an HTTP body, a gRPC response, a Socket.IO
    /// ack's first argument.
    Field(Vec<String>),
    /// An HTTP response header (lower-case name): `location`, `set-cookie`.
    Header(String),
    /// A field path of the first argument of the next event of this name the server
    /// sends the user's Socket.IO connection after the emit (a broadcast).
    Broadcast(String, Vec<String>),
}

/// One value taken from an answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Capture {
    pub into: VarRef,
    pub from: From,
    /// A `field` capture's path number among its HTTP step's read paths (as
    /// [`super::Check::read_as`]).
    pub(crate) read_as: Option<usize>,
}

/// A step repeated until its checks hold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Poll {
    pub every: Duration,
    pub timeout: Duration,
}

/// What a step does with its answer and around its request, beyond sending it. The
/// default (all empty) is a plain request: the fast path.
#[derive(Clone, Debug, Default)]
pub struct StepExtras {
    pub captures: Vec<Capture>,
    /// A field path whose value counts the answers (`outcomes` in the summary).
    pub outcome: Option<Vec<String>>,
    /// Waited after the previous step's answer.
    pub think: Option<Duration>,
    pub poll: Option<Poll>,
    /// The entities the request is about: (name, key template), `gift = "{props.gift_id}"`.
    pub entities: Vec<(String, Template)>,
    /// The captured values its templates read, each once.
    pub reads: Vec<VarRef>,
    /// The broadcasts its captures read (a Socket.IO emit's), with their waits' bounds.
    pub awaits: Vec<(String, Option<Duration>)>,
}

impl StepExtras {
    /// Whether the step needs nothing beyond a plain request.
    pub fn plain(&self) -> bool {
        self.captures.is_empty()
            && self.outcome.is_none()
            && self.think.is_none()
            && self.poll.is_none()
            && self.entities.is_empty()
            && self.reads.is_empty()
    }

    /// Whether the answer must be kept (a capture or an outcome reads it).
    pub fn reads_answer(&self) -> bool {
        !self.captures.is_empty() || self.outcome.is_some()
    }

    /// Whether a capture reads the answer's headers.
    pub fn reads_headers(&self) -> bool {
        self.captures
            .iter()
            .any(|c| matches!(c.from, From::Header(_)))
    }
}

/// The value at a dotted path of a JSON value: keys name object fields, a number
/// indexes an array.
pub fn pick<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut v = v;
    for k in path {
        v = match v {
            Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i))?,
            _ => v.get(k.as_str())?,
        };
    }
    Some(v)
}

/// A captured or counted value as text: a string as is, anything else as JSON.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_parse_as_written_and_nothing_else() {
        assert_eq!(
            VarRef::parse("vars.token"),
            Some(VarRef::User("token".into()))
        );
        assert_eq!(
            VarRef::parse("entity.gift.id"),
            Some(VarRef::Entity("gift".into(), "id".into()))
        );
        for bad in [
            "token",
            "vars.",
            "vars.a.b",
            "entity.gift",
            "entity..id",
            "env.X",
        ] {
            assert_eq!(VarRef::parse(bad), None, "{bad}");
        }
        assert_eq!(
            VarRef::parse("entity.gift.id").unwrap().name(),
            "entity.gift.id"
        );
    }

    #[test]
    fn picks_follow_objects_and_arrays() {
        let v = serde_json::json!({"data": {"items": [{"id": 7}]}, "s": "x"});
        let p = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            pick(&v, &p("data.items.0.id")).map(text_of),
            Some("7".into())
        );
        assert_eq!(pick(&v, &p("s")).map(text_of), Some("x".into()));
        assert_eq!(pick(&v, &p("data.items.1.id")), None);
    }
}
