//! From syntax to a typed tree: names resolved against the place's [`FieldSet`], calls
//! against the function table, every operator and argument type-checked, constant
//! subtrees folded. Every problem in a hole is collected, not just the first.

use std::ops::Range;

use super::eval::{MAX_ARGS, Node, eval};
use super::field::{FieldSet, Lookup, did_you_mean};
use super::funcs::{self, Func};
use super::ops::bin_type;
use super::parse::{Arg, Ast, AstKind};
use super::scope::Constants;
use super::value::{Ty, Type, Val};

/// A problem found while checking, with its span in the hole.
#[derive(Debug)]
pub(crate) struct CheckError {
    pub span: Range<usize>,
    pub message: String,
    pub fix: String,
}

pub(crate) struct Checker<'f> {
    fields: &'f FieldSet,
    pub errors: Vec<CheckError>,
    /// The hole read `env.*`: a constant it folds to is a secret.
    pub secret: bool,
}

impl<'f> Checker<'f> {
    pub fn new(fields: &'f FieldSet) -> Checker<'f> {
        Checker {
            fields,
            errors: Vec::new(),
            secret: false,
        }
    }

    fn error(&mut self, span: Range<usize>, message: impl Into<String>, fix: impl Into<String>) {
        self.errors.push(CheckError {
            span,
            message: message.into(),
            fix: fix.into(),
        });
    }

    /// The typed tree of `a`; after an error, a placeholder of any type, so the rest of
    /// the hole is still checked.
    pub fn check(&mut self, a: &Ast) -> (Node, Type) {
        let before = self.errors.len();
        let (node, ty) = match &a.kind {
            AstKind::Lit(v) => {
                let ty = Type::of(v.ty()).nullable(matches!(v, Val::Null));
                (Node::Lit(v.clone()), ty)
            }
            AstKind::Name(n) => self.name(&[n.as_str()], a.span.clone()),
            AstKind::Attr(base, key) => match dotted(a) {
                Some(path) => self.name(&path, a.span.clone()),
                None => self.attr(base, key, a.span.clone()),
            },
            AstKind::Index(base, index) => {
                let (b, bt) = self.check(base);
                let (i, it) = self.check(index);
                if !matches!(bt.ty, Ty::Json | Ty::Any | Ty::Null) {
                    self.error(
                        base.span.clone(),
                        format!("{} cannot be indexed", bt.ty.words()),
                        "index JSON values only: props.items[0], line['event']",
                    );
                }
                if !matches!(it.ty, Ty::Int | Ty::Str | Ty::Any | Ty::Null) {
                    self.error(
                        index.span.clone(),
                        format!(
                            "an index must be a whole number or a string, not {}",
                            it.ty.words()
                        ),
                        "write [0] or ['key']",
                    );
                }
                (
                    Node::Index(Box::new(b), Box::new(i)),
                    Type::ANY.nullable(true),
                )
            }
            AstKind::Call {
                name,
                name_span,
                args,
            } => self.call(name, name_span.clone(), args, a.span.clone()),
            AstKind::Neg(e) => {
                let (n, t) = self.check(e);
                if !matches!(t.ty, Ty::Int | Ty::Float | Ty::Any | Ty::Null) {
                    self.error(
                        e.span.clone(),
                        format!("cannot negate {}", t.ty.words()),
                        "negate numbers only",
                    );
                }
                (Node::Neg(Box::new(n)), t)
            }
            AstKind::Not(e) => {
                let (n, t) = self.check(e);
                self.condition(t, e.span.clone(), "`not`");
                (Node::Not(Box::new(n)), Type::of(Ty::Bool))
            }
            AstKind::Bin(op, l, r) => {
                let (ln, lt) = self.check(l);
                let (rn, rt) = self.check(r);
                let ty = bin_type(*op, lt, rt).unwrap_or_else(|m| {
                    self.error(a.span.clone(), m, "see the operators in docs/TEMPLATES.md");
                    Type::ANY
                });
                (Node::Bin(*op, Box::new(ln), Box::new(rn)), ty)
            }
            AstKind::Cond(then, cond, otherwise) => {
                let (c, ct) = self.check(cond);
                self.condition(ct, cond.span.clone(), "`if`");
                let (t, tt) = self.check(then);
                let (o, ot) = self.check(otherwise);
                (Node::If(Box::new([c, t, o])), tt.union(ot))
            }
        };
        if self.errors.len() > before {
            return (node, ty);
        }
        (self.fold(node, a.span.clone()), ty)
    }

    fn condition(&mut self, t: Type, span: Range<usize>, what: &str) {
        if !matches!(t.ty, Ty::Bool | Ty::Any | Ty::Null) {
            self.error(
                span,
                format!("{what} needs a boolean, not {}", t.ty.words()),
                "compare it: x > 0, x == 'a', x != null",
            );
        }
    }

    /// A dotted name: a field of the place, or `env.NAME`.
    fn name(&mut self, path: &[&str], span: Range<usize>) -> (Node, Type) {
        // A JSON field read further (`line.props.amount`): its members by name.
        if path.len() > 1
            && !matches!(path[0], "props" | "env")
            && let Lookup::Field(f, t) = self.fields.lookup(&path[..1])
            && t.ty == Ty::Json
        {
            let mut node = Node::Field(f, t.ty);
            for k in &path[1..] {
                node = Node::Attr(Box::new(node), (*k).into());
            }
            return (node, Type::ANY.nullable(true));
        }
        match self.fields.lookup(path) {
            Lookup::Field(f, ty) => (Node::Field(f, ty.ty), ty),
            Lookup::Env(value) => {
                self.secret = true;
                (Node::Lit(Val::Str(value.into())), Type::STR)
            }
            Lookup::Missing { message, fix } => {
                let fix = match funcs::find(path[0]) {
                    Some(f) if path.len() == 1 => {
                        format!("`{}` is a function: call it, {}", f.name, f.signature())
                    }
                    _ => fix,
                };
                self.error(span, message, fix);
                (Node::Lit(Val::Null), Type::ANY)
            }
        }
    }

    /// `.key` on a computed value (a JSON prop, a call's result).
    fn attr(&mut self, base: &Ast, key: &str, span: Range<usize>) -> (Node, Type) {
        let (b, bt) = self.check(base);
        if !matches!(bt.ty, Ty::Json | Ty::Any | Ty::Null) {
            self.error(
                span,
                format!("{} has no field `{key}`", bt.ty.words()),
                "read fields of JSON values only",
            );
        }
        (
            Node::Attr(Box::new(b), key.into()),
            Type::ANY.nullable(true),
        )
    }

    fn call(
        &mut self,
        name: &str,
        name_span: Range<usize>,
        args: &[Arg],
        span: Range<usize>,
    ) -> (Node, Type) {
        let Some(f) = funcs::find(name) else {
            let known = funcs::names();
            let hint = did_you_mean(name, &known)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            self.error(
                name_span,
                format!("`{name}` is not a function{hint}"),
                format!("use one of: {}", known.join(", ")),
            );
            for a in args {
                self.check(&a.value);
            }
            return (Node::Lit(Val::Null), Type::ANY);
        };
        let checked: Vec<(Node, Type, Range<usize>)> = args
            .iter()
            .map(|a| {
                let (n, t) = self.check(&a.value);
                (n, t, a.value.span.clone())
            })
            .collect();
        let Some(slots) = self.bind(f, args, checked, &span) else {
            return (Node::Lit(Val::Null), Type::ANY);
        };
        self.literals(f, &slots);
        let types: Vec<Type> = slots.iter().map(|(_, t, _)| *t).collect();
        let ty = self.result_type(f, &types, &slots, &span);
        if f.name == funcs::pools::LOOKUP {
            return self.lookup(slots, span);
        }
        let nodes: Box<[Node]> = slots.into_iter().map(|(n, _, _)| n).collect();
        (Node::Call(f, nodes), ty)
    }

    /// `lookup('team', id, 'business')`: the pool and the field written as literals, so
    /// the world can check their names when it is known; where no user is in scope there
    /// are no pools to look in.
    fn lookup(
        &mut self,
        slots: Vec<(Node, Type, Range<usize>)>,
        span: Range<usize>,
    ) -> (Node, Type) {
        if self.fields.user.is_none() {
            self.error(
                span,
                "`lookup` reads the scenario's pools, and there are none here",
                "use it in a replay mapping or a custom action's props",
            );
            return (Node::Lit(Val::Null), Type::ANY);
        }
        let mut it = slots.into_iter();
        let (Some(pool), Some(id), Some(field)) = (it.next(), it.next(), it.next()) else {
            return (Node::Lit(Val::Null), Type::ANY);
        };
        let mut name = |(n, _, at): (Node, Type, Range<usize>), what: &str| match n {
            Node::Lit(Val::Str(s)) => Some(Box::<str>::from(s.as_ref())),
            _ => {
                self.error(
                    at,
                    format!("`lookup`'s {what} must be written as a quoted name"),
                    "write it like lookup('team', props.team_id, 'business'), so the pool's name is checked when the file loads",
                );
                None
            }
        };
        match (name(pool, "pool"), name(field, "field")) {
            (Some(p), Some(f)) => (Node::Lookup(p, Box::new(id.0), f), Type::STR.nullable(true)),
            _ => (Node::Lit(Val::Null), Type::ANY),
        }
    }

    /// Arguments known when the file loads, vetted by their parameter (`tz='Asia/Hanoi'`
    /// names a zone, `encoding='hex'` an encoding): an error now, not a null per render.
    fn literals(&mut self, f: &Func, slots: &[(Node, Type, Range<usize>)]) {
        for (p, (node, _, at)) in f.params.iter().zip(slots) {
            let (Some(check), Node::Lit(v)) = (p.literal, node) else {
                continue;
            };
            if matches!(v, Val::Null) {
                continue;
            }
            if let Err((message, fix)) = check(v) {
                // The message quotes the value: not when it came from the environment.
                let message = if self.secret {
                    format!(
                        "`{}`'s `{}` does not fit (it reads an environment variable: the value is not shown)",
                        f.name, p.name
                    )
                } else {
                    format!("`{}`: {message}", f.name)
                };
                self.error(at.clone(), message, fix);
            }
        }
    }

    /// The call's result type from its arguments' types.
    fn result_type(
        &mut self,
        f: &Func,
        types: &[Type],
        slots: &[(Node, Type, Range<usize>)],
        span: &Range<usize>,
    ) -> Type {
        if f.null_in_null_out && types.iter().any(|t| t.ty == Ty::Null) {
            return Type::NULL;
        }
        let nullable = f.null_in_null_out && types.iter().any(|t| t.nullable);
        let bases: Vec<Type> = if f.null_in_null_out {
            types.iter().map(|t| Type::of(t.ty)).collect()
        } else {
            types.to_vec()
        };
        match (f.check)(&bases) {
            Ok(t) => t.nullable(nullable),
            Err(e) => {
                let at = slots.get(e.arg).map_or(span.clone(), |s| s.2.clone());
                self.error(
                    at,
                    format!("`{}`: {}", f.name, e.message),
                    format!("call it as {}", f.signature()),
                );
                Type::ANY
            }
        }
    }

    /// Arguments to parameter slots: positional first, then by name, then defaults.
    fn bind(
        &mut self,
        f: &Func,
        args: &[Arg],
        checked: Vec<(Node, Type, Range<usize>)>,
        span: &Range<usize>,
    ) -> Option<Vec<(Node, Type, Range<usize>)>> {
        let usage = format!("call it as {}", f.signature());
        let mut slots: Vec<Option<(Node, Type, Range<usize>)>> =
            (0..f.params.len()).map(|_| None).collect();
        let mut ok = true;
        for (a, c) in args.iter().zip(checked) {
            match &a.name {
                None if slots.iter().all(Option::is_some) && f.variadic => slots.push(Some(c)),
                None => match slots.iter().position(Option::is_none) {
                    Some(i) if slots[..i].iter().all(Option::is_some) => slots[i] = Some(c),
                    _ => {
                        ok = false;
                        let message = if slots.iter().all(Option::is_some) {
                            format!("`{}` takes {} arguments", f.name, f.params.len())
                        } else {
                            "a positional argument after a named one".into()
                        };
                        self.error(c.2, message, usage.clone());
                    }
                },
                Some((name, at)) => match f.params.iter().position(|p| p.name == name) {
                    Some(i) if slots[i].is_none() => slots[i] = Some(c),
                    Some(_) => {
                        ok = false;
                        self.error(
                            at.clone(),
                            format!("`{name}` is given twice"),
                            usage.clone(),
                        );
                    }
                    None => {
                        ok = false;
                        let names: Vec<&str> = f.params.iter().map(|p| p.name).collect();
                        self.error(
                            at.clone(),
                            format!(
                                "`{}` has no parameter `{name}` (its parameters: {})",
                                f.name,
                                names.join(", ")
                            ),
                            usage.clone(),
                        );
                    }
                },
            }
        }
        let mut out = Vec::with_capacity(slots.len());
        for (i, s) in slots.into_iter().enumerate() {
            match (s, f.params.get(i).and_then(|p| p.default.as_ref())) {
                (Some(c), _) => out.push(c),
                (None, Some(d)) => out.push((Node::Lit(d.clone()), Type::of(d.ty()), span.clone())),
                (None, None) => {
                    ok = false;
                    self.error(
                        span.clone(),
                        format!("`{}` needs its `{}`", f.name, f.params[i].name),
                        usage.clone(),
                    );
                }
            }
        }
        if out.len() > MAX_ARGS {
            ok = false;
            self.error(span.clone(), format!("at most {MAX_ARGS} arguments"), usage);
        }
        ok.then_some(out)
    }

    /// A subtree that reads no field is computed now: its value, or its error, belongs
    /// to loading the file, not to every render.
    fn fold(&mut self, n: Node, span: Range<usize>) -> Node {
        let constant = match &n {
            Node::Lit(_) | Node::Field(..) => return n,
            Node::Call(_, args) => args.iter().all(|a| matches!(a, Node::Lit(_))),
            Node::Bin(_, l, r) | Node::Index(l, r) => {
                matches!(**l, Node::Lit(_)) && matches!(**r, Node::Lit(_))
            }
            Node::Neg(e) | Node::Not(e) | Node::Attr(e, _) => matches!(**e, Node::Lit(_)),
            Node::If(b) => b.iter().all(|a| matches!(a, Node::Lit(_))),
            // The world answers it when the template renders.
            Node::Lookup(..) => return n,
        };
        if !constant {
            return n;
        }
        let folded = eval(&n, &Constants).map(Val::into_owned);
        match folded {
            Ok(v) => Node::Lit(v),
            // The reason may quote the value: not when it came from the environment.
            Err(_) if self.secret => {
                self.error(
                    span,
                    "this fails on the value of an environment variable (the value is not shown)",
                    "check the variable's value against what the expression expects",
                );
                Node::Lit(Val::Null)
            }
            Err(m) => {
                self.error(span, m, "correct the constant expression");
                Node::Lit(Val::Null)
            }
        }
    }
}

/// `a.b.c` as its names, when the expression is only names and dots.
fn dotted(a: &Ast) -> Option<Vec<&str>> {
    match &a.kind {
        AstKind::Name(n) => Some(vec![n.as_str()]),
        AstKind::Attr(base, key) => {
            let mut v = dotted(base)?;
            v.push(key.as_str());
            Some(v)
        }
        _ => None,
    }
}
