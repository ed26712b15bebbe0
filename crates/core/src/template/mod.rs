//! The template language, shared by replay mappings, seed columns and custom actions'
//! props (reference: docs/TEMPLATES.md).
//!
//! A template is text with holes: `/users/{user_id}/points`, `{props.amount * 100}`,
//! `{props.name | upper}`. `{{` and `}}` are literal braces. A hole holds a field or an
//! expression in a Jinja-like syntax ([`parse`]), type-checked against the fields the
//! place offers ([`FieldSet`]) when the file is loaded, so a misspelt field, a wrong
//! argument type or a missing environment variable is an error before any work, with
//! the hole, what is wrong and the fix. Nothing in the language reads a clock or draws a
//! random number: a template is a pure function of its scope, so seed rows and replay
//! requests render the same values.
//!
//! Ours rather than minijinja: minijinja cannot check a field against the props an event
//! kind declares when the file loads, and measured here it costs 130–950 ns per
//! evaluation with its context (docs/designs: world-and-seed §0.4). A hole that is exactly
//! one field, as every mapping written before expressions were, compiles to the same
//! segment as before and renders through the scope's own fast path: the render loop gained
//! one match arm (scripts/bench-template.sh measures it).

mod body;
mod check;
mod eval;
mod field;
pub(crate) mod funcs;
mod lex;
mod ops;
mod parse;
mod scope;
mod value;

use std::fmt;
use std::ops::Range;

use serde_json::Value;

pub use body::{Body, JsonTmpl};
pub use field::{Field, FieldSet, KindProps, PropFields, UserField, UserFields, did_you_mean};
pub(crate) use scope::Constants;
pub use scope::{Ctx, Scope};
pub use value::{Ty, Type, Val, parse_ts};

use check::Checker;
use eval::{Node, eval};
use field::Lookup;

