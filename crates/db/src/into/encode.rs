//! A mapped row as COPY bytes: binary when every mapped column's type takes the
//! templates' values on the binary wire, else text.
//!
//! Binary spares the server the text's field splitting and escapes, and the parsing of
//! every timestamp and integer (what `simulate seed`'s own binary COPY saves, crates/db's
//! `copy`). Text, `varchar`, enums and JSON take any rendered text; `jsonb` its version
//! byte and the text (which the server still parses); timestamps only from a template
//! typed as an instant (`{ts}`), integers only from one typed as a whole number, booleans
//! from one typed as a boolean. Any other column (numeric, uuid, date, a domain, …)
//! keeps the whole table in text, where the server's input functions read what we render.

use simulate_core::template::{Ty, Val, parse_ts};

use super::catalog::{ColumnInfo, TableInfo};
use super::entity::Row;
use super::mapping::{SeedMap, TableMap};
use super::write::{refusal, template_failed};
use crate::DbError;
use crate::copy::{BINARY_HEADER, BINARY_TRAILER, escape};

/// Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MS: i64 = 946_684_800_000;

/// A column's value on the binary wire.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bin {
    /// The rendered text as it is: text, varchar, an enum's label, json.
    Text,
    /// jsonb's version byte (1), then the JSON text.
    Jsonb,
    I2,
    I4,
    I8,
    Bool,
    /// Microseconds from 2000-01-01 UTC (timestamp and timestamptz alike: a timestamp
    /// without time zone takes the UTC wall clock, as its text input ignores the `Z`).
    Ts,
}

/// How one table's rows go on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    Text,
    Binary(Vec<Bin>),
}

impl Encoding {
    /// Binary when every mapped column allows it, else text.
    pub fn of(t: &TableMap, info: &TableInfo) -> Encoding {
        let bins: Option<Vec<Bin>> = t
            .columns
            .iter()
            .map(|c| bin(info.column(&c.name)?, c.template.ty().ty))
            .collect();
        bins.map_or(Encoding::Text, Encoding::Binary)
    }

    pub fn is_binary(&self) -> bool {
        matches!(self, Encoding::Binary(_))
    }

    /// The COPY statement's options.
    pub fn options(&self) -> &'static str {
        match self {
            Encoding::Text => "",
            Encoding::Binary(_) => " WITH (FORMAT binary)",
        }
    }

    /// What the stream starts with.
    pub fn header(&self) -> &'static [u8] {
        if self.is_binary() { BINARY_HEADER } else { b"" }
    }

    /// What the stream ends with.
    pub fn trailer(&self) -> &'static [u8] {
        if self.is_binary() {
            BINARY_TRAILER
        } else {
            b""
        }
    }

    /// Appends a row; `text` is a buffer reused across rows.
    pub fn row(
        &self,
        t: &TableMap,
        row: &Row,
        out: &mut Vec<u8>,
        text: &mut String,
        map: &SeedMap,
    ) -> Result<(), DbError> {
        match self {
            Encoding::Text => text_row(t, row, out, text, map),
            Encoding::Binary(bins) => binary_row(bins, t, row, out, text, map),
        }
    }
}

/// The binary form of a column of this catalog type for a template of this static type.
fn bin(col: &ColumnInfo, ty: Ty) -> Option<Bin> {
    let name = col.ty.as_str();
    if !col.labels.is_empty() || matches!(name, "text" | "json") {
        return Some(Bin::Text);
    }
    if name.starts_with("character varying") {
        return Some(Bin::Text);
    }
    Some(match (name, ty) {
        ("jsonb", _) => Bin::Jsonb,
        ("smallint", Ty::Int) => Bin::I2,
        ("integer", Ty::Int) => Bin::I4,
        ("bigint", Ty::Int) => Bin::I8,
        ("boolean", Ty::Bool) => Bin::Bool,
        (n, Ty::Ts) if n.starts_with("timestamp") => Bin::Ts,
        _ => return None,
    })
}

/// A row as a COPY text line.
fn text_row(
    t: &TableMap,
    row: &Row,
    out: &mut Vec<u8>,
    text: &mut String,
    map: &SeedMap,
) -> Result<(), DbError> {
    let ctx = row.ctx();
    for (i, c) in t.columns.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match c.template.value(&ctx) {
            Ok(Val::Null) => out.extend_from_slice(b"\\N"),
            Ok(Val::Str(s)) => escape(out, s.as_bytes()),
            Ok(v) => {
                text.clear();
                v.write_text(text);
                escape(out, text.as_bytes());
            }
            Err(why) => return Err(template_failed(map, t, i, row, why)),
        }
    }
    out.push(b'\n');
    Ok(())
}

