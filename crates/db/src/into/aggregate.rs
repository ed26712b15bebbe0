//! Aggregates of the events per row of another entity (`[tables.<name>.aggregates]`):
//! the sum, count, first or last of an event prop, per user (a user's points earned, a
//! first check-in) or per entity (`by = "gift_id"`: a gift's claims). Each becomes a
//! prop the row's templates read, `{props.<name>}`, computed in one pass over the spooled
//! events before the table is written, so the row is written once, already right.

use std::collections::HashMap;

use serde_json::Value;
use simulate_core::diagnostic::{FieldPath, Problem, Source};
use simulate_core::template::{Ty, Type};
use simulate_core::world::kinds::{KindDecl, KindTable, PropType};

use super::entity::{Entity, Row};
use super::spool::Spool;
use crate::copy::fields;
use crate::projection::Table;

/// One `<name> = { sum = "amount", kinds = ["points.earned"] }`, as written.
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAggregate {
    kinds: Vec<String>,
    sum: Option<String>,
    count: Option<Count>,
    first: Option<String>,
    last: Option<String>,
    by: Option<String>,
}

/// `count = true` (every matching event) or `count = "share"` (those whose prop is not
/// null, as SQL's `count(share)`).
#[derive(serde::Deserialize, Debug, Clone)]
#[serde(untagged)]
enum Count {
    All(bool),
    Of(String),
}

/// What an aggregate computes over the matching events, in timeline order.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Sum(String),
    /// Events, or events whose prop is not null.
    Count(Option<String>),
    First(String),
    Last(String),
}

/// A compiled aggregate.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub name: String,
    pub kinds: Vec<String>,
    pub op: Op,
    /// The event prop naming the row (matched with the row's `id`); none: the row's user.
    pub by: Option<String>,
    /// The prop's type as templates read it.
    pub ty: Type,
}

/// The operations an aggregate names (exactly one is valid).
fn ops_of(raw: &RawAggregate) -> Vec<Op> {
    [
        raw.sum.clone().map(Op::Sum),
        match &raw.count {
            Some(Count::All(true)) => Some(Op::Count(None)),
            Some(Count::Of(p)) => Some(Op::Count(Some(p.clone()))),
            _ => None,
        },
        raw.first.clone().map(Op::First),
        raw.last.clone().map(Op::Last),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The declarations of the kinds an aggregate reads; a name no kind has is a problem.
fn declared_kinds<'k>(
    src: &Source,
    at: &FieldPath,
    names: &[String],
    kinds: &'k KindTable,
    problems: &mut Vec<Problem>,
) -> Vec<&'k KindDecl> {
    names
        .iter()
        .filter_map(|k| match kinds.id(k) {
            Some(id) => Some(kinds.get(id)),
            None => {
                problems.push(src.problem(
                    &at.key("kinds"),
                    format!("`{k}` is not an event kind of this world"),
                    format!("use one of: {}", kinds.names().join(", ")),
                ));
                None
            }
        })
        .collect()
}

/// Checks one aggregate against the entity and the world's kinds; None after pushing
/// its problems.
pub(super) fn compile(
    src: &Source,
    at: &FieldPath,
    entity: Entity,
    name: &str,
    raw: &RawAggregate,
    kinds: &KindTable,
    problems: &mut Vec<Problem>,
) -> Option<Aggregate> {
    let before = problems.len();
    let ops = ops_of(raw);
    if ops.len() != 1 {
        problems.push(src.problem(
            at,
            "needs exactly one of sum, count, first, last",
            "write e.g. { sum = \"amount\", kinds = [\"points.earned\"] } or { count = true, kinds = [\"checkin.created\"] }",
        ));
    }
    if entity == Entity::Events {
        problems.push(src.problem(
            at,
            "a table filled from events has no aggregates (each row is one event)",
            "move the aggregate to a table filled from users (or gifts, goals, …)",
        ));
    }
    if raw.kinds.is_empty() {
        problems.push(src.problem(
            &at.key("kinds"),
            "is empty",
            "name the event kinds to aggregate, e.g. kinds = [\"points.earned\"]",
        ));
    }
    let decls = declared_kinds(src, at, &raw.kinds, kinds, problems);
    match &raw.by {
        Some(_) if !entity.has_text_id() => problems.push(src.problem(
            &at.key("by"),
            format!("rows of `{}` have no text `id` to match", entity.name()),
            "remove `by`: the aggregate is then per user",
        )),
        None if !entity.has_user() => problems.push(src.problem(
            at,
            format!("rows of `{}` have no user", entity.name()),
            "add by = \"<prop>\": the event prop holding the row's id",
        )),
        _ => {}
    }
    let op = ops.into_iter().next()?;
    let prop_ty = |prop: &str, problems: &mut Vec<Problem>| -> Option<Ty> {
        if prop == "ts" {
            return Some(Ty::Ts);
        }
        let mut found = None;
        for d in &decls {
            match d.props.iter().find(|p| &*p.name == prop) {
                Some(p) => found = Some(ty_of(&p.ty)),
                None => {
                    let names: Vec<&str> = d.props.iter().map(|p| &*p.name).collect();
                    problems.push(src.problem(
                        at,
                        format!("`{prop}` is not a prop of `{}`", d.name),
                        format!("use ts or one of: {}", names.join(", ")),
                    ));
                    return None;
                }
            }
        }
        found
    };
    let ty = match &op {
        Op::Count(None) => Type::INT,
        Op::Count(Some(p)) => {
            prop_ty(p.as_str(), problems);
            Type::INT
        }
        Op::Sum(p) => {
            let t = prop_ty(p.as_str(), problems);
            if let Some(t) = t
                && !t.is_number()
            {
                problems.push(src.problem(
                    at,
                    format!("`{p}` is not a number: it cannot be summed"),
                    "sum an integer or decimal prop, or use count, first or last",
                ));
            }
            Type::of(t.unwrap_or(Ty::Int))
        }
        Op::First(p) | Op::Last(p) => {
            Type::of(prop_ty(p.as_str(), problems).unwrap_or(Ty::Any)).nullable(true)
        }
    };
    (problems.len() == before).then(|| Aggregate {
        name: name.to_string(),
        kinds: raw.kinds.clone(),
        op,
        by: raw.by.clone(),
        ty,
    })
}

