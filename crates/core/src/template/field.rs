//! The fields a template reads, and the set a place offers ([`FieldSet`]): a replay
//! request offers the event and the user's token; a custom action's props the event's
//! fields and `user.*` (id, attributes, counters); a seed column its entity's fields.

use super::value::{Ty, Type};
use crate::world::kinds::{KindDecl, PropType};

/// A value taken from the event or its user. A hole that is exactly one of these (today's
/// grammar, `{user_id}`, `{props.goal_id}`) renders through the scope's own fast path.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    UserId,
    Seq,
    Event,
    SessionId,
    Persona,
    Ts,
    TMs,
    /// The per-user token (from the token file).
    Token,
    /// The whole event line, as JSON.
    Line,
    /// `<user_id>/<seq>`: the id `x-sim-event` carries, for payloads without headers.
    EventId,
    /// The event's W3C traceparent (one trace per session, one span per event).
    Traceparent,
    /// A value inside the event's `props`, by key path; the empty path is the whole
    /// props object (`{props}`).
    Prop(Vec<String>),
    /// `user.<name>`: the user's id, an attribute or a counter (a custom action's props).
    User(UserField),
    /// `vars.NAME`: a value a replay flow captured from an earlier answer of this user.
    Var(String),
    /// `entity.ENTITY.NAME`: a value captured for the timeline entity (a gift) the
    /// request's event is about, whichever user's answer it came from.
    Entity(String, String),
}

/// What `user.<name>` names. The place that offers `user` says which names exist
/// ([`UserFields`]); other helpers (pools, ids) extend this with their own variants.
#[derive(Clone, Debug, PartialEq)]
pub enum UserField {
    /// `user.id`: the user's id (the timeline's `u42` until ids are declared).
    Id,
    /// `user.<attribute>`: a persona attribute's value (a label for a category).
    Attr(Box<str>),
    /// `user.counters.<name>`: a custom counter, by index in the world's counter list.
    Counter(u16),
    /// `user.<name>`: a prop of the user's `user.signed_up`: a pool's member
    /// (`user.team`, scenario `[pools]`), `user.platform`, `user.room`, … (replay keeps
    /// each user's; the engine's scope asks the scenario's pools).
    SignedUp(Box<str>),
}

/// The `user.*` names a place offers.
#[derive(Clone, Debug, Default)]
pub struct UserFields {
    /// Attribute names and their types (a category is a string).
    pub attrs: Vec<(String, Type)>,
    /// Custom counter names, in index order.
    pub counters: Vec<String>,
    /// Any other one-word name is a prop of the user's `user.signed_up`
    /// ([`UserField::SignedUp`]): replay, whose mapping is compiled before the world it
    /// is replayed in is known; the replay command checks the names against the world
    /// (`Mapping::check_user_fields`).
    pub signed_up: bool,
    /// Any other one-word name is a member of one of the scenario's pools (a string):
    /// a custom action's props, whose personas are read before the scenario; the scenario
    /// checks the names when the world is assembled (`declared::check_team_reads`).
    pub pools: bool,
}

impl UserFields {
    /// Replay's: the user's id and any prop of their `user.signed_up`.
    pub fn signed_up() -> UserFields {
        UserFields {
            signed_up: true,
            ..UserFields::default()
        }
    }
}

/// The event's own fields, in the order fixes list them.
const EVENT_FIELDS: &[(&str, Field, Ty)] = &[
    ("user_id", Field::UserId, Ty::Str),
    ("seq", Field::Seq, Ty::Int),
    ("event", Field::Event, Ty::Str),
    ("session_id", Field::SessionId, Ty::Str),
    ("persona", Field::Persona, Ty::Str),
    ("ts", Field::Ts, Ty::Ts),
    ("t_ms", Field::TMs, Ty::Int),
    ("line", Field::Line, Ty::Json),
    ("event_id", Field::EventId, Ty::Str),
    ("traceparent", Field::Traceparent, Ty::Str),
];

impl Field {
    /// Whether rendering needs the event's JSON parsed (replay parses it only then).
    pub fn needs_json(&self) -> bool {
        matches!(
            self,
            Field::SessionId | Field::Persona | Field::Ts | Field::Prop(_)
        )
    }
}

/// What a place's templates may read. Every name a template uses is checked against it
/// when the file is loaded, and an error lists what is there instead.
#[derive(Clone, Debug)]
pub struct FieldSet {
    /// The event's own fields (`user_id`, `seq`, `ts`, …) and `props`.
    pub event: bool,
    /// `ts` alone (a custom action's props: the instant, not the event being made).
    pub ts: bool,
    /// `token`: replay only.
    pub token: bool,
    /// `env.NAME`: read when the template is compiled, never printed.
    pub env: bool,
    /// `vars.NAME` and `entity.ENTITY.NAME`: values captured from answers (replay
    /// flows); which exist is checked by the mapping, not here.
    pub vars: bool,
    /// What `props.<name>` may name.
    pub props: PropFields,
    /// What `user.<name>` may name; `None` where the place has no user in scope.
    pub user: Option<UserFields>,
}

