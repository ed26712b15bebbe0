//! Secrets never shown: a URL's password replaced wherever a URL is printed or written.

/// A URL with its password replaced, for every message, log line and summary.
pub fn mask_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable URL>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let m = mask_url("postgres://alice:s3cret@127.0.0.1:5432/db");
        assert!(
            !m.contains("s3cret") && m.contains("alice") && m.contains("***"),
            "{m}"
        );
        assert_eq!(mask_url("not a url"), "<unparsable URL>");
    }
}