/// One part of a compiled template.
#[derive(Clone)]
enum Seg {
    Lit(Box<str>),
    /// A constant read from the environment: never printed.
    Secret(Box<str>),
    /// A hole that is a constant expression (`{'{'}`, `{60 * 60}`), kept typed so a
    /// whole-string hole stays a number in JSON.
    Const(Val<'static>),
    /// A hole that is exactly one field: the scope's fast path.
    Field(Field),
    Expr(Box<Node>),
}

/// A compiled string template.
#[derive(Clone)]
pub struct Template {
    segs: Box<[Seg]>,
    text: Box<str>,
    ty: Type,
}

/// What is wrong with a template: where (inside a JSON body, and the byte span in the
/// string), what, and the fix. The loader turns it into a `file:line: field` problem.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateError {
    /// The key path inside a JSON body or table (`date` of `body.date`); empty for a string.
    pub at: Vec<crate::diagnostic::Seg>,
    /// Byte span in the template's text.
    pub span: Range<usize>,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

/// Holes longer than this are named by their start in messages.
const SHOWN: usize = 60;

impl TemplateError {
    fn whole(span: Range<usize>, message: impl Into<String>, fix: impl Into<String>) -> Self {
        TemplateError {
            at: Vec::new(),
            span,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// A problem inside the hole `hole`, which starts at byte `start` of the template.
    fn in_hole(hole: &str, start: usize, span: Range<usize>, message: &str, fix: String) -> Self {
        let shown = if hole.len() > SHOWN {
            let cut = (0..=SHOWN)
                .rev()
                .find(|i| hole.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{{{}…}}", &hole[..cut])
        } else {
            format!("{{{hole}}}")
        };
        let part = hole.get(span.clone()).map(str::trim).unwrap_or("");
        let at = if part.is_empty() || part.len() == hole.trim().len() || message.contains(part) {
            String::new()
        } else {
            format!(" (at `{part}`)")
        };
        TemplateError::whole(
            start + span.start..start + span.end,
            format!("in `{shown}`: {message}{at}"),
            fix,
        )
    }
}

impl fmt::Debug for Template {
    /// The source only: a compiled template may hold a secret from the environment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.text).finish()
    }
}

impl Template {
    /// Compiles `text` for a replay request ([`FieldSet::replay`]); `{env.NAME}` is read
    /// now, so a missing variable fails before any traffic is sent.
    pub fn compile(text: &str) -> Result<Template, Vec<TemplateError>> {
        Template::compile_in(text, &FieldSet::replay())
    }

    /// Compiles `text` against the fields a place offers; every problem of every hole.
    pub fn compile_in(text: &str, fields: &FieldSet) -> Result<Template, Vec<TemplateError>> {
        let mut segs = Vec::new();
        let mut errors = Vec::new();
        let mut lit = String::new();
        let mut ty = Type::STR;
        let mut i = 0;
        while let Some(off) = text[i..].find(['{', '}']) {
            lit.push_str(&text[i..i + off]);
            i += off;
            let doubled = text.as_bytes().get(i + 1) == text.as_bytes().get(i);
            match (text.as_bytes()[i], doubled) {
                (b'{', true) => {
                    errors.extend(jinja_habit(text, i, fields));
                    lit.push('{');
                    i += 2;
                }
                (b'}', true) => {
                    lit.push('}');
                    i += 2;
                }
                (b'}', false) => {
                    errors.push(TemplateError::whole(
                        i..i + 1,
                        "a `}` without its `{`",
                        "write `}}` for a literal brace",
                    ));
                    i += 1;
                }
                _ => {
                    let Some(end) = hole_end(text, i + 1) else {
                        errors.push(TemplateError::whole(
                            i..text.len(),
                            "a `{` without its `}`",
                            "close the hole with `}`, or write `{{` for a literal brace",
                        ));
                        i = text.len();
                        break;
                    };
                    if !lit.is_empty() {
                        segs.push(Seg::Lit(std::mem::take(&mut lit).into()));
                    }
                    let hole = &text[i + 1..end];
                    match compile_hole(hole, i + 1, fields) {
                        Ok((seg, t)) => {
                            segs.push(seg);
                            ty = t;
                        }
                        Err(e) => errors.extend(e),
                    }
                    i = end + 1;
                }
            }
        }
        lit.push_str(&text[i..]);
        if !lit.is_empty() {
            segs.push(Seg::Lit(lit.into()));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Only a template that is one hole keeps the hole's type.
        if segs.len() != 1 || matches!(segs[0], Seg::Lit(_)) {
            ty = Type::STR;
        }
        Ok(Template {
            segs: segs.into(),
            text: text.into(),
            ty,
        })
    }

    /// The template as written (secrets unread).
    pub fn source(&self) -> &str {
        &self.text
    }

    /// The static type of what it renders: a template that is one hole has the hole's
    /// type (a seed column fills a `timestamptz` from `{ts}`), anything else is a string.
    pub fn ty(&self) -> Type {
        self.ty
    }

    /// Every field the template reads (a custom action's checker asks which `user.*`
    /// attributes each persona must have).
    pub fn fields(&self, visit: &mut dyn FnMut(&Field)) {
        for s in self.segs.iter() {
            match s {
                Seg::Field(f) => visit(f),
                Seg::Expr(e) => e.fields(visit),
                Seg::Lit(_) | Seg::Secret(_) | Seg::Const(_) => {}
            }
        }
    }

    /// Every `lookup(pool, id, field)`'s pool and field, each pair once, for the check
    /// against the world's pools when it is known.
    pub fn lookups(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for s in self.segs.iter() {
            if let Seg::Expr(e) = s {
                e.lookups(&mut |p, f| {
                    if !out.iter().any(|(a, b)| a == p && b == f) {
                        out.push((p.to_string(), f.to_string()));
                    }
                });
            }
        }
        out
    }

    /// Whether rendering reads the event's parsed JSON (replay parses it only then).
    pub fn needs_json(&self) -> bool {
        let mut yes = false;
        self.fields(&mut |f| yes |= f.needs_json());
        yes
    }

    pub fn uses_token(&self) -> bool {
        let mut yes = false;
        self.fields(&mut |f| yes |= *f == Field::Token);
        yes
    }

    /// The captured values it reads (`vars.*`, `entity.*.*`), each once, in order.
    pub fn vars_read(&self, out: &mut Vec<Field>) {
        self.fields(&mut |f| {
            if matches!(f, Field::Var(_) | Field::Entity(..)) && !out.contains(f) {
                out.push(f.clone());
            }
        });
    }

    /// The `user.<name>` names it reads, each once, in first-use order.
    pub fn user_fields(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        self.fields(&mut |f| {
            let name = match f {
                Field::User(UserField::Id) => "id",
                Field::User(UserField::Attr(n) | UserField::SignedUp(n)) => n,
                _ => return,
            };
            if !names.iter().any(|k| k == name) {
                names.push(name.to_string());
            }
        });
        names
    }

    /// The value when the template reads nothing: `None` when it has a field or a secret.
    pub fn constant(&self) -> Option<Value> {
        match &self.segs[..] {
            [Seg::Const(v)] => Some(v.to_json()),
            segs if segs
                .iter()
                .all(|s| matches!(s, Seg::Lit(_) | Seg::Const(_))) =>
            {
                let mut s = String::new();
                self.render_into(&Constants, &mut s);
                Some(Value::String(s))
            }
            _ => None,
        }
    }

    /// Appends the rendered text. A value the checker could not type (a prop of a kind
    /// it did not know) that does not fit its expression renders as nothing, as a
    /// missing prop does; [`Template::value`] reports it.
    pub fn render_into<S: Scope + ?Sized>(&self, s: &S, out: &mut String) {
        for seg in self.segs.iter() {
            match seg {
                Seg::Lit(l) | Seg::Secret(l) => out.push_str(l),
                Seg::Field(f) => s.push(f, out),
                Seg::Const(v) => v.write_text(out),
                Seg::Expr(e) => {
                    if let Ok(v) = eval(e, s) {
                        v.write_text(out);
                    }
                }
            }
        }
    }

    pub fn render<S: Scope + ?Sized>(&self, s: &S) -> String {
        let mut out = String::new();
        self.render_into(s, &mut out);
        out
    }

    /// The typed value: a template that is one hole gives the hole's value (a number stays
    /// a number), anything else its text. `Err` names what went wrong with a value known
    /// only at run time.
    pub fn value<'a, S: Scope + ?Sized>(&'a self, s: &'a S) -> Result<Val<'a>, String> {
        match &self.segs[..] {
            [Seg::Field(f)] => Ok(s.field(f)),
            [Seg::Expr(e)] => eval(e, s),
            [Seg::Const(v)] => Ok(v.clone()),
            segs => {
                let mut out = String::new();
                for seg in segs {
                    match seg {
                        Seg::Lit(l) | Seg::Secret(l) => out.push_str(l),
                        Seg::Field(f) => s.push(f, &mut out),
                        Seg::Const(v) => v.write_text(&mut out),
                        Seg::Expr(e) => eval(e, s)?.write_text(&mut out),
                    }
                }
                Ok(Val::Str(out.into()))
            }
        }
    }

    /// The value in a JSON document: a one-field template through the scope's JSON fast
    /// path, a one-hole expression typed, anything else a string.
    pub fn json<S: Scope + ?Sized>(&self, s: &S) -> Value {
        match &self.segs[..] {
            [Seg::Field(f)] => s.json(f),
            [Seg::Expr(e)] => eval(e, s).map_or(Value::Null, |v| v.to_json()),
            [Seg::Const(v)] => v.to_json(),
            _ => Value::String(self.render(s)),
        }
    }
}

/// Where the hole opened before `start` ends: the first `}` outside a quoted string.
fn hole_end(text: &str, start: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '}' => return Some(start + i),
            None => {}
        }
    }
    None
}

/// One hole compiled: a field, a constant, or an expression, with its type.
fn compile_hole(
    hole: &str,
    start: usize,
    fields: &FieldSet,
) -> Result<(Seg, Type), Vec<TemplateError>> {
    let ast = parse::parse(hole).map_err(|e| {
        vec![TemplateError::in_hole(
            hole, start, e.span, &e.message, e.fix,
        )]
    })?;
    let mut c = Checker::new(fields);
    let (node, ty) = c.check(&ast);
    if !c.errors.is_empty() {
        return Err(c
            .errors
            .into_iter()
            .map(|e| TemplateError::in_hole(hole, start, e.span, &e.message, e.fix))
            .collect());
    }
    let seg = match node {
        Node::Field(f, _) => Seg::Field(f),
        Node::Lit(v) if c.secret => Seg::Secret(v.to_text().into()),
        Node::Lit(v) => Seg::Const(v),
        other => Seg::Expr(Box::new(other)),
    };
    Ok((seg, ty))
}

/// `{{ user_id }}` out of a Jinja habit sends the literal text `{ user_id }`: refused
/// when its inside names a field, so the mistake is found before traffic.
fn jinja_habit(text: &str, at: usize, fields: &FieldSet) -> Option<TemplateError> {
    let close = text[at + 2..].find("}}")? + at + 2;
    let inner = text[at + 2..close].trim();
    let path: Vec<&str> = inner.split('.').collect();
    let is_name = path
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if !is_name || matches!(fields.lookup(&path), Lookup::Missing { .. }) {
        return None;
    }
    Some(TemplateError::whole(
        at..close + 2,
        format!("`{{{{ {inner} }}}}` sends the text `{{{inner}}}`, not the field"),
        format!(
            "this language uses single braces: `{{{inner}}}`; for literal braces write `{{'{{'}}` and `{{'}}'}}`"
        ),
    ))
}

#[cfg(test)]
mod tests;
