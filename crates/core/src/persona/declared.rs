//! `world.toml` beside the persona files: the team's own event kinds (`[kinds."name"]`,
//! each prop typed) and custom actions (`[actions.name]`: the kind it emits, its Hooked
//! step, its props from distributions or templates, the counters it bumps, its habit
//! effect). A persona state performs a custom action like a built-in one
//! (`action = "view_dashboard"`); the engine makes its events in `engine::custom`.
//!
//! Read in two steps, because the props' templates read `user.<attribute>` and the
//! attributes are the personas': [`read`] validates the kinds, actions and counters (what
//! the personas' states and guards name), and [`compile_props`] compiles the templates
//! once the personas are known, checking each persona that performs an action has the
//! attributes its templates read.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::dist::{Dist, RawDist, RawDistTable, Unit};
use super::model::{ACTIONS, Hook, Persona};
use crate::diagnostic::{FieldPath, Problem, Source};
use crate::template::{
    Field, FieldSet, KindProps, PropFields, Template, Ty, Type, UserField, UserFields,
};
use crate::timeline::{EVENT_KINDS, intern};
use crate::world::kinds::{KindDecl, PROP_TYPES, PropDecl, PropType, Side};
use crate::world::pools::Pools;

/// The file's name in a personas folder.
pub const FILE: &str = "world.toml";

/// Props a custom kind may declare: the engine keeps a custom event's drawn values on
/// the stack while it writes the line.
pub const MAX_PROPS: usize = 32;

/// What a personas folder's `world.toml` declares; empty without one.
#[derive(Clone, Debug, Default)]
pub struct Declared {
    /// Custom kinds in name order; their ids in the world's `KindTable` follow the
    /// built-in ones (`EVENT_KINDS.len() + i`).
    pub kinds: Vec<KindDecl>,
    /// Custom actions in name order.
    pub actions: Vec<CustomAction>,
    /// Custom counters in name order (`counters.<name>` in guards and templates).
    pub counters: Vec<String>,
    /// The file, for problems found later.
    pub source: Option<String>,
}

/// One `[actions.<name>]`.
#[derive(Clone, Debug)]
pub struct CustomAction {
    pub name: String,
    /// Its kind's id in the world's `KindTable`.
    pub kind: u16,
    /// Its kind's name, interned: what `Props::Custom` carries.
    pub kind_name: &'static str,
    pub hook: Hook,
    /// Habit gained on success, when the file sets it (else the hook step's gain).
    pub habit: Option<f64>,
    /// (counter index, amount) bumped on success.
    pub counters: Vec<(u16, i64)>,
    /// One generator per prop of the kind, in the kind's prop order.
    pub props: Vec<PropGen>,
    /// Attribute names the props' templates read (`user.tz`): every persona performing
    /// the action must have them.
    pub reads_attrs: Vec<String>,
    /// Other `user.<name>` the props' templates read (`user.team`), each with its place
    /// in `world.toml` (the problem's message empty): a pool the scenario must declare,
    /// checked when the world is assembled ([`check_team_reads`]).
    pub reads_team: Vec<(String, Problem)>,
    /// Each `lookup(pool, id, field)` the props' templates make (pool, field), with its
    /// place: checked against the scenario's pools with `reads_team`.
    pub lookups: Vec<(String, String, Problem)>,
}

/// How a custom event's prop gets its value.
#[derive(Clone, Debug)]
pub enum PropGen {
    /// Not given and nullable: `null`.
    Null,
    /// A draw from the user's RNG, written as the prop's type.
    Draw(Dist, Drawn),
    /// A fixed value, its JSON written once.
    Const(Box<[u8]>),
    /// A template over the user, the event and the props drawn.
    Template(Template),
    /// A template waiting for [`compile_props`].
    Pending(String),
}

/// How a drawn number becomes the prop's value.
#[derive(Clone, Debug)]
pub enum Drawn {
    /// Rounded to the nearest whole number.
    Int,
    /// A uniform draw over whole numbers: every value of [min, max] equally likely.
    IntUniform {
        min: i64,
        max: i64,
    },
    Float {
        decimals: u8,
    },
    /// A label (the weighted table's keys), its JSON string ready.
    Label(Box<[Box<[u8]>]>),
    /// `true`/`false` labels.
    Bool(Box<[bool]>),
}

