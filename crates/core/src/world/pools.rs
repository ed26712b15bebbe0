//! The team's people and groups: users' ids in the team's format (`[ids]`) and the pools
//! users belong to (`[pools.<name>]`: clients of teams, teams of businesses), assigned by
//! the rules the scenario states, from the user's number alone: no draw, so the same at
//! any thread count, and the default world (which declares none) is unchanged.
//!
//! Assignment: a pool with `per = 25` gives its k-th member (0-based) to users 25k to
//! 25k + 24, in user order (timeline ids `u0`, `u1`, …); a pool with `of = "team"` and
//! `per = 4` gives its k-th member to teams 4k to 4k + 3, and so to their users.

use super::entities::Entity;
use super::ids::{IdFormat, IdSource};

/// How users are named in the team's format.
#[derive(Clone, Debug, PartialEq)]
pub enum UserIds {
    /// Every user by a format (`c-{pad(n, 4)}`, `{uuid(user_id)}`).
    Format(IdFormat),
    /// Users the team's system already holds, from a file: the first `ids.len()` users
    /// exist before t = 0 (they sign up at t = 0 and replay sends no `user.signed_up` for
    /// them); users who sign up later are named by `then`.
    Existing {
        ids: Vec<String>,
        from: String,
        then: IdFormat,
    },
}

/// One `[pools.<name>]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub name: String,
    pub ids: IdSource,
    /// Users (or members of `of`) per member.
    pub per: u32,
    /// The pool whose members this one groups (an index into [`Pools::pools`]).
    pub of: Option<usize>,
}

/// What a scenario declares about the team's ids and pools; empty for the default world.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pools {
    pub users: Option<UserIds>,
    /// In name order.
    pub pools: Vec<Pool>,
    /// `[ids] session`: how the team names a session (replay's `{session_id}`, a custom
    /// action's); the timeline keeps its own (`s42-3`).
    pub sessions: Option<IdFormat>,
    /// `[ids] gift`, `purchase`, …: how the team names the timeline's entities, in
    /// [`Entity`] order (`world::entities` numbers them).
    pub entities: Vec<(Entity, IdFormat)>,
}

/// A world's ids and pools with its seed and size: what a template's
/// `lookup(pool, id, field)` reads when it renders (replay's scope gets it from the world
/// it replays; a custom action's from its own).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Team {
    pub seed: u64,
    /// Users at t = 0: how far a format's ids are searched when an id is not its number.
    pub users: u32,
    pub pools: Pools,
}

impl Team {
    /// [`Pools::lookup`] in this world.
    pub fn lookup(&self, pool: &str, id: &str, field: &str) -> Option<String> {
        self.pools.lookup(self.seed, self.users, pool, id, field)
    }
}

/// The `user.signed_up` props this module may add, so pool names cannot clash with them
/// or with the props the line already has.
pub const RESERVED: &[&str] = &[
    "id",
    "existing",
    "source",
    "invited_by",
    "platform",
    "locale",
    "room",
];

impl Pools {
    /// Whether the world declares anything (else `user.signed_up` is today's line).
    pub fn declared(&self) -> bool {
        self.users.is_some() || !self.pools.is_empty()
    }

    /// The format the team names an entity by (`[ids] gift`), if any.
    pub fn entity_format(&self, e: Entity) -> Option<&IdFormat> {
        self.entities.iter().find(|(x, _)| *x == e).map(|(_, f)| f)
    }

    /// The user's id in the team's format, `None` without `[ids] user`.
    pub fn user_id(&self, seed: u64, user: u32) -> Option<String> {
        Some(match self.users.as_ref()? {
            UserIds::Format(f) => f.render(seed, u64::from(user) + 1),
            UserIds::Existing { ids, then, .. } => match ids.get(user as usize) {
                Some(id) => id.clone(),
                None => then.render(seed, u64::from(user) + 1),
            },
        })
    }

