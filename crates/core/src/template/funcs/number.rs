//! Numbers: rounding, conversions, bounds and number formats.

use std::borrow::Cow;

use super::{
    ArgError, Func, finite, int_of, number_of, numeric_result, opt, req, to_int, want_int,
    want_number,
};
use crate::template::value::{Ty, Type, Val};

pub const FUNCS: &[Func] = &[
    Func {
        name: "round",
        params: &[req("x"), opt("digits", Val::Int(0))],
        variadic: false,
        null_in_null_out: true,
        check: |a| {
            want_number(a, 0, "the value")?;
            want_int(a, 1, "`digits`")?;
            Ok(Type::of(a[0].ty))
        },
        eval: |a| {
            let digits = int_of(&a[1], "`digits`")?.clamp(-18, 18) as i32;
            match a[0] {
                Val::Int(i) if digits >= 0 => Ok(Val::Int(i)),
                Val::Int(i) => {
                    let unit = 10_i64.pow((-digits) as u32);
                    let q = (i as f64 / unit as f64).round() as i64;
                    q.checked_mul(unit)
                        .map(Val::Int)
                        .ok_or_else(|| "the result does not fit a whole number".into())
                }
                ref v => {
                    let x = number_of(v, "the value")?;
                    let scale = 10_f64.powi(digits);
                    finite((x * scale).round() / scale)
                }
            }
        },
    },
    Func {
        name: "floor",
        params: &[req("x")],
        variadic: false,
        null_in_null_out: true,
        check: |a| want_number(a, 0, "the value").map(|_| Type::INT),
        eval: |a| whole(&a[0], f64::floor),
    },
    Func {
        name: "ceil",
        params: &[req("x")],
        variadic: false,
        null_in_null_out: true,
        check: |a| want_number(a, 0, "the value").map(|_| Type::INT),
        eval: |a| whole(&a[0], f64::ceil),
    },
    Func {
        name: "int",
        params: &[req("x")],
        variadic: false,
        null_in_null_out: true,
        check: |a| match a[0].ty {
            Ty::Int | Ty::Float | Ty::Str | Ty::Bool | Ty::Any => Ok(Type::INT),
            t => Err(ArgError::new(
                0,
                format!("{} has no whole-number value", t.words()),
            )),
        },
        eval: |a| {
            Ok(Val::Int(match &a[0] {
                Val::Int(i) => *i,
                Val::Float(f) => to_int(f.trunc())?,
                Val::Bool(b) => i64::from(*b),
                Val::Str(s) => parse_number(s).and_then(|n| match n {
                    Val::Int(i) => Ok(i),
                    other => to_int(other.as_f64().unwrap_or(f64::NAN).trunc()),
                })?,
                other => return Err(format!("{} has no whole-number value", other.ty().words())),
            }))
        },
    },
    Func {
        name: "float",
        params: &[req("x")],
        variadic: false,
        null_in_null_out: true,
        check: |a| match a[0].ty {
            Ty::Int | Ty::Float | Ty::Str | Ty::Any => Ok(Type::of(Ty::Float)),
            t => Err(ArgError::new(
                0,
                format!("{} has no number value", t.words()),
            )),
        },
        eval: |a| match &a[0] {
            Val::Str(s) => finite(parse_number(s)?.as_f64().unwrap_or(f64::NAN)),
            v => finite(number_of(v, "the value")?),
        },
    },
    Func {
        name: "abs",
        params: &[req("x")],
        variadic: false,
        null_in_null_out: true,
        check: |a| want_number(a, 0, "the value").map(|_| Type::of(a[0].ty)),
        eval: |a| match a[0] {
            Val::Int(i) => i
                .checked_abs()
                .map(Val::Int)
                .ok_or_else(|| "the result does not fit a whole number".into()),
            ref v => finite(number_of(v, "the value")?.abs()),
        },
    },
    Func {
        name: "min",
        params: &[req("a"), req("b")],
        variadic: true,
        null_in_null_out: true,
        check: check_all_numbers,
        eval: |a| extreme(a, |x, y| x < y),
    },
    Func {
        name: "max",
        params: &[req("a"), req("b")],
        variadic: true,
        null_in_null_out: true,
        check: check_all_numbers,
        eval: |a| extreme(a, |x, y| x > y),
    },
    Func {
        name: "clamp",
        params: &[req("x"), req("lo"), req("hi")],
        variadic: false,
        null_in_null_out: true,
        check: check_all_numbers,
        eval: |a| {
            let (lo, hi) = (number_of(&a[1], "`lo`")?, number_of(&a[2], "`hi`")?);
            if lo > hi {
                return Err(format!("`lo` ({lo}) is above `hi` ({hi})"));
            }
            let x = number_of(&a[0], "the value")?;
            let pick = if x < lo {
                1
            } else if x > hi {
                2
            } else {
                0
            };
            let v = std::mem::take(&mut a[pick]);
            // One float among the three makes the result a float.
            Ok(match v {
                Val::Int(i) if a.iter().any(|v| matches!(v, Val::Float(_))) => Val::Float(i as f64),
                v => v,
            })
        },
    },
    Func {
        name: "fixed",
        params: &[
            req("x"),
            opt("digits", Val::Int(2)),
            opt("point", Val::Str(Cow::Borrowed("."))),
        ],
        variadic: false,
        null_in_null_out: true,
        check: |a| {
            want_number(a, 0, "the value")?;
            want_int(a, 1, "`digits`")?;
            super::want_text(a, 2, "`point`")?;
            Ok(Type::STR)
        },
        eval: |a| {
            let written = fixed(&a[0], &a[1])?;
            Ok(Val::Str(Cow::Owned(with_point(
                written,
                &super::text(&a[2]),
            ))))
        },
    },
    Func {
        name: "percent",
        params: &[
            req("x"),
            opt("digits", Val::Int(0)),
            opt("point", Val::Str(Cow::Borrowed("."))),
        ],
        variadic: false,
        null_in_null_out: true,
        check: |a| {
            want_number(a, 0, "the value")?;
            want_int(a, 1, "`digits`")?;
            super::want_text(a, 2, "`point`")?;
            Ok(Type::STR)
        },
        eval: |a| {
            let x = number_of(&a[0], "the value")? * 100.0;
            let written = fixed(&finite(x)?, &a[1])?;
            Ok(Val::Str(Cow::Owned(
                with_point(written, &super::text(&a[2])) + "%",
            )))
        },
    },
    Func {
        name: "pad",
        params: &[req("x"), req("width")],
        variadic: false,
        null_in_null_out: true,
        check: |a| {
            match a[0].ty {
                Ty::Int | Ty::Str | Ty::Any => {}
                t => {
                    return Err(ArgError::new(
                        0,
                        format!("pads a whole number or a string, not {}", t.words()),
                    ));
                }
            }
            want_int(a, 1, "`width`").map(|_| Type::STR)
        },
        eval: |a| {
            let width = int_of(&a[1], "`width`")?;
            if !(0..=64).contains(&width) {
                return Err(format!("`width` must be 0 to 64, not {width}"));
            }
            let width = width as usize;
            Ok(Val::Str(Cow::Owned(match &a[0] {
                Val::Int(i) => format!("{i:0width$}"),
                Val::Str(s) => format!("{s:0>width$}"),
                other => {
                    return Err(format!(
                        "pads a whole number or a string, not {}",
                        other.ty().words()
                    ));
                }
            })))
        },
    },
    Func {
        name: "grouped",
        params: &[
            req("x"),
            opt("sep", Val::Str(Cow::Borrowed(","))),
            opt("point", Val::Str(Cow::Borrowed("."))),
        ],
        variadic: false,
        null_in_null_out: true,
        check: |a| {
            want_number(a, 0, "the value")?;
            super::want_text(a, 1, "`sep`")?;
            super::want_text(a, 2, "`point`")?;
            Ok(Type::STR)
        },
        eval: |a| {
            let sep = match &a[1] {
                Val::Str(s) => s.to_string(),
                other => {
                    return Err(format!(
                        "`sep` must be a string, not {}",
                        other.ty().words()
                    ));
                }
            };
            let text = match &a[0] {
                Val::Int(i) => i.to_string(),
                v => number_of(v, "the value")?.to_string(),
            };
            Ok(Val::Str(Cow::Owned(group_digits(
                &text,
                &sep,
                &super::text(&a[2]),
            ))))
        },
    },
];