fn ty_of(p: &PropType) -> Ty {
    match p {
        PropType::Int => Ty::Int,
        PropType::Float { .. } => Ty::Float,
        PropType::Str | PropType::Id(_) | PropType::Enum(_) => Ty::Str,
        PropType::Bool => Ty::Bool,
        PropType::Ts => Ty::Ts,
        PropType::Date => Ty::Date,
        PropType::Json => Ty::Json,
    }
}

/// Which row an event counts for: its user, or the text of its `by` prop.
#[derive(Hash, PartialEq, Eq, Clone, Debug)]
enum Key {
    User(u32),
    Id(String),
}

/// The aggregates of one table, computed: per aggregate, per row key, the value so far.
pub struct Totals {
    aggs: Vec<Aggregate>,
    values: Vec<HashMap<Key, Value>>,
}

impl Totals {
    /// One pass over the spooled events for all of `aggs`.
    pub fn compute(spool: &Spool, aggs: &[Aggregate]) -> std::io::Result<Totals> {
        let mut values: Vec<HashMap<Key, Value>> = aggs.iter().map(|_| HashMap::new()).collect();
        if !aggs.is_empty() {
            for line in spool.lines(Table::BehaviorLogs)? {
                let line = line?;
                let f = fields(&line);
                let s = |i: usize| f.get(i).and_then(|v| v.as_deref());
                let kind = s(5).unwrap_or("");
                let mut props: Option<Value> = None;
                for (a, vals) in aggs.iter().zip(values.iter_mut()) {
                    if !a.kinds.iter().any(|k| k == kind) {
                        continue;
                    }
                    let props = props.get_or_insert_with(|| {
                        s(6).and_then(|p| serde_json::from_str(p).ok())
                            .unwrap_or(Value::Null)
                    });
                    let key = match &a.by {
                        None => Key::User(s(0).and_then(|u| u.parse().ok()).unwrap_or(0)),
                        Some(b) => match props.get(b) {
                            Some(Value::String(v)) => Key::Id(v.clone()),
                            Some(v) if !v.is_null() => Key::Id(v.to_string()),
                            _ => continue,
                        },
                    };
                    let read = |p: &str| match p {
                        "ts" => s(3).map_or(Value::Null, |t| Value::String(t.into())),
                        p => props.get(p).cloned().unwrap_or(Value::Null),
                    };
                    step(vals, key, &a.op, read);
                }
            }
        }
        Ok(Totals {
            aggs: aggs.to_vec(),
            values,
        })
    }

    /// Adds each aggregate's value to the row's props (0 for a sum or count without
    /// events, null for a first or last).
    pub fn apply(&self, row: &mut Row) {
        for (a, vals) in self.aggs.iter().zip(&self.values) {
            let key = match &a.by {
                None => row.uid.map(Key::User),
                Some(_) => row.prop_text("id").map(Key::Id),
            };
            let v = key.and_then(|k| vals.get(&k).cloned());
            let v = match (&a.op, v) {
                (_, Some(v)) => v,
                (Op::Sum(_) | Op::Count(_), None) => Value::from(0),
                (_, None) => Value::Null,
            };
            row.set_prop(&a.name, v);
        }
    }
}

fn step(vals: &mut HashMap<Key, Value>, key: Key, op: &Op, read: impl Fn(&str) -> Value) {
    match op {
        Op::Count(of) => {
            if of.as_deref().is_some_and(|p| read(p).is_null()) {
                return;
            }
            let n = vals.entry(key).or_insert(Value::from(0));
            *n = Value::from(n.as_u64().unwrap_or(0) + 1);
        }
        Op::Sum(p) => {
            let v = read(p);
            if v.is_null() {
                return;
            }
            let acc = vals.entry(key).or_insert(Value::from(0));
            *acc = match (acc.as_i64(), v.as_i64()) {
                (Some(a), Some(b)) => Value::from(a.saturating_add(b)),
                _ => Value::from(acc.as_f64().unwrap_or(0.0) + v.as_f64().unwrap_or(0.0)),
            };
        }
        Op::First(p) => {
            vals.entry(key).or_insert_with(|| read(p));
        }
        Op::Last(p) => {
            vals.insert(key, read(p));
        }
    }
}
