//! The function table. Each group is a file holding a slice of [`Func`] rows; a new group
//! (lookups into pools and the catalog, say) is one more file and one more entry in
//! [`GROUPS`]. A row says everything the checker and the docs need: the parameters and
//! their defaults, how argument types give the result type, and the evaluation.

pub mod crypto;
pub mod ids;
pub mod number;
pub mod pools;
pub mod text;
pub mod time;
pub(crate) mod zone;

use super::value::{Ty, Type, Val};

/// A function callable as `f(x, …)` or as a filter `x | f(…)`.
pub struct Func {
    pub name: &'static str,
    pub params: &'static [Param],
    /// Takes any number of further arguments like its last parameter (`min`, `max`).
    pub variadic: bool,
    /// A null argument gives null without calling [`Func::eval`]: a missing value stays
    /// missing through `round`, `upper`, …; `default`, `str` and `json` see the null.
    pub null_in_null_out: bool,
    /// The result type for these argument types (never null: nullability is handled by
    /// the checker), or which argument does not fit and why.
    pub check: fn(&[Type]) -> Result<Type, ArgError>,
    /// The value for these arguments (as many as `params`, defaults filled in). An `Err`
    /// says what was wrong with the values, for a type the checker could not know.
    pub eval: for<'a> fn(&mut [Val<'a>]) -> Result<Val<'a>, String>,
}

/// A parameter: its name (for `f(x, digits=2)`) and the default when it is left out.
pub struct Param {
    pub name: &'static str,
    pub default: Option<Val<'static>>,
    /// Checks a value written as a literal (or folded to one) when the file loads: an
    /// unknown time zone, a format with a directive nobody knows, an encoding that does
    /// not exist is an error before any work, not a null on every render.
    pub literal: Option<LiteralCheck>,
}

/// What is wrong with a literal argument: the message and the fix.
pub type LiteralCheck = fn(&Val<'_>) -> Result<(), (String, String)>;

/// A required parameter.
pub const fn req(name: &'static str) -> Param {
    Param {
        name,
        default: None,
        literal: None,
    }
}

/// An optional parameter with its default.
pub const fn opt(name: &'static str, default: Val<'static>) -> Param {
    Param {
        name,
        default: Some(default),
        literal: None,
    }
}

/// An optional parameter with its default whose literal values `check` vets at load.
pub const fn checked(name: &'static str, default: Val<'static>, check: LiteralCheck) -> Param {
    Param {
        name,
        default: Some(default),
        literal: Some(check),
    }
}

/// An argument that does not fit: its position and why.
#[derive(Debug)]
pub struct ArgError {
    pub arg: usize,
    pub message: String,
}

impl ArgError {
    pub fn new(arg: usize, message: impl Into<String>) -> ArgError {
        ArgError {
            arg,
            message: message.into(),
        }
    }
}

/// Every group, in the order docs/TEMPLATES.md lists them.
pub const GROUPS: &[(&str, &[Func])] = &[
    ("numbers", number::FUNCS),
    ("text", text::FUNCS),
    ("time", time::FUNCS),
    ("ids", ids::FUNCS),
    ("crypto", crypto::FUNCS),
    ("pools", pools::FUNCS),
];

pub fn find(name: &str) -> Option<&'static Func> {
    GROUPS
        .iter()
        .flat_map(|(_, fs)| fs.iter())
        .find(|f| f.name == name)
}

pub fn names() -> Vec<&'static str> {
    GROUPS
        .iter()
        .flat_map(|(_, fs)| fs.iter().map(|f| f.name))
        .collect()
}

impl Func {
    /// `round(x, digits=0)`, for errors and docs.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match &p.default {
                None => p.name.to_string(),
                Some(d) => format!("{}={}", p.name, literal(d)),
            })
            .collect();
        let more = if self.variadic { ", …" } else { "" };
        format!("{}({}{more})", self.name, params.join(", "))
    }
}

/// A default as it would be written in a template.
fn literal(v: &Val<'_>) -> String {
    match v {
        Val::Str(s) => format!("'{s}'"),
        Val::Null => "null".into(),
        other => other.to_text(),
    }
}

// Shared by the groups' check functions.

/// A number (or a value known only when the template runs).
pub(crate) fn want_number(args: &[Type], i: usize, what: &str) -> Result<(), ArgError> {
    match args[i].ty {
        t if t.is_number() => Ok(()),
        t => Err(ArgError::new(
            i,
            format!("{what} must be a number, not {}", t.words()),
        )),
    }
}

pub(crate) fn want_int(args: &[Type], i: usize, what: &str) -> Result<(), ArgError> {
    match args[i].ty {
        Ty::Int | Ty::Any => Ok(()),
        t => Err(ArgError::new(
            i,
            format!("{what} must be a whole number, not {}", t.words()),
        )),
    }
}

pub(crate) fn want_text(args: &[Type], i: usize, what: &str) -> Result<(), ArgError> {
    match args[i].ty {
        Ty::Str | Ty::Any => Ok(()),
        t => Err(ArgError::new(
            i,
            format!(
                "{what} must be a string, not {}; write str(…) to use its text",
                t.words()
            ),
        )),
    }
}

/// The result when every argument has the same number type: int stays int.
pub(crate) fn numeric_result(args: &[Type]) -> Type {
    if args.iter().any(|a| a.ty == Ty::Any) {
        Type::ANY
    } else if args.iter().all(|a| a.ty == Ty::Int) {
        Type::INT
    } else {
        Type::of(Ty::Float)
    }
}

/// A string argument's text; a value typed only at run time (a prop of a foreign log)
/// gives its text form.
pub(crate) fn text<'v>(v: &'v Val<'_>) -> std::borrow::Cow<'v, str> {
    match v {
        Val::Str(s) => std::borrow::Cow::Borrowed(s.as_ref()),
        other => std::borrow::Cow::Owned(other.to_text()),
    }
}

/// A computed string as a value.
pub(crate) fn owned(s: String) -> Result<Val<'static>, String> {
    Ok(Val::Str(std::borrow::Cow::Owned(s)))
}

/// A runtime value that had to be a number.
pub(crate) fn number_of(v: &Val<'_>, what: &str) -> Result<f64, String> {
    v.as_f64()
        .ok_or_else(|| format!("{what} must be a number, not {}", v.ty().words()))
}

/// A runtime value that had to be a whole number.
pub(crate) fn int_of(v: &Val<'_>, what: &str) -> Result<i64, String> {
    match v {
        Val::Int(i) => Ok(*i),
        other => Err(format!(
            "{what} must be a whole number, not {}",
            other.ty().words()
        )),
    }
}

/// A float result, refused when it is not finite (JSON cannot carry it).
pub(crate) fn finite(f: f64) -> Result<Val<'static>, String> {
    if f.is_finite() {
        Ok(Val::Float(f))
    } else {
        Err("the result is not a finite number".into())
    }
}

/// A float as an int, refused outside the range of one.
pub(crate) fn to_int(f: f64) -> Result<i64, String> {
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        Ok(f as i64)
    } else {
        Err(format!("{f} does not fit a whole number"))
    }
}
