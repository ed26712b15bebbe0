//! Rows in PostgreSQL's COPY text format: tab-separated fields, `\N` for NULL, and
//! backslash escapes. Written by hand because it is a few lines and the hot path of a
//! seed; the SQLite loader reads the same rows back with [`fields`].

use crate::units::DateCache;

/// One table's pending rows.
#[derive(Default)]
pub struct RowBuf {
    pub buf: Vec<u8>,
    pub rows: u64,
    first: bool,
    dates: DateCache,
}

impl RowBuf {
    pub fn begin(&mut self) -> &mut Self {
        self.first = true;
        self
    }

    fn sep(&mut self) {
        if !std::mem::replace(&mut self.first, false) {
            self.buf.push(b'\t');
        }
    }

    pub fn int(&mut self, v: impl itoa::Integer) -> &mut Self {
        self.sep();
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self
    }

    /// A generated id such as `goal-12` or `u42`, written without allocating.
    pub fn tag(&mut self, prefix: &str, n: impl itoa::Integer) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(prefix.as_bytes());
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        self
    }

    /// A generated id such as `s42-3`: a letter and two numbers, written without allocating.
    pub fn id(&mut self, prefix: &str, a: impl itoa::Integer, b: impl itoa::Integer) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(prefix.as_bytes());
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(a).as_bytes());
        self.buf.push(b'-');
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(b).as_bytes());
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        escape(&mut self.buf, s.as_bytes());
        self
    }

    /// Already-serialized JSON (escaped for COPY).
    pub fn json(&mut self, raw: &[u8]) -> &mut Self {
        self.sep();
        escape(&mut self.buf, raw);
        self
    }

    pub fn ts(&mut self, epoch_ms: i64) -> &mut Self {
        self.sep();
        self.dates.write(&mut self.buf, epoch_ms);
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(b"\\N");
        self
    }

    pub fn opt_ts(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(t) => self.ts(t),
            None => self.null(),
        }
    }

    pub fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(t) => self.int(t),
            None => self.null(),
        }
    }

    pub fn end(&mut self) {
        self.buf.push(b'\n');
        self.rows += 1;
    }
}

fn escape(out: &mut Vec<u8>, s: &[u8]) {
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

/// Splits one COPY text line into fields (None for `\N`), undoing the escapes.
pub fn fields(line: &[u8]) -> Vec<Option<String>> {
    line.split(|b| *b == b'\t')
        .map(|f| {
            if f == b"\\N" {
                return None;
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
            Some(String::from_utf8_lossy(&out).into_owned())
        })
        .collect()
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
}
