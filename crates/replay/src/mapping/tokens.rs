//! The per-user tokens a mapping's `{token}` renders, from the `tokens_file` it names,
//! and what a user the file does not name gets (`missing_token`).

use std::collections::HashMap;
use std::path::Path;

use simulate_core::diagnostic::Problem;

use super::{Mapped, Mapping};

/// A JSON object `{"u12": "token", …}` or a list of `{"user_id", "token"}` objects.
pub(crate) fn read_tokens(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = simulate_core::bounded::read_to_string(path, simulate_core::bounded::TOKENS_FILE)
        .map_err(|e| format!("the token file {}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON ({e})", path.display()))?;
    let mut out = HashMap::new();
    match v {
        serde_json::Value::Object(m) => {
            for (k, t) in m {
                let t = t.as_str().ok_or_else(|| {
                    format!("{}: the token of `{k}` is not a string", path.display())
                })?;
                out.insert(k, t.to_string());
            }
        }
        serde_json::Value::Array(a) => {
            for (i, o) in a.iter().enumerate() {
                let pick = |keys: &[&str]| {
                    keys.iter().find_map(|k| o.get(*k)).map(|v| {
                        v.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string())
                    })
                };
                match (
                    pick(&["user_id", "userId", "id"]),
                    pick(&["token", "accessToken", "access_token"]),
                ) {
                    (Some(u), Some(t)) => {
                        out.insert(u, t);
                    }
                    _ => {
                        return Err(format!(
                            "{}: entry {i} has no user_id and token",
                            path.display()
                        ));
                    }
                }
            }
        }
        _ => return Err(format!("{}: expected an object or a list", path.display())),
    }
    Ok(out)
}

/// What a user the token file does not name gets, when a request reads `{token}`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum MissingToken {
    /// The replay is refused before any traffic (users joining while it runs, unknown
    /// before it, are skipped and counted).
    #[default]
    Refuse,
    /// Their requests that read `{token}` are not sent, and counted as skipped.
    Skip,
    /// Their requests are sent without the headers that read `{token}` (other templates
    /// render it empty).
    Anonymous,
}

impl MissingToken {
    pub(crate) fn parse(text: &str) -> Option<MissingToken> {
        match text {
            "refuse" => Some(MissingToken::Refuse),
            "skip" => Some(MissingToken::Skip),
            "anonymous" => Some(MissingToken::Anonymous),
            _ => None,
        }
    }
}

/// Users named in an error: enough to find them, few enough to read.
const SHOWN_USERS: usize = 5;

impl Mapping {
    /// Whether the users of a replay must be checked against the token file before any
    /// traffic (a log is read for its users only then).
    pub fn checks_tokens(&self) -> bool {
        self.uses_token && self.tokens.is_some() && self.missing_token == MissingToken::Refuse
    }

    /// Refuses the replay when some of `users` (every user known before it starts) has
    /// no token, under the `refuse` policy: how many, a few of them, and the way out.
    pub fn check_tokens<'u>(
        &self,
        users: impl IntoIterator<Item = &'u str>,
    ) -> Result<(), Problem> {
        let Some(tokens) = self.tokens.as_ref().filter(|_| self.checks_tokens()) else {
            return Ok(());
        };
        let (mut all, mut missing) = (0usize, Vec::new());
        for u in users {
            all += 1;
            if !tokens.contains_key(u) {
                missing.push(u);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut shown = missing[..missing.len().min(SHOWN_USERS)].join(", ");
        if missing.len() > SHOWN_USERS {
            shown.push_str(", …");
        }
        let mut p = self
            .tokens_at
            .clone()
            .unwrap_or_else(|| Problem::new("", ""));
        p.message = format!(
            "{} of the {all} users known before the replay have no token in the token file ({shown}): their requests would go out unauthenticated",
            missing.len()
        );
        p.fix = "add their tokens, or choose under [auth]: missing_token = \"skip\" (their requests are not sent, counted as skipped) or \"anonymous\" (sent without the headers that read {token})".into();
        Err(p)
    }

    /// Whether request `m` for `user` is held back for want of a token: the user is not
    /// in the token file and the policy is not `anonymous`.
    pub(crate) fn lacks_token(&self, m: &Mapped, user: &str) -> bool {
        m.uses_token
            && self.missing_token != MissingToken::Anonymous
            && self.tokens.as_ref().is_some_and(|t| !t.contains_key(user))
    }
}
