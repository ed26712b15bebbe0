//! Bad input, reported one way everywhere: a [`Problem`] says where (a file's line and
//! field, or nothing when it is about a flag or a database), what is wrong, and the fix;
//! [`Problems`] holds every problem found in one pass. Both are rendered here and only
//! here. [`Source`] keeps a TOML file's text so each problem can name its line.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

/// One segment of a field path: a key or an array index.
#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A dotted field path such as `states.browse.weighted[1].to`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        FieldPath(v)
    }
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        FieldPath(v)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// One problem with what the user gave: where, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The file it is in; empty when it is not about a file (a flag, a database).
    pub file: String,
    pub line: Option<usize>,
    /// The field path in the file (`states.browse.weighted[1].to`), or a flag.
    pub field: String,
    pub message: String,
    pub fix: String,
}

impl Problem {
    /// A problem that is not at a place in a file: `message` names what it is about
    /// (`--threads 0 is out of range`, `schema x already holds 3 tables`).
    pub fn new(message: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem {
            file: String::new(),
            line: None,
            field: String::new(),
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// A problem in `file`, at `line` when it is known.
    pub fn in_file(
        file: impl Into<String>,
        line: Option<usize>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Problem {
        Problem {
            file: file.into(),
            line,
            ..Problem::new(message, fix)
        }
    }

    /// The same problem, about `field`.
    pub(crate) fn at_field(mut self, field: impl Into<String>) -> Problem {
        self.field = field.into();
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut place = String::new();
        if !self.file.is_empty() {
            place.push_str(&self.file);
            if let Some(l) = self.line {
                place.push_str(&format!(":{l}"));
            }
        }
        if !self.field.is_empty() {
            if !place.is_empty() {
                place.push_str(": ");
            }
            place.push_str(&format!("field `{}`", self.field));
        }
        if place.is_empty() {
            write!(f, "{}", self.message)?;
        } else {
            write!(f, "{place}: {}", self.message)?;
        }
        if !self.fix.is_empty() {
            write!(f, "\n    fix: {}", self.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// Every problem found in one pass, so a user fixes a file once, not once per error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl From<Problem> for Problems {
    fn from(p: Problem) -> Problems {
        Problems(vec![p])
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One problem that is not in a file reads best alone.
        if let [p] = self.0.as_slice()
            && p.file.is_empty()
        {
            return write!(f, "{p}");
        }
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the configuration:",
            if n == 1 { "" } else { "s" }
        )?;
        for p in self.0.iter().take(20) {
            writeln!(f, "  - {p}")?;
        }
        if n > 20 {
            writeln!(f, "  … and {} more", n - 20)?;
        }
        Ok(())
    }
}

/// A TOML file's name and text.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub(crate) text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// Reads a config file of at most [`crate::bounded::CONFIG_FILE`] bytes.
    pub fn read(path: &Path) -> Result<Self, Problems> {
        use crate::bounded::{self, ReadError};
        let text = bounded::read_to_string(path, bounded::CONFIG_FILE).map_err(|e| {
            let fix = match e {
                ReadError::TooLarge { .. } => {
                    "check the path: persona, scenario and mapping files are a few kB of TOML"
                }
                ReadError::Io(_) => "check the path and its permissions",
            };
            Problem::in_file(path.display().to_string(), None, e.to_string(), fix)
        })?;
        Ok(Source::new(path.display().to_string(), text))
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    /// Deserializes the whole file, turning a serde error into a located problem.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Problems> {
        self.parse_documented("docs/PERSONAS.md")
    }

    /// [`Source::parse`] for a file whose format `doc` describes. A wrong value is named
    /// by its field path and what it must be, in words (see [`super::words`]).
    pub fn parse_documented<T: DeserializeOwned>(&self, doc: &str) -> Result<T, Problems> {
        let de = toml::Deserializer::parse(&self.text)
            .map_err(|e| Problems(vec![self.syntax_problem(&e)]))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = FieldPath(
                e.path()
                    .iter()
                    .map_while(|s| match s {
                        serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                        serde_path_to_error::Segment::Map { key }
                        | serde_path_to_error::Segment::Enum { variant: key } => {
                            Some(Seg::Key(key.clone()))
                        }
                        serde_path_to_error::Segment::Unknown => None,
                    })
                    .collect(),
            );
            Problems(vec![self.value_problem(path, e.inner(), doc)])
        })
    }

    /// A file that is not TOML: where, and the parser's words.
    fn syntax_problem(&self, e: &toml::de::Error) -> Problem {
        let line = Some(e.span().map_or(1, |s| self.line_of(s.start)));
        // A duplicate key's span is the key itself: name it.
        let key = e
            .span()
            .and_then(|s| self.text.get(s))
            .map(|k| k.trim().trim_matches(['"', '\'']))
            .filter(|k| !k.is_empty() && k.len() < 60 && !k.contains(['\n', '=']));
        if e.message().trim() == "duplicate key"
            && let Some(key) = key
        {
            return Problem::in_file(
                &self.name,
                line,
                format!("`{key}` is given twice in the same table"),
                "keep one of them",
            );
        }
        Problem::in_file(
            &self.name,
            line,
            format!("this is not valid TOML: {}", e.message().trim()),
            "correct the syntax (strings in quotes, one key = value per line, tables as [name])",
        )
    }

    /// A value the file's format does not accept, at `path`.
    fn value_problem(&self, mut path: FieldPath, e: &toml::de::Error, doc: &str) -> Problem {
        use super::words::{self, Said};
        let line = e.span().map(|s| self.line_of(s.start));
        let (message, fix) = match words::read(e.message()) {
            Said::Wrong { expected, found } => {
                let shape = words::shape_of(&path.to_string())
                    .map(String::from)
                    .unwrap_or_else(|| words::expected(&expected));
                (
                    format!("must be {shape}, not {}", words::found(&found)),
                    format!("write it as {shape} (see {doc})"),
                )
            }
            Said::Length { expected, found } => (
                format!("must hold {}, not {found}", words::expected(&expected)),
                format!("see {doc} for the format"),
            ),
            Said::UnknownField { name, known } => {
                if path.0.last() != Some(&Seg::Key(name.clone())) {
                    path = path.key(&name);
                }
                let names: Vec<&str> = known.iter().map(String::as_str).collect();
                let here = match crate::template::did_you_mean(&name, &names) {
                    Some(k) => format!(
                        " (did you mean `{k}`?); the fields here are {}",
                        known.join(", ")
                    ),
                    None if known.is_empty() => String::new(),
                    None => format!("; the fields here are {}", known.join(", ")),
                };
                (
                    format!("is not a field of this table{here}"),
                    format!("remove the field or correct its spelling (see {doc})"),
                )
            }
            Said::MissingField(name) => {
                path = path.key(&name);
                (
                    "is missing".to_string(),
                    format!("add the field (see {doc} for an example)"),
                )
            }
            Said::UnknownVariant { name, known } => (
                format!("`{name}` is not one of {}", known.join(", ")),
                "use one of the names listed".to_string(),
            ),
            Said::DuplicateField(name) => {
                path = path.key(&name);
                ("is given twice".to_string(), "keep one of them".to_string())
            }
            Said::Other(m) if words::names_a_rust_type(&m) => (
                "has a value of the wrong kind".to_string(),
                format!("see {doc} for what this field takes"),
            ),
            Said::Other(m) => (m, format!("correct the value (see {doc})")),
        };
        let line = line.or_else(|| self.locate(&path)).or(Some(1));
        Problem::in_file(&self.name, line, message, fix).at_field(path.to_string())
    }

    /// The line a field path is written on, found by walking the spanned document.
    pub(crate) fn locate(&self, path: &FieldPath) -> Option<usize> {
        let doc = DeTable::parse(&self.text).ok()?;
        let mut best = None;
        let mut cur: Option<&DeValue<'_>> = None;
        let table = doc.get_ref();
        for (i, seg) in path.0.iter().enumerate() {
            let next = match (i, seg, cur) {
                (0, Seg::Key(k), _) => table
                    .iter()
                    .find(|(key, _)| key.get_ref() == k)
                    .map(|(_, v)| v),
                (_, Seg::Key(k), Some(v)) => v.get(k.as_str()),
                (_, Seg::Index(n), Some(v)) => v.get(*n),
                _ => None,
            };
            match next {
                Some(v) => {
                    best = Some(self.line_of(v.span().start));
                    cur = Some(v.get_ref());
                }
                None => break,
            }
        }
        best
    }

    /// A problem at a field of this file: on the field's line, or its nearest table's,
    /// or the first line when the field and its tables are not written at all.
    pub fn problem(
        &self,
        path: &FieldPath,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Problem {
        Problem::in_file(&self.name, self.locate(path).or(Some(1)), message, fix)
            .at_field(path.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_fields() {
        let src = Source::new(
            "x.toml",
            "name = \"a\"\n\n[states.browse]\naction = \"login\"\nweighted = [\n  { to = \"a\" },\n  { to = \"b\" },\n]\n",
        );
        let p = FieldPath::root()
            .key("states")
            .key("browse")
            .key("weighted")
            .index(1)
            .key("to");
        assert_eq!(src.locate(&p), Some(7));
        assert_eq!(p.to_string(), "states.browse.weighted[1].to");
        assert_eq!(
            src.locate(&FieldPath::root().key("states").key("browse").key("action")),
            Some(4)
        );
    }

    #[test]
    fn serde_errors_name_line_and_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            a: u32,
        }
        let src = Source::new("t.toml", "a = 1\nbogus = 2\n");
        let err = src.parse::<T>().unwrap_err();
        let p = &err.0[0];
        assert_eq!(p.line, Some(2));
        assert_eq!(p.field, "bogus");
        assert!(p.message.contains("is not a field"), "{}", p.message);
    }
}
