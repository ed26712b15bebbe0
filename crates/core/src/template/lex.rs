//! Tokens of an expression inside a hole. Spans are byte offsets in the hole's text.

use std::ops::Range;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    /// Punctuation and operators: `( ) [ ] . , | ~ + - * / // % == != < <= > >= =`.
    Punct(&'static str),
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

/// Why a hole's text is not tokens.
#[derive(Debug)]
pub(crate) struct LexError {
    pub span: Range<usize>,
    pub message: String,
    pub fix: String,
}

/// Longest first, so `//` is not read as two `/`.
const PUNCT: &[&str] = &[
    "//", "==", "!=", "<=", ">=", "(", ")", "[", "]", ".", ",", "|", "~", "+", "-", "*", "/", "%",
    "<", ">", "=",
];

pub(crate) fn tokens(src: &str) -> Result<Vec<Token>, LexError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let (tok, end) = number(src, i)?;
            out.push(Token { tok, span: i..end });
            i = end;
        } else if c == b'\'' || c == b'"' {
            let (s, end) = string(src, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                span: i..end,
            });
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end = i + src[i..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .unwrap_or(src.len() - i);
            out.push(Token {
                tok: Tok::Ident(src[i..end].to_string()),
                span: i..end,
            });
            i = end;
        } else if let Some(p) = PUNCT.iter().find(|p| src[i..].starts_with(**p)) {
            out.push(Token {
                tok: Tok::Punct(p),
                span: i..i + p.len(),
            });
            i += p.len();
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err(LexError {
                span: i..i + ch.len_utf8(),
                message: format!("`{ch}` has no meaning here"),
                fix: "a hole holds a field or an expression such as {props.amount * 100} (see docs/TEMPLATES.md)".into(),
            });
        }
    }
    Ok(out)
}

fn number(src: &str, start: usize) -> Result<(Tok, usize), LexError> {
    let b = src.as_bytes();
    let mut end = start;
    while end < b.len() && (b[end].is_ascii_digit() || b[end] == b'_') {
        end += 1;
    }
    // A dot followed by a digit makes a float; `3.x` stays an int and an attribute.
    let float = end + 1 < b.len() && b[end] == b'.' && b[end + 1].is_ascii_digit();
    if float {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    let text: String = src[start..end].chars().filter(|c| *c != '_').collect();
    let bad = |what: &str| LexError {
        span: start..end,
        message: format!("`{}` is {what}", &src[start..end]),
        fix: "write whole numbers between -9223372036854775808 and 9223372036854775807".into(),
    };
    let tok = if float {
        Tok::Float(text.parse().map_err(|_| bad("not a number"))?)
    } else {
        Tok::Int(text.parse().map_err(|_| bad("too large"))?)
    };
    Ok((tok, end))
}

/// A quoted string with `\\`, `\'`, `\"`, `\n`, `\t` escapes.
fn string(src: &str, start: usize) -> Result<(String, usize), LexError> {
    let quote = src.as_bytes()[start] as char;
    let mut s = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((s, start + 1 + i + 1)),
            '\\' => match chars.next() {
                Some((_, 'n')) => s.push('\n'),
                Some((_, 't')) => s.push('\t'),
                Some((_, e @ ('\\' | '\'' | '"'))) => s.push(e),
                Some((j, e)) => {
                    let at = start + 1 + j;
                    return Err(LexError {
                        span: at - 1..at + e.len_utf8(),
                        message: format!("`\\{e}` is not an escape"),
                        fix: r#"use \\, \', \", \n or \t"#.into(),
                    });
                }
                None => break,
            },
            c => s.push(c),
        }
    }
    Err(LexError {
        span: start..src.len(),
        message: format!("the string opened with {quote} is not closed"),
        fix: format!("end it with {quote}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_token() {
        let t: Vec<Tok> = tokens("a.b_2 // 3.25 != 'x\\'y' ~ 1_000 [0]")
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect();
        assert_eq!(
            t,
            vec![
                Tok::Ident("a".into()),
                Tok::Punct("."),
                Tok::Ident("b_2".into()),
                Tok::Punct("//"),
                Tok::Float(3.25),
                Tok::Punct("!="),
                Tok::Str("x'y".into()),
                Tok::Punct("~"),
                Tok::Int(1000),
                Tok::Punct("["),
                Tok::Int(0),
                Tok::Punct("]"),
            ]
        );
        assert!(tokens("'open").unwrap_err().message.contains("not closed"));
        assert_eq!(tokens("a $ b").unwrap_err().span, 2..3);
        assert!(
            tokens("99999999999999999999")
                .unwrap_err()
                .message
                .contains("too large")
        );
    }
}
