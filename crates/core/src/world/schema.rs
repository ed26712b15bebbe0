//! The JSON Schema (2020-12) of a world's timeline, generated from its [`KindTable`]:
//! the line's fields, then one `if`/`then` branch per kind with its props. For the
//! default world it is `schema/event.v1.json` byte for byte (a test keeps them equal, so
//! the committed file is this generator's output).

use serde::Serialize;
use serde::ser::SerializeMap;

use super::kinds::{KindDecl, KindTable, PropDecl, PropType};

/// The whole schema document, fields in the order the file shows them.
#[derive(Serialize, Debug)]
pub struct EventSchema {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    #[serde(rename = "$id")]
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    #[serde(rename = "type")]
    pub ty: &'static str,
    #[serde(rename = "additionalProperties")]
    pub additional_properties: bool,
    pub required: Vec<&'static str>,
    pub properties: Ordered<Schema>,
    #[serde(rename = "allOf")]
    pub all_of: Vec<KindBranch>,
}

/// One value's schema: the keywords this project uses, in the order it writes them.
#[derive(Serialize, Debug, Default)]
pub struct Schema {
    #[serde(rename = "const", skip_serializing_if = "Option::is_none")]
    pub constant: Option<u32>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<TypeSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(rename = "enum", skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'static str>,
}

/// `"type": "integer"`, or `["integer", "null"]` for a nullable value.
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub enum TypeSpec {
    One(&'static str),
    OrNull([&'static str; 2]),
}

/// `{"if": {event is K}, "then": {props as K declares}}`.
#[derive(Serialize, Debug)]
pub struct KindBranch {
    #[serde(rename = "if")]
    pub when: When,
    pub then: Then,
}

#[derive(Serialize, Debug)]
pub struct When {
    pub properties: EventIs,
}

#[derive(Serialize, Debug)]
pub struct EventIs {
    pub event: Const,
}

#[derive(Serialize, Debug)]
pub struct Const {
    #[serde(rename = "const")]
    pub value: String,
}

#[derive(Serialize, Debug)]
pub struct Then {
    pub properties: PropsOf,
}

#[derive(Serialize, Debug)]
pub struct PropsOf {
    pub props: PropsSchema,
}

#[derive(Serialize, Debug)]
pub struct PropsSchema {
    #[serde(rename = "type")]
    pub ty: &'static str,
    #[serde(rename = "additionalProperties")]
    pub additional_properties: bool,
    pub required: Vec<String>,
    pub properties: Ordered<Schema>,
}

/// A JSON object whose keys keep the order given (serde_json's map sorts them).
#[derive(Debug, Default)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

fn one(ty: &'static str) -> Option<TypeSpec> {
    Some(TypeSpec::One(ty))
}

/// The line's own fields, as v1 defines them.
fn line_fields(kinds: &KindTable) -> Ordered<Schema> {
    let s =
        |ty: Option<TypeSpec>, pattern: Option<&str>, description: Option<&'static str>| Schema {
            ty,
            pattern: pattern.map(String::from),
            description,
            ..Schema::default()
        };
    Ordered(vec![
        (
            "v".into(),
            Schema {
                constant: Some(1),
                description: Some("schema version of the line"),
                ..Schema::default()
            },
        ),
        (
            "ts".into(),
            s(
                one("string"),
                Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"),
                Some("RFC 3339 UTC with milliseconds"),
            ),
        ),
        (
            "t_ms".into(),
            Schema {
                ty: one("integer"),
                minimum: Some(0),
                description: Some("milliseconds since the timeline start"),
                ..Schema::default()
            },
        ),
        ("user_id".into(), s(one("string"), Some("^u[0-9]+$"), None)),
        (
            "persona".into(),
            s(one("string"), Some("^[a-z0-9_-]+$"), None),
        ),
        (
            "session_id".into(),
            s(
                Some(TypeSpec::OrNull(["string", "null"])),
                Some("^s[0-9]+-[0-9]+$"),
                Some("null outside a session"),
            ),
        ),
        (
            "seq".into(),
            Schema {
                ty: one("integer"),
                minimum: Some(0),
                description: Some("per user, from 0, without gaps"),
                ..Schema::default()
            },
        ),
        (
            "event".into(),
            Schema {
                ty: one("string"),
                labels: Some(kinds.names().into_iter().map(String::from).collect()),
                ..Schema::default()
            },
        ),
        (
            "props".into(),
            Schema {
                ty: one("object"),
                ..Schema::default()
            },
        ),
    ])
}

/// A prop's schema from its declaration.
fn prop_schema(p: &PropDecl) -> Schema {
    let (ty, pattern, labels) = match &p.ty {
        PropType::Int => (Some("integer"), None, None),
        PropType::Float { .. } => (Some("number"), None, None),
        PropType::Str => (Some("string"), p.pattern.as_deref(), None),
        PropType::Bool => (Some("boolean"), None, None),
        PropType::Ts => (
            Some("string"),
            Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"),
            None,
        ),
        PropType::Date => (Some("string"), Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), None),
        PropType::Json => (None, None, None),
        PropType::Id(e) => (Some("string"), e.pattern(), None),
        PropType::Enum(l) => (
            Some("string"),
            None,
            Some(l.iter().map(|s| s.to_string()).collect()),
        ),
    };
    Schema {
        ty: ty.map(|t| {
            if p.nullable {
                TypeSpec::OrNull([t, "null"])
            } else {
                TypeSpec::One(t)
            }
        }),
        pattern: pattern.map(String::from),
        labels,
        minimum: p.min,
        maximum: p.max,
        ..Schema::default()
    }
}

fn branch(k: &KindDecl) -> KindBranch {
    KindBranch {
        when: When {
            properties: EventIs {
                event: Const {
                    value: k.name.to_string(),
                },
            },
        },
        then: Then {
            properties: PropsOf {
                props: PropsSchema {
                    ty: "object",
                    additional_properties: false,
                    required: k
                        .props
                        .iter()
                        .filter(|p| !p.optional)
                        .map(|p| p.name.to_string())
                        .collect(),
                    properties: Ordered(
                        k.props
                            .iter()
                            .map(|p| (p.name.to_string(), prop_schema(p)))
                            .collect(),
                    ),
                },
            },
        },
    }
}

impl KindTable {
    /// The timeline's JSON Schema for this world's kinds.
    pub fn json_schema(&self) -> EventSchema {
        EventSchema {
            schema: "https://json-schema.org/draft/2020-12/schema",
            id: "https://simulate.dev/schema/event.v1.json",
            title: "simulate timeline event, version 1",
            description: "One line of events.jsonl: one thing one simulated user did, or had done to them, at one instant. Lines are ordered by (t_ms, user_id number, seq).",
            ty: "object",
            additional_properties: false,
            required: vec![
                "v",
                "ts",
                "t_ms",
                "user_id",
                "persona",
                "session_id",
                "seq",
                "event",
                "props",
            ],
            properties: line_fields(self),
            all_of: self.iter().map(branch).collect(),
        }
    }

    /// [`KindTable::json_schema`] as the file holds it: pretty JSON and a newline.
    pub fn json_schema_text(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(&self.json_schema()).expect("the schema types serialize");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_world_gives_the_published_schema_byte_for_byte() {
        let published = include_str!("../../../../schema/event.v1.json");
        let generated = KindTable::builtin().json_schema_text();
        if generated != published {
            let line = generated
                .lines()
                .zip(published.lines())
                .position(|(a, b)| a != b)
                .map_or(
                    generated.lines().count().min(published.lines().count()),
                    |l| l,
                );
            panic!(
                "schema/event.v1.json differs from the generated schema at line {}:\n  generated: {:?}\n  published: {:?}",
                line + 1,
                generated.lines().nth(line),
                published.lines().nth(line)
            );
        }
    }
}
