//! `[ids]` and `[pools.<name>]` of a scenario: the team's id formats and pools, checked
//! into [`Pools`] with every problem at once (docs/SCENARIOS.md, "Ids and pools").

use std::collections::BTreeMap;

use serde::Deserialize;

use super::data;
use crate::diagnostic::{FieldPath, Problem, Source};
use crate::world::entities::Entity;
use crate::world::ids::{FORMAT_HELP, IdFormat, IdSource, SESSION_HELP, entity_help};
use crate::world::pools::{Pool, Pools, RESERVED, UserIds};

/// `[ids]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIds {
    pub(crate) user: Option<RawUserIds>,
    /// How the team names sessions (`"sess-{uuid}"`).
    pub(crate) session: Option<String>,
    /// How the team names the timeline's entities (`gift = "gift-{pad(n, 6)}"`).
    pub(crate) gift: Option<String>,
    pub(crate) invite: Option<String>,
    pub(crate) nudge: Option<String>,
    pub(crate) purchase: Option<String>,
}

impl RawIds {
    /// The entity formats given, in [`Entity`] order.
    fn entities(&self) -> Vec<(Entity, &str)> {
        let given = [&self.gift, &self.invite, &self.nudge, &self.purchase];
        Entity::ALL
            .into_iter()
            .zip(given)
            .filter_map(|(e, t)| t.as_deref().map(|t| (e, t)))
            .collect()
    }
}

/// `user = "c-{pad(n, 4)}"` or `user = { file = "users.csv", column = "id" }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawUserIds {
    Format(String),
    File {
        file: String,
        column: Option<String>,
        /// The format of users who sign up later than the file's.
        then: Option<String>,
    },
}

/// `[pools.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub(crate) ids: Option<String>,
    pub(crate) list: Option<Vec<String>>,
    pub(crate) file: Option<String>,
    pub(crate) column: Option<String>,
    pub(crate) per: Option<u32>,
    pub(crate) of: Option<String>,
}

const POOL_FIX: &str = r#"give one of ids = "t-{n}", list = ["t-1", "t-2"] or file = "teams.csv" (with column = "id")"#;

/// Checks `[ids]` and `[pools]` for a world of `users` users (those at t = 0).
pub(crate) fn check(
    src: &Source,
    ids: Option<&RawIds>,
    pools: &BTreeMap<String, RawPool>,
    users: u32,
) -> (Pools, Vec<Problem>) {
    let mut c = TeamCheck { src, p: Vec::new() };
    let users_ids = ids.and_then(|i| i.user.as_ref()).and_then(|u| c.users(u));
    let sessions = ids.and_then(|i| i.session.as_deref()).and_then(|t| {
        let at = FieldPath::root().key("ids").key("session");
        IdFormat::parse_session(t)
            .map_err(|m| c.at(&at, m, SESSION_HELP))
            .ok()
    });
    let entities = ids.map(|i| c.entities(i)).unwrap_or_default();
    let mut out = Pools {
        users: users_ids,
        pools: Vec::new(),
        sessions,
        entities,
    };
    for (name, raw) in pools {
        let pp = FieldPath::root().key("pools").key(name);
        let ids = c.pool_ids(&pp, raw);
        if RESERVED.contains(&name.as_str()) || !is_name(name) {
            c.at(
                &pp,
                format!("`{name}` cannot name a pool"),
                format!(
                    "use letters, digits and _ and none of {} (user.signed_up has them)",
                    RESERVED.join(", ")
                ),
            );
        }
        let per = raw.per.unwrap_or(0);
        if per == 0 {
            c.at(
                &pp.key("per"),
                "a pool needs `per`: how many users (or members of `of`) each member takes",
                "add per = 25 (25 users per member, in user order)",
            );
        }
        out.pools.push(Pool {
            name: name.clone(),
            ids: ids.unwrap_or(IdSource::List {
                ids: vec![String::new()],
                from: String::new(),
            }),
            per: per.max(1),
            of: None,
        });
    }
    c.parents(&mut out, pools);
    if c.p.is_empty() {
        c.enough(&out, users);
    }
    (out, c.p)
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct TeamCheck<'a> {
    src: &'a Source,
    p: Vec<Problem>,
}

