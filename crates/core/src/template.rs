//! Templates of the target mapping: `/users/{user_id}/points`, `Bearer {token}`, JSON
//! bodies with `"{props.amount}"`. Compiled once into segments, rendered per request.
//!
//! Written by hand: a template engine (tera, handlebars) would parse the same ten field
//! names with far more machinery, and could not keep a number a number in a JSON body.

use serde_json::Value;

use crate::ids;

/// A value taken from the event or its user.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Field {
    UserId,
    Seq,
    Event,
    SessionId,
    Persona,
    Ts,
    TMs,
    /// The per-user token (from the token file).
    Token,
    /// The whole event line, as JSON.
    Line,
    /// `<user_id>/<seq>`: the id `x-sim-event` carries, for payloads without headers.
    EventId,
    /// The event's W3C traceparent (one trace per session, one span per event).
    Traceparent,
    /// A value inside the event's `props`, by key path.
    Prop(Vec<String>),
}

/// Why a template does not compile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "unknown template field `{{{0}}}`; known: user_id, seq, event, session_id, persona, ts, t_ms, token, line, event_id, traceparent, props.<key>, env.<NAME>"
    )]
    UnknownField(String),
    #[error("a `}}` without its `{{` (write `}}}}` for a literal brace)")]
    UnopenedBrace,
    #[error("a `{{` without its `}}` (write `{{{{` for a literal brace)")]
    UnclosedBrace,
    #[error("the environment variable `{0}` is not set (the template reads `{{env.{0}}}`)")]
    MissingEnv(String),
}

impl Field {
    fn parse(name: &str) -> Result<Field, TemplateError> {
        Ok(match name {
            "user_id" => Field::UserId,
            "seq" => Field::Seq,
            "event" => Field::Event,
            "session_id" => Field::SessionId,
            "persona" => Field::Persona,
            "ts" => Field::Ts,
            "t_ms" => Field::TMs,
            "token" => Field::Token,
            "line" => Field::Line,
            "event_id" => Field::EventId,
            "traceparent" => Field::Traceparent,
            _ => match name.strip_prefix("props.") {
                Some(p) if !p.is_empty() && p.split('.').all(|s| !s.is_empty()) => {
                    Field::Prop(p.split('.').map(String::from).collect())
                }
                _ => return Err(TemplateError::UnknownField(name.to_string())),
            },
        })
    }

    /// Whether rendering needs the event's JSON parsed.
    fn needs_json(&self) -> bool {
        matches!(
            self,
            Field::SessionId | Field::Persona | Field::Ts | Field::Prop(_)
        )
    }
}

#[derive(Clone, Debug)]
enum Seg {
    Lit(String),
    /// A literal read from the environment: never printed.
    Secret(String),
    Field(Field),
}

/// A compiled string template.
#[derive(Clone, Debug)]
pub struct Template {
    segs: Vec<Seg>,
    text: String,
}

/// What a render may look at: the event's own fields and line, its parsed JSON when a
/// field needs it ([`Template::needs_json`]), and the user's token.
pub struct Ctx<'a> {
    pub user_id: &'a str,
    pub seq: u32,
    /// The user's session number (from 1), 0 outside a session.
    pub session: u32,
    pub t_ms: i64,
    /// The event kind's name.
    pub event: &'a str,
    /// The event's JSON line, without its newline.
    pub line: &'a [u8],
    pub json: Option<&'a Value>,
    pub token: Option<&'a str>,
}

impl<'a> Ctx<'a> {
    fn lookup(&self, f: &Field) -> Option<Value> {
        let j = self.json;
        match f {
            Field::Prop(path) => {
                let mut v = j?.get("props")?;
                for k in path {
                    v = v.get(k.as_str())?;
                }
                Some(v.clone())
            }
            Field::SessionId => j?.get("session_id").cloned(),
            Field::Persona => j?.get("persona").cloned(),
            Field::Ts => j?.get("ts").cloned(),
            _ => None,
        }
    }

