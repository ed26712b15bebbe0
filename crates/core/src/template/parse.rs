//! The expression grammar inside a hole (docs/TEMPLATES.md), by recursive descent:
//!
//! ```text
//! expr    := cond
//! cond    := or ('if' or 'else' cond)?
//! or      := and ('or' and)* ;  and := not ('and' not)* ;  not := 'not' not | cmp
//! cmp     := concat (('=='|'!='|'<'|'<='|'>'|'>=') concat)?
//! concat  := sum ('~' sum)*
//! sum     := prod (('+'|'-') prod)* ;  prod := unary (('*'|'/'|'//'|'%') unary)*
//! unary   := '-' unary | postfix
//! postfix := primary ('.' ident | '[' expr ']' | '|' ident ('(' args ')')?)*
//! primary := int | float | 'str' | "str" | true | false | null | ident ('(' args ')')? | '(' expr ')'
//! args    := (expr | ident '=' expr) (',' …)*        x | f(a, k=v)  ≡  f(x, a, k=v)
//! ```
//!
//! Hand-written: the grammar is small and fixed, and errors must name the token and say
//! what was expected in a user's words, which a parser generator makes harder, not easier.

use std::ops::Range;

use super::lex::{LexError, Tok, Token, tokens};
use super::value::Val;

#[derive(Clone, Debug)]
pub(crate) struct Ast {
    pub kind: AstKind,
    pub span: Range<usize>,
}

#[derive(Clone, Debug)]
pub(crate) enum AstKind {
    Lit(Val<'static>),
    Name(String),
    Attr(Box<Ast>, String),
    Index(Box<Ast>, Box<Ast>),
    /// A function call; a filter `x | f(a)` is the call `f(x, a)`.
    Call {
        name: String,
        name_span: Range<usize>,
        args: Vec<Arg>,
    },
    Neg(Box<Ast>),
    Not(Box<Ast>),
    Bin(BinOp, Box<Ast>, Box<Ast>),
    /// `then if cond else otherwise`.
    Cond(Box<Ast>, Box<Ast>, Box<Ast>),
}

#[derive(Clone, Debug)]
pub(crate) struct Arg {
    pub name: Option<(String, Range<usize>)>,
    pub value: Ast,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Concat => "~",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Rem => "%",
        }
    }
}

/// Parses a hole's text into one expression.
pub(crate) fn parse(src: &str) -> Result<Ast, LexError> {
    let toks = tokens(src)?;
    let mut p = Parser {
        toks,
        at: 0,
        end: src.len(),
    };
    if p.toks.is_empty() {
        return Err(LexError {
            span: 0..src.len(),
            message: "the hole is empty".into(),
            fix: "put a field in it, like {user_id}, or write {{ for a literal brace".into(),
        });
    }
    let e = p.expr()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(p.unexpected(t.clone(), "an operator or the end of the hole")),
    }
}

struct Parser {
    toks: Vec<Token>,
    at: usize,
    /// The hole's length: where "the end" is.
    end: usize,
}

