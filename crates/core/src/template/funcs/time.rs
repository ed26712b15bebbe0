//! Time without time zones: an instant as Unix seconds or milliseconds, and durations to
//! add to one (`ts + days(7)`). Dates and times in a zone (`date`, `rfc3339`,
//! `start_of_day`, with jiff's bundled tzdb) join this group in W9.

use super::{ArgError, Func, finite, number_of, req, to_int, want_number};
use crate::template::value::{Ty, Type, Val, parse_ts};
use crate::units::{DAY, HOUR, MINUTE, SECOND};

/// An instant argument: a timestamp, or text that reads as one (a prop of a foreign log).
fn instant(v: &Val<'_>) -> Result<i64, String> {
    match v {
        Val::Ts(t) => Ok(*t),
        Val::Str(s) => parse_ts(s).ok_or_else(|| format!("`{s}` is not a timestamp")),
        other => Err(format!("expects a timestamp, not {}", other.ty().words())),
    }
}

fn check_instant(a: &[Type]) -> Result<Type, ArgError> {
    match a[0].ty {
        Ty::Ts | Ty::Any => Ok(Type::INT),
        t => Err(ArgError::new(
            0,
            format!("expects a timestamp (such as ts), not {}", t.words()),
        )),
    }
}

fn check_amount(a: &[Type]) -> Result<Type, ArgError> {
    want_number(a, 0, "the amount").map(|_| Type::INT)
}

/// `n` units as milliseconds (fractions allowed: `hours(1.5)`).
fn span(v: &Val<'_>, unit: i64) -> Result<Val<'static>, String> {
    match v {
        Val::Int(n) => n
            .checked_mul(unit)
            .map(Val::Int)
            .ok_or_else(|| "the duration does not fit".into()),
        v => {
            let ms = number_of(v, "the amount")? * unit as f64;
            finite(ms).and_then(|_| to_int(ms.round()).map(Val::Int))
        }
    }
}

pub const FUNCS: &[Func] = &[
    Func {
        name: "unix",
        params: &[req("ts")],
        variadic: false,
        null_in_null_out: true,
        check: check_instant,
        eval: |a| Ok(Val::Int(instant(&a[0])?.div_euclid(SECOND))),
    },
    Func {
        name: "unix_ms",
        params: &[req("ts")],
        variadic: false,
        null_in_null_out: true,
        check: check_instant,
        eval: |a| Ok(Val::Int(instant(&a[0])?)),
    },
    Func {
        name: "days",
        params: &[req("n")],
        variadic: false,
        null_in_null_out: true,
        check: check_amount,
        eval: |a| span(&a[0], DAY),
    },
    Func {
        name: "hours",
        params: &[req("n")],
        variadic: false,
        null_in_null_out: true,
        check: check_amount,
        eval: |a| span(&a[0], HOUR),
    },
    Func {
        name: "minutes",
        params: &[req("n")],
        variadic: false,
        null_in_null_out: true,
        check: check_amount,
        eval: |a| span(&a[0], MINUTE),
    },
    Func {
        name: "seconds",
        params: &[req("n")],
        variadic: false,
        null_in_null_out: true,
        check: check_amount,
        eval: |a| span(&a[0], SECOND),
    },
];