    fn push(&self, f: &Field, out: &mut String) {
        match f {
            Field::UserId => out.push_str(self.user_id),
            Field::Seq => out.push_str(itoa::Buffer::new().format(self.seq)),
            Field::Event => out.push_str(self.event),
            Field::TMs => out.push_str(itoa::Buffer::new().format(self.t_ms)),
            Field::Token => out.push_str(self.token.unwrap_or("")),
            Field::Line => out.push_str(&String::from_utf8_lossy(self.line)),
            Field::EventId => out.push_str(&ids::event_id(self.user_id, self.seq)),
            Field::Traceparent => {
                out.push_str(&ids::traceparent(self.user_id, self.session, self.seq))
            }
            other => match self.lookup(other) {
                Some(Value::String(s)) => out.push_str(&s),
                Some(Value::Null) | None => {}
                Some(v) => out.push_str(&v.to_string()),
            },
        }
    }

    /// A field as a typed JSON value (numbers stay numbers in bodies).
    fn value(&self, f: &Field) -> Value {
        match f {
            Field::Seq => Value::from(self.seq),
            Field::TMs => Value::from(self.t_ms),
            Field::Line => serde_json::from_slice(self.line).unwrap_or(Value::Null),
            Field::Prop(_) | Field::SessionId | Field::Persona | Field::Ts => {
                self.lookup(f).unwrap_or(Value::Null)
            }
            _ => {
                let mut s = String::new();
                self.push(f, &mut s);
                Value::String(s)
            }
        }
    }
}

impl Template {
    /// Compiles `text`; `{env.NAME}` is read now, so a missing variable fails before any
    /// traffic is sent.
    pub fn compile(text: &str) -> Result<Template, TemplateError> {
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            lit.push_str(&rest[..i]);
            let c = rest.as_bytes()[i];
            let after = &rest[i + 1..];
            if after.as_bytes().first() == Some(&c) {
                lit.push(c as char);
                rest = &after[1..];
                continue;
            }
            if c == b'}' {
                return Err(TemplateError::UnopenedBrace);
            }
            let end = after.find('}').ok_or(TemplateError::UnclosedBrace)?;
            let name = after[..end].trim();
            if !lit.is_empty() {
                segs.push(Seg::Lit(std::mem::take(&mut lit)));
            }
            if let Some(var) = name.strip_prefix("env.") {
                let value =
                    std::env::var(var).map_err(|_| TemplateError::MissingEnv(var.to_string()))?;
                segs.push(Seg::Secret(value));
            } else {
                segs.push(Seg::Field(Field::parse(name)?));
            }
            rest = &after[end + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit));
        }
        Ok(Template {
            segs,
            text: text.to_string(),
        })
    }

    /// The template as written (secrets unread).
    pub fn source(&self) -> &str {
        &self.text
    }

    pub fn needs_json(&self) -> bool {
        self.segs
            .iter()
            .any(|s| matches!(s, Seg::Field(f) if f.needs_json()))
    }

    pub fn uses_token(&self) -> bool {
        self.segs
            .iter()
            .any(|s| matches!(s, Seg::Field(Field::Token)))
    }

    /// The template is exactly one field: `"{props.amount}"`.
    fn single_field(&self) -> Option<&Field> {
        match self.segs.as_slice() {
            [Seg::Field(f)] => Some(f),
            _ => None,
        }
    }

    pub fn render_into(&self, ctx: &Ctx<'_>, out: &mut String) {
        for s in &self.segs {
            match s {
                Seg::Lit(l) | Seg::Secret(l) => out.push_str(l),
                Seg::Field(f) => ctx.push(f, out),
            }
        }
    }

    pub fn render(&self, ctx: &Ctx<'_>) -> String {
        let mut s = String::new();
        self.render_into(ctx, &mut s);
        s
    }
}

/// A compiled JSON body: TOML tables and arrays whose strings are templates.
#[derive(Clone, Debug)]
pub enum Body {
    /// The event line itself, sent as is (no parse, no copy).
    Line,
    Json(JsonTmpl),
}

#[derive(Clone, Debug)]
pub enum JsonTmpl {
    Lit(Value),
    Str(Template),
    Arr(Vec<JsonTmpl>),
    Obj(Vec<(String, JsonTmpl)>),
}

