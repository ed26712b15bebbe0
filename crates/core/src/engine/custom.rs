//! A custom action (`world.toml`'s `[actions.<name>]`) performed: its props drawn from
//! the user's RNG in the kind's prop order, its counters bumped, its event made with
//! `Props::Custom` and its line written at once, the props' values straight into the
//! line (they are kept nowhere else, so `Props` stays small and `Copy`).

use std::borrow::Cow;

use super::agent::Out;
use super::user::User;
use super::world::World;
use crate::persona::declared::{CustomAction, Drawn, MAX_PROPS, PropGen};
use crate::template::{Field, Scope, UserField, Val};
use crate::timeline::{Event, Props};
use crate::world::kinds::PropType;

/// One drawn prop's value, before it is written.
#[derive(Copy, Clone, Debug, Default)]
enum Drew {
    #[default]
    None,
    Int(i64),
    Float(f64),
    /// A label's index.
    Label(u16),
}

/// Performs custom action `i` for `u` at `t` (its `chance` was met): one event.
pub(crate) fn act(w: &World, u: &mut User, out: &mut Out, t: i64, i: u16) -> bool {
    let a = &w.declared.actions[i as usize];
    let mut drew = [Drew::None; MAX_PROPS];
    for (slot, g) in drew.iter_mut().zip(&a.props) {
        if let PropGen::Draw(dist, how) = g {
            let v = dist.sample(&mut u.rng);
            *slot = match how {
                Drawn::Int => Drew::Int(v.round() as i64),
                Drawn::IntUniform { min, max } => {
                    // `sample` drew min + (max - min) × u; spread it over max - min + 1 values.
                    let span = (max - min) as f64;
                    let unit = if span > 0.0 {
                        (v - *min as f64) / span
                    } else {
                        0.0
                    };
                    Drew::Int((min + (unit * (span + 1.0)) as i64).min(*max))
                }
                Drawn::Float { .. } => Drew::Float(v),
                Drawn::Label(_) | Drawn::Bool(_) => Drew::Label(v as u16),
            };
        }
    }
    for (c, by) in &a.counters {
        if let Some(n) = u.counters.get_mut(*c as usize) {
            *n = n.saturating_add(*by);
        }
    }
    let e = Event {
        t_ms: t,
        user: u.id,
        seq: u.seq,
        session: if u.in_session { u.session } else { 0 },
        persona: u.persona,
        props: Props::Custom {
            kind: a.kind,
            name: a.kind_name,
        },
    };
    u.seq += 1;
    if w.serialize {
        let start = out.lines.len();
        let scope = ActScope {
            w,
            u,
            e: &e,
            a,
            drew: &drew,
        };
        w.writer
            .write_with(&e, &mut out.lines, &mut out.dates, |line| {
                write_props(&scope, line)
            });
        out.spans
            .push((start as u32, (out.lines.len() - start) as u32));
    }
    out.events.push(e);
    true
}

/// The props object's members, in the kind's order.
fn write_props(s: &ActScope<'_>, line: &mut Vec<u8>) {
    let kind = &s.w.declared.kinds[s.a.kind as usize - crate::timeline::EVENT_KINDS.len()];
    for (k, (p, g)) in kind.props.iter().zip(&s.a.props).enumerate() {
        if k > 0 {
            line.push(b',');
        }
        line.extend_from_slice(&p.key_json);
        match g {
            PropGen::Null | PropGen::Pending(_) => line.extend_from_slice(b"null"),
            PropGen::Const(json) => line.extend_from_slice(json),
            PropGen::Draw(_, how) => write_drawn(line, how, s.drew[k]),
            PropGen::Template(t) => match t.value(s) {
                Ok(v) => write_val(line, &p.ty, &v),
                Err(_) => line.extend_from_slice(b"null"),
            },
        }
    }
}

fn write_drawn(line: &mut Vec<u8>, how: &Drawn, d: Drew) {
    match (how, d) {
        (Drawn::Float { decimals }, Drew::Float(f)) => float(line, f, *decimals),
        (Drawn::Label(labels), Drew::Label(i)) => {
            line.extend_from_slice(labels.get(i as usize).map_or(&b"null"[..], |l| l))
        }
        (Drawn::Bool(bools), Drew::Label(i)) => {
            line.extend_from_slice(match bools.get(i as usize) {
                Some(true) => &b"true"[..],
                Some(false) => b"false",
                None => b"null",
            })
        }
        (_, Drew::Int(n)) => line.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        _ => line.extend_from_slice(b"null"),
    }
}

/// A number with exactly `decimals` decimals (Rust's formatting: the same on every
/// machine and thread).
fn float(line: &mut Vec<u8>, f: f64, decimals: u8) {
    use std::io::Write;
    if f.is_finite() {
        let _ = write!(line, "{:.*}", decimals as usize, f);
    } else {
        line.extend_from_slice(b"null");
    }
}

fn json_str(line: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *line, s).is_err() {
        line.extend_from_slice(b"null");
    }
}

