//! Digests, signatures and encodings for webhook-style requests: `sha256`, `hmac_sha256`
//! (the key usually `env.SECRET`, read when the file loads and never printed), `base64`
//! and `base64url`.
//!
//! A key never leaves through a message: these functions fail on nothing but an argument's
//! type, and say so without quoting it; a hole folded to a constant from `env.*` is kept
//! as a secret segment (not shown by `Debug`), and replay prints no rendered request.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::ids::hex;
use super::{ArgError, Func, checked, owned, req, text, want_text};
use crate::template::value::{Type, Val};

const ENCODINGS: &[&str] = &["hex", "base64", "base64url"];

/// `encoding='hex'`: how a digest is written, checked when written as a literal.
const ENCODING: super::Param = checked("encoding", Val::Str(Cow::Borrowed("hex")), check_encoding);

fn check_encoding(v: &Val<'_>) -> Result<(), (String, String)> {
    match v {
        Val::Str(e) if !ENCODINGS.contains(&e.as_ref()) => Err((
            format!("`'{e}'` is not an encoding"),
            format!("use one of: {}", ENCODINGS.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// Bytes written as `encoding` says: lowercase hex, base64 with padding, or base64url
/// without it (as JWTs and most webhook signatures write it).
fn encode(bytes: &[u8], encoding: &Val<'_>) -> Result<Val<'static>, String> {
    match text(encoding).as_ref() {
        "hex" => owned(hex(bytes)),
        "base64" => owned(STANDARD.encode(bytes)),
        "base64url" => owned(URL_SAFE_NO_PAD.encode(bytes)),
        other => Err(format!(
            "`{other}` is not an encoding (use one of: {})",
            ENCODINGS.join(", ")
        )),
    }
}

fn check_texts(a: &[Type]) -> Result<Type, ArgError> {
    for i in 0..a.len() {
        want_text(a, i, if i == 0 { "the value" } else { "each argument" })?;
    }
    Ok(Type::STR)
}

pub const FUNCS: &[Func] = &[
    Func {
        name: "sha256",
        params: &[req("text"), ENCODING],
        variadic: false,
        null_in_null_out: true,
        check: check_texts,
        eval: |a| encode(&Sha256::digest(text(&a[0]).as_bytes()), &a[1]),
    },
    Func {
        name: "hmac_sha256",
        params: &[req("key"), req("text"), ENCODING],
        variadic: false,
        null_in_null_out: true,
        check: check_texts,
        eval: |a| {
            // HMAC takes a key of any length: this cannot fail, and would not quote the key.
            let mut mac = Hmac::<Sha256>::new_from_slice(text(&a[0]).as_bytes())
                .map_err(|_| "the key cannot be used".to_string())?;
            mac.update(text(&a[1]).as_bytes());
            encode(&mac.finalize().into_bytes(), &a[2])
        },
    },
    Func {
        name: "base64",
        params: &[req("text")],
        variadic: false,
        null_in_null_out: true,
        check: check_texts,
        eval: |a| owned(STANDARD.encode(text(&a[0]).as_bytes())),
    },
    Func {
        name: "base64url",
        params: &[req("text")],
        variadic: false,
        null_in_null_out: true,
        check: check_texts,
        eval: |a| owned(URL_SAFE_NO_PAD.encode(text(&a[0]).as_bytes())),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Val<'static> {
        Val::Str(Cow::Owned(v.to_string()))
    }

    #[test]
    fn digests_match_the_published_test_vectors() {
        // FIPS 180-2's "abc"; RFC 4231 test case 2 ("Jefe").
        let abc = (FUNCS[0].eval)(&mut [s("abc"), s("hex")]).unwrap();
        assert_eq!(
            abc.to_text(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mac =
            (FUNCS[1].eval)(&mut [s("Jefe"), s("what do ya want for nothing?"), s("hex")]).unwrap();
        assert_eq!(
            mac.to_text(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let b64 = (FUNCS[1].eval)(&mut [s("Jefe"), s("what do ya want for nothing?"), s("base64")])
            .unwrap();
        assert_eq!(
            b64.to_text(),
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
        assert_eq!(
            (FUNCS[3].eval)(&mut [s("\u{fb}\u{ff}")]).unwrap().to_text(),
            "w7vDvw"
        );
        assert!(check_encoding(&s("hex")).is_ok());
        let (m, fix) = check_encoding(&s("b64")).unwrap_err();
        assert!(m.contains("`'b64'` is not an encoding"), "{m}");
        assert_eq!(fix, "use one of: hex, base64, base64url");
    }
}
