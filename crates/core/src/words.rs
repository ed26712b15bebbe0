//! serde's error messages in the words of the file's author: what the field must be and
//! what was found, never a Rust type name (`struct RawEdge`, `untagged enum Param`, `u16`)
//! and never the value taken for the field's name.

/// What a deserialization error says, read from serde's message.
#[derive(Debug, PartialEq)]
pub enum Said {
    /// A value of the wrong kind or out of range: what was expected, what was found.
    Wrong {
        expected: String,
        found: String,
    },
    /// A list of the wrong length.
    Length {
        expected: String,
        found: String,
    },
    UnknownField {
        name: String,
        known: Vec<String>,
    },
    MissingField(String),
    UnknownVariant {
        name: String,
        known: Vec<String>,
    },
    DuplicateField(String),
    Other(String),
}

/// Reads serde's standard messages (`invalid type: …, expected …`, `missing field `x``, …).
pub fn read(message: &str) -> Said {
    let m = message.trim();
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = m.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            return Said::Wrong {
                expected: expected.to_string(),
                found: found.to_string(),
            };
        }
    }
    if let Some(rest) = m.strip_prefix("invalid length ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return Said::Length {
            expected: expected.to_string(),
            found: found.to_string(),
        };
    }
    if let Some(rest) = m.strip_prefix("unknown field ") {
        let (name, known) = name_and_known(rest);
        return Said::UnknownField { name, known };
    }
    if let Some(rest) = m.strip_prefix("unknown variant ") {
        let (name, known) = name_and_known(rest);
        return Said::UnknownVariant { name, known };
    }
    if let Some(rest) = m.strip_prefix("missing field ") {
        return Said::MissingField(rest.trim_matches('`').to_string());
    }
    if let Some(rest) = m.strip_prefix("duplicate field ") {
        return Said::DuplicateField(rest.trim_matches('`').to_string());
    }
    Said::Other(m.to_string())
}

/// "`x`, expected one of `a`, `b`" → ("x", ["a", "b"]).
fn name_and_known(rest: &str) -> (String, Vec<String>) {
    let (name, tail) = rest.split_once(", ").unwrap_or((rest, ""));
    let known = tail
        .split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect();
    (name.trim_matches('`').to_string(), known)
}

/// What serde says a value must be, in words: its own names for Rust types become the
/// kind of TOML value; phrases our types give (`expecting`) pass through.
pub fn expected(exp: &str) -> String {
    let exp = exp.trim();
    let whole = |max: &str| format!("a whole number from 0 to {max}");
    match exp {
        "f32" | "f64" => "a number".into(),
        "u8" => whole("255"),
        "u16" => whole("65535"),
        "u32" => whole("4294967295"),
        "u64" | "u128" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "a string" | "a borrowed string" => "text in quotes".into(),
        "a boolean" => "true or false".into(),
        "a character" | "a char" => "one character in quotes".into(),
        "a sequence" | "a tuple" => "a list [ … ]".into(),
        "a map" => "a table { … }".into(),
        "any valid TOML value" | "option" | "unit" => "a value".into(),
        e if e.starts_with("struct ") || e.starts_with("tuple struct ") => "a table { … }".into(),
        e if e.starts_with("enum ") => "one of the documented names".into(),
        e if e.starts_with("a sequence of") || e.starts_with("a tuple of") => {
            format!("a list of {}", e.split(" of ").nth(1).unwrap_or("values"))
        }
        e => e.to_string(),
    }
}

/// What serde says it found, in words: `string "15m"` → `the string "15m"`.
pub fn found(unexp: &str) -> String {
    let u = unexp.trim();
    let inner = |p: &str| {
        u.strip_prefix(p)
            .map(|v| v.trim().trim_matches('`').to_string())
    };
    if let Some(v) = inner("string ") {
        return format!("the string {v}");
    }
    for p in ["integer ", "floating point ", "float "] {
        if let Some(v) = inner(p) {
            return format!("the number {v}");
        }
    }
    if let Some(v) = inner("boolean ") {
        return v;
    }
    match u {
        "sequence" => "a list".into(),
        "map" => "a table".into(),
        "unit value" => "nothing".into(),
        u => u.to_string(),
    }
}

/// A field's expected shape when its last key says more than the type (lists of tables,
/// status lists), for the fix line.
pub fn shape_of(field: &str) -> Option<&'static str> {
    let last = field
        .rsplit('.')
        .next()
        .unwrap_or(field)
        .split('[')
        .next()
        .unwrap_or(field);
    Some(match last {
        "weighted" => {
            r#"a list of tables like [{ to = "browse", p = 0.7 }, { to = "end", p = 0.3 }]"#
        }
        "when" => r#"a list of tables like [{ if = "known_gifts > 0", to = "claim" }]"#,
        "expect" => r#"a list of statuses like [200, "2xx"]"#,
        "events" | "server_side" => r#"a list of event kinds like ["points.earned"]"#,
        "preferred_hours" | "hourly" => "a list of 24 numbers, one per hour",
        "weekly" => "a list of 7 numbers, Monday first",
        "phases" => r#"[[phases]] tables with name, kind and at"#,
        "request" => r#"[[request]] tables with event and path"#,
        "listen" => r#"[[socketio.listen]] tables with event"#,
        "tiers" => r#"a list of tables like [{ users = "5%", after = "5s" }]"#,
        "headers" => r#"a table of header names and values, like { x-api-key = "…" }"#,
        "span" => r#"a duration text such as "36h""#,
        _ => return None,
    })
}

/// Whether a message still names a Rust type: the fuzz test's guard, and a last resort
/// for messages from parts we do not control.
pub fn names_a_rust_type(message: &str) -> bool {
    const RUST: &[&str] = &[
        "struct ",
        "untagged enum",
        "enum ",
        "Option<",
        "Vec<",
        "BTreeMap",
        "HashMap",
        "Param",
        "Noted",
        "Quantity",
        "::",
        "f64",
        "f32",
        "u8",
        "u16",
        "u32",
        "u64",
        "i64",
        "usize",
        "expected a sequence",
        "expected a map",
    ];
    // `RawEdge`, `RawDistTable`: our raw types' names.
    let raw_type = message.match_indices("Raw").any(|(i, _)| {
        message[i + 3..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
    });
    raw_type || RUST.iter().any(|t| message.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_become_words() {
        assert_eq!(
            read(r#"invalid type: string "15m", expected struct RawEdge"#),
            Said::Wrong {
                expected: "struct RawEdge".into(),
                found: r#"string "15m""#.into()
            }
        );
        assert_eq!(expected("struct RawEdge"), "a table { … }");
        assert_eq!(found(r#"string "15m""#), r#"the string "15m""#);
        assert_eq!(found("integer `-3`"), "the number -3");
        assert_eq!(found("sequence"), "a list");
        assert_eq!(expected("u16"), "a whole number from 0 to 65535");
        assert_eq!(
            read("unknown field `bogus`, expected one of `to`, `delay`"),
            Said::UnknownField {
                name: "bogus".into(),
                known: vec!["to".into(), "delay".into()]
            }
        );
        assert_eq!(
            read("unknown field `x`, there are no fields"),
            Said::UnknownField {
                name: "x".into(),
                known: vec![]
            }
        );
        assert_eq!(read("missing field `to`"), Said::MissingField("to".into()));
        assert!(names_a_rust_type("expected struct RawEdge"));
        assert!(!names_a_rust_type(&expected("struct RawEdge")));
        assert_eq!(
            shape_of("request[0].expect"),
            Some(r#"a list of statuses like [200, "2xx"]"#)
        );
    }
}