    /// Session `session` (from 1) of user `user` in the team's format, `None` without
    /// `[ids] session` (the timeline's `s<user>-<session>` is then the id).
    pub fn session_id(&self, seed: u64, user: u32, session: u32) -> Option<String> {
        let f = self.sessions.as_ref()?;
        let user_id = self
            .user_id(seed, user)
            .unwrap_or_else(|| format!("u{user}"));
        let timeline = format!("s{user}-{session}");
        Some(f.render_session(seed, &user_id, &timeline, u64::from(session)))
    }

    /// Whether the user is one the team's system already holds (from `[ids] user`'s file).
    pub fn existing(&self, user: u32) -> bool {
        matches!(&self.users, Some(UserIds::Existing { ids, .. }) if (user as usize) < ids.len())
    }

    /// How many users exist before t = 0 (a users file's length), 0 otherwise.
    pub fn existing_users(&self) -> usize {
        match &self.users {
            Some(UserIds::Existing { ids, .. }) => ids.len(),
            _ => 0,
        }
    }

    /// The 0-based member of pool `p` the user belongs to.
    pub fn index(&self, p: usize, user: u32) -> u64 {
        let pool = &self.pools[p];
        let below = match pool.of {
            None => u64::from(user),
            Some(q) => self.index(q, user),
        };
        below / u64::from(pool.per.max(1))
    }

    /// The id of the member of pool `p` the user belongs to.
    pub fn member(&self, seed: u64, p: usize, user: u32) -> String {
        self.pools[p].ids.get(seed, self.index(p, user))
    }