impl TeamCheck<'_> {
    fn at(&mut self, path: &FieldPath, message: impl Into<String>, fix: impl Into<String>) {
        self.p.push(self.src.problem(path, message, fix));
    }

    /// `[ids] gift`, `purchase`, …: each entity's format, checked with its own holes.
    fn entities(&mut self, ids: &RawIds) -> Vec<(Entity, IdFormat)> {
        let mut out = Vec::new();
        for (e, text) in ids.entities() {
            let at = FieldPath::root().key("ids").key(e.name());
            match IdFormat::parse_entity(text, e.prop()) {
                Ok(f) => out.push((e, f)),
                Err(m) => self.at(&at, m, entity_help(e.prop())),
            }
        }
        out
    }

    fn format(&mut self, path: &FieldPath, text: &str) -> Option<IdFormat> {
        IdFormat::parse(text)
            .map_err(|m| self.at(path, m, FORMAT_HELP))
            .ok()
    }

    /// A file's column of ids; duplicates are refused (an id names one member).
    fn file(&mut self, path: &FieldPath, file: &str, column: Option<&str>) -> Option<Vec<String>> {
        let full = data::resolve(&self.src.name, file);
        let ids = data::read(&full).and_then(|t| data::column(&full, &t, column));
        match ids {
            Ok(ids) => self.unique(path, ids, &full.display().to_string()),
            Err(m) => {
                self.at(
                    path,
                    m,
                    "check the path (relative to the scenario file) and the file: a CSV with a header row, a JSON array, or one id per line",
                );
                None
            }
        }
    }

    fn unique(&mut self, path: &FieldPath, ids: Vec<String>, from: &str) -> Option<Vec<String>> {
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = ids.iter().find(|i| !seen.insert(i.as_str())) {
            self.at(
                path,
                format!("`{dup}` is in {from} twice"),
                "give each member one id: remove the duplicate",
            );
            return None;
        }
        Some(ids)
    }

    fn users(&mut self, raw: &RawUserIds) -> Option<UserIds> {
        let up = FieldPath::root().key("ids").key("user");
        match raw {
            RawUserIds::Format(t) => self.format(&up, t).map(UserIds::Format),
            RawUserIds::File { file, column, then } => {
                let then = match then {
                    Some(t) => self.format(&up.key("then"), t)?,
                    None => IdFormat::parse("{user_id}").expect("a valid format"),
                };
                let ids = self.file(&up.key("file"), file, column.as_deref())?;
                Some(UserIds::Existing {
                    ids,
                    from: data::resolve(&self.src.name, file).display().to_string(),
                    then,
                })
            }
        }
    }

    fn pool_ids(&mut self, pp: &FieldPath, raw: &RawPool) -> Option<IdSource> {
        let given = [raw.ids.is_some(), raw.list.is_some(), raw.file.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            self.at(
                pp,
                "a pool needs exactly one of ids, list or file",
                POOL_FIX,
            );
            return None;
        }
        if raw.column.is_some() && raw.file.is_none() {
            self.at(
                &pp.key("column"),
                "`column` names a file's column",
                POOL_FIX,
            );
        }
        if let Some(t) = &raw.ids {
            return self.format(&pp.key("ids"), t).map(IdSource::Format);
        }
        if let Some(list) = &raw.list {
            if list.is_empty() {
                self.at(&pp.key("list"), "the list is empty", POOL_FIX);
                return None;
            }
            let ids = self.unique(&pp.key("list"), list.clone(), "the list")?;
            return Some(IdSource::List {
                ids,
                from: format!("{pp}.list"),
            });
        }
        let file = raw.file.as_deref()?;
        let ids = self.file(&pp.key("file"), file, raw.column.as_deref())?;
        Some(IdSource::List {
            ids,
            from: data::resolve(&self.src.name, file).display().to_string(),
        })
    }

    /// Resolves each `of` to a pool; a chain that loops back is refused.
    fn parents(&mut self, out: &mut Pools, raw: &BTreeMap<String, RawPool>) {
        let names: Vec<String> = out.pools.iter().map(|p| p.name.clone()).collect();
        for (i, name) in names.iter().enumerate() {
            let Some(of) = raw[name].of.as_deref() else {
                continue;
            };
            let path = FieldPath::root().key("pools").key(name).key("of");
            match names.iter().position(|n| n == of) {
                Some(j) if j != i => out.pools[i].of = Some(j),
                _ => self.at(
                    &path,
                    format!("`of = \"{of}\"` names no other pool"),
                    format!("name one of: {}", names.join(", ")),
                ),
            }
        }
        for (i, name) in names.iter().enumerate() {
            let mut at = i;
            for _ in 0..=names.len() {
                match out.pools[at].of {
                    Some(j) => at = j,
                    None => break,
                }
                if at == i {
                    self.at(
                        &FieldPath::root().key("pools").key(name).key("of"),
                        format!("pool `{name}` is, through `of`, a pool of itself"),
                        "let one pool of the chain group users (no `of`)",
                    );
                    out.pools[i].of = None;
                    break;
                }
            }
        }
    }

    /// Lists and files hold members enough for the world's users.
    fn enough(&mut self, out: &Pools, users: u32) {
        for (i, pool) in out.pools.iter().enumerate() {
            let (Some(len), IdSource::List { from, .. }) = (pool.ids.listed(), &pool.ids) else {
                continue;
            };
            let need = out.members_for(i, users);
            if (len as u64) < need {
                let unit = match pool.of {
                    Some(q) => format!("{} per {}", pool.per, out.pools[q].name),
                    None => format!("{} users each", pool.per),
                };
                self.at(
                    &FieldPath::root().key("pools").key(&pool.name),
                    format!(
                        "{from} holds {len} ids, and {users} users at {unit} need {need} members of `{}`",
                        pool.name
                    ),
                    format!(
                        "add ids, raise `per`, or run with --users {} or fewer",
                        out.capacity(i, len as u64)
                    ),
                );
            }
        }
    }
}

