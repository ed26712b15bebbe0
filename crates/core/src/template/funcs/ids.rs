//! Ids in the team's format, derived from values: the same arguments give the same id in
//! a replay request, a seed row and a custom action's props, on every machine, with no
//! clock and no random draw.
//!
//! What is hashed, exactly (so a team can compute the same id on its side): SHA-256 of a
//! label (`uuid` or `cuid`), then each argument's text (as `~` writes it: `u12`, `42`,
//! `2026-01-05T01:19:25.261Z`), each preceded by one NUL byte. The world's seed is not
//! implied: the same template renders the same id whether replay reads the engine or a log
//! (which has no seed), and a seed row agrees with it; to make ids differ between worlds,
//! pass something that does (`uuid(user_id, 'staging-2')`).

use sha2::{Digest, Sha256};

use super::{Func, owned, req};
use crate::template::value::{Type, Val};

/// SHA-256 of the label and the arguments' texts, as the module says.
pub(crate) fn digest(label: &str, args: &[Val<'_>]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label.as_bytes());
    let mut buf = String::new();
    for a in args {
        buf.clear();
        a.write_text(&mut buf);
        h.update([0u8]);
        h.update(buf.as_bytes());
    }
    h.finalize().into()
}

/// The first 16 bytes of the digest as an RFC 9562 UUID version 8 (custom, here
/// name-based from SHA-256): `xxxxxxxx-xxxx-8xxx-[89ab]xxx-xxxxxxxxxxxx`.
fn uuid(h: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// cuid2's shape: a lowercase letter (`a` + byte 0 mod 26), then 23 base-36 digits (bytes
/// 1 to 16 as a big-endian number, modulo 36^23, zero-padded): 24 characters.
fn cuid(h: &[u8; 32]) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = u128::from_be_bytes(h[1..17].try_into().unwrap_or([0; 16]));
    let mut tail = [b'0'; 23];
    for slot in tail.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    let mut out = String::with_capacity(24);
    out.push((b'a' + h[0] % 26) as char);
    out.extend(tail.iter().map(|&c| c as char));
    out
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

pub const FUNCS: &[Func] = &[
    Func {
        name: "uuid",
        params: &[req("x")],
        variadic: true,
        null_in_null_out: true,
        check: |_| Ok(Type::STR),
        eval: |a| owned(uuid(&digest("uuid", a))),
    },
    Func {
        name: "cuid",
        params: &[req("x")],
        variadic: true,
        null_in_null_out: true,
        check: |_| Ok(Type::STR),
        eval: |a| owned(cuid(&digest("cuid", a))),
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_a_function_of_their_arguments_and_shaped_as_promised() {
        let u = uuid(&digest("uuid", &[Val::Str("u12".into())]));
        assert_eq!(u, uuid(&digest("uuid", &[Val::Str("u12".into())])));
        assert_ne!(u, uuid(&digest("uuid", &[Val::Str("u13".into())])));
        let b = u.as_bytes();
        assert_eq!((u.len(), b[8], b[13], b[14]), (36, b'-', b'-', b'8'), "{u}");
        assert!(matches!(b[19], b'8' | b'9' | b'a' | b'b'), "{u}");
        // An int and its text are the same argument; two arguments are not one joined.
        assert_eq!(
            digest("uuid", &[Val::Int(42)]),
            digest("uuid", &[Val::Str("42".into())])
        );
        assert_ne!(
            digest("uuid", &[Val::Str("a".into()), Val::Str("b".into())]),
            digest("uuid", &[Val::Str("ab".into())])
        );
        let c = cuid(&digest("cuid", &[Val::Str("u12".into())]));
        assert_eq!(c.len(), 24);
        assert!(c.as_bytes()[0].is_ascii_lowercase(), "{c}");
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
            "{c}"
        );
    }
}
