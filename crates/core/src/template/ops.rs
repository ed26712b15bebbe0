//! Operators: their static types (checked when a file loads) and their values.
//!
//! Numbers: int op int stays int (`/` always gives a float, `//` and `%` floor as Python
//! does); an int and a float give a float. Instants: `ts + n` and `ts - n` move by n
//! milliseconds (`ts + days(7)`), `ts - ts` is milliseconds; dates likewise by days.
//! A null operand makes arithmetic null; `==` sees null; `<`… with a null is false.

use std::borrow::Cow;

use super::parse::BinOp;
use super::value::{Ty, Type, Val};

/// The result type of `l op r`, or why the operands do not fit.
pub(crate) fn bin_type(op: BinOp, l: Type, r: Type) -> Result<Type, String> {
    use Ty::*;
    let nullable = l.nullable || r.nullable;
    let ty = match op {
        BinOp::Or | BinOp::And => {
            for t in [l.ty, r.ty] {
                if !matches!(t, Bool | Any | Null) {
                    return Err(format!(
                        "`{}` joins booleans; this side is {}",
                        op.symbol(),
                        t.words()
                    ));
                }
            }
            return Ok(Type::of(Bool));
        }
        BinOp::Eq | BinOp::Ne => {
            if !comparable(l.ty, r.ty) {
                return Err(format!(
                    "compares {} with {}: they are never equal",
                    l.ty.words(),
                    r.ty.words()
                ));
            }
            return Ok(Type::of(Bool));
        }
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ordered = matches!(l.ty, Any | Null)
                || matches!(r.ty, Any | Null)
                || (l.ty.is_number() && r.ty.is_number())
                || (l.ty == r.ty && matches!(l.ty, Str | Ts | Date));
            if !ordered {
                return Err(format!(
                    "cannot order {} and {}",
                    l.ty.words(),
                    r.ty.words()
                ));
            }
            return Ok(Type::of(Bool));
        }
        BinOp::Concat => return Ok(Type::STR),
        _ if never_arithmetic(op, l.ty) || never_arithmetic(op, r.ty) => {
            if op == BinOp::Add && (l.ty == Str || r.ty == Str) {
                return Err("`+` adds numbers; join text with `~`".into());
            }
            return Err(cannot(op, l.ty, r.ty));
        }
        _ if l.ty == Null || r.ty == Null => Null,
        _ if l.ty == Any || r.ty == Any => Any,
        BinOp::Add => match (l.ty, r.ty) {
            (Int, Int) => Int,
            (Int | Float, Int | Float) => Float,
            (Ts, Int) | (Int, Ts) => Ts,
            (Date, Int) | (Int, Date) => Date,
            (Str, Str) => return Err("`+` adds numbers; join text with `~`".into()),
            (a, b) => return Err(cannot(op, a, b)),
        },
        BinOp::Sub => match (l.ty, r.ty) {
            (Int, Int) | (Ts, Ts) | (Date, Date) => Int,
            (Int | Float, Int | Float) => Float,
            (Ts, Int) => Ts,
            (Date, Int) => Date,
            (a, b) => return Err(cannot(op, a, b)),
        },
        BinOp::Mul | BinOp::FloorDiv | BinOp::Rem => match (l.ty, r.ty) {
            (Int, Int) => Int,
            (Int | Float, Int | Float) => Float,
            (a, b) => return Err(cannot(op, a, b)),
        },
        BinOp::Div => match (l.ty, r.ty) {
            (Int | Float, Int | Float) => Float,
            (a, b) => return Err(cannot(op, a, b)),
        },
    };
    Ok(Type { ty, nullable })
}

/// A type no arithmetic operator takes, whatever the other side is.
fn never_arithmetic(op: BinOp, t: Ty) -> bool {
    match op {
        BinOp::Add | BinOp::Sub => matches!(t, Ty::Str | Ty::Bool | Ty::Json),
        _ => matches!(t, Ty::Str | Ty::Bool | Ty::Json | Ty::Ts | Ty::Date),
    }
}

fn comparable(a: Ty, b: Ty) -> bool {
    use Ty::*;
    a == b || matches!(a, Any | Null) || matches!(b, Any | Null) || (a.is_number() && b.is_number())
}

fn cannot(op: BinOp, a: Ty, b: Ty) -> String {
    format!(
        "`{}` does not apply to {} and {}",
        op.symbol(),
        a.words(),
        b.words()
    )
}

const OVERFLOW: &str = "the result does not fit a whole number";

