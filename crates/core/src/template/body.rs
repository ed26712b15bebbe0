//! JSON documents built from templates: a request body, a gRPC message, a Socket.IO
//! payload, written as TOML tables and arrays whose strings are templates.

use serde_json::Value;

use super::field::FieldSet;
use super::scope::Scope;
use super::{Template, TemplateError};
use crate::diagnostic::Seg as PathSeg;

/// A compiled request body.
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
    /// Compiles a TOML value for a replay request; errors carry their key path inside it.
    pub fn compile(v: &toml::Value) -> Result<JsonTmpl, Vec<TemplateError>> {
        JsonTmpl::compile_in(v, &FieldSet::replay())
    }

    /// Compiles a TOML value against the fields a place offers; every problem at once.
    pub fn compile_in(v: &toml::Value, fields: &FieldSet) -> Result<JsonTmpl, Vec<TemplateError>> {
        let nest = |at: PathSeg, r: Result<JsonTmpl, Vec<TemplateError>>| {
            r.map_err(|es| {
                es.into_iter()
                    .map(|mut e| {
                        e.at.insert(0, at.clone());
                        e
                    })
                    .collect::<Vec<_>>()
            })
        };
        let mut errors = Vec::new();
        let t = match v {
            toml::Value::String(s) => {
                let t = Template::compile_in(s, fields)?;
                match t.constant() {
                    Some(c) => JsonTmpl::Lit(c),
                    None => JsonTmpl::Str(t),
                }
            }
            toml::Value::Array(a) => JsonTmpl::Arr(
                a.iter()
                    .enumerate()
                    .filter_map(|(i, x)| {
                        nest(PathSeg::Index(i), JsonTmpl::compile_in(x, fields))
                            .map_err(|e| errors.extend(e))
                            .ok()
                    })
                    .collect(),
            ),
            toml::Value::Table(t) => JsonTmpl::Obj(
                t.iter()
                    .filter_map(|(k, x)| {
                        nest(PathSeg::Key(k.clone()), JsonTmpl::compile_in(x, fields))
                            .map(|t| (k.clone(), t))
                            .map_err(|e| errors.extend(e))
                            .ok()
                    })
                    .collect(),
            ),
            other => JsonTmpl::Lit(serde_json::to_value(other).unwrap_or(Value::Null)),
        };
        if errors.is_empty() {
            Ok(t)
        } else {
            Err(errors)
        }
    }

    /// Whether any template inside satisfies `f`.
    fn any(&self, f: &dyn Fn(&Template) -> bool) -> bool {
        match self {
            JsonTmpl::Lit(_) => false,
            JsonTmpl::Str(t) => f(t),
            JsonTmpl::Arr(a) => a.iter().any(|x| x.any(f)),
            JsonTmpl::Obj(o) => o.iter().any(|(_, x)| x.any(f)),
        }
    }

    pub fn needs_json(&self) -> bool {
        self.any(&Template::needs_json)
    }

    pub fn uses_token(&self) -> bool {
        self.any(&Template::uses_token)
    }

    /// The captured values it reads (`vars.*`, `entity.*.*`), each once.
    pub fn vars_read(&self, out: &mut Vec<super::Field>) {
        match self {
            JsonTmpl::Lit(_) => {}
            JsonTmpl::Str(t) => t.vars_read(out),
            JsonTmpl::Arr(a) => a.iter().for_each(|x| x.vars_read(out)),
            JsonTmpl::Obj(o) => o.iter().for_each(|(_, x)| x.vars_read(out)),
        }
    }

    /// The `user.<name>` names its strings read.
    pub fn user_fields(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        self.each(&mut |t| {
            for n in t.user_fields() {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        });
        names
    }

    /// Every `lookup`'s pool and field its strings hold, each pair once.
    pub fn lookups(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        self.each(&mut |t| {
            for l in t.lookups() {
                if !out.contains(&l) {
                    out.push(l);
                }
            }
        });
        out
    }

    fn each(&self, f: &mut dyn FnMut(&Template)) {
        match self {
            JsonTmpl::Lit(_) => {}
            JsonTmpl::Str(t) => f(t),
            JsonTmpl::Arr(a) => a.iter().for_each(|x| x.each(f)),
            JsonTmpl::Obj(o) => o.iter().for_each(|(_, x)| x.each(f)),
        }
    }

    pub fn render<S: Scope + ?Sized>(&self, s: &S) -> Value {
        match self {
            JsonTmpl::Lit(v) => v.clone(),
            JsonTmpl::Str(t) => t.json(s),
            JsonTmpl::Arr(a) => Value::Array(a.iter().map(|x| x.render(s)).collect()),
            JsonTmpl::Obj(o) => {
                Value::Object(o.iter().map(|(k, x)| (k.clone(), x.render(s))).collect())
            }
        }
    }
}
