//! The per-user tokens a mapping's `{token}` renders, from the `tokens_file` it names.

use std::collections::HashMap;
use std::path::Path;

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