/// A row as a binary COPY tuple: its field count, then each field's length and bytes
/// (-1 for NULL).
fn binary_row(
    bins: &[Bin],
    t: &TableMap,
    row: &Row,
    out: &mut Vec<u8>,
    text: &mut String,
    map: &SeedMap,
) -> Result<(), DbError> {
    let ctx = row.ctx();
    out.extend_from_slice(&(bins.len() as i16).to_be_bytes());
    for (i, (c, bin)) in t.columns.iter().zip(bins).enumerate() {
        let v = c
            .template
            .value(&ctx)
            .map_err(|why| template_failed(map, t, i, row, why))?;
        if v == Val::Null {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        put(*bin, &v, out, text).map_err(|why| {
            let ty = t.columns[i].name.as_str();
            refusal(
                map,
                t,
                row.named(),
                "the table",
                format!("column `{ty}`: {why}"),
                Some(i),
            )
        })?;
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// One non-null value's wire bytes, or why the column cannot take it.
fn put(bin: Bin, v: &Val<'_>, out: &mut Vec<u8>, text: &mut String) -> Result<(), String> {
    match bin {
        Bin::Text => put_text(v, out, text),
        Bin::Jsonb => {
            out.push(1);
            put_text(v, out, text);
        }
        Bin::I2 => out.extend_from_slice(&narrow::<i16>(v, "smallint")?.to_be_bytes()),
        Bin::I4 => out.extend_from_slice(&narrow::<i32>(v, "integer")?.to_be_bytes()),
        Bin::I8 => out.extend_from_slice(&narrow::<i64>(v, "bigint")?.to_be_bytes()),
        Bin::Bool => out.push(u8::from(boolean(v)?)),
        Bin::Ts => {
            // An instant, or the timeline's own text of one (a spooled column, an
            // event's prop): `YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC, read alike by both types.
            let ms = match v {
                Val::Ts(ms) => *ms,
                Val::Str(s) => parse_ts(s).ok_or_else(|| format!("{s} is not a timestamp"))?,
                other => return Err(format!("{} is not a timestamp", other.to_text())),
            };
            let us = ms
                .checked_sub(PG_EPOCH_MS)
                .and_then(|d| d.checked_mul(1000))
                .ok_or_else(|| format!("{ms} ms is outside the timestamp range"))?;
            out.extend_from_slice(&us.to_be_bytes());
        }
    }
    Ok(())
}

/// A boolean, or its text as the server's input function reads it.
fn boolean(v: &Val<'_>) -> Result<bool, String> {
    if let Val::Bool(b) = v {
        return Ok(*b);
    }
    let text = v.to_text();
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Ok(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("{text} is not a boolean")),
    }
}

/// The value's text, as text COPY would send it (unescaped).
fn put_text(v: &Val<'_>, out: &mut Vec<u8>, text: &mut String) {
    match v {
        Val::Str(s) => out.extend_from_slice(s.as_bytes()),
        Val::Json(j) => {
            // Writing JSON into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, j.as_ref());
        }
        other => {
            text.clear();
            other.write_text(text);
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// A whole number in the column's width, as its text input would take it.
fn narrow<N: TryFrom<i64>>(v: &Val<'_>, ty: &str) -> Result<N, String> {
    let n = match v {
        Val::Int(n) => Some(*n),
        Val::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Some(*f as i64),
        Val::Str(s) => s.trim().parse().ok(),
        _ => None,
    };
    let n = n.ok_or_else(|| format!("{} is not a whole number", v.to_text()))?;
    N::try_from(n).map_err(|_| format!("value {n} is out of range for type {ty}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(ty: &str) -> ColumnInfo {
        ColumnInfo {
            name: "c".into(),
            ty: ty.into(),
            not_null: false,
            has_default: false,
            generated: false,
            sequence: None,
            labels: Vec::new(),
        }
    }

    #[test]
    fn binary_only_where_the_template_type_fits_the_column() {
        assert_eq!(bin(&col("text"), Ty::Any), Some(Bin::Text));
        assert_eq!(bin(&col("character varying(20)"), Ty::Int), Some(Bin::Text));
        assert_eq!(bin(&col("jsonb"), Ty::Json), Some(Bin::Jsonb));
        assert_eq!(bin(&col("integer"), Ty::Int), Some(Bin::I4));
        assert_eq!(bin(&col("integer"), Ty::Any), None);
        assert_eq!(
            bin(&col("timestamp(3) without time zone"), Ty::Ts),
            Some(Bin::Ts)
        );
        assert_eq!(bin(&col("timestamp with time zone"), Ty::Str), None);
        assert_eq!(bin(&col("numeric"), Ty::Int), None);
        assert_eq!(bin(&col("uuid"), Ty::Str), None);
    }

    #[test]
    fn values_encode_as_the_server_receives_them() {
        let mut out = Vec::new();
        let mut text = String::new();
        // 2000-01-01T00:00:01.5Z is 1.5 s after PostgreSQL's epoch.
        put(Bin::Ts, &Val::Ts(PG_EPOCH_MS + 1500), &mut out, &mut text).unwrap();
        assert_eq!(out, 1_500_000i64.to_be_bytes());
        out.clear();
        // The timeline's text of an instant (a spooled column) encodes as the instant.
        let s = Val::Str("2000-01-01T00:00:01.500Z".into());
        put(Bin::Ts, &s, &mut out, &mut text).unwrap();
        assert_eq!(out, 1_500_000i64.to_be_bytes());
        assert!(put(Bin::Ts, &Val::Str("yesterday".into()), &mut out, &mut text).is_err());
        out.clear();
        put(Bin::Bool, &Val::Str("t".into()), &mut out, &mut text).unwrap();
        assert_eq!(out, [1]);
        out.clear();
        put(Bin::I2, &Val::Int(300), &mut out, &mut text).unwrap();
        assert_eq!(out, 300i16.to_be_bytes());
        assert!(put(Bin::I2, &Val::Int(40_000), &mut out, &mut text).is_err());
        out.clear();
        let j = serde_json::json!({"a": 1});
        put(
            Bin::Jsonb,
            &Val::Json(std::borrow::Cow::Borrowed(&j)),
            &mut out,
            &mut text,
        )
        .unwrap();
        assert_eq!(out, b"\x01{\"a\":1}");
        out.clear();
        escape(&mut out, b"a\tb\\");
        assert_eq!(out, b"a\\tb\\\\");
    }
}
