//! Secrets out of everything the tool prints or writes: the one masking function for
//! URLs and connection strings.
//!
//! Written by hand rather than with the `url` crate: it must mask what a URL parser
//! rejects or normalises (a libpq `key=value` string, a URL with a typo, a query string
//! alone), and it must never fall back to printing the input. Pure, no I/O.

/// What replaces a secret.
pub const MASK: &str = "***";

/// `text` with every credential it carries replaced by `***`: the password of a URL's
/// user-info (`postgres://alice:***@host/db`) and the value of every parameter whose name
/// says it holds a credential (`?password=***`, `&api_key=***`, `#access_token=***`,
/// libpq's `sslpassword=*** passfile=***`), names matched case-insensitively and
/// percent-decoded. Everything else is kept as written, so the user recognises it.
pub fn mask_url(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let userinfo_end = user_info(text);
    let mut rest = text;
    if let Some((colon, at)) = userinfo_end {
        out.push_str(&text[..=colon]);
        out.push_str(MASK);
        rest = &text[at..];
    }
    mask_params(rest, &mut out);
    out
}

/// In `scheme://user:password@host…`, the byte offsets of the `:` before the password
/// and of the `@` after it.
fn user_info(text: &str) -> Option<(usize, usize)> {
    let start = text.find("://")? + 3;
    let authority_end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    let authority = &text[start..authority_end];
    // The last `@` ends the user-info: a password may itself hold an unescaped `@`.
    let at = start + authority.rfind('@')?;
    let colon = start + text[start..at].find(':')?;
    Some((colon, at))
}

/// Copies `text` into `out`, masking the value of each `name=value` pair whose name is a
/// credential's. Pairs start at the beginning, after `?`, `&`, `;`, `#` or whitespace, and
/// their value ends at the next of `&`, `;`, `#` or whitespace (or at the `?` that starts
/// the query, before there is one: `/a=b?token=…`).
fn mask_params(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut pair_start = 0;
    let mut in_query = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'=' {
            let name = &text[pair_start..i];
            let value_end = text[i + 1..]
                .find(|c: char| {
                    matches!(c, '&' | ';' | '#') || c.is_whitespace() || (c == '?' && !in_query)
                })
                .map_or(text.len(), |n| i + 1 + n);
            out.push_str(&text[pair_start..=i]);
            if is_credential(name) && value_end > i + 1 {
                out.push_str(MASK);
            } else {
                out.push_str(&text[i + 1..value_end]);
            }
            i = value_end;
            pair_start = i;
            continue;
        }
        if matches!(b, b'?' | b'&' | b';' | b'#') || b.is_ascii_whitespace() {
            in_query |= b == b'?';
            out.push_str(&text[pair_start..=i]);
            pair_start = i + 1;
        }
        i += 1;
    }
    out.push_str(&text[pair_start.min(text.len())..]);
}

/// Whether a parameter of this name carries a credential. Broad on purpose: masking a
/// harmless value costs nothing, printing a key costs the user a rotation.
fn is_credential(name: &str) -> bool {
    let name = percent_decoded(name.trim()).to_ascii_lowercase();
    let name = name.trim_start_matches(['?', '&', ';', '#']);
    const EXACT: &[&str] = &["key", "sig", "pwd", "session", "code", "jwt"];
    const PARTS: &[&str] = &[
        "pass", // password, sslpassword, passfile, passwd, passphrase
        "secret",
        "token", // token, access_token, refresh_token, id_token, x-amz-security-token
        "signature",
        "credential",
        "auth", // authorization, auth_token, x-auth
        "apikey",
        "api_key",
        "api-key",
        "private",
    ];
    EXACT.contains(&name)
        || PARTS.iter().any(|p| name.contains(p))
        || name.ends_with("_key")
        || name.ends_with("-key")
        || name.ends_with("sig")
}

/// `%XX` escapes decoded (lossily), so `pass%77ord` is still a password.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_passwords_are_masked_and_the_rest_kept() {
        let m = mask_url("postgres://alice:s3cret@127.0.0.1:5432/db");
        assert_eq!(m, "postgres://alice:***@127.0.0.1:5432/db");
        assert_eq!(
            mask_url("postgres://alice:p@ss@h/db"),
            "postgres://alice:***@h/db"
        );
        assert_eq!(mask_url("postgres://alice@h/db"), "postgres://alice@h/db");
        assert_eq!(mask_url("http://h:80/a@b"), "http://h:80/a@b");
        assert_eq!(mask_url("not a url"), "not a url");
    }

    #[test]
    fn credential_parameters_are_masked_in_any_case() {
        let m = mask_url(
            "postgres://root@host/db?sslmode=disable&PassWord=S3cr3tPW&sslpassword=k1&passfile=/p&application_name=x",
        );
        assert_eq!(
            m,
            "postgres://root@host/db?sslmode=disable&PassWord=***&sslpassword=***&passfile=***&application_name=x"
        );
        for name in [
            "api_key",
            "APIKEY",
            "token",
            "access_token",
            "refresh_token",
            "key",
            "secret",
            "client_secret",
            "sig",
            "Signature",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "auth",
            "pass%77ord",
        ] {
            let m = mask_url(&format!("https://h/p?a=1&{name}=SECRETVALUE&b=2#frag"));
            assert!(!m.contains("SECRETVALUE"), "{name}: {m}");
            assert!(m.contains("a=1") && m.contains("b=2"), "{name}: {m}");
        }
        assert_eq!(
            mask_url("https://h/cb#access_token=abc&state=s"),
            "https://h/cb#access_token=***&state=s"
        );
        // libpq's keyword/value strings.
        assert_eq!(
            mask_url("host=h user=u password=pw dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
        assert_eq!(mask_url("http://h/?q=1&page=2"), "http://h/?q=1&page=2");
        assert_eq!(mask_url("http://h/a=b?token=t"), "http://h/a=b?token=***");
        assert_eq!(
            mask_url("http://h/?password=a?b&x=1"),
            "http://h/?password=***&x=1"
        );
    }
}