/// A template's value as the prop's type (the checker made sure it fits).
fn write_val(line: &mut Vec<u8>, ty: &PropType, v: &Val<'_>) {
    match (ty, v) {
        (_, Val::Null) => line.extend_from_slice(b"null"),
        (PropType::Int, Val::Int(n)) => {
            line.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes())
        }
        (PropType::Int, Val::Float(f)) => {
            line.extend_from_slice(itoa::Buffer::new().format(f.round() as i64).as_bytes())
        }
        (PropType::Float { decimals }, Val::Int(n)) => float(line, *n as f64, *decimals),
        (PropType::Float { decimals }, Val::Float(f)) => float(line, *f, *decimals),
        (PropType::Bool, Val::Bool(b)) => {
            line.extend_from_slice(if *b { b"true" } else { b"false" })
        }
        (PropType::Json, v) => {
            if serde_json::to_writer(&mut *line, &v.to_json()).is_err() {
                line.extend_from_slice(b"null");
            }
        }
        (PropType::Int | PropType::Float { .. } | PropType::Bool, _) => {
            line.extend_from_slice(b"null")
        }
        (_, v) => json_str(line, &v.to_text()),
    }
}

/// What a custom action's templates read: the event being made, its user and the props
/// drawn so far. The place pools' `user.<pool>` and ids' `user.id` extend (W4, W6).
struct ActScope<'a> {
    w: &'a World,
    u: &'a User,
    e: &'a Event,
    a: &'a CustomAction,
    drew: &'a [Drew; MAX_PROPS],
}

impl ActScope<'_> {
    /// The user's id in the team's format (`[ids] user`), else the timeline's.
    fn user_id(&self) -> String {
        let s = &self.w.scenario;
        s.pools
            .user_id(s.seed, self.u.id)
            .unwrap_or_else(|| format!("u{}", self.u.id))
    }

    fn prop(&self, path: &[String]) -> Val<'_> {
        let kind =
            &self.w.declared.kinds[self.a.kind as usize - crate::timeline::EVENT_KINDS.len()];
        let Some(name) = path.first() else {
            return Val::Null;
        };
        let Some(k) = kind.props.iter().position(|p| *p.name == **name) else {
            return Val::Null;
        };
        match (&self.a.props[k], self.drew[k]) {
            (PropGen::Draw(_, Drawn::Label(labels)), Drew::Label(i)) => labels
                .get(i as usize)
                .and_then(|l| serde_json::from_slice::<String>(l).ok())
                .map_or(Val::Null, |s| Val::Str(Cow::Owned(s))),
            (PropGen::Draw(_, Drawn::Bool(b)), Drew::Label(i)) => {
                b.get(i as usize).map_or(Val::Null, |b| Val::Bool(*b))
            }
            (PropGen::Const(json), _) => serde_json::from_slice::<serde_json::Value>(json)
                .map_or(Val::Null, |v| Val::from_json(&v).into_owned()),
            (_, Drew::Int(n)) => Val::Int(n),
            (_, Drew::Float(f)) => Val::Float(f),
            _ => Val::Null,
        }
    }

    fn user(&self, f: &UserField) -> Val<'_> {
        match f {
            UserField::Id => Val::Str(Cow::Owned(self.user_id())),
            // A pool's member (`user.team`): the scenario's `[pools]`.
            UserField::SignedUp(name) => {
                let s = &self.w.scenario;
                s.pools
                    .user_field(s.seed, self.u.id, name)
                    .map_or(Val::Null, |v| Val::Str(Cow::Owned(v)))
            }
            UserField::Counter(i) => self
                .u
                .counters
                .get(*i as usize)
                .map_or(Val::Null, |n| Val::Int(*n)),
            UserField::Attr(name) => {
                let p = &self.w.personas[self.u.persona as usize];
                let Some(i) = p.attribute_index(name) else {
                    return Val::Null;
                };
                let v = self.u.attrs.get(i).copied().unwrap_or(0.0);
                match p.attributes[i].dist.labels().get(v as usize) {
                    Some(l) if !p.attributes[i].dist.labels().is_empty() => {
                        Val::Str(Cow::Borrowed(l))
                    }
                    _ => Val::Float(v as f64),
                }
            }
        }
    }
}

impl Scope for ActScope<'_> {
    fn lookup(&self, pool: &str, id: &str, field: &str) -> Option<String> {
        let s = &self.w.scenario;
        s.pools.lookup(s.seed, s.users, pool, id, field)
    }

    fn field(&self, f: &Field) -> Val<'_> {
        let e = self.e;
        match f {
            Field::UserId => Val::Str(Cow::Owned(self.user_id())),
            Field::Seq => Val::Int(e.seq as i64),
            Field::Event => Val::Str(Cow::Borrowed(e.props.name())),
            Field::SessionId if e.session == 0 => Val::Null,
            // The team's format (`[ids] session`), else the timeline's.
            Field::SessionId => Val::Str(Cow::Owned(
                self.w
                    .scenario
                    .pools
                    .session_id(self.w.scenario.seed, e.user, e.session)
                    .unwrap_or_else(|| format!("s{}-{}", e.user, e.session)),
            )),
            Field::Persona => Val::Str(Cow::Borrowed(&self.w.personas[e.persona as usize].name)),
            Field::Ts => Val::Ts(self.w.scenario.start_ms + e.t_ms),
            Field::TMs => Val::Int(e.t_ms),
            Field::EventId => Val::Str(Cow::Owned(crate::ids::event_id(&self.user_id(), e.seq))),
            Field::Traceparent => Val::Str(Cow::Owned(crate::ids::traceparent(
                &self.user_id(),
                e.session,
                e.seq,
            ))),
            Field::Prop(path) => self.prop(path),
            Field::User(u) => self.user(u),
            // A custom action's props read no answers: the checker offers no `vars`.
            Field::Token | Field::Line | Field::Var(_) | Field::Entity(..) => Val::Null,
        }
    }
}
