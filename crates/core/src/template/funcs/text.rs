//! Text: case, trimming, slugs, replacement, encoding, lengths and defaults.

use super::{ArgError, Func, int_of, owned, req, text, want_int, want_text};
use crate::template::value::{Ty, Type, Val};

fn check_text(a: &[Type]) -> Result<Type, ArgError> {
    for i in 0..a.len() {
        want_text(a, i, if i == 0 { "the value" } else { "each argument" })?;
    }
    Ok(Type::STR)
}

pub const FUNCS: &[Func] = &[
    Func {
        name: "lower",
        params: &[req("s")],
        variadic: false,
        null_in_null_out: true,
        check: check_text,
        eval: |a| owned(text(&a[0]).to_lowercase()),
    },
    Func {
        name: "upper",
        params: &[req("s")],
        variadic: false,
        null_in_null_out: true,
        check: check_text,
        eval: |a| owned(text(&a[0]).to_uppercase()),
    },
    Func {
        name: "trim",
        params: &[req("s")],
        variadic: false,
        null_in_null_out: true,
        check: check_text,
        eval: |a| owned(text(&a[0]).trim().to_string()),
    },
    Func {
        name: "slug",
        params: &[req("s")],
        variadic: false,
        null_in_null_out: true,
        check: check_text,
        eval: |a| owned(slug(&text(&a[0]))),
    },
    Func {
        name: "replace",
        params: &[req("s"), req("old"), req("new")],
        variadic: false,
        null_in_null_out: true,
        check: check_text,
        eval: |a| {
            let old = text(&a[1]);
            if old.is_empty() {
                return Err("`old` is empty: there is nothing to replace".into());
            }
            owned(text(&a[0]).replace(old.as_ref(), &text(&a[2])))
        },
    },
    Func {
        name: "left",
        params: &[req("s"), req("n")],
        variadic: false,
        null_in_null_out: true,
        check: |a| {
            want_text(a, 0, "the value")?;
            want_int(a, 1, "`n`")?;
            Ok(Type::STR)
        },
        eval: |a| {
            let n = int_of(&a[1], "`n`")?.max(0) as usize;
            owned(text(&a[0]).chars().take(n).collect())
        },
    },
    Func {
        name: "str",
        params: &[req("x")],
        variadic: false,
        null_in_null_out: false,
        check: |_| Ok(Type::STR),
        eval: |a| match std::mem::take(&mut a[0]) {
            Val::Str(s) => Ok(Val::Str(s)),
            other => owned(other.to_text()),
        },
    },
    Func {
        name: "json",
        params: &[req("x")],
        variadic: false,
        null_in_null_out: false,
        check: |_| Ok(Type::STR),
        eval: |a| owned(a[0].to_json().to_string()),
    },
    Func {
        name: "urlencode",
        params: &[req("s")],
        variadic: false,
        null_in_null_out: true,
        check: |a| match a[0].ty {
            Ty::Json => Err(ArgError::new(
                0,
                "encodes text, not a JSON value; write json(…) first",
            )),
            _ => Ok(Type::STR),
        },
        eval: |a| owned(urlencode(&text(&a[0]))),
    },
    Func {
        name: "len",
        params: &[req("x")],
        variadic: false,
        null_in_null_out: true,
        check: |a| match a[0].ty {
            Ty::Str | Ty::Json | Ty::Any => Ok(Type::INT),
            t => Err(ArgError::new(0, format!("{} has no length", t.words()))),
        },
        eval: |a| {
            let n = match &a[0] {
                Val::Str(s) => s.chars().count(),
                Val::Json(j) => match j.as_ref() {
                    serde_json::Value::Array(v) => v.len(),
                    serde_json::Value::Object(o) => o.len(),
                    _ => 0,
                },
                other => return Err(format!("{} has no length", other.ty().words())),
            };
            Ok(Val::Int(n as i64))
        },
    },
    Func {
        name: "default",
        params: &[req("x"), req("fallback")],
        variadic: false,
        null_in_null_out: false,
        check: |a| {
            Ok(Type {
                nullable: false,
                ..a[0]
            }
            .union(a[1]))
        },
        eval: |a| {
            let pick = usize::from(matches!(a[0], Val::Null));
            Ok(std::mem::take(&mut a[pick]))
        },
    },
];

/// `Café au lait!` → `cafe-au-lait`: ASCII by transliteration (deunicode), lower case,
/// runs of anything else as one dash.
fn slug(s: &str) -> String {
    let ascii = deunicode::deunicode(s);
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Percent-encodes every byte but RFC 3986's unreserved ones (`A-Z a-z 0-9 - . _ ~`), so
/// the result is safe in a path segment and a query value alike.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