/// The props a place's templates may read.
#[derive(Clone, Debug)]
pub enum PropFields {
    /// Any path, typed when the template runs (a log of kinds the loader does not know).
    Any,
    /// The props of each of these kinds: a name must be a prop of every one of them
    /// (a request mapped from two kinds reads only what both carry).
    Kinds(Vec<KindProps>),
}

/// One event kind's props as a template sees them.
#[derive(Clone, Debug)]
pub struct KindProps {
    pub kind: String,
    pub props: Vec<(String, Type)>,
}

impl KindProps {
    pub fn of(k: &KindDecl) -> KindProps {
        KindProps {
            kind: k.name.to_string(),
            props: k
                .props
                .iter()
                .map(|p| {
                    let ty = match &p.ty {
                        PropType::Int => Ty::Int,
                        PropType::Float { .. } => Ty::Float,
                        PropType::Str | PropType::Id(_) | PropType::Enum(_) => Ty::Str,
                        PropType::Bool => Ty::Bool,
                        PropType::Ts => Ty::Ts,
                        PropType::Date => Ty::Date,
                        PropType::Json => Ty::Json,
                    };
                    (p.name.to_string(), Type::of(ty).nullable(p.nullable))
                })
                .collect(),
        }
    }
}

/// How a name resolved, or why it did not.
pub(crate) enum Lookup {
    Field(Field, Type),
    /// `env.NAME`: the variable's value.
    Env(String),
    Missing {
        message: String,
        fix: String,
    },
}

impl FieldSet {
    /// A replay request's templates: the event, the token, the environment, and props
    /// typed when the request is sent.
    pub fn replay() -> FieldSet {
        FieldSet {
            event: true,
            ts: true,
            token: true,
            env: true,
            vars: true,
            props: PropFields::Any,
            user: Some(UserFields::signed_up()),
        }
    }

    /// Constants only: no field, no environment (the docs' arithmetic, tests).
    pub fn none() -> FieldSet {
        FieldSet {
            event: false,
            ts: false,
            token: false,
            env: false,
            vars: false,
            props: PropFields::Kinds(Vec::new()),
            user: None,
        }
    }

    /// The same set with `props.*` checked against these kinds.
    pub fn with_kinds(mut self, kinds: &[&KindDecl]) -> FieldSet {
        self.props = PropFields::Kinds(kinds.iter().map(|k| KindProps::of(k)).collect());
        self
    }

