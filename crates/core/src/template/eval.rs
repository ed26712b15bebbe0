//! The typed tree the checker builds, and its evaluation against a [`Scope`]. Generic
//! over the scope, so each place (replay request, seed row, action props) gets its own
//! monomorphised code with no dynamic dispatch per field.

use std::borrow::Cow;

use serde_json::Value;

use super::field::Field;
use super::funcs::Func;
use super::ops::{binary, truth};
use super::parse::BinOp;
use super::scope::Scope;
use super::value::{Ty, Val, parse_date, parse_ts};

/// The most arguments a call takes: enough for every function, and a fixed buffer on the
/// stack rather than a vector per call.
pub(crate) const MAX_ARGS: usize = 8;

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Lit(Val<'static>),
    /// A field, and its declared type: a prop declared a timestamp or a date arrives as
    /// text in the event's JSON and is read as one.
    Field(Field, Ty),
    Call(&'static Func, Box<[Node]>),
    Bin(BinOp, Box<Node>, Box<Node>),
    Neg(Box<Node>),
    Not(Box<Node>),
    /// condition, then, otherwise.
    If(Box<[Node; 3]>),
    Attr(Box<Node>, Box<str>),
    Index(Box<Node>, Box<Node>),
    /// `lookup(pool, id, field)`: the pool and the field are literals (checked against
    /// the world when it is known), the id any string; the scope answers.
    Lookup(Box<str>, Box<Node>, Box<str>),
}

impl std::fmt::Debug for Func {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Node {
    /// Every field the tree reads.
    pub(crate) fn fields(&self, visit: &mut dyn FnMut(&Field)) {
        match self {
            Node::Lit(_) => {}
            Node::Field(f, _) => visit(f),
            Node::Call(_, args) => args.iter().for_each(|a| a.fields(visit)),
            Node::Bin(_, l, r) | Node::Index(l, r) => {
                l.fields(visit);
                r.fields(visit);
            }
            Node::Neg(e) | Node::Not(e) | Node::Attr(e, _) | Node::Lookup(_, e, _) => {
                e.fields(visit)
            }
            Node::If(b) => b.iter().for_each(|a| a.fields(visit)),
        }
    }

    /// Every `lookup`'s pool and field.
    pub(crate) fn lookups(&self, visit: &mut dyn FnMut(&str, &str)) {
        match self {
            Node::Lit(_) | Node::Field(..) => {}
            Node::Lookup(pool, id, field) => {
                visit(pool, field);
                id.lookups(visit);
            }
            Node::Call(_, args) => args.iter().for_each(|a| a.lookups(visit)),
            Node::Bin(_, l, r) | Node::Index(l, r) => {
                l.lookups(visit);
                r.lookups(visit);
            }
            Node::Neg(e) | Node::Not(e) | Node::Attr(e, _) => e.lookups(visit),
            Node::If(b) => b.iter().for_each(|a| a.lookups(visit)),
        }
    }
}

/// The value of `n` in `s`. An `Err` says what went wrong with a value the checker
/// could not see (a prop typed only at run time, a division by zero).
pub(crate) fn eval<'a, S: Scope + ?Sized>(n: &'a Node, s: &'a S) -> Result<Val<'a>, String> {
    match n {
        Node::Lit(v) => Ok(borrow(v)),
        Node::Field(f, ty) => read(s.field(f), *ty),
        Node::Call(func, args) => call(func, args, s),
        Node::Bin(BinOp::And, l, r) => Ok(Val::Bool(truth(&eval(l, s)?)? && truth(&eval(r, s)?)?)),
        Node::Bin(BinOp::Or, l, r) => Ok(Val::Bool(truth(&eval(l, s)?)? || truth(&eval(r, s)?)?)),
        Node::Bin(op, l, r) => binary(*op, eval(l, s)?, eval(r, s)?),
        Node::Neg(e) => match eval(e, s)? {
            Val::Int(i) => i
                .checked_neg()
                .map(Val::Int)
                .ok_or_else(|| "the result does not fit a whole number".into()),
            Val::Float(f) => Ok(Val::Float(-f)),
            Val::Null => Ok(Val::Null),
            other => Err(format!("cannot negate {}", other.ty().words())),
        },
        Node::Not(e) => Ok(Val::Bool(!truth(&eval(e, s)?)?)),
        Node::If(b) => {
            let [cond, then, otherwise] = b.as_ref();
            if truth(&eval(cond, s)?)? {
                eval(then, s)
            } else {
                eval(otherwise, s)
            }
        }
        Node::Attr(e, key) => member(eval(e, s)?, |j| j.get(key.as_ref())),
        Node::Lookup(pool, id, field) => Ok(match eval(id, s)? {
            Val::Null => Val::Null,
            id => s
                .lookup(pool, &id.to_text(), field)
                .map_or(Val::Null, |v| Val::Str(Cow::Owned(v))),
        }),
        Node::Index(e, i) => {
            let base = eval(e, s)?;
            match eval(i, s)? {
                Val::Str(k) => member(base, |j| j.get(k.as_ref())),
                Val::Int(n) => member(base, |j| {
                    let arr = j.as_array()?;
                    let at = if n < 0 { arr.len() as i64 + n } else { n };
                    usize::try_from(at).ok().and_then(|at| arr.get(at))
                }),
                Val::Null => Ok(Val::Null),
                other => Err(format!("cannot index with {}", other.ty().words())),
            }
        }
    }
}

/// A literal without copying its text.
fn borrow<'a>(v: &'a Val<'static>) -> Val<'a> {
    match v {
        Val::Str(s) => Val::Str(Cow::Borrowed(s.as_ref())),
        Val::Json(j) => Val::Json(Cow::Borrowed(j.as_ref())),
        other => other.clone(),
    }
}

/// A field's value as its declared type says.
fn read(v: Val<'_>, ty: Ty) -> Result<Val<'_>, String> {
    match (ty, v) {
        (Ty::Ts, Val::Str(s)) => parse_ts(&s)
            .map(Val::Ts)
            .ok_or_else(|| format!("`{s}` is not a timestamp")),
        (Ty::Date, Val::Str(s)) => parse_date(&s)
            .map(Val::Date)
            .ok_or_else(|| format!("`{s}` is not a date (YYYY-MM-DD)")),
        (_, v) => Ok(v),
    }
}

/// A member of a JSON value (`.key`, `[0]`); missing is null.
fn member<'a>(
    base: Val<'a>,
    get: impl for<'j> Fn(&'j Value) -> Option<&'j Value>,
) -> Result<Val<'a>, String> {
    match base {
        Val::Json(Cow::Borrowed(j)) => Ok(get(j).map_or(Val::Null, Val::from_json)),
        Val::Json(Cow::Owned(j)) => {
            Ok(get(&j).map_or(Val::Null, |v| Val::from_json(v).into_owned()))
        }
        Val::Null => Ok(Val::Null),
        other => Err(format!("{} has no fields", other.ty().words())),
    }
}

fn call<'a, S: Scope + ?Sized>(
    f: &'static Func,
    args: &'a [Node],
    s: &'a S,
) -> Result<Val<'a>, String> {
    let mut buf: [Val<'a>; MAX_ARGS] = Default::default();
    for (slot, a) in buf.iter_mut().zip(args) {
        *slot = eval(a, s)?;
    }
    let vals = &mut buf[..args.len()];
    if f.null_in_null_out && vals.iter().any(|v| matches!(v, Val::Null)) {
        return Ok(Val::Null);
    }
    (f.eval)(vals).map_err(|m| format!("`{}`: {m}", f.name))
}
