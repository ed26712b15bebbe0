//! Values a template computes, and their static types.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use crate::units::{DAY, civil_from_days, days_from_civil, write_rfc3339};

/// A value inside a hole. Borrowed from the scope where it can be (a prop's text), owned
/// where it was computed.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Val<'a> {
    /// Missing: rendered as nothing in text, `null` in JSON.
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// An instant: Unix milliseconds (UTC).
    Ts(i64),
    /// A calendar date: days since 1970-01-01.
    Date(i32),
    /// A JSON object or array (scalars are read into the variants above).
    Json(Cow<'a, Value>),
}

impl<'a> Val<'a> {
    /// A JSON value as a template value: numbers, strings, booleans and null typed,
    /// objects and arrays kept as JSON.
    pub fn from_json(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            other => Val::Json(Cow::Borrowed(other)),
        }
    }

    /// Appends the value as text: strings as they are, numbers as JSON writes them,
    /// instants as RFC 3339 UTC with milliseconds, null as nothing.
    pub fn write_text(&self, out: &mut String) {
        match self {
            Val::Null => {}
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
            Val::Float(f) => write_float(*f, out),
            Val::Str(s) => out.push_str(s),
            Val::Ts(ms) => {
                let mut b = Vec::with_capacity(24);
                write_rfc3339(&mut b, *ms);
                out.push_str(std::str::from_utf8(&b).unwrap_or_default());
            }
            Val::Date(d) => write_date(*d, out),
            Val::Json(j) => out.push_str(&j.to_string()),
        }
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write_text(&mut s);
        s
    }

    /// The value in a JSON document: numbers stay numbers, instants and dates become
    /// their text.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Ts(_) | Val::Date(_) => Value::String(self.to_text()),
            Val::Json(j) => j.as_ref().clone(),
        }
    }

    /// The value with nothing borrowed: for constants folded when a template compiles.
    pub fn into_owned(self) -> Val<'static> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            Val::Int(i) => Val::Int(i),
            Val::Float(f) => Val::Float(f),
            Val::Str(s) => Val::Str(Cow::Owned(s.into_owned())),
            Val::Ts(t) => Val::Ts(t),
            Val::Date(d) => Val::Date(d),
            Val::Json(j) => Val::Json(Cow::Owned(j.into_owned())),
        }
    }

    /// What kind of value this is, in the words errors use.
    pub fn ty(&self) -> Ty {
        match self {
            Val::Null => Ty::Null,
            Val::Bool(_) => Ty::Bool,
            Val::Int(_) => Ty::Int,
            Val::Float(_) => Ty::Float,
            Val::Str(_) => Ty::Str,
            Val::Ts(_) => Ty::Ts,
            Val::Date(_) => Ty::Date,
            Val::Json(_) => Ty::Json,
        }
    }

    /// A number as f64 (ints widen), for arithmetic that mixes them.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// A float as JSON writes it (shortest text that reads back the same), so `{x}` in a
/// path and `"{x}"` in a body agree.
fn write_float(f: f64, out: &mut String) {
    match serde_json::Number::from_f64(f) {
        Some(n) => out.push_str(&n.to_string()),
        // Arithmetic refuses to make these; a foreign JSON value cannot hold them.
        None => out.push_str(if f.is_nan() { "NaN" } else { "inf" }),
    }
}

fn write_date(days: i32, out: &mut String) {
    let (y, m, d) = civil_from_days(days as i64);
    out.push_str(&format!("{y:04}-{m:02}-{d:02}"));
}

/// `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (the timeline's `ts`) as Unix milliseconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let days = parse_date(s.get(..10)?)?;
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let ms = match &s[19..s.len() - 1] {
        "" => 0,
        frac => {
            let digits = frac.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            digits.parse::<i64>().ok()? * 10_i64.pow(3 - digits.len() as u32)
        }
    };
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(days as i64 * DAY + ((h * 60 + mi) * 60 + sec) * 1000 + ms)
}

/// `YYYY-MM-DD` as days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days as i32)
}

/// A template value's type, as the checker knows it when the file is loaded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Known only when the template runs: a prop of a kind the checker cannot see (a
    /// foreign log's), or a value inside JSON. Checked then.
    Any,
    Null,
    Bool,
    Int,
    Float,
    Str,
    Ts,
    Date,
    Json,
}

impl Ty {
    /// The type in the words errors use.
    pub fn words(self) -> &'static str {
        match self {
            Ty::Any => "a value",
            Ty::Null => "null",
            Ty::Bool => "a boolean",
            Ty::Int => "a whole number",
            Ty::Float => "a number",
            Ty::Str => "a string",
            Ty::Ts => "a timestamp",
            Ty::Date => "a date",
            Ty::Json => "a JSON value",
        }
    }

    pub fn is_number(self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Any)
    }
}

/// A static type and whether the value may be missing (null).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Type {
    pub ty: Ty,
    pub nullable: bool,
}

impl Type {
    pub const ANY: Type = Type::of(Ty::Any);
    pub const STR: Type = Type::of(Ty::Str);
    pub const INT: Type = Type::of(Ty::Int);
    pub const NULL: Type = Type {
        ty: Ty::Null,
        nullable: true,
    };

    pub const fn of(ty: Ty) -> Type {
        Type {
            ty,
            nullable: false,
        }
    }

    pub const fn nullable(self, nullable: bool) -> Type {
        Type {
            ty: self.ty,
            nullable: self.nullable || nullable,
        }
    }

    /// The type of a value that is one or the other (`a if c else b`, `default`).
    pub fn union(self, other: Type) -> Type {
        let ty = match (self.ty, other.ty) {
            (a, b) if a == b => a,
            (Ty::Null, b) => b,
            (a, Ty::Null) => a,
            (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
            _ => Ty::Any,
        };
        Type {
            ty,
            nullable: self.nullable || other.nullable,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ty.words())?;
        if self.nullable && self.ty != Ty::Null {
            f.write_str(" or null")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_and_dates_read_and_write_back() {
        let t = parse_ts("2026-01-05T01:19:25.261Z").unwrap();
        assert_eq!(Val::Ts(t).to_text(), "2026-01-05T01:19:25.261Z");
        assert_eq!(parse_ts("2026-01-05T01:19:25Z"), Some(t - 261));
        assert_eq!(parse_ts("2026-01-05T01:19:25.2Z"), Some(t - 61));
        for bad in [
            "2026-13-05T01:19:25Z",
            "2026-01-05 01:19:25Z",
            "2026-01-05T24:00:00Z",
            "x",
        ] {
            assert_eq!(parse_ts(bad), None, "{bad}");
        }
        let d = parse_date("2024-02-29").unwrap();
        assert_eq!(Val::Date(d).to_text(), "2024-02-29");
        assert_eq!(parse_date("2023-02-29"), None);
    }

    #[test]
    fn numbers_write_as_json_does() {
        assert_eq!(Val::Float(7.1).to_text(), "7.1");
        assert_eq!(Val::Float(8.0).to_text(), "8.0");
        assert_eq!(Val::Int(-3).to_text(), "-3");
        assert_eq!(Val::Null.to_text(), "");
        let v: Value = serde_json::json!({"a": [1, 2.5, "x"]});
        assert_eq!(Val::from_json(&v).to_text(), r#"{"a":[1,2.5,"x"]}"#);
        assert_eq!(Val::from_json(&v["a"][1]), Val::Float(2.5));
    }
}
