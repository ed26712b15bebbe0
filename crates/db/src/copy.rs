//! Rows in PostgreSQL's COPY formats. Written by hand because it is a few lines and the
//! hot path of a seed.
//!
//! - Text (tab-separated fields, `\N` for NULL, backslash escapes): what the SQLite
//!   loader and `verify`'s expected digests read back with [`fields`].
//! - Binary (a field count, then each field as a length and its wire bytes): what the
//!   PostgreSQL loader sends. The server then parses no integers and no timestamps, and
//!   scans no escapes: measured on the behaviour log, COPY took 17 % less server time
//!   (docs/PERFORMANCE.md). JSONB is sent as its version byte and the JSON text, which
//!   the server still parses; no binary JSONB form exists on the wire.

use simulate_core::units::DateCache;
use std::borrow::Cow;

/// A column's type on the binary wire (the migration's type; text-like ids are `Text`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    I2,
    I4,
    I8,
    Text,
    Ts,
    Json,
}

/// The binary COPY stream's header: signature, flags, no extension.
pub(crate) const BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The binary COPY stream's trailer: a field count of -1.
pub(crate) const BINARY_TRAILER: &[u8] = &[0xff, 0xff];

/// Milliseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const PG_EPOCH_MS: i64 = 946_684_800_000;

/// One table's pending rows.
#[derive(Default)]
pub(crate) struct RowBuf {
    pub(crate) buf: Vec<u8>,
    pub(crate) rows: u64,
    first: bool,
    dates: DateCache,
    /// Binary COPY, with the table's column types; None for text.
    binary: Option<&'static [Wire]>,
    col: usize,
}

impl RowBuf {
    /// A buffer writing binary COPY rows of these column types.
    pub(crate) fn binary(types: &'static [Wire]) -> RowBuf {
        RowBuf {
            binary: Some(types),
            ..RowBuf::default()
        }
    }

    pub(crate) fn begin(&mut self) -> &mut Self {
        self.first = true;
        if let Some(types) = self.binary {
            self.col = 0;
            self.buf
                .extend_from_slice(&(types.len() as i16).to_be_bytes());
        }
        self
    }

    fn sep(&mut self) {
        if !std::mem::replace(&mut self.first, false) {
            self.buf.push(b'\t');
        }
    }

    /// The next column's type in binary mode.
    fn next_wire(&mut self) -> Option<Wire> {
        let types = self.binary?;
        let w = types.get(self.col).copied();
        debug_assert!(w.is_some(), "more fields than columns");
        self.col += 1;
        w
    }

    /// A field's bytes in binary mode: its length, then `write`'s output.
    fn field(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        write(&mut self.buf);
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    pub(crate) fn int(&mut self, v: impl itoa::Integer + Into<i64>) -> &mut Self {
        if let Some(w) = self.next_wire() {
            let v: i64 = v.into();
            debug_assert!(
                w != Wire::I2 || i16::try_from(v).is_ok(),
                "{v} overflows smallint"
            );
            debug_assert!(
                w != Wire::I4 || i32::try_from(v).is_ok(),
                "{v} overflows integer"
            );
            match w {
                Wire::I2 => self.field(|b| b.extend_from_slice(&(v as i16).to_be_bytes())),
                Wire::I4 => self.field(|b| b.extend_from_slice(&(v as i32).to_be_bytes())),
                other => {
                    debug_assert_eq!(other, Wire::I8, "an integer for a non-integer column");
                    self.field(|b| b.extend_from_slice(&v.to_be_bytes()))
                }
            }
            return self;
        }
        self.sep();
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self
    }

    /// A text field that needs no escaping (generated ids), written in place.
    fn plain(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        if self.next_wire().is_some() {
            self.field(write);
        } else {
            self.sep();
            write(&mut self.buf);
        }
        self
    }

    /// A generated id such as `goal-12` or `u42`, written without allocating.
    pub(crate) fn tag(&mut self, prefix: &str, n: impl itoa::Integer) -> &mut Self {
        self.plain(|b| {
            b.extend_from_slice(prefix.as_bytes());
            b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        })
    }

    /// A generated id such as `s42-3`: a letter and two numbers, written without allocating.
    pub(crate) fn id(
        &mut self,
        prefix: &str,
        a: impl itoa::Integer,
        b: impl itoa::Integer,
    ) -> &mut Self {
        self.plain(|buf| {
            buf.extend_from_slice(prefix.as_bytes());
            buf.extend_from_slice(itoa::Buffer::new().format(a).as_bytes());
            buf.push(b'-');
            buf.extend_from_slice(itoa::Buffer::new().format(b).as_bytes());
        })
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        if self.next_wire().is_some() {
            self.field(|b| b.extend_from_slice(s.as_bytes()));
            return self;
        }
        self.sep();
        escape(&mut self.buf, s.as_bytes());
        self
    }

    /// Already-serialized JSON (escaped for COPY text; after JSONB's version byte for binary).
    pub(crate) fn json(&mut self, raw: &[u8]) -> &mut Self {
        if let Some(w) = self.next_wire() {
            self.field(|b| {
                if w == Wire::Json {
                    b.push(1);
                }
                b.extend_from_slice(raw);
            });
            return self;
        }
        self.sep();
        escape(&mut self.buf, raw);
        self
    }

    pub(crate) fn ts(&mut self, epoch_ms: i64) -> &mut Self {
        if self.next_wire().is_some() {
            let us = (epoch_ms - PG_EPOCH_MS) * 1000;
            self.field(|b| b.extend_from_slice(&us.to_be_bytes()));
            return self;
        }
        self.sep();
        self.dates.write(&mut self.buf, epoch_ms);
        self
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        if self.next_wire().is_some() {
            self.buf.extend_from_slice(&(-1i32).to_be_bytes());
            return self;
        }
        self.sep();
        self.buf.extend_from_slice(b"\\N");
        self
    }

    pub(crate) fn opt_ts(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(t) => self.ts(t),
            None => self.null(),
        }
    }

