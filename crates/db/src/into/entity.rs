//! The timeline's entities a seed mapping can put in a table, and the scope a column's
//! template reads for one of their rows.
//!
//! Every entity is one of the projection's tables (crates/db/src/projection.rs): the
//! events are its behaviour log, the end-of-window state (balances, goal progress, gifts
//! and claims, streaks) its folded tables. So the team's rows are rendered from exactly
//! the rows `simulate seed` writes into its own schema: one projection, two layouts.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};
use simulate_core::ids;
use simulate_core::template::{Ctx, FieldSet, KindProps, PropFields, Ty, Type, UserFields};
use simulate_core::world::entities::EntityIds;
use simulate_core::world::kinds::KindTable;
use simulate_core::world::pools::Team;

use crate::projection::{ColumnType, Table};

/// What fills a table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    Users,
    Sessions,
    Events,
    PointsLedger,
    CheckIns,
    Purchases,
    Nudges,
    Gifts,
    GiftClaims,
    GoalProgress,
    Challenges,
    Goals,
}

const ALL: [(&str, Entity, Table); 12] = [
    ("users", Entity::Users, Table::Users),
    ("sessions", Entity::Sessions, Table::Sessions),
    ("events", Entity::Events, Table::BehaviorLogs),
    ("points_ledger", Entity::PointsLedger, Table::PointsLedger),
    ("check_ins", Entity::CheckIns, Table::CheckIns),
    ("purchases", Entity::Purchases, Table::Purchases),
    ("nudges", Entity::Nudges, Table::Nudges),
    ("gifts", Entity::Gifts, Table::Gifts),
    ("gift_claims", Entity::GiftClaims, Table::GiftClaims),
    (
        "goal_progress",
        Entity::GoalProgress,
        Table::UserGoalProgress,
    ),
    ("challenges", Entity::Challenges, Table::Challenges),
    ("goals", Entity::Goals, Table::Goals),
];

impl Entity {
    pub fn named(name: &str) -> Option<Entity> {
        ALL.iter().find(|(n, _, _)| *n == name).map(|(_, e, _)| *e)
    }

    pub fn names() -> Vec<&'static str> {
        ALL.iter().map(|(n, _, _)| *n).collect()
    }

    pub fn name(self) -> &'static str {
        ALL.iter().find(|(_, e, _)| *e == self).map_or("", |x| x.0)
    }

    /// The projection tables its rows read besides its own: a goal's progress reads the
    /// catalog's goals for the goal's `challenge_id`.
    pub fn reads(self) -> &'static [Table] {
        match self {
            Entity::GoalProgress => &[Table::Goals],
            _ => &[],
        }
    }

    /// The projection table its rows come from.
    pub fn source(self) -> Table {
        ALL.iter()
            .find(|(_, e, _)| *e == self)
            .map_or(Table::Users, |x| x.2)
    }

    /// Whether its rows belong to a user (the catalog's do not).
    pub fn has_user(self) -> bool {
        !matches!(self, Entity::Challenges | Entity::Goals)
    }

    /// Whether its rows have a text `id` an aggregate's `by` can match.
    pub fn has_text_id(self) -> bool {
        let t = self.source();
        t.columns()
            .iter()
            .zip(t.column_types())
            .any(|(c, ty)| *c == "id" && *ty == ColumnType::Text)
    }

    /// What a column's template may read for a row of this entity: the event fields
    /// (`user_id`, `seq`, `ts`, …), `user.<name>` (the user's id in the team's format and
    /// pools, checked against the world by the seed), and, as `props.<name>`, an
    /// event's props or another entity's own columns plus `n`, the row's number from 1
    /// in timeline order, plus the table's aggregates (`extra`).
    pub fn fields(
        self,
        kinds: &KindTable,
        only: Option<&[String]>,
        extra: &[(String, Type)],
    ) -> FieldSet {
        let props = match (self, only) {
            (Entity::Events, None) => PropFields::Any,
            (Entity::Events, Some(names)) => PropFields::Kinds(
                names
                    .iter()
                    .filter_map(|n| kinds.id(n))
                    .map(|k| KindProps::of(kinds.get(k)))
                    .collect(),
            ),
            (e, _) => {
                let mut p = e.props();
                p.props.extend(extra.iter().cloned());
                PropFields::Kinds(vec![p])
            }
        };
        FieldSet {
            event: true,
            ts: true,
            token: false,
            env: true,
            vars: false,
            props,
            user: self.has_user().then(UserFields::signed_up),
        }
    }

    /// This entity's columns as the props a template reads.
    fn props(self) -> KindProps {
        let t = self.source();
        let mut props: Vec<(String, Type)> = t
            .columns()
            .iter()
            .zip(t.column_types())
            .map(|(c, ty)| {
                let ty = match ty {
                    ColumnType::Int => Ty::Int,
                    ColumnType::Text => Ty::Str,
                    ColumnType::Ts => Ty::Ts,
                    ColumnType::Json => Ty::Json,
                };
                (c.to_string(), Type::of(ty).nullable(true))
            })
            .collect();
        props.push(("n".into(), Type::of(Ty::Int)));
        if self == Entity::GoalProgress {
            // The goal's challenge, from the catalog (see `write::rows`).
            props.push(("challenge_id".into(), Type::of(Ty::Str).nullable(true)));
        }
        KindProps {
            kind: self.name().to_string(),
            props,
        }
    }
}

