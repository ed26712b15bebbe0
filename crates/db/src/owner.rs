//! Proof that simulate made a schema or a file: the mark it puts on everything it creates,
//! read back before anything is dropped or replaced. Nothing is taken for ours because of
//! its name or because it holds a table called `run_meta`.
//!
//! The mark is a small JSON document, `{"owner": TOKEN, "schema_version": 1, "role":
//! "seeded"}`: on PostgreSQL it is the schema's COMMENT, in an SQLite file the one row of
//! its `simulate_mark` table. The token is a fixed random string no user writes by
//! accident; `schema_version` says which layout of our tables the place holds. A seeded
//! place counts as ours only when the mark is there *and* run_meta has exactly the
//! columns our migrations create. The same document is meant to mark anything else we
//! create later (a manifest schema of ours beside a team's tables, a manifest file beside
//! their SQLite database), so one check serves every cleanup.

use serde::{Deserialize, Serialize};

/// The owner token: a constant, random when it was chosen, never derived from a name.
pub(crate) const TOKEN: &str = "simulate:owner:6f1d0c9a-3e57-4b2f-a8d4-91c2e5b7f034";

/// The layout of our tables (migrations/*): raised when it changes, so that a schema of
/// another layout is still recognised as ours (and may be replaced) but not read as this one.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The COMMENT earlier versions put on a seeded PostgreSQL schema (before the mark), and
/// on their staging schema: still recognised, together with run_meta's exact shape, so
/// `--reset` can replace a seed made by an earlier simulate.
pub(crate) const LEGACY_SEEDED: &str = "simulate: seeded data (see run_meta)";
pub(crate) const LEGACY_STAGING: &str =
    "simulate staging schema: a load in progress or one that was interrupted";

/// What a marked place is for.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A complete seed, swapped or renamed into place.
    Seeded,
    /// A load under way, or one that was interrupted (to be removed by the next load).
    Staging,
}

/// The mark itself.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    pub owner: String,
    pub schema_version: u32,
    pub role: Role,
}

impl Mark {
    pub fn new(role: Role) -> Mark {
        Mark {
            owner: TOKEN.to_string(),
            schema_version: SCHEMA_VERSION,
            role,
        }
    }

    /// The mark as stored: one line of JSON (no `'`, so it can sit in an SQL literal).
    pub fn text(&self) -> String {
        serde_json::to_string(self).expect("a mark serializes")
    }

    /// The mark in `text`, if `text` is one of ours (the token must match exactly).
    pub(crate) fn read(text: &str) -> Option<Mark> {
        serde_json::from_str::<Mark>(text)
            .ok()
            .filter(|m| m.owner == TOKEN)
    }
}

/// run_meta's columns as migrations/postgres creates them, as `name type` in order
/// (PostgreSQL's `format_type`).
pub(crate) const PG_RUN_META: &str = "id smallint, version text, config jsonb, seed bigint, users integer, days integer, events bigint, events_sha256 text, complete boolean";

/// run_meta's columns as migrations/sqlite creates them (`pragma_table_info` name and type).
pub(crate) const SQLITE_RUN_META: &str = "id INTEGER, version TEXT, config TEXT, seed INTEGER, users INTEGER, days INTEGER, events INTEGER, events_sha256 TEXT, complete INTEGER";

/// Whose a place is, judged from its mark and the shape of its run_meta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Marked by simulate, with this role and layout version.
    Ours { role: Role, schema_version: u32 },
    /// Not proven ours: why, in words for the user.
    NotOurs(&'static str),
}

impl Verdict {
    /// A complete seed of ours (any layout version): what `--reset` may replace.
    pub fn seeded(&self) -> bool {
        matches!(
            self,
            Verdict::Ours {
                role: Role::Seeded,
                ..
            }
        )
    }

    /// What `verify`, `serve` and `replay --seeded` may read: a complete seed of ours in
    /// this layout, or why not (the message's middle part).
    pub fn readable(&self) -> Result<(), String> {
        match self {
            Verdict::Ours {
                role: Role::Seeded,
                schema_version: SCHEMA_VERSION,
            } => Ok(()),
            Verdict::Ours {
                role: Role::Seeded,
                schema_version: v,
            } => Err(format!(
                "was seeded by a simulate with table layout {v}; this one reads layout {SCHEMA_VERSION}"
            )),
            Verdict::Ours {
                role: Role::Staging,
                ..
            } => Err("is the staging area of a load that is under way or was interrupted, not a complete seed".into()),
            Verdict::NotOurs(why) => Err(format!("was not seeded by simulate ({why})")),
        }
    }
}

