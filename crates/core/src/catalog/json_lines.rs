//! The line each value of a JSON document starts on, by field path
//! (`challenges[2].goals[7].requirement.statCode`), so a problem in a team's JSON export
//! names its line as a TOML file's does. serde_json keeps no positions; this scan runs
//! only over text serde_json has already accepted, and never panics on any other.

use std::collections::HashMap;

use crate::diagnostic::{FieldPath, Seg};

/// Field path (as [`FieldPath`] displays it) → 1-based line.
#[derive(Debug, Default)]
pub(crate) struct JsonLines(HashMap<String, usize>);

impl JsonLines {
    pub(crate) fn scan(text: &str) -> JsonLines {
        let mut s = Scan {
            b: text.as_bytes(),
            i: 0,
            line: 1,
            out: HashMap::new(),
        };
        s.value(String::new(), 0);
        JsonLines(s.out)
    }

    /// The line of `path`, or of its nearest written parent.
    pub(crate) fn line(&self, path: &FieldPath) -> Option<usize> {
        let mut p = path.clone();
        loop {
            if let Some(l) = self.0.get(&p.to_string()) {
                return Some(*l);
            }
            p.0.pop()?;
        }
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    out: HashMap<String, usize>,
}

/// Deeper than any export nests; serde_json refuses deeper documents anyway.
const MAX_DEPTH: usize = 128;

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn space(&mut self) {
        while let Some(c) = self.peek() {
            if !c.is_ascii_whitespace() {
                break;
            }
            if c == b'\n' {
                self.line += 1;
            }
            self.i += 1;
        }
    }

    /// A string's raw text (escapes kept as written), the cursor past its closing quote.
    fn string(&mut self) -> String {
        let start = self.i + 1;
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' => break,
                _ => {}
            }
        }
        let end = self.i.saturating_sub(1).max(start);
        String::from_utf8_lossy(self.b.get(start..end).unwrap_or_default()).into_owned()
    }

    fn value(&mut self, path: String, depth: usize) {
        self.space();
        self.out.entry(path.clone()).or_insert(self.line);
        if depth > MAX_DEPTH {
            return;
        }
        match self.peek() {
            Some(b'{') => self.object(&path, depth),
            Some(b'[') => self.array(&path, depth),
            Some(b'"') => {
                self.string();
            }
            Some(_) => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.i += 1;
                }
            }
            None => {}
        }
    }

    fn object(&mut self, path: &str, depth: usize) {
        self.i += 1;
        loop {
            self.space();
            match self.peek() {
                Some(b'}') | None => break,
                Some(b',') => self.i += 1,
                Some(b'"') => {
                    let key = self.string();
                    self.space();
                    if self.peek() == Some(b':') {
                        self.i += 1;
                    }
                    let mut p = FieldPath::root();
                    p.0.push(Seg::Key(key));
                    let child = if path.is_empty() {
                        p.to_string()
                    } else {
                        format!("{path}.{p}")
                    };
                    self.value(child, depth + 1);
                }
                Some(_) => self.i += 1,
            }
        }
        self.i += 1;
    }

    fn array(&mut self, path: &str, depth: usize) {
        self.i += 1;
        let mut n = 0;
        loop {
            self.space();
            match self.peek() {
                Some(b']') | None => break,
                Some(b',') => self.i += 1,
                Some(_) => {
                    self.value(format!("{path}[{n}]"), depth + 1);
                    n += 1;
                }
            }
        }
        self.i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_nested_values() {
        let text = "{\n \"challenges\": [\n  {\"id\": \"a\",\n   \"goals\": [\n    {\"id\": \"g\\\"1\",\n     \"requirement\": {\"statCode\": \"kills\"}}\n   ]}\n ]\n}\n";
        let l = JsonLines::scan(text);
        let p = FieldPath::root()
            .key("challenges")
            .index(0)
            .key("goals")
            .index(0);
        assert_eq!(l.line(&p), Some(5));
        assert_eq!(l.line(&p.key("requirement").key("statCode")), Some(6));
        assert_eq!(l.line(&p.key("reward")), Some(5));
        assert_eq!(l.line(&FieldPath::root().key("challenges")), Some(2));
        assert_eq!(
            JsonLines::scan("[1, {\"a\": ").line(&FieldPath::root().index(1)),
            Some(1)
        );
    }
}