/// The world a seed renders rows in: its ids and pools (`[ids]`, `[pools.*]`) for
/// `user.<name>`, `lookup(…)` and `{session_id}`, and the team's ids of its entities
/// (`[ids] gift`), numbered by the seed's run ([`EntityIds`] as one of its sinks).
#[derive(Debug, Default)]
pub struct SeedWorld {
    pub team: Arc<Team>,
    /// Filled once by the run (after the plan against the catalog, which borrows the
    /// mapping) when the world names an entity by format.
    pub entities: std::sync::OnceLock<EntityIds>,
}

impl SeedWorld {
    /// The `user.<name>` names a seed template may read: `id` and the pools.
    pub fn names(&self) -> Vec<String> {
        let mut v = vec!["id".to_string()];
        v.extend(self.team.pools.pools.iter().map(|p| p.name.clone()));
        v
    }

    /// The pools a `lookup(pool, id, field)` may name.
    pub fn pools(&self) -> Vec<String> {
        self.team
            .pools
            .pools
            .iter()
            .map(|p| p.name.clone())
            .collect()
    }

    /// The user's `names` as a template's `user` scope reads them: `id` in the team's
    /// format (the timeline's `u42` without `[ids] user`), pools by name, as replay
    /// renders them from the user's `user.signed_up`.
    pub fn scope(&self, uid: u32, names: &[String]) -> Map<String, Value> {
        let (seed, pools) = (self.team.seed, &self.team.pools);
        names
            .iter()
            .map(|n| {
                let v = match n.as_str() {
                    "id" => pools
                        .user_id(seed, uid)
                        .unwrap_or_else(|| ids::user_id(uid)),
                    other => pools.user_field(seed, uid, other).unwrap_or_default(),
                };
                (n.clone(), Value::String(v))
            })
            .collect()
    }

    /// The team's id of the entity a row of `entity` names, with the prop naming it
    /// (a gift's `id`, a claim's `gift_id`, an event's `gift_id`), when the world names
    /// that entity by format.
    pub fn entity_of(&self, entity: Entity, row: &Row) -> Option<(&'static str, Box<str>)> {
        use simulate_core::world::entities::Entity as E;
        let ids = self.entities.get()?;
        let (prop, named) = match entity {
            Entity::Gifts => ("id", E::Gift),
            Entity::GiftClaims => ("gift_id", E::Gift),
            Entity::Purchases => ("id", E::Purchase),
            Entity::Nudges => ("id", E::Nudge),
            Entity::Events => {
                let (e, _) = E::of_kind(&row.event)?;
                (e.prop(), e)
            }
            _ => return None,
        };
        self.team.pools.entity_format(named)?;
        let id = ids.get(&row.prop_text(prop)?)?;
        Some((prop, id.into()))
    }
}