    /// The top-level names this set offers, for fixes.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.event {
            v.extend(EVENT_FIELDS.iter().map(|(n, _, _)| *n));
            v.push("props.<name>");
        } else if self.ts {
            v.push("ts");
        }
        if self.token {
            v.push("token");
        }
        if self.env {
            v.push("env.<NAME>");
        }
        if self.user.is_some() {
            v.push("user.<name>");
        }
        if self.vars {
            v.push("vars.<NAME>");
            v.push("entity.<ENTITY>.<NAME>");
        }
        v
    }

    /// A dotted name (`user_id`, `props.goal_id`, `env.API_KEY`) as a field of this set.
    pub(crate) fn lookup(&self, path: &[&str]) -> Lookup {
        let first = path[0];
        let miss = |message: String, fix: String| Lookup::Missing { message, fix };
        match first {
            "env" if self.env => match path {
                [_, name] => match std::env::var(name) {
                    Ok(v) => Lookup::Env(v),
                    Err(_) => miss(
                        format!("the environment variable `{name}` is not set"),
                        format!("export {name}=… before running simulate (the template reads it)"),
                    ),
                },
                _ => miss(
                    "`env` needs one variable name: `env.NAME`".into(),
                    "write it like {env.API_TOKEN}".into(),
                ),
            },
            "props" if self.event => self.prop(&path[1..]),
            "user" if self.user.is_some() => self.user_field(&path[1..]),
            "vars" if self.vars => match path {
                [_, name] => Lookup::Field(Field::Var(name.to_string()), Type::STR),
                _ => miss(
                    "`vars` needs one variable name: `vars.NAME`".into(),
                    "write it like {vars.token}".into(),
                ),
            },
            "entity" if self.vars => match path {
                [_, entity, name] => Lookup::Field(
                    Field::Entity(entity.to_string(), name.to_string()),
                    Type::STR,
                ),
                _ => miss(
                    "`entity` needs an entity and a variable: `entity.ENTITY.NAME`".into(),
                    "write it like {entity.gift.id}".into(),
                ),
            },
            "token" if self.token && path.len() == 1 => Lookup::Field(Field::Token, Type::STR),
            "ts" if self.ts && !self.event && path.len() == 1 => {
                Lookup::Field(Field::Ts, Type::of(Ty::Ts))
            }
            _ => match EVENT_FIELDS.iter().find(|(n, _, _)| *n == first) {
                Some((_, f, ty)) if self.event && path.len() == 1 => {
                    let nullable = *f == Field::SessionId;
                    Lookup::Field(f.clone(), Type::of(*ty).nullable(nullable))
                }
                Some(_) if self.event => miss(
                    format!(
                        "`{first}` has no fields: `{}` reads nothing",
                        path.join(".")
                    ),
                    format!("write {{{first}}}"),
                ),
                _ => {
                    let known = self.names();
                    let hint = did_you_mean(first, &known)
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default();
                    miss(
                        format!("`{}` is not a field here{hint}", path.join(".")),
                        if known.is_empty() {
                            "this place takes constants only".into()
                        } else {
                            format!("use one of: {}", known.join(", "))
                        },
                    )
                }
            },
        }
    }

    /// `user.id`, `user.<attribute>`, `user.counters.<name>` against what the place offers.
    fn user_field(&self, path: &[&str]) -> Lookup {
        let Some(u) = &self.user else {
            return Lookup::Missing {
                message: "`user` is not a field here".into(),
                fix: format!("use one of: {}", self.names().join(", ")),
            };
        };
        let mut known: Vec<String> = vec!["user.id".into()];
        known.extend(u.attrs.iter().map(|(n, _)| format!("user.{n}")));
        known.extend(u.counters.iter().map(|n| format!("user.counters.{n}")));
        let found = match path {
            ["id"] => Some(Lookup::Field(Field::User(UserField::Id), Type::STR)),
            ["counters", name] => u
                .counters
                .iter()
                .position(|c| c == name)
                .map(|i| Lookup::Field(Field::User(UserField::Counter(i as u16)), Type::INT)),
            [name] => u
                .attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(n, t)| Lookup::Field(Field::User(UserField::Attr(n.as_str().into())), *t))
                .or_else(|| {
                    u.signed_up.then(|| {
                        Lookup::Field(
                            Field::User(UserField::SignedUp((*name).into())),
                            Type::ANY.nullable(true),
                        )
                    })
                })
                .or_else(|| {
                    u.pools.then(|| {
                        Lookup::Field(Field::User(UserField::SignedUp((*name).into())), Type::STR)
                    })
                }),
            _ => None,
        };
        found.unwrap_or_else(|| {
            let want = format!("user.{}", path.join("."));
            let names: Vec<&str> = known.iter().map(String::as_str).collect();
            let hint = did_you_mean(&want, &names)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            Lookup::Missing {
                message: format!("`{want}` is not a field of the user{hint}"),
                fix: format!("use one of: {}", names.join(", ")),
            }
        })
    }

    /// `props.<path>` against the kinds this place maps.
    fn prop(&self, path: &[&str]) -> Lookup {
        let field = Field::Prop(path.iter().map(|s| s.to_string()).collect());
        let kinds = match &self.props {
            PropFields::Any => return Lookup::Field(field, Type::ANY),
            PropFields::Kinds(k) => k,
        };
        if path.is_empty() {
            return Lookup::Field(field, Type::of(Ty::Json));
        }
        let mut ty: Option<Type> = None;
        for k in kinds {
            match k.props.iter().find(|(n, _)| n == path[0]) {
                Some((_, t)) => {
                    // Inside a JSON prop the value is known only when it is read.
                    let t = if path.len() > 1 {
                        if t.ty != Ty::Json {
                            return Lookup::Missing {
                                message: format!(
                                    "`props.{}` of `{}` is {t}: it has no field `{}`",
                                    path[0], k.kind, path[1]
                                ),
                                fix: format!("write {{props.{}}}", path[0]),
                            };
                        }
                        Type::ANY
                    } else {
                        *t
                    };
                    ty = Some(ty.map_or(t, |u| u.union(t)));
                }
                None => {
                    let names: Vec<&str> = k.props.iter().map(|(n, _)| n.as_str()).collect();
                    let hint = did_you_mean(path[0], &names)
                        .map(|n| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default();
                    return Lookup::Missing {
                        message: format!(
                            "`props.{}` is not a prop of `{}`{hint}",
                            path.join("."),
                            k.kind
                        ),
                        fix: if names.is_empty() {
                            format!("`{}` has no props", k.kind)
                        } else {
                            format!("use one of: {}", names.join(", "))
                        },
                    };
                }
            }
        }
        Lookup::Field(field, ty.unwrap_or(Type::ANY))
    }
}

/// The closest of `known` to `name` within two edits, for "did you mean".
pub fn did_you_mean<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over chars; names are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