    /// The pool called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.pools.iter().position(|p| p.name == name)
    }

    /// What `user.signed_up` adds for the user, in line order: `id` (with `[ids] user`),
    /// then each pool's member by the pool's name.
    pub fn fields(&self, seed: u64, user: u32) -> Vec<(&str, String)> {
        let mut out = Vec::with_capacity(self.pools.len() + 1);
        if let Some(id) = self.user_id(seed, user) {
            out.push(("id", id));
        }
        for (p, pool) in self.pools.iter().enumerate() {
            out.push((pool.name.as_str(), self.member(seed, p, user)));
        }
        out
    }

    /// One `user.<name>` the team declares, for the engine's template scope (custom
    /// action props, helper `actions`): `id` (the team's format, else `None`) or a pool's
    /// member. `None` for any other name (attributes and counters are the scope's own).
    pub fn user_field(&self, seed: u64, user: u32, name: &str) -> Option<String> {
        match name {
            "id" => self.user_id(seed, user),
            pool => self.find(pool).map(|p| self.member(seed, p, user)),
        }
    }

    /// `lookup(pool, id, field)`: the member of pool `field` that member `id` of `pool`
    /// belongs to (`lookup('team', 't-1', 'business')` → `b-1`); `field = "id"` is the id
    /// itself. `users` bounds the search of a format's ids. `None` when `id` is no member
    /// of `pool` or `field` is not a pool above it.
    pub fn lookup(
        &self,
        seed: u64,
        users: u32,
        pool: &str,
        id: &str,
        field: &str,
    ) -> Option<String> {
        let p = self.find(pool)?;
        let limit = self.members_for(p, users);
        let index = self.pools[p].ids.position(seed, id, limit)?;
        if field == "id" {
            return Some(id.to_string());
        }
        // Down from `field` through its `of` chain to `pool`: each step groups `per`.
        let top = self.find(field)?;
        let (mut at, mut group) = (top, 1u64);
        for _ in 0..self.pools.len() {
            group = group.saturating_mul(u64::from(self.pools[at].per.max(1)));
            at = self.pools[at].of?;
            if at == p {
                return Some(self.pools[top].ids.get(seed, index / group));
            }
        }
        None
    }

    /// Members of pool `p` that `users` users need.
    pub fn members_for(&self, p: usize, users: u32) -> u64 {
        let pool = &self.pools[p];
        let below = match pool.of {
            None => u64::from(users),
            Some(q) => self.members_for(q, users),
        };
        below.div_ceil(u64::from(pool.per.max(1)))
    }

    /// The names a template may read as `user.<name>` in this world: `id` (the timeline's
    /// id without `[ids] user`), `user.signed_up`'s own props, `existing` with a users
    /// file, and the pools.
    pub fn user_names(&self) -> Vec<String> {
        let mut v: Vec<String> = RESERVED
            .iter()
            .filter(|n| **n != "existing" || self.existing_users() > 0)
            .map(|n| n.to_string())
            .collect();
        v.extend(self.pools.iter().map(|p| p.name.clone()));
        v
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn readiness() -> Pools {
        let f = |t: &str| IdFormat::parse(t).unwrap();
        Pools {
            users: Some(UserIds::Format(f("c-{pad(n, 4)}"))),
            pools: vec![
                Pool {
                    name: "business".into(),
                    ids: IdSource::Format(f("b-{n}")),
                    per: 4,
                    of: Some(1),
                },
                Pool {
                    name: "team".into(),
                    ids: IdSource::Format(f("t-{n}")),
                    per: 25,
                    of: None,
                },
            ],
            sessions: None,
            entities: Vec::new(),
        }
    }

    #[test]
    fn users_go_25_to_a_team_and_teams_4_to_a_business() {
        let p = readiness();
        assert_eq!(
            p.fields(1, 0),
            vec![
                ("id", "c-0001".to_string()),
                ("business", "b-1".into()),
                ("team", "t-1".into())
            ]
        );
        assert_eq!(p.member(1, 1, 24), "t-1");
        assert_eq!(p.member(1, 1, 25), "t-2");
        assert_eq!(p.member(1, 0, 99), "b-1");
        assert_eq!(p.member(1, 0, 100), "b-2");
        assert_eq!(p.members_for(1, 2000), 80);
        assert_eq!(p.members_for(0, 2000), 20);
        assert_eq!(
            p.lookup(1, 2000, "team", "t-5", "business").as_deref(),
            Some("b-2")
        );
        assert_eq!(
            p.lookup(1, 2000, "team", "t-999", "business").as_deref(),
            Some("b-250"),
            "a later sign-up's team"
        );
        assert_eq!(p.lookup(1, 2000, "team", "team-9", "business"), None);
        assert_eq!(p.lookup(1, 2000, "business", "b-1", "team"), None);
        assert_eq!(p.user_field(1, 30, "team").as_deref(), Some("t-2"));
        assert_eq!(p.user_field(1, 30, "id").as_deref(), Some("c-0031"));
        assert_eq!(p.user_field(1, 30, "tz"), None);
    }

    #[test]
    fn existing_users_come_first_then_the_format() {
        let p = Pools {
            users: Some(UserIds::Existing {
                ids: vec!["alice".into(), "bob".into()],
                from: "users.csv".into(),
                then: IdFormat::parse("new-{n}").unwrap(),
            }),
            pools: Vec::new(),
            sessions: None,
            entities: Vec::new(),
        };
        assert_eq!(p.user_id(1, 1).as_deref(), Some("bob"));
        assert_eq!(p.user_id(1, 2).as_deref(), Some("new-3"));
        assert!(p.existing(1) && !p.existing(2));
        assert!(!Pools::default().declared());
    }

    #[test]
    fn sessions_take_the_users_team_id() {
        let mut p = readiness();
        assert_eq!(
            p.session_id(1, 30, 2),
            None,
            "the timeline's without a format"
        );
        p.sessions = Some(IdFormat::parse_session("{user_id}/{n}").unwrap());
        assert_eq!(p.session_id(1, 30, 2).as_deref(), Some("c-0031/2"));
        p.users = None;
        assert_eq!(p.session_id(1, 30, 2).as_deref(), Some("u30/2"));
    }
}