/// `l op r` for every operator but `and` and `or` (the evaluator short-circuits those).
pub(crate) fn binary<'a>(op: BinOp, l: Val<'a>, r: Val<'a>) -> Result<Val<'a>, String> {
    match op {
        BinOp::Eq => return Ok(Val::Bool(equal(&l, &r))),
        BinOp::Ne => return Ok(Val::Bool(!equal(&l, &r))),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => return order(op, &l, &r).map(Val::Bool),
        BinOp::Concat => {
            let mut s = match l {
                Val::Str(s) => s.into_owned(),
                other => other.to_text(),
            };
            r.write_text(&mut s);
            return Ok(Val::Str(Cow::Owned(s)));
        }
        _ => {}
    }
    if matches!(l, Val::Null) || matches!(r, Val::Null) {
        return Ok(Val::Null);
    }
    match (l, r) {
        (Val::Int(a), Val::Int(b)) => int_op(op, a, b),
        (Val::Ts(t), Val::Int(n)) | (Val::Int(n), Val::Ts(t)) if op == BinOp::Add => {
            t.checked_add(n).map(Val::Ts).ok_or_else(|| OVERFLOW.into())
        }
        (Val::Ts(t), Val::Int(n)) if op == BinOp::Sub => {
            t.checked_sub(n).map(Val::Ts).ok_or_else(|| OVERFLOW.into())
        }
        (Val::Ts(a), Val::Ts(b)) if op == BinOp::Sub => Ok(Val::Int(a - b)),
        (Val::Date(d), Val::Int(n)) | (Val::Int(n), Val::Date(d)) if op == BinOp::Add => {
            date_plus(d, n)
        }
        (Val::Date(d), Val::Int(n)) if op == BinOp::Sub => date_plus(d, n.saturating_neg()),
        (Val::Date(a), Val::Date(b)) if op == BinOp::Sub => Ok(Val::Int(a as i64 - b as i64)),
        (l, r) => match (l.as_f64(), r.as_f64()) {
            (Some(a), Some(b)) => float_op(op, a, b),
            _ => Err(cannot(op, l.ty(), r.ty())),
        },
    }
}

fn date_plus(d: i32, n: i64) -> Result<Val<'static>, String> {
    i32::try_from(d as i64 + n)
        .map(Val::Date)
        .map_err(|_| "the date is out of range".into())
}

fn int_op(op: BinOp, a: i64, b: i64) -> Result<Val<'static>, String> {
    let zero = || Err::<Val<'static>, String>("division by zero".into());
    let v = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div if b == 0 => return zero(),
        BinOp::Div => return Ok(Val::Float(a as f64 / b as f64)),
        BinOp::FloorDiv | BinOp::Rem if b == 0 => return zero(),
        BinOp::FloorDiv => a.checked_div(b).map(|q| {
            if a % b != 0 && ((a < 0) != (b < 0)) {
                q - 1
            } else {
                q
            }
        }),
        BinOp::Rem => a.checked_rem(b).map(|r| {
            if r != 0 && ((r < 0) != (b < 0)) {
                r + b
            } else {
                r
            }
        }),
        _ => None,
    };
    v.map(Val::Int).ok_or_else(|| OVERFLOW.into())
}

fn float_op(op: BinOp, a: f64, b: f64) -> Result<Val<'static>, String> {
    let v = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div | BinOp::FloorDiv | BinOp::Rem if b == 0.0 => {
            return Err("division by zero".into());
        }
        BinOp::Div => a / b,
        BinOp::FloorDiv => (a / b).floor(),
        BinOp::Rem => a - b * (a / b).floor(),
        _ => f64::NAN,
    };
    super::funcs::finite(v)
}

/// `==`: numbers by value (1 == 1.0), other values of the same kind by content, null
/// equal only to null.
fn equal(l: &Val<'_>, r: &Val<'_>) -> bool {
    match (l, r) {
        (Val::Int(a), Val::Int(b)) => a == b,
        (a, b) if a.as_f64().is_some() && b.as_f64().is_some() => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn order(op: BinOp, l: &Val<'_>, r: &Val<'_>) -> Result<bool, String> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (l, r) {
        (Val::Null, _) | (_, Val::Null) => return Ok(false),
        (Val::Int(a), Val::Int(b)) => Some(a.cmp(b)),
        (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
        (Val::Ts(a), Val::Ts(b)) => Some(a.cmp(b)),
        (Val::Date(a), Val::Date(b)) => Some(a.cmp(b)),
        (a, b) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => {
                return Err(format!(
                    "cannot order {} and {}",
                    a.ty().words(),
                    b.ty().words()
                ));
            }
        },
    };
    Ok(match (op, ord) {
        (_, None) => false,
        (BinOp::Lt, Some(o)) => o == Ordering::Less,
        (BinOp::Le, Some(o)) => o != Ordering::Greater,
        (BinOp::Gt, Some(o)) => o == Ordering::Greater,
        (_, Some(o)) => o != Ordering::Less,
    })
}

/// A condition's value: null counts as false; anything else must be a boolean.
pub(crate) fn truth(v: &Val<'_>) -> Result<bool, String> {
    match v {
        Val::Bool(b) => Ok(*b),
        Val::Null => Ok(false),
        other => Err(format!(
            "a condition must be a boolean, not {}",
            other.ty().words()
        )),
    }
}