impl JsonTmpl {
    /// Compiles a TOML value; errors carry the key path inside the body.
    pub fn compile(v: &toml::Value, at: &str) -> Result<JsonTmpl, (String, TemplateError)> {
        Ok(match v {
            toml::Value::String(s) => {
                let t = Template::compile(s).map_err(|m| (at.to_string(), m))?;
                if t.segs.iter().all(|s| matches!(s, Seg::Lit(_))) {
                    JsonTmpl::Lit(Value::String(s.replace("{{", "{").replace("}}", "}")))
                } else {
                    JsonTmpl::Str(t)
                }
            }
            toml::Value::Array(a) => JsonTmpl::Arr(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| JsonTmpl::compile(x, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            toml::Value::Table(t) => JsonTmpl::Obj(
                t.iter()
                    .map(|(k, x)| {
                        JsonTmpl::compile(x, &format!("{at}.{k}")).map(|t| (k.clone(), t))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => JsonTmpl::Lit(serde_json::to_value(other).unwrap_or(Value::Null)),
        })
    }

    pub fn needs_json(&self) -> bool {
        match self {
            JsonTmpl::Lit(_) => false,
            JsonTmpl::Str(t) => t.needs_json(),
            JsonTmpl::Arr(a) => a.iter().any(JsonTmpl::needs_json),
            JsonTmpl::Obj(o) => o.iter().any(|(_, x)| x.needs_json()),
        }
    }

    pub fn uses_token(&self) -> bool {
        match self {
            JsonTmpl::Lit(_) => false,
            JsonTmpl::Str(t) => t.uses_token(),
            JsonTmpl::Arr(a) => a.iter().any(JsonTmpl::uses_token),
            JsonTmpl::Obj(o) => o.iter().any(|(_, x)| x.uses_token()),
        }
    }

    pub fn render(&self, ctx: &Ctx<'_>) -> Value {
        match self {
            JsonTmpl::Lit(v) => v.clone(),
            JsonTmpl::Str(t) => match t.single_field() {
                Some(f) => ctx.value(f),
                None => Value::String(t.render(ctx)),
            },
            JsonTmpl::Arr(a) => Value::Array(a.iter().map(|x| x.render(ctx)).collect()),
            JsonTmpl::Obj(o) => {
                Value::Object(o.iter().map(|(k, x)| (k.clone(), x.render(ctx))).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = br#"{"v":1,"ts":"2026-01-05T01:19:25.261Z","t_ms":4765261,"user_id":"u12","persona":"saver","session_id":"s12-1","seq":4,"event":"points.earned","props":{"amount":20,"source":"activity","balance":20}}"#;

    #[test]
    fn fields_render_with_types_kept_in_bodies() {
        let json: Value = serde_json::from_slice(LINE).unwrap();
        let ctx = Ctx {
            user_id: "u12",
            seq: 4,
            session: 1,
            t_ms: 4765261,
            event: "points.earned",
            line: LINE,
            json: Some(&json),
            token: Some("tok"),
        };
        let t = Template::compile("/u/{user_id}/{{x}}/{props.source}?s={seq}").unwrap();
        assert_eq!(t.render(&ctx), "/u/u12/{x}/activity?s=4");
        let body: toml::Value = toml::from_str(
            r#"amount = "{props.amount}"
who = "{persona}-{token}"
n = 3"#,
        )
        .unwrap();
        let b = JsonTmpl::compile(&body, "body").unwrap();
        assert!(b.needs_json() && b.uses_token());
        assert_eq!(
            b.render(&ctx),
            serde_json::json!({"amount": 20, "who": "saver-tok", "n": 3})
        );
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        assert!(
            Template::compile("{nope}")
                .unwrap_err()
                .to_string()
                .contains("unknown template field")
        );
        assert!(
            Template::compile("{user_id")
                .unwrap_err()
                .to_string()
                .contains("without its `}`")
        );
        assert!(
            Template::compile("{env.SIMULATE_SURELY_UNSET_VAR}")
                .unwrap_err()
                .to_string()
                .contains("not set")
        );
    }
}