fn boxed(a: Ast) -> Box<Ast> {
    Box::new(a)
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.at)
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Punct(q), .. }) if *q == p)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Ident(q), .. }) if q == w)
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn unexpected(&self, t: Token, wanted: &str) -> LexError {
        let found = match &t.tok {
            Tok::Int(i) => i.to_string(),
            Tok::Float(f) => f.to_string(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Ident(s) => s.clone(),
            Tok::Punct(p) => p.to_string(),
        };
        LexError {
            span: t.span,
            message: format!("expected {wanted}, found `{found}`"),
            fix: "see docs/TEMPLATES.md for the expression grammar".into(),
        }
    }

    /// The next token, which must exist; the end of the hole is an error naming `wanted`.
    fn next(&mut self, wanted: &str) -> Result<Token, LexError> {
        self.bump().ok_or_else(|| LexError {
            span: self.end..self.end,
            message: format!("the hole ends where {wanted} should be"),
            fix: "complete the expression".into(),
        })
    }

    fn expect(&mut self, p: &'static str) -> Result<Token, LexError> {
        let t = self.next(&format!("`{p}`"))?;
        match t.tok {
            Tok::Punct(q) if q == p => Ok(t),
            _ => Err(self.unexpected(t, &format!("`{p}`"))),
        }
    }

    fn expr(&mut self) -> Result<Ast, LexError> {
        let then = self.or()?;
        if !self.is_word("if") {
            return Ok(then);
        }
        self.bump();
        let cond = self.or()?;
        if !self.is_word("else") {
            let t = self.next("`else`")?;
            return Err(self.unexpected(t, "`else` (`a if cond else b` needs both branches)"));
        }
        self.bump();
        let otherwise = self.expr()?;
        let span = then.span.start..otherwise.span.end;
        Ok(Ast {
            kind: AstKind::Cond(boxed(then), boxed(cond), boxed(otherwise)),
            span,
        })
    }

    fn bin(op: BinOp, l: Ast, r: Ast) -> Ast {
        let span = l.span.start..r.span.end;
        Ast {
            kind: AstKind::Bin(op, boxed(l), boxed(r)),
            span,
        }
    }

    /// `next (op next)*`, left-associative, for the operators `ops` (words or symbols).
    fn left_assoc(
        &mut self,
        ops: &[(&str, BinOp)],
        next: fn(&mut Self) -> Result<Ast, LexError>,
    ) -> Result<Ast, LexError> {
        let mut l = next(self)?;
        loop {
            let op = match self.peek().map(|t| &t.tok) {
                Some(Tok::Ident(w)) => ops.iter().find(|(o, _)| o == w),
                Some(Tok::Punct(p)) => ops.iter().find(|(o, _)| o == p),
                _ => None,
            };
            let Some((_, op)) = op else {
                return Ok(l);
            };
            self.bump();
            let r = next(self)?;
            l = Self::bin(*op, l, r);
        }
    }

    fn or(&mut self) -> Result<Ast, LexError> {
        self.left_assoc(&[("or", BinOp::Or)], Self::and)
    }

    fn and(&mut self) -> Result<Ast, LexError> {
        self.left_assoc(&[("and", BinOp::And)], Self::not)
    }

    fn not(&mut self) -> Result<Ast, LexError> {
        if self.is_word("not") {
            let start = self.bump().map_or(0, |t| t.span.start);
            let e = self.not()?;
            let span = start..e.span.end;
            return Ok(Ast {
                kind: AstKind::Not(boxed(e)),
                span,
            });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Ast, LexError> {
        let l = self.concat()?;
        let op = match self.peek().map(|t| &t.tok) {
            Some(Tok::Punct("==")) => BinOp::Eq,
            Some(Tok::Punct("!=")) => BinOp::Ne,
            Some(Tok::Punct("<")) => BinOp::Lt,
            Some(Tok::Punct("<=")) => BinOp::Le,
            Some(Tok::Punct(">")) => BinOp::Gt,
            Some(Tok::Punct(">=")) => BinOp::Ge,
            _ => return Ok(l),
        };
        self.bump();
        let r = self.concat()?;
        if let Some(Token {
            tok: Tok::Punct(p @ ("==" | "!=" | "<" | "<=" | ">" | ">=")),
            span,
        }) = self.peek()
        {
            return Err(LexError {
                span: span.clone(),
                message: format!("comparisons do not chain: a second `{p}`"),
                fix: "join two comparisons with `and`".into(),
            });
        }
        Ok(Self::bin(op, l, r))
    }

    fn concat(&mut self) -> Result<Ast, LexError> {
        self.left_assoc(&[("~", BinOp::Concat)], Self::sum)
    }

    fn sum(&mut self) -> Result<Ast, LexError> {
        self.left_assoc(&[("+", BinOp::Add), ("-", BinOp::Sub)], Self::prod)
    }

    fn prod(&mut self) -> Result<Ast, LexError> {
        let ops = [
            ("*", BinOp::Mul),
            ("/", BinOp::Div),
            ("//", BinOp::FloorDiv),
            ("%", BinOp::Rem),
        ];
        self.left_assoc(&ops, Self::unary)
    }

    fn unary(&mut self) -> Result<Ast, LexError> {
        if self.is_punct("-") {
            let start = self.bump().map_or(0, |t| t.span.start);
            let e = self.unary()?;
            let span = start..e.span.end;
            return Ok(Ast {
                kind: AstKind::Neg(boxed(e)),
                span,
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Ast, LexError> {
        let mut e = self.primary()?;
        loop {
            if self.is_punct(".") {
                self.bump();
                let t = self.next("a field name after `.`")?;
                let Tok::Ident(name) = t.tok.clone() else {
                    return Err(self.unexpected(t, "a field name after `.`"));
                };
                let span = e.span.start..t.span.end;
                e = Ast {
                    kind: AstKind::Attr(boxed(e), name),
                    span,
                };
            } else if self.is_punct("[") {
                self.bump();
                let i = self.expr()?;
                let close = self.expect("]")?;
                let span = e.span.start..close.span.end;
                e = Ast {
                    kind: AstKind::Index(boxed(e), boxed(i)),
                    span,
                };
            } else if self.is_punct("|") {
                self.bump();
                let t = self.next("a function name after `|`")?;
                let Tok::Ident(name) = t.tok.clone() else {
                    return Err(self.unexpected(t, "a function name after `|`"));
                };
                let mut args = vec![Arg {
                    name: None,
                    value: e.clone(),
                }];
                let mut end = t.span.end;
                if self.is_punct("(") {
                    self.bump();
                    let (more, close) = self.args()?;
                    args.extend(more);
                    end = close;
                }
                e = Ast {
                    kind: AstKind::Call {
                        name,
                        name_span: t.span,
                        args,
                    },
                    span: e.span.start..end,
                };
            } else {
                return Ok(e);
            }
        }
    }

    /// Arguments after `(`, through the closing `)`; returns them and where `)` ends.
    fn args(&mut self) -> Result<(Vec<Arg>, usize), LexError> {
        let mut args = Vec::new();
        if self.is_punct(")") {
            let t = self.bump().map_or(self.end, |t| t.span.end);
            return Ok((args, t));
        }
        loop {
            let named = matches!(
                (self.toks.get(self.at), self.toks.get(self.at + 1)),
                (
                    Some(Token {
                        tok: Tok::Ident(_),
                        ..
                    }),
                    Some(Token {
                        tok: Tok::Punct("="),
                        ..
                    })
                )
            );
            let name = if named {
                let t = self.bump().expect("peeked");
                self.bump();
                match t.tok {
                    Tok::Ident(n) => Some((n, t.span)),
                    _ => None,
                }
            } else {
                None
            };
            let value = self.expr()?;
            args.push(Arg { name, value });
            let t = self.next("`,` or `)`")?;
            match t.tok {
                Tok::Punct(",") => continue,
                Tok::Punct(")") => return Ok((args, t.span.end)),
                _ => return Err(self.unexpected(t, "`,` or `)`")),
            }
        }
    }

    fn primary(&mut self) -> Result<Ast, LexError> {
        let t = self.next("a value")?;
        let lit = |v: Val<'static>, span: Range<usize>| Ast {
            kind: AstKind::Lit(v),
            span,
        };
        let whole = t.clone();
        Ok(match t.tok {
            Tok::Int(i) => lit(Val::Int(i), t.span),
            Tok::Float(f) => lit(Val::Float(f), t.span),
            Tok::Str(s) => lit(Val::Str(s.into()), t.span),
            Tok::Ident(w) => match w.as_str() {
                "true" => lit(Val::Bool(true), t.span),
                "false" => lit(Val::Bool(false), t.span),
                "null" => lit(Val::Null, t.span),
                "if" | "else" | "and" | "or" | "not" => {
                    return Err(self.unexpected(whole, "a value"));
                }
                _ if self.is_punct("(") => {
                    self.bump();
                    let (args, end) = self.args()?;
                    Ast {
                        kind: AstKind::Call {
                            name: w,
                            name_span: t.span.clone(),
                            args,
                        },
                        span: t.span.start..end,
                    }
                }
                _ => Ast {
                    kind: AstKind::Name(w),
                    span: t.span,
                },
            },
            Tok::Punct("(") => {
                let mut e = self.expr()?;
                let close = self.expect(")")?;
                e.span = t.span.start..close.span.end;
                e
            }
            _ => return Err(self.unexpected(whole, "a value")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree as a Lisp-like string, to check precedence.
    fn show(a: &Ast) -> String {
        match &a.kind {
            AstKind::Lit(v) => format!("{v:?}"),
            AstKind::Name(n) => n.clone(),
            AstKind::Attr(b, n) => format!("{}.{n}", show(b)),
            AstKind::Index(b, i) => format!("{}[{}]", show(b), show(i)),
            AstKind::Call { name, args, .. } => {
                let a: Vec<String> = args
                    .iter()
                    .map(|a| match &a.name {
                        Some((n, _)) => format!("{n}={}", show(&a.value)),
                        None => show(&a.value),
                    })
                    .collect();
                format!("{name}({})", a.join(", "))
            }
            AstKind::Neg(e) => format!("(- {})", show(e)),
            AstKind::Not(e) => format!("(not {})", show(e)),
            AstKind::Bin(op, l, r) => format!("({} {} {})", op.symbol(), show(l), show(r)),
            AstKind::Cond(t, c, e) => format!("(if {} {} {})", show(c), show(t), show(e)),
        }
    }

    fn p(s: &str) -> String {
        show(&parse(s).unwrap())
    }

    #[test]
    fn precedence_follows_the_grammar() {
        assert_eq!(p("1 + 2 * 3"), "(+ Int(1) (* Int(2) Int(3)))");
        assert_eq!(p("a - b - c"), "(- (- a b) c)");
        assert_eq!(p("'n' ~ a + 1"), "(~ Str(\"n\") (+ a Int(1)))");
        assert_eq!(p("-x | abs"), "(- abs(x))");
        assert_eq!(p("not a and b or c"), "(or (and (not a) b) c)");
        assert_eq!(p("a == 1 and b < 2"), "(and (== a Int(1)) (< b Int(2)))");
        assert_eq!(p("x if c else y if d else z"), "(if c x (if d y z))");
        assert_eq!(
            p("props.a.b[0] | round(2, k=x.y)"),
            "round(props.a.b[Int(0)], Int(2), k=x.y)"
        );
        assert_eq!(p("(1 + 2) * 3"), "(* (+ Int(1) Int(2)) Int(3))");
        assert_eq!(p("f()"), "f()");
        assert_eq!(p("a // b % c"), "(% (// a b) c)");
    }

    #[test]
    fn errors_point_at_the_token() {
        let e = parse("1 +").unwrap_err();
        assert!(e.message.contains("ends where a value"), "{}", e.message);
        let e = parse("a b").unwrap_err();
        assert_eq!(e.span, 2..3);
        assert!(parse("a if b").unwrap_err().message.contains("else"));
        assert!(
            parse("a < b < c")
                .unwrap_err()
                .message
                .contains("do not chain")
        );
        assert!(parse("f(1, 2").unwrap_err().message.contains("`,` or `)`"));
        assert!(parse("  ").unwrap_err().message.contains("empty"));
    }
}