impl Pools {
    /// The most users `members` members of pool `p` hold.
    fn capacity(&self, p: usize, members: u64) -> u64 {
        let pool = &self.pools[p];
        let below = members * u64::from(pool.per);
        match pool.of {
            None => below,
            Some(q) => self.capacity(q, below),
        }
    }
}

/// With a users file, `--users` (or the file's `users`) beyond its length is refused.
pub(crate) fn users_beyond_file(pools: &Pools, users: u32) -> Option<(String, String)> {
    match &pools.users {
        Some(UserIds::Existing { ids, from, .. }) if users as usize > ids.len() => Some((
            format!(
                "{users} users, and {from} holds {} existing users",
                ids.len()
            ),
            format!(
                "run with --users {} or fewer (users who sign up during the run come on top), or add users to the file",
                ids.len()
            ),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::Source;
    use crate::scenario::{Overrides, Scenario};

    fn problems(text: &str, users: Option<u32>) -> String {
        let personas = crate::persona::load(None).expect("shipped personas");
        let over = Overrides {
            users,
            ..Overrides::default()
        };
        Scenario::from_source(&Source::new("team.toml", text), &over, &personas)
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn every_pool_problem_at_once_with_its_line_and_fix() {
        let e = problems(
            "users = 100\n\n[ids]\nuser = \"c-{m}\"\n\n[pools.team]\nids = \"t-{n}\"\n\n[pools.room]\nids = \"r-{n}\"\nlist = [\"r-1\"]\nper = 5\n\n[pools.business]\nids = \"b-{n}\"\nof = \"teams\"\nper = 4\n\n[pools.source]\nlist = [\"s\", \"s\"]\nper = 1\n",
            None,
        );
        for (says, line) in [
            ("`{m}` in `c-{m}` is not a hole", "team.toml:4"),
            ("a pool needs `per`", "team.toml:6"),
            ("exactly one of ids, list or file", "team.toml:9"),
            ("`of = \"teams\"` names no other pool", "team.toml:16"),
            ("`source` cannot name a pool", "team.toml:19"),
            ("`s` is in the list twice", "team.toml:20"),
        ] {
            assert!(e.contains(says), "{says}: {e}");
            assert!(e.contains(line), "{line}: {e}");
        }
    }

    #[test]
    fn entity_formats_are_checked_with_their_own_holes() {
        let e = problems(
            "[ids]\nuser = \"c-{n}\"\ngift = \"{user_id}-gift\"\npurchase = \"p-{session_id}\"\n",
            Some(5),
        );
        for (says, line) in [
            (
                "every entity of a user would get the same id",
                "team.toml:3",
            ),
            (
                "`{session_id}` in `p-{session_id}` is not a hole",
                "team.toml:4",
            ),
            ("{purchase_id} (the timeline's)", "team.toml:4"),
        ] {
            assert!(e.contains(says), "{says}: {e}");
            assert!(e.contains(line), "{line}: {e}");
        }
        assert!(e.contains("ids.gift") && e.contains("ids.purchase"), "{e}");
        let e = problems("[ids]\ngfit = \"g-{n}\"\n", Some(5));
        assert!(e.contains("did you mean `gift`"), "{e}");
        assert_eq!(
            problems(
                "[ids]\ngift = \"gift-{pad(n, 6)}\"\nnudge = \"{uuid}\"\n",
                Some(5)
            ),
            ""
        );
    }

    #[test]
    fn loops_short_lists_and_users_beyond_the_file_are_refused() {
        let e = problems(
            "[pools.a]\nids = \"a-{n}\"\nof = \"b\"\nper = 2\n\n[pools.b]\nids = \"b-{n}\"\nof = \"a\"\nper = 2\n",
            Some(10),
        );
        assert!(e.contains("a pool of itself"), "{e}");
        let e = problems(
            "[pools.team]\nlist = [\"t-1\", \"t-2\"]\nper = 25\n",
            Some(60),
        );
        assert!(
            e.contains("holds 2 ids, and 60 users at 25 users each need 3")
                && e.contains("--users 50 or fewer"),
            "{e}"
        );
        assert_eq!(
            problems(
                "[pools.team]\nlist = [\"t-1\", \"t-2\"]\nper = 25\n",
                Some(50)
            ),
            ""
        );
        let e = problems("[ids]\nuser = { file = \"no-such-users.csv\" }\n", Some(5));
        assert!(
            e.contains("no-such-users.csv") && e.contains("ids.user.file"),
            "{e}"
        );
    }
}