/// `x` with exactly `digits` decimals (0 to 18), rounded as `format!` rounds.
fn fixed(x: &Val<'_>, digits: &Val<'_>) -> Result<String, String> {
    let digits = int_of(digits, "`digits`")?;
    if !(0..=18).contains(&digits) {
        return Err(format!("`digits` must be 0 to 18, not {digits}"));
    }
    let x = number_of(x, "the value")?;
    Ok(format!("{x:.*}", digits as usize))
}

/// The decimal point of a number written by `format!` replaced (`,` in most of Europe).
fn with_point(written: String, point: &str) -> String {
    if point == "." {
        written
    } else {
        written.replacen('.', point, 1)
    }
}

/// A number made whole by `how` (floor, ceil); an int as it is.
fn whole(v: &Val<'_>, how: fn(f64) -> f64) -> Result<Val<'static>, String> {
    match v {
        Val::Int(i) => Ok(Val::Int(*i)),
        v => to_int(how(number_of(v, "the value")?)).map(Val::Int),
    }
}

fn check_all_numbers(a: &[Type]) -> Result<Type, ArgError> {
    for i in 0..a.len() {
        want_number(a, i, "each value")?;
    }
    Ok(numeric_result(a))
}

/// The least (or greatest) argument by `better`; a float among them makes the result a float.
fn extreme<'a>(a: &mut [Val<'a>], better: fn(f64, f64) -> bool) -> Result<Val<'a>, String> {
    let mut best = 0;
    let mut best_x = number_of(&a[0], "each value")?;
    for (i, v) in a.iter().enumerate().skip(1) {
        let x = number_of(v, "each value")?;
        if better(x, best_x) {
            best = i;
            best_x = x;
        }
    }
    let any_float = a.iter().any(|v| matches!(v, Val::Float(_)));
    Ok(match std::mem::take(&mut a[best]) {
        Val::Int(i) if any_float => Val::Float(i as f64),
        v => v,
    })
}

/// Text read as a number: `42` an int, `4.2` or `1e3` a float.
pub(crate) fn parse_number(s: &str) -> Result<Val<'static>, String> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Val::Int(i));
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Val::Float(f)),
        _ => Err(format!("`{s}` is not a number")),
    }
}

/// `1234567.5` → `1,234,567.5` (`sep` between groups of three, `point` before the
/// fraction).
fn group_digits(text: &str, sep: &str, point: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut out = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push_str(sep);
        }
        out.push(c);
    }
    if let Some(f) = frac.strip_prefix('.') {
        out.push_str(point);
        out.push_str(f);
    }
    out
}