    pub(crate) fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(t) => self.int(t),
            None => self.null(),
        }
    }

    pub(crate) fn end(&mut self) {
        match self.binary {
            Some(types) => debug_assert_eq!(self.col, types.len(), "fewer fields than columns"),
            None => self.buf.push(b'\n'),
        }
        self.rows += 1;
    }
}

/// COPY text's escapes: backslash, tab, newline, carriage return (our tables' rows and
/// `seed --into`'s text rows alike).
pub(crate) fn escape(out: &mut Vec<u8>, s: &[u8]) {
    if !s.iter().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
        out.extend_from_slice(s);
        return;
    }
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// Splits one COPY text line into fields (None for `\N`), undoing the escapes. A field
/// without escapes is borrowed from the line: the SQLite load and `verify` split millions
/// of lines, and an allocation per field was their largest cost.
pub(crate) fn fields(line: &[u8]) -> Vec<Option<Cow<'_, str>>> {
    line.split(|b| *b == b'\t').map(field).collect()
}

/// One field of a COPY text line (None for `\N`), unescaped; borrowed when it has no
/// escapes.
pub(crate) fn field(f: &[u8]) -> Option<Cow<'_, str>> {
    if f == b"\\N" {
        return None;
    }
    if !f.contains(&b'\\') {
        return Some(String::from_utf8_lossy(f));
    }
    let mut out = Vec::with_capacity(f.len());
    let mut it = f.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            match it.next() {
                Some(b't') => out.push(b'\t'),
                Some(b'n') => out.push(b'\n'),
                Some(b'r') => out.push(b'\r'),
                Some(&o) => out.push(o),
                None => {}
            }
        } else {
            out.push(b);
        }
    }
    Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let mut r = RowBuf::default();
        r.begin()
            .int(42)
            .text("a\tb\\c\nd")
            .null()
            .json(br#"{"k":"v\"x"}"#)
            .ts(0)
            .id("s", 7, 3)
            .tag("goal-", 12)
            .end();
        assert_eq!(r.rows, 1);
        let line = &r.buf[..r.buf.len() - 1];
        let f = fields(line);
        assert_eq!(f[0].as_deref(), Some("42"));
        assert_eq!(f[1].as_deref(), Some("a\tb\\c\nd"));
        assert_eq!(f[2], None);
        assert_eq!(f[3].as_deref(), Some(r#"{"k":"v\"x"}"#));
        assert_eq!(f[4].as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(f[5].as_deref(), Some("s7-3"));
        assert_eq!(f[6].as_deref(), Some("goal-12"));
    }

    #[test]
    fn binary_rows_carry_lengths_and_wire_values() {
        static TYPES: &[Wire] = &[
            Wire::I8,
            Wire::I2,
            Wire::Ts,
            Wire::Text,
            Wire::Json,
            Wire::Ts,
        ];
        let mut r = RowBuf::binary(TYPES);
        r.begin()
            .int(-2i64)
            .int(3u8)
            .ts(PG_EPOCH_MS + 1)
            .id("s", 7, 3)
            .json(br#"{"a":"\t"}"#)
            .null()
            .end();
        let mut want: Vec<u8> = vec![0, 6];
        want.extend([0, 0, 0, 8]);
        want.extend((-2i64).to_be_bytes());
        want.extend([0, 0, 0, 2, 0, 3]);
        want.extend([0, 0, 0, 8]);
        want.extend(1000i64.to_be_bytes());
        want.extend([0, 0, 0, 4]);
        want.extend(b"s7-3");
        want.extend([0, 0, 0, 11, 1]);
        want.extend(br#"{"a":"\t"}"#);
        want.extend((-1i32).to_be_bytes());
        assert_eq!(r.buf, want);
        assert_eq!(r.rows, 1);
        assert_eq!(BINARY_HEADER.len(), 19);
    }
}