/// One source row made into the JSON a template's [`Ctx`] reads.
pub struct Row {
    pub json: Value,
    /// The user the row belongs to (the timeline's number), if any.
    pub uid: Option<u32>,
    /// `user.<name>`'s values, when the table's templates read any (shared by the rows
    /// of one user: computed once per user, not per row).
    pub user: Option<Arc<Map<String, Value>>>,
    pub user_id: String,
    pub seq: u32,
    pub session: u32,
    pub t_ms: i64,
    pub event: String,
    /// The world's ids and pools, for `lookup(…)` and `{session_id}` (set by `rows`).
    pub team: Option<Arc<Team>>,
    /// The entity the row names in the team's format ([`SeedWorld::entity_of`]).
    pub entity: Option<(&'static str, Box<str>)>,
}

impl Row {
    /// The row's fields (COPY text, `None` for NULL) of `entity`, the `n`th in timeline order.
    pub fn of(entity: Entity, fields: &[Option<Cow<'_, str>>], n: u64) -> Row {
        if entity == Entity::Events {
            return Row::event(fields);
        }
        let t = entity.source();
        let mut props = Map::new();
        let mut ts = Value::Null;
        let mut user = None;
        for ((name, ty), f) in t.columns().iter().zip(t.column_types()).zip(fields) {
            let v = match (f, ty) {
                (None, _) => Value::Null,
                (Some(s), ColumnType::Int) => s.parse::<i64>().map_or(Value::Null, Value::from),
                (Some(s), ColumnType::Json) => serde_json::from_str(s).unwrap_or(Value::Null),
                (Some(s), _) => Value::String(s.to_string()),
            };
            if *ty == ColumnType::Ts && ts.is_null() {
                ts = v.clone();
            }
            let is_user = match entity {
                Entity::Users => *name == "id",
                Entity::Gifts => *name == "creator_id",
                _ => *name == "user_id",
            };
            if is_user {
                user = v.as_i64();
            }
            props.insert(name.to_string(), v);
        }
        props.insert("n".into(), Value::from(n));
        let user_id = user.map(|u| ids::user_id(u as u32)).unwrap_or_default();
        let persona = props.get("persona").cloned().unwrap_or(Value::Null);
        let mut json = Map::new();
        // A session row is its session: `{session_id}` names it (in the team's format
        // with `[ids] session`).
        let session = match entity {
            Entity::Sessions => {
                let key = props.get("session_key").cloned().unwrap_or(Value::Null);
                json.insert("session_id".into(), key);
                props.get("session_no").and_then(Value::as_u64).unwrap_or(0) as u32
            }
            _ => 0,
        };
        json.insert("user_id".into(), Value::String(user_id.clone()));
        json.insert("ts".into(), ts);
        json.insert("persona".into(), persona);
        json.insert("props".into(), Value::Object(props));
        Row {
            json: Value::Object(json),
            uid: user.map(|u| u as u32),
            user: None,
            user_id,
            seq: n as u32,
            session,
            t_ms: 0,
            event: entity.name().to_string(),
            team: None,
            entity: None,
        }
    }

    /// A behaviour-log row: user_id, seq, session_id, ts, t_ms, event, props.
    fn event(f: &[Option<Cow<'_, str>>]) -> Row {
        let s = |i: usize| f.get(i).and_then(|v| v.as_deref());
        let uid: u32 = s(0).and_then(|v| v.parse().ok()).unwrap_or(0);
        let user_id = ids::user_id(uid);
        let session_id = s(2).map(str::to_string);
        let session = session_id
            .as_deref()
            .and_then(|k| k.rsplit('-').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let props = s(6)
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null);
        let mut json = Map::new();
        json.insert("user_id".into(), Value::String(user_id.clone()));
        json.insert(
            "session_id".into(),
            session_id.map_or(Value::Null, Value::String),
        );
        json.insert(
            "ts".into(),
            s(3).map_or(Value::Null, |t| Value::String(t.into())),
        );
        json.insert("props".into(), props);
        Row {
            json: Value::Object(json),
            uid: Some(uid),
            user: None,
            user_id,
            seq: s(1).and_then(|v| v.parse().ok()).unwrap_or(0),
            session,
            t_ms: s(4).and_then(|v| v.parse().ok()).unwrap_or(0),
            event: s(5).unwrap_or("").to_string(),
            team: None,
            entity: None,
        }
    }

    /// The scope a column's template renders in.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            user_id: &self.user_id,
            seq: self.seq,
            session: self.session,
            t_ms: self.t_ms,
            event: &self.event,
            line: b"",
            json: Some(&self.json),
            token: None,
            vars: &[],
            user: self.user.as_deref(),
            team: self.team.as_deref(),
            entity: self.entity.as_ref().map(|(p, id)| (*p, &**id)),
        }
    }

    /// A prop of the row as text (an aggregate's `by` key).
    pub fn prop_text(&self, name: &str) -> Option<String> {
        match self.json.get("props")?.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            v => Some(v.to_string()),
        }
    }

    /// Sets a prop the row's templates read (an aggregate's value).
    pub fn set_prop(&mut self, name: &str, v: Value) {
        if let Some(Value::Object(p)) = self.json.get_mut("props") {
            p.insert(name.to_string(), v);
        }
    }

    /// How messages name the row: its timeline ids.
    pub fn named(&self) -> String {
        if self.user_id.is_empty() {
            format!("{} #{}", self.event, self.seq)
        } else if self.event.contains('.') {
            ids::event_id(&self.user_id, self.seq)
        } else {
            format!("{} #{} (user {})", self.event, self.seq, self.user_id)
        }
    }
}