impl Declared {
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty() && self.actions.is_empty()
    }

    pub fn action(&self, name: &str) -> Option<(u16, &CustomAction)> {
        self.actions
            .iter()
            .position(|a| a.name == name)
            .map(|i| (i as u16, &self.actions[i]))
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawWorld {
    #[serde(default)]
    kinds: BTreeMap<String, RawKind>,
    #[serde(default)]
    actions: BTreeMap<String, RawAction>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawKind {
    side: Option<String>,
    #[serde(default)]
    props: BTreeMap<String, String>,
    note: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawAction {
    emits: String,
    hook: Option<String>,
    #[serde(default)]
    counters: BTreeMap<String, i64>,
    habit: Option<f64>,
    #[serde(default)]
    props: BTreeMap<String, RawGen>,
    note: Option<String>,
}

/// A prop's generator as written: a template (a string), a distribution (a table), or a
/// constant number or boolean.
#[derive(Debug)]
enum RawGen {
    Template(String),
    Dist(Box<RawDistTable>),
    Num(f64),
    Bool(bool),
}

impl<'de> Deserialize<'de> for RawGen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawGen;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a template like "{user.team}", a table like { dist = "uniform", min = 1, max = 8 }, a number or a boolean"#)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawGen, E> {
                Ok(RawGen::Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawGen, E> {
                Ok(RawGen::Num(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawGen, E> {
                Ok(RawGen::Num(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawGen, E> {
                Ok(RawGen::Bool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawGen, E> {
                Ok(RawGen::Template(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawGen, A::Error> {
                RawDistTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawGen::Dist(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A kind's or an action's name: lowercase words joined by `.` or `_`.
fn usable_name(name: &str, dots: bool) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (dots && c == '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
}

struct Check<'a> {
    src: &'a Source,
    problems: Vec<Problem>,
}

impl Check<'_> {
    fn fail(&mut self, path: &FieldPath, message: impl Into<String>, fix: impl Into<String>) {
        let p = self.src.problem(path, message, fix);
        self.problems.push(p);
    }
}

/// Validates `world.toml`: every problem at once, each at its line and field. Props'
/// templates are kept for [`compile_props`].
pub fn read(src: &Source) -> Result<Declared, Vec<Problem>> {
    let raw: RawWorld = src.parse().map_err(|p| p.0)?;
    let mut c = Check {
        src,
        problems: Vec::new(),
    };
    let kinds = c.kinds(&raw);
    let counters: Vec<String> = {
        let mut v: Vec<String> = raw
            .actions
            .values()
            .flat_map(|a| a.counters.keys().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let actions = raw
        .actions
        .iter()
        .filter_map(|(name, a)| c.action(name, a, &kinds, &counters))
        .collect();
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(Declared {
        kinds,
        actions,
        counters,
        source: Some(src.name.clone()),
    })
}

impl Check<'_> {
    /// `[kinds."<name>"]`: a new name, a side, typed props.
    fn kinds(&mut self, raw: &RawWorld) -> Vec<KindDecl> {
        let mut kinds = Vec::new();
        for (name, k) in &raw.kinds {
            let kp = FieldPath::root().key("kinds").key(name);
            if EVENT_KINDS.contains(&name.as_str()) {
                self.fail(
                    &kp,
                    format!("`{name}` is a built-in event kind"),
                    "give the team's kind its own name (built-in kinds are declared already)",
                );
                continue;
            }
            if !usable_name(name, true) {
                self.fail(
                    &kp,
                    format!("`{name}` is not a usable kind name"),
                    "use lowercase words joined by . or _, like \"dashboard.viewed\"",
                );
            }
            let side = match k.side.as_deref() {
                None | Some("client") => Side::Client,
                Some("server") => Side::Server,
                Some(other) => {
                    self.fail(
                        &kp.key("side"),
                        format!("`{other}` is not a side"),
                        "use \"client\" (replay sends it) or \"server\" (replay skips it unless mapped)",
                    );
                    Side::Client
                }
            };
            let _ = &k.note;
            if k.props.len() > MAX_PROPS {
                self.fail(
                    &kp.key("props"),
                    format!("{} props declared", k.props.len()),
                    format!("declare at most {MAX_PROPS} props; put the rest in one `json` prop"),
                );
            }
            let mut props = Vec::new();
            for (pname, ty) in &k.props {
                let pp = kp.key("props").key(pname);
                if !usable_name(pname, false)
                    && !pname.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.fail(
                        &pp,
                        format!("`{pname}` is not a usable prop name"),
                        "use letters, digits and _",
                    );
                }
                match PropType::parse(ty) {
                    Ok((t, nullable)) => {
                        let d = PropDecl::new(pname, t);
                        props.push(if nullable { d.nullable() } else { d });
                    }
                    Err(m) => self.fail(&pp, m, format!("use one of: {PROP_TYPES}")),
                }
            }
            kinds.push(KindDecl {
                name: name.as_str().into(),
                side,
                props: props.into(),
                builtin: false,
                line: self.src.locate(&kp).map(|l| l as u32),
            });
        }
        kinds
    }

    /// One `[actions.<name>]`.
    fn action(
        &mut self,
        name: &str,
        a: &RawAction,
        kinds: &[KindDecl],
        counters: &[String],
    ) -> Option<CustomAction> {
        let ap = FieldPath::root().key("actions").key(name);
        let _ = &a.note;
        if ACTIONS.iter().any(|(n, _)| *n == name) {
            self.fail(
                &ap,
                format!("`{name}` is a built-in action"),
                "give the custom action its own name (built-in actions keep their meaning)",
            );
        } else if !usable_name(name, false) {
            self.fail(
                &ap,
                format!("`{name}` is not a usable action name"),
                "use lowercase letters, digits and _, like \"view_dashboard\"",
            );
        }
        let hook = match a.hook.as_deref() {
            None => Hook::Action,
            Some(h) => Hook::parse(h)
                .filter(|h| *h != Hook::Trigger)
                .unwrap_or_else(|| {
                    self.fail(
                        &ap.key("hook"),
                        format!("`{h}` is not a step an action can serve"),
                        "use action, reward or investment (triggers start sessions)",
                    );
                    Hook::Action
                }),
        };
        if let Some(h) = a.habit
            && !(0.0..=1.0).contains(&h)
        {
            self.fail(
                &ap.key("habit"),
                format!("{h} is not a habit gain"),
                "use a value between 0 and 1 (0.02: a fiftieth of the way to full habit)",
            );
        }
        for cname in a.counters.keys() {
            if !usable_name(cname, false) {
                self.fail(
                    &ap.key("counters").key(cname),
                    format!("`{cname}` is not a usable counter name"),
                    "use lowercase letters, digits and _",
                );
            }
        }
        let custom = kinds.iter().position(|k| *k.name == *a.emits);
        let Some(ki) = custom else {
            let fix = if EVENT_KINDS.contains(&a.emits.as_str()) {
                format!(
                    "`{}` is built in and made by the built-in actions: declare the team's own kind under [kinds.\"…\"]",
                    a.emits
                )
            } else if kinds.is_empty() {
                format!("declare it: [kinds.\"{}\"] with side and props", a.emits)
            } else {
                let names: Vec<&str> = kinds.iter().map(|k| &*k.name).collect();
                format!(
                    "declare it under [kinds.\"{}\"], or use one of: {}",
                    a.emits,
                    names.join(", ")
                )
            };
            self.fail(
                &ap.key("emits"),
                format!("`{}` is not a declared kind", a.emits),
                fix,
            );
            return None;
        };
        let kind = &kinds[ki];
        let props = self.props(&ap, a, kind);
        Some(CustomAction {
            name: name.to_string(),
            kind: (EVENT_KINDS.len() + ki) as u16,
            kind_name: intern(&kind.name),
            hook,
            habit: a.habit,
            counters: a
                .counters
                .iter()
                .filter_map(|(n, by)| {
                    counters
                        .iter()
                        .position(|c| c == n)
                        .map(|i| (i as u16, *by))
                })
                .collect(),
            props,
            reads_attrs: Vec::new(),
            reads_team: Vec::new(),
            lookups: Vec::new(),
        })
    }

    /// The action's props against its kind's: each declared prop given (or nullable),
    /// none given that the kind lacks, each generator fit for its type.
    fn props(&mut self, ap: &FieldPath, a: &RawAction, kind: &KindDecl) -> Vec<PropGen> {
        let pp = ap.key("props");
        for given in a.props.keys() {
            if !kind.props.iter().any(|p| *p.name == **given) {
                let names: Vec<&str> = kind.props.iter().map(|p| &*p.name).collect();
                self.fail(
                    &pp.key(given),
                    format!("`{given}` is not a prop of `{}`", kind.name),
                    if names.is_empty() {
                        format!(
                            "declare it under [kinds.\"{}\"] props, or remove it",
                            kind.name
                        )
                    } else {
                        format!(
                            "declare it under [kinds.\"{}\"] props, or use one of: {}",
                            kind.name,
                            names.join(", ")
                        )
                    },
                );
            }
        }
        kind.props
            .iter()
            .map(|p| match a.props.get(&*p.name) {
                Some(g) => self.generator(&pp.key(&p.name), g, p),
                None if p.nullable => PropGen::Null,
                None => {
                    self.fail(
                        ap,
                        format!("prop `{}` of `{}` is not given", p.name, kind.name),
                        format!(
                            "add it under [{ap}.props] (a distribution, a template or a constant), or declare it nullable (\"{}?\")",
                            p.ty.words()
                        ),
                    );
                    PropGen::Null
                }
            })
            .collect()
    }

    /// One prop's generator, fit for the prop's type.
    fn generator(&mut self, path: &FieldPath, g: &RawGen, p: &PropDecl) -> PropGen {
        let ty = &p.ty;
        match g {
            RawGen::Template(t) => PropGen::Pending(t.clone()),
            RawGen::Bool(b) if *ty == PropType::Bool || *ty == PropType::Json => {
                PropGen::Const(if *b { &b"true"[..] } else { &b"false"[..] }.into())
            }
            RawGen::Num(n) => match ty {
                PropType::Int | PropType::Json if n.fract() == 0.0 => {
                    PropGen::Const(itoa::Buffer::new().format(*n as i64).as_bytes().into())
                }
                PropType::Float { decimals } => {
                    PropGen::Const(format!("{:.*}", *decimals as usize, n).into_bytes().into())
                }
                PropType::Int => {
                    self.fail(
                        path,
                        format!("{n} is not a whole number, and `{}` is an int", p.name),
                        "write a whole number, or declare the prop \"float\"",
                    );
                    PropGen::Null
                }
                _ => self.unfit(path, p, "a number"),
            },
            RawGen::Bool(_) => self.unfit(path, p, "a boolean"),
            RawGen::Dist(d) => self.draw(path, d, p),
        }
    }

    fn unfit(&mut self, path: &FieldPath, p: &PropDecl, what: &str) -> PropGen {
        self.fail(
            path,
            format!("`{}` is {}, and cannot be {what}", p.name, p.ty.words()),
            "give a value of the prop's type, or a template like \"{user.team}\"",
        );
        PropGen::Null
    }

    /// A distribution for a prop: numbers for int and float, labels for str, enum and
    /// bool; ts, date, id and json take templates.
    fn draw(&mut self, path: &FieldPath, d: &RawDistTable, p: &PropDecl) -> PropGen {
        let labelled = d.dist == "weighted"
            && d.table
                .as_ref()
                .is_some_and(|t| t.keys().any(|k| k.parse::<f64>().is_err()));
        let unit = match (&p.ty, labelled) {
            (PropType::Str | PropType::Enum(_) | PropType::Bool, _) => Unit::Category,
            (PropType::Int | PropType::Float { .. }, false) => Unit::Number,
            (PropType::Int | PropType::Float { .. }, true) => {
                self.fail(
                    path,
                    format!("this distribution draws labels, and `{}` is {}", p.name, p.ty.words()),
                    "give the weighted table numeric keys, or declare the prop \"str\" or \"enum:…\"",
                );
                return PropGen::Null;
            }
            _ => {
                self.fail(
                    path,
                    format!(
                        "`{}` is {}: a distribution cannot draw it",
                        p.name,
                        p.ty.words()
                    ),
                    "use a template, like \"{ts}\" or \"{user.team}\"",
                );
                return PropGen::Null;
            }
        };
        let dist = match Dist::from_raw(&RawDist::Table(Box::new(d.clone())), unit) {
            Ok(dist) => dist,
            Err(e) => {
                self.fail(&path.key(e.field), e.message, e.fix);
                return PropGen::Null;
            }
        };
        match self.drawn(path, &dist, p) {
            Some(how) => PropGen::Draw(dist, how),
            None => PropGen::Null,
        }
    }

    fn drawn(&mut self, path: &FieldPath, dist: &Dist, p: &PropDecl) -> Option<Drawn> {
        let labels = dist.labels();
        Some(match &p.ty {
            PropType::Int => match dist {
                Dist::Uniform { min, max } if min.fract() == 0.0 && max.fract() == 0.0 => {
                    Drawn::IntUniform {
                        min: *min as i64,
                        max: *max as i64,
                    }
                }
                Dist::Constant(v) | Dist::Uniform { min: v, .. } if v.fract() != 0.0 => {
                    return self.not_whole(path, p, *v);
                }
                Dist::Uniform { max: v, .. } if v.fract() != 0.0 => {
                    return self.not_whole(path, p, *v);
                }
                Dist::Weighted { values, .. } if values.iter().any(|v| v.fract() != 0.0) => {
                    let v = values
                        .iter()
                        .find(|v| v.fract() != 0.0)
                        .copied()
                        .unwrap_or(0.0);
                    return self.not_whole(path, p, v);
                }
                _ => Drawn::Int,
            },
            PropType::Float { decimals } => Drawn::Float {
                decimals: *decimals,
            },
            PropType::Bool => {
                let mut out = Vec::new();
                for l in labels {
                    match l.as_str() {
                        "true" => out.push(true),
                        "false" => out.push(false),
                        other => {
                            self.fail(
                                &path.key("table"),
                                format!("`{other}` is not a boolean"),
                                "use the keys true and false",
                            );
                            return None;
                        }
                    }
                }
                Drawn::Bool(out.into())
            }
            PropType::Enum(allowed) => {
                if let Some(bad) = labels.iter().find(|l| !allowed.iter().any(|a| **a == ***l)) {
                    self.fail(
                        &path.key("table"),
                        format!("`{bad}` is not a value of `{}` ({})", p.name, p.ty.words()),
                        format!("use the declared values: {}", allowed.join(", ")),
                    );
                    return None;
                }
                Drawn::Label(json_labels(labels))
            }
            _ => Drawn::Label(json_labels(labels)),
        })
    }

    fn not_whole(&mut self, path: &FieldPath, p: &PropDecl, v: f64) -> Option<Drawn> {
        self.fail(
            path,
            format!("the distribution gives {v}, and `{}` is an int", p.name),
            "use whole numbers (uniform between whole bounds draws whole numbers), or declare the prop \"float\"",
        );
        None
    }
}

fn json_labels(labels: &[String]) -> Box<[Box<[u8]>]> {
    labels
        .iter()
        .map(|l| {
            serde_json::to_vec(l)
                .unwrap_or_else(|_| b"\"\"".to_vec())
                .into_boxed_slice()
        })
        .collect()
}

/// The type a user attribute has in templates: a category is a string, else a number.
fn attr_type(p: &Persona, name: &str) -> Option<Type> {
    p.attribute_index(name).map(|i| {
        if p.attributes[i].dist.labels().is_empty() {
            Type::of(Ty::Float)
        } else {
            Type::STR
        }
    })
}

/// Compiles the actions' templates against the personas' attributes and the props each
/// action draws, and checks every persona performing an action has the attributes its
/// templates read. Problems go to `world.toml` (a template) or to the persona's state.
pub fn compile_props(
    declared: &mut Declared,
    world_src: Option<&Source>,
    personas: &[Persona],
    sources: &[Source],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(src) = world_src else {
        return problems;
    };
    let mut attrs: Vec<(String, Type)> = Vec::new();
    for p in personas {
        for a in &p.attributes {
            if !attrs.iter().any(|(n, _)| *n == a.name)
                && let Some(t) = attr_type(p, &a.name)
            {
                attrs.push((a.name.clone(), t));
            }
        }
    }
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    let user = UserFields {
        attrs,
        counters: declared.counters.clone(),
        signed_up: false,
        pools: true,
    };
    for a in &mut declared.actions {
        let kind = &declared.kinds[a.kind as usize - EVENT_KINDS.len()];
        compile_action(a, kind, &user, src, &mut problems);
    }
    problems.extend(missing_attrs(declared, personas, sources));
    problems
}

fn compile_action(
    a: &mut CustomAction,
    kind: &KindDecl,
    user: &UserFields,
    src: &Source,
    problems: &mut Vec<Problem>,
) {
    // Templates read the props drawn from distributions (and constants), not each other.
    let drawn: Vec<&PropDecl> = kind
        .props
        .iter()
        .zip(&a.props)
        .filter(|(_, g)| matches!(g, PropGen::Draw(..) | PropGen::Const(_)))
        .map(|(p, _)| p)
        .collect();
    let mut visible = KindProps::of(kind);
    visible
        .props
        .retain(|(n, _)| drawn.iter().any(|p| *p.name == **n));
    let fields = FieldSet {
        event: true,
        ts: true,
        token: false,
        env: false,
        vars: false,
        props: PropFields::Kinds(vec![visible]),
        user: Some(user.clone()),
    };
    let mut reads = Vec::new();
    let mut team = Vec::new();
    for (p, g) in kind.props.iter().zip(a.props.iter_mut()) {
        let PropGen::Pending(text) = g else { continue };
        let path = FieldPath::root()
            .key("actions")
            .key(&a.name)
            .key("props")
            .key(&p.name);
        match Template::compile_in(text, &fields) {
            Ok(t) => {
                if let Some((m, fix)) = unfit_template(&t, p) {
                    problems.push(src.problem(&path, m, fix));
                }
                t.fields(&mut |f| match f {
                    Field::User(UserField::Attr(n)) => reads.push(n.to_string()),
                    Field::User(UserField::SignedUp(n)) if !team.iter().any(|(t, _)| t == &**n) => {
                        team.push((
                            n.to_string(),
                            src.problem(&path, String::new(), String::new()),
                        ));
                    }
                    _ => {}
                });
                for (pool, field) in t.lookups() {
                    let at = src.problem(&path, String::new(), String::new());
                    a.lookups.push((pool, field, at));
                }
                *g = PropGen::Template(t);
            }
            Err(es) => {
                for e in es {
                    problems.push(src.problem(&path, e.message, e.fix));
                }
            }
        }
    }
    reads.sort();
    reads.dedup();
    a.reads_attrs = reads;
    a.reads_team = team;
}

impl Declared {
    /// The pools the actions' props read (`user.team`), each once: `personas validate`
    /// names them, for no scenario is there to check them.
    pub fn team_reads(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .actions
            .iter()
            .flat_map(|a| {
                let named = a
                    .lookups
                    .iter()
                    .flat_map(|(p, f, _)| [p.as_str(), f.as_str()]);
                a.reads_team.iter().map(|(n, _)| n.as_str()).chain(named)
            })
            .filter(|n| *n != "id")
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Each `user.<name>` a custom action's props read that is not an attribute, a counter
/// or `id`, against the scenario's pools: one problem per template, at its place in
/// `world.toml`, with the names the user has (and "did you mean").
pub fn check_team_reads(
    declared: &Declared,
    personas: &[Persona],
    pools: &Pools,
    scenario: &str,
) -> Vec<Problem> {
    let mut known: Vec<String> = vec!["user.id".into()];
    for p in personas {
        for a in &p.attributes {
            let n = format!("user.{}", a.name);
            if !known.contains(&n) {
                known.push(n);
            }
        }
    }
    known.extend(
        declared
            .counters
            .iter()
            .map(|c| format!("user.counters.{c}")),
    );
    known.extend(pools.pools.iter().map(|p| format!("user.{}", p.name)));
    let names: Vec<&str> = known.iter().map(String::as_str).collect();
    let mut problems = Vec::new();
    for a in &declared.actions {
        for (name, at) in &a.reads_team {
            if pools.find(name).is_some() {
                continue;
            }
            let want = format!("user.{name}");
            let hint = crate::template::did_you_mean(&want, &names)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            let mut p = at.clone();
            p.message = format!(
                "action `{}` reads `{want}`, which is not a field of the user: no attribute, counter or pool of scenario {scenario} has that name{hint}",
                a.name
            );
            p.fix = format!(
                "use one of: {}; or declare the pool in the scenario: [pools.{name}] with ids and per (docs/SCENARIOS.md)",
                names.join(", ")
            );
            problems.push(p);
        }
        for (pool, field, at) in &a.lookups {
            problems.extend(lookup_problem(pool, "pool", at, pools));
            if field != "id" {
                problems.extend(lookup_problem(field, "field", at, pools));
            }
        }
    }
    problems
}

/// A `lookup`'s pool (or field) that is no pool of the scenario.
fn lookup_problem(name: &str, what: &str, at: &Problem, pools: &Pools) -> Option<Problem> {
    if pools.find(name).is_some() {
        return None;
    }
    let names: Vec<&str> = pools.pools.iter().map(|p| p.name.as_str()).collect();
    let hint = crate::template::did_you_mean(name, &names)
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    let mut p = at.clone();
    p.message = format!("`lookup`'s {what} `{name}` is not a pool of the scenario{hint}");
    p.fix = if names.is_empty() {
        format!("declare it in the scenario: [pools.{name}] with ids and per (docs/SCENARIOS.md)")
    } else {
        format!("use one of: {}", names.join(", "))
    };
    Some(p)
}

/// Whether a template's type can fill the prop: `None` when it can.
fn unfit_template(t: &Template, p: &PropDecl) -> Option<(String, String)> {
    let ty = t.ty();
    let fits = match &p.ty {
        PropType::Int => matches!(ty.ty, Ty::Int | Ty::Any),
        PropType::Float { .. } => ty.ty.is_number(),
        PropType::Bool => matches!(ty.ty, Ty::Bool | Ty::Any),
        PropType::Ts => matches!(ty.ty, Ty::Ts | Ty::Str | Ty::Any),
        PropType::Date => matches!(ty.ty, Ty::Date | Ty::Str | Ty::Any),
        PropType::Str | PropType::Id(_) | PropType::Enum(_) | PropType::Json => true,
    };
    if !fits {
        return Some((
            format!(
                "`{}` gives {}, and `{}` is {}",
                t.source(),
                ty,
                p.name,
                p.ty.words()
            ),
            "change the template, or the prop's type in [kinds.\"…\"] props".into(),
        ));
    }
    if ty.nullable && !p.nullable {
        return Some((
            format!(
                "`{}` may be null, and `{}` is not nullable",
                t.source(),
                p.name
            ),
            format!(
                "declare the prop \"{}?\", or give a default (`x | default(…)`)",
                p.ty.words()
            ),
        ));
    }
    None
}

/// A persona's state performing an action whose templates read an attribute the
/// persona lacks.
fn missing_attrs(declared: &Declared, personas: &[Persona], sources: &[Source]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for p in personas {
        let Some(src) = sources.iter().find(|s| s.name == p.source) else {
            continue;
        };
        for st in &p.states {
            let super::model::Action::Custom(i) = st.action else {
                continue;
            };
            let a = &declared.actions[i as usize];
            for attr in &a.reads_attrs {
                if p.attribute_index(attr).is_none() {
                    problems.push(src.problem(
                        &FieldPath::root().key("states").key(&st.name).key("action"),
                        format!(
                            "state `{}` performs `{}`, whose props read `user.{attr}`, and persona `{}` has no attribute `{attr}`",
                            st.name, a.name, p.name
                        ),
                        format!("add `{attr} = {{ dist = \"weighted\", table = {{ … }} }}` under [attributes]"),
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problems `world.toml` text gives, as (line, field, message, fix).
    fn problems(text: &str) -> Vec<(Option<usize>, String, String, String)> {
        match read(&Source::new("world.toml", text)) {
            Ok(_) => Vec::new(),
            Err(ps) => ps
                .into_iter()
                .map(|p| (p.line, p.field, p.message, p.fix))
                .collect(),
        }
    }

    /// Exactly one problem, at `line` and `field`, whose message holds `says`.
    fn one(text: &str, line: usize, field: &str, says: &str) {
        let ps = problems(text);
        assert_eq!(ps.len(), 1, "{ps:#?}");
        let (l, f, m, fix) = &ps[0];
        assert_eq!((*l, f.as_str()), (Some(line), field), "{m}");
        assert!(m.contains(says), "{m}");
        assert!(!fix.is_empty());
    }

    const KIND: &str = "[kinds.\"dashboard.viewed\"]\nprops = { widgets = \"int\", tab = \"enum:a|b\", note = \"str?\" }\n";

    #[test]
    fn a_valid_world_declares_kinds_actions_and_counters() {
        let text = format!(
            "{KIND}[actions.view_dashboard]\nemits = \"dashboard.viewed\"\nhook = \"investment\"\nhabit = 0.02\ncounters = {{ dashboards = 1, views = 2 }}\nprops = {{ widgets = {{ dist = \"uniform\", min = 1, max = 8 }}, tab = \"{{user.locale}}\" }}\n"
        );
        let d = read(&Source::new("world.toml", text)).unwrap();
        assert_eq!(d.kinds.len(), 1);
        assert_eq!(d.counters, ["dashboards", "views"]);
        let a = &d.actions[0];
        assert_eq!(a.kind as usize, EVENT_KINDS.len());
        assert_eq!((a.hook, a.habit), (Hook::Investment, Some(0.02)));
        assert!(matches!(a.props[0], PropGen::Null), "note is nullable");
        assert!(matches!(a.props[1], PropGen::Pending(_)));
        assert!(matches!(
            a.props[2],
            PropGen::Draw(_, Drawn::IntUniform { min: 1, max: 8 })
        ));
    }

    #[test]
    fn an_unknown_kind_is_refused_with_the_declared_ones() {
        let text = format!("{KIND}[actions.a]\nemits = \"dashboard.seen\"\n");
        one(
            &text,
            4,
            "actions.a.emits",
            "`dashboard.seen` is not a declared kind",
        );
        assert!(problems(&text)[0].3.contains("dashboard.viewed"));
    }

    #[test]
    fn a_builtin_kind_cannot_be_emitted_or_redeclared() {
        one(
            "[actions.a]\nemits = \"goal.claimed\"\n",
            2,
            "actions.a.emits",
            "not a declared kind",
        );
        one(
            "[kinds.\"goal.claimed\"]\nprops = {}\n",
            1,
            "kinds.goal.claimed",
            "is a built-in event kind",
        );
    }

    #[test]
    fn a_prop_not_declared_is_refused() {
        let text = format!(
            "{KIND}[actions.a]\nemits = \"dashboard.viewed\"\nprops = {{ widgets = 1, tab = \"a\", color = \"red\" }}\n"
        );
        one(
            &text,
            5,
            "actions.a.props.color",
            "`color` is not a prop of `dashboard.viewed`",
        );
    }

    #[test]
    fn a_prop_not_given_is_refused_unless_nullable() {
        let text =
            format!("{KIND}[actions.a]\nemits = \"dashboard.viewed\"\nprops = {{ tab = \"a\" }}\n");
        one(
            &text,
            3,
            "actions.a",
            "prop `widgets` of `dashboard.viewed` is not given",
        );
    }

    #[test]
    fn a_wrong_type_is_refused_with_the_types() {
        one(
            "[kinds.k]\nprops = { n = \"integer\" }\n",
            2,
            "kinds.k.props.n",
            "`integer` is not a prop type",
        );
        assert!(
            problems("[kinds.k]\nprops = { n = \"integer\" }\n")[0]
                .3
                .contains("float:2")
        );
        one(
            "[kinds.k]\nprops = { n = \"float:x\" }\n",
            2,
            "kinds.k.props.n",
            "not a number of decimals",
        );
    }

    #[test]
    fn a_distribution_giving_a_non_int_for_an_int_prop_is_refused() {
        let text = format!(
            "{KIND}[actions.a]\nemits = \"dashboard.viewed\"\nprops = {{ tab = \"a\", widgets = {{ dist = \"uniform\", min = 0.5, max = 8 }} }}\n"
        );
        one(
            &text,
            5,
            "actions.a.props.widgets",
            "gives 0.5, and `widgets` is an int",
        );
        let text = format!(
            "{KIND}[actions.a]\nemits = \"dashboard.viewed\"\nprops = {{ tab = \"a\", widgets = {{ dist = \"weighted\", table = {{ x = 1 }} }} }}\n"
        );
        one(&text, 5, "actions.a.props.widgets", "draws labels");
        let text = format!(
            "{KIND}[actions.a]\nemits = \"dashboard.viewed\"\nprops = {{ tab = \"a\", widgets = 2.5 }}\n"
        );
        one(&text, 5, "actions.a.props.widgets", "not a whole number");
    }

    #[test]
    fn a_label_outside_the_enum_is_refused() {
        let text = format!(
            "{KIND}[actions.a]\nemits = \"dashboard.viewed\"\nprops = {{ widgets = 1, tab = {{ dist = \"weighted\", table = {{ a = 1, c = 2 }} }} }}\n"
        );
        one(
            &text,
            5,
            "actions.a.props.tab.table",
            "`c` is not a value of `tab`",
        );
    }

    #[test]
    fn a_custom_action_cannot_take_a_builtin_name() {
        let text = format!(
            "{KIND}[actions.claim_goal]\nemits = \"dashboard.viewed\"\nprops = {{ widgets = 1, tab = \"a\" }}\n"
        );
        one(
            &text,
            3,
            "actions.claim_goal",
            "`claim_goal` is a built-in action",
        );
    }

    #[test]
    fn hook_habit_and_side_are_checked() {
        let text = format!(
            "{KIND}[actions.a]\nemits = \"dashboard.viewed\"\nhook = \"trigger\"\nprops = {{ widgets = 1, tab = \"a\" }}\n"
        );
        one(&text, 5, "actions.a.hook", "`trigger` is not a step");
        let text = format!(
            "{KIND}[actions.a]\nemits = \"dashboard.viewed\"\nhabit = 2\nprops = {{ widgets = 1, tab = \"a\" }}\n"
        );
        one(&text, 5, "actions.a.habit", "2 is not a habit gain");
        one(
            "[kinds.k]\nside = \"browser\"\n",
            2,
            "kinds.k.side",
            "`browser` is not a side",
        );
    }

    #[test]
    fn a_distribution_cannot_draw_a_timestamp() {
        let text = "[kinds.k]\nprops = { at = \"ts\" }\n[actions.a]\nemits = \"k\"\nprops = { at = { dist = \"uniform\", min = 1, max = 2 } }\n";
        one(
            text,
            5,
            "actions.a.props.at",
            "a distribution cannot draw it",
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = "[kinds.k]\nprops = { n = \"nope\" }\n[actions.claim_goal]\nemits = \"x\"\n[actions.b]\nemits = \"k\"\nhook = \"nope\"\n";
        assert_eq!(problems(text).len(), 4, "{:#?}", problems(text));
    }

    const CLIENT: &str = include_str!("../../../../tests/data/custom-world/personas/client.toml");
    const WORLD: &str = include_str!("../../../../tests/data/custom-world/personas/world.toml");

    fn world_problems(world: &str, client: &str) -> Vec<Problem> {
        let sources = vec![
            Source::new("w/client.toml", client),
            Source::new("w/world.toml", world),
        ];
        match super::super::from_sources(sources) {
            Ok(_) => Vec::new(),
            Err(ps) => ps.0,
        }
    }

    #[test]
    fn the_test_world_loads_and_its_personas_share_it() {
        let sources = vec![
            Source::new("w/client.toml", CLIENT),
            Source::new("w/world.toml", WORLD),
        ];
        let personas = super::super::from_sources(sources).unwrap();
        assert_eq!(personas.len(), 1, "world.toml is not a persona");
        let d = &personas[0].declared;
        assert_eq!(d.actions.len(), 3);
        assert!(
            d.actions
                .iter()
                .all(|a| a.props.iter().all(|g| !matches!(g, PropGen::Pending(_))))
        );
        assert_eq!(
            d.actions
                .iter()
                .find(|a| a.name == "view_dashboard")
                .unwrap()
                .reads_attrs,
            ["tz"]
        );
    }

    #[test]
    fn a_name_that_is_no_attribute_or_counter_waits_for_the_scenarios_pools() {
        let world = WORLD.replace("{user.tz}", "{user.timezone}");
        let sources = vec![
            Source::new("w/client.toml", CLIENT),
            Source::new("w/world.toml", &world),
        ];
        let personas = super::super::from_sources(sources).unwrap();
        let d = &personas[0].declared;
        assert_eq!(d.team_reads(), ["timezone"]);
        let ps = check_team_reads(d, &personas, &Pools::default(), "s.toml");
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert_eq!(
            (ps[0].file.as_str(), ps[0].field.as_str()),
            ("w/world.toml", "actions.view_dashboard.props.tz")
        );
        assert_eq!(ps[0].line, Some(23));
        assert!(
            ps[0]
                .message
                .contains("reads `user.timezone`, which is not a field")
                && ps[0].message.contains("scenario s.toml"),
            "{}",
            ps[0].message
        );
        assert!(
            ps[0].fix.contains("user.tz") && ps[0].fix.contains("[pools.timezone]"),
            "{}",
            ps[0].fix
        );
    }

    #[test]
    fn an_attribute_named_like_a_signed_up_prop_or_a_pool_is_refused() {
        let client = CLIENT.replace(
            "tz = {",
            "room = { dist = \"weighted\", table = { a = 1 } }\nteam = {",
        );
        let sources = vec![
            Source::new("w/client.toml", &client),
            Source::new("w/world.toml", WORLD.replace("{user.tz}", "{user.team}")),
        ];
        let personas = super::super::from_sources(sources).unwrap();
        let ps = crate::persona::attribute_clashes(&personas, &["team"]);
        let fields: Vec<&str> = ps.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["attributes.room", "attributes.team"], "{ps:#?}");
        assert_eq!(ps[0].file, "w/client.toml");
        assert!(
            ps[0].message.contains("user.signed_up's own prop"),
            "{}",
            ps[0].message
        );
        assert!(
            ps[1].message.contains("the scenario's pool"),
            "{}",
            ps[1].message
        );
        assert!(ps[1].fix.contains("rename the attribute"), "{}", ps[1].fix);
        let sources = vec![
            Source::new("w/client.toml", CLIENT),
            Source::new("w/world.toml", WORLD),
        ];
        let personas = super::super::from_sources(sources).unwrap();
        assert!(crate::persona::attribute_clashes(&personas, &["team"]).is_empty());
    }

    #[test]
    fn a_pool_the_scenario_declares_is_read_and_a_near_miss_is_named() {
        let pools = crate::world::pools::tests::readiness();
        let world = WORLD.replace("t-{props.widgets}", "{user.team}");
        let sources = vec![
            Source::new("w/client.toml", CLIENT),
            Source::new("w/world.toml", &world),
        ];
        let personas = super::super::from_sources(sources).unwrap();
        let d = &personas[0].declared;
        assert!(check_team_reads(d, &personas, &pools, "s.toml").is_empty());
        let typo = WORLD.replace("t-{props.widgets}", "{user.tema}");
        let sources = vec![
            Source::new("w/client.toml", CLIENT),
            Source::new("w/world.toml", &typo),
        ];
        let personas = super::super::from_sources(sources).unwrap();
        let ps = check_team_reads(&personas[0].declared, &personas, &pools, "s.toml");
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert!(
            ps[0].message.contains("(did you mean `user.team`?)"),
            "{}",
            ps[0].message
        );
        // A pool is a string: an int prop cannot take it.
        let world = WORLD.replace("\"{user.counters.dashboards}\"", "\"{user.team}\"");
        let ps = world_problems(&world, CLIENT);
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert!(
            ps[0].message.contains("gives a string, and `views` is int"),
            "{}",
            ps[0].message
        );
    }

    #[test]
    fn a_template_of_the_wrong_type_is_refused() {
        let world = WORLD.replace(
            "views = \"{user.counters.dashboards}\"",
            "views = \"{user.tz}\"",
        );
        let ps = world_problems(&world, CLIENT);
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert!(
            ps[0].message.contains("gives a string, and `views` is int"),
            "{}",
            ps[0].message
        );
    }

    #[test]
    fn a_persona_without_an_attribute_a_template_reads_is_refused() {
        let other = CLIENT
            .replace("name = \"client\"", "name = \"other\"")
            .replace("tz = { dist", "zone = { dist");
        let sources = vec![
            Source::new("w/client.toml", CLIENT),
            Source::new("w/other.toml", &other),
            Source::new("w/world.toml", WORLD),
        ];
        let ps = super::super::from_sources(sources).unwrap_err().0;
        assert_eq!(ps.len(), 1, "{ps:#?}");
        assert_eq!(
            (ps[0].file.as_str(), ps[0].field.as_str()),
            ("w/other.toml", "states.dash.action")
        );
        assert!(
            ps[0].message.contains("has no attribute `tz`"),
            "{}",
            ps[0].message
        );
    }

    #[test]
    fn a_state_naming_an_unknown_action_or_counter_is_refused() {
        let client = CLIENT
            .replace("action = \"chat\"", "action = \"chatter\"")
            .replace("counters.dashboards", "counters.dashbord");
        let ps = world_problems(WORLD, &client);
        assert_eq!(ps.len(), 2, "{ps:#?}");
        assert!(
            ps.iter()
                .any(|p| p.message.contains("unknown action `chatter`")
                    && p.fix.contains("view_dashboard"))
        );
        assert!(
            ps.iter()
                .any(|p| p.message.contains("`dashbord` is not a counter")
                    && p.fix.contains("counters.dashboards"))
        );
    }
}
