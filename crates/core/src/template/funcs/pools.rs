//! Lookups in the scenario's pools: `lookup('team', 't-5', 'business')` is `b-2`, the
//! business team `t-5` belongs to (`[pools.business] of = "team"`). The pool and the field
//! are names the template writes, checked against the scenario when the world is known
//! (a replay mapping is read before the world it replays, a custom action's props before
//! the scenario); the checker turns the call into its own node, which asks the scope's
//! world ([`crate::template::Scope::lookup`]) rather than evaluating a row of this table.

use super::{ArgError, Func, req, want_text};
use crate::template::value::{Type, Val};

/// The function's name, which the checker recognises.
pub const LOOKUP: &str = "lookup";

fn check_lookup(a: &[Type]) -> Result<Type, ArgError> {
    want_text(a, 0, "the pool")?;
    want_text(a, 1, "the id")?;
    want_text(a, 2, "the field")?;
    Ok(Type::STR)
}

/// Never called: the checker makes the call a lookup node.
fn unreachable_eval<'a>(_: &mut [Val<'a>]) -> Result<Val<'a>, String> {
    Err("reads the world's pools".into())
}

pub const FUNCS: &[Func] = &[Func {
    name: LOOKUP,
    params: &[req("pool"), req("id"), req("field")],
    variadic: false,
    null_in_null_out: true,
    check: check_lookup,
    eval: unreachable_eval,
}];