/// Judges a place from its stored mark (`mark`: the schema comment or the `simulate_mark`
/// row), the columns of its run_meta as `name type, …` (empty without one), what those
/// columns must be (`PG_RUN_META` or `SQLITE_RUN_META`), and whether it carries an earlier
/// version's sign of ownership (`legacy`: the old comment, or our migration's checksum).
pub(crate) fn judge(mark: Option<&str>, run_meta: &str, expected: &str, legacy: bool) -> Verdict {
    let shaped = run_meta == expected;
    match mark.map(str::trim) {
        Some(m) if m == LEGACY_STAGING => Verdict::Ours {
            role: Role::Staging,
            schema_version: SCHEMA_VERSION,
        },
        _ if legacy && shaped => Verdict::Ours {
            role: Role::Seeded,
            schema_version: SCHEMA_VERSION,
        },
        Some(m) => match Mark::read(m) {
            // A staging area is ours from its first moment, before its tables exist.
            Some(mark) if mark.role == Role::Staging => Verdict::Ours {
                role: Role::Staging,
                schema_version: mark.schema_version,
            },
            // Another layout's run_meta has another shape: the token is the proof then.
            Some(mark) if mark.schema_version != SCHEMA_VERSION || shaped => Verdict::Ours {
                role: mark.role,
                schema_version: mark.schema_version,
            },
            Some(_) => Verdict::NotOurs(
                "it carries simulate's mark, but its run_meta is not the one simulate creates",
            ),
            None => Verdict::NotOurs("it carries no simulate mark"),
        },
        None if run_meta.is_empty() => Verdict::NotOurs("it carries no simulate mark"),
        None => Verdict::NotOurs(
            "it holds a run_meta table but no simulate mark: a table's name proves nothing",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_mark_with_our_token_and_shape_is_ours() {
        let seeded = Mark::new(Role::Seeded).text();
        let staging = Mark::new(Role::Staging).text();
        assert!(judge(Some(&seeded), PG_RUN_META, PG_RUN_META, false).seeded());
        assert!(judge(Some(&seeded), SQLITE_RUN_META, SQLITE_RUN_META, false).seeded());
        // The case: any table named run_meta used to be enough.
        assert!(!judge(None, "note text", PG_RUN_META, false).seeded());
        assert!(!judge(None, PG_RUN_META, PG_RUN_META, false).seeded());
        assert!(!judge(Some("my schema"), PG_RUN_META, PG_RUN_META, false).seeded());
        // A copied mark over a run_meta of another shape is not enough either.
        assert!(!judge(Some(&seeded), "note text", PG_RUN_META, false).seeded());
        let forged = seeded.replace(TOKEN, "simulate:owner:someone-else");
        assert!(!judge(Some(&forged), PG_RUN_META, PG_RUN_META, false).seeded());
        // A staging area is ours before its tables exist; it is never a seed.
        let v = judge(Some(&staging), "", PG_RUN_META, false);
        assert!(
            matches!(
                v,
                Verdict::Ours {
                    role: Role::Staging,
                    ..
                }
            ) && !v.seeded()
        );
        assert!(v.readable().is_err());
        // Earlier versions' seeds: their old comment (or migration checksum) and the shape.
        assert!(judge(Some(LEGACY_SEEDED), PG_RUN_META, PG_RUN_META, true).seeded());
        assert!(!judge(Some(LEGACY_SEEDED), "x text", PG_RUN_META, true).seeded());
        // Another layout: ours to replace, not to read.
        let newer = Mark {
            schema_version: SCHEMA_VERSION + 1,
            ..Mark::new(Role::Seeded)
        };
        let v = judge(Some(&newer.text()), "other", PG_RUN_META, false);
        assert!(v.seeded() && v.readable().is_err());
        assert!(!Mark::new(Role::Seeded).text().contains('\''));
    }
}
