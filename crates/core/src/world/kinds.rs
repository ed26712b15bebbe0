//! The event kinds a world's timeline holds, each with its props typed: the nineteen
//! built-in kinds, and the kinds a team declares in its personas folder's `world.toml`.
//! One table feeds the JSON Schema of the timeline ([`super::schema`]), the template
//! checker (a template reading `props.goalId` of `goal.claimed` is refused with the
//! kind's props in the fix), the line writer and every per-kind count.

use crate::timeline::{DAY_PARTS, EVENT_KINDS, PROFILE_FIELDS, StatCode};

/// An index into a [`KindTable`]: built-in kinds first, in [`EVENT_KINDS`] order, then
/// custom kinds in name order.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct KindId(pub u16);

/// Who produces an event of this kind: a client (replay sends it) or the server (replay
/// skips it unless a mapping sends it).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// What an `id:<entity>` prop names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    User,
    Session,
    Gift,
    Nudge,
    Purchase,
    Invite,
    Challenge,
    Goal,
    /// A pool the scenario declares (`[pools.<name>]`): its ids are the team's.
    Pool(Box<str>),
}

impl Entity {
    /// The pattern of the timeline's own ids for this entity (`u42`, `g7-2`), when the
    /// timeline writes them; `None` for ids in the team's format.
    pub fn pattern(&self) -> Option<&'static str> {
        Some(match self {
            Entity::User => "^u[0-9]+$",
            Entity::Session => "^s[0-9]+-[0-9]+$",
            Entity::Gift => "^g[0-9]+-[0-9]+$",
            Entity::Nudge => "^n[0-9]+-[0-9]+$",
            Entity::Purchase => "^p[0-9]+-[0-9]+$",
            Entity::Invite => "^i[0-9]+-[0-9]+$",
            Entity::Challenge => "^challenge-[0-9]+$",
            Entity::Goal => "^goal-[0-9]+$",
            Entity::Pool(_) => return None,
        })
    }
}

/// A prop's type, as `world.toml` names them (`int`, `float:1`, `id:team`, …).
#[derive(Clone, Debug, PartialEq)]
pub enum PropType {
    Int,
    /// Written with this many decimals, exactly.
    Float {
        decimals: u8,
    },
    Str,
    Bool,
    /// RFC 3339 UTC with milliseconds in the line.
    Ts,
    /// `YYYY-MM-DD`.
    Date,
    /// Any JSON value.
    Json,
    Id(Entity),
    Enum(Box<[Box<str>]>),
}

/// One prop of a kind.
#[derive(Clone, Debug, PartialEq)]
pub struct PropDecl {
    pub name: Box<str>,
    pub ty: PropType,
    pub nullable: bool,
    /// Written only sometimes (session.started's `phase`, with trigger `phase`).
    pub optional: bool,
    /// Bounds the timeline keeps (a mood is 1–5, a habit 0–1), stated in the schema.
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// A pattern every value matches (a currency's three capitals), stated in the schema.
    pub pattern: Option<Box<str>>,
    /// `"name":`, escaped once, for the line writer.
    pub key_json: Box<[u8]>,
}

impl PropDecl {
    pub fn new(name: &str, ty: PropType) -> PropDecl {
        let mut key = serde_json::to_vec(name).unwrap_or_default();
        key.push(b':');
        PropDecl {
            name: name.into(),
            ty,
            nullable: false,
            optional: false,
            min: None,
            max: None,
            pattern: None,
            key_json: key.into(),
        }
    }

    pub(crate) fn nullable(mut self) -> Self {
        self.nullable = true;
        self
    }

    fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    fn min(mut self, v: i64) -> Self {
        self.min = Some(v);
        self
    }

    fn range(mut self, lo: i64, hi: i64) -> Self {
        self.min = Some(lo);
        self.max = Some(hi);
        self
    }

    fn pattern(mut self, p: &str) -> Self {
        self.pattern = Some(p.into());
        self
    }
}

/// One event kind.
#[derive(Clone, Debug, PartialEq)]
pub struct KindDecl {
    pub name: Box<str>,
    pub side: Side,
    /// In the order the line writes them (built-ins: today's order; custom: by name).
    pub props: Box<[PropDecl]>,
    pub builtin: bool,
    /// Where a custom kind is declared (world.toml), for errors.
    pub line: Option<u32>,
}

/// Every kind of a world, indexed by [`KindId`].
#[derive(Clone, Debug, PartialEq)]
pub struct KindTable {
    kinds: Vec<KindDecl>,
}

impl KindTable {
    /// The nineteen built-in kinds, typed as the timeline writes them.
    pub fn builtin() -> KindTable {
        KindTable {
            kinds: builtin_kinds(),
        }
    }

    /// The table of a world with the team's `[ids]` and `[pools]`: `user.signed_up` then
    /// carries `id`, one string prop per pool, and (with a users file) `existing`, as the
    /// line writer adds them (docs/SCENARIOS.md). Unchanged for a world declaring none.
    pub fn with_pools(mut self, pools: &crate::world::pools::Pools) -> KindTable {
        let Some(k) = self.kinds.iter_mut().find(|k| &*k.name == "user.signed_up") else {
            return self;
        };
        let mut props = k.props.to_vec();
        if pools.users.is_some() {
            props.push(PropDecl::new("id", PropType::Str));
        }
        for p in &pools.pools {
            props.push(PropDecl::new(&p.name, PropType::Str));
        }
        if pools.existing_users() > 0 {
            props.push(PropDecl::new("existing", PropType::Bool).optional());
        }
        k.props = props.into();
        self
    }

    /// The table of a world whose catalog is the team's (`[catalog] file`, inline
    /// challenges or `stats`): goal and challenge ids are the catalog's, and stat codes
    /// the team's names, each listed. Unchanged for a generated catalog.
    pub fn with_catalog(mut self, catalog: &crate::catalog::Catalog) -> KindTable {
        let Some(l) = &catalog.labels else {
            return self;
        };
        let list = |v: &[String]| PropType::Enum(v.iter().map(|s| s.as_str().into()).collect());
        for k in self.kinds.iter_mut().filter(|k| k.builtin) {
            let mut props = k.props.to_vec();
            for p in &mut props {
                let ty = match (&p.ty, &*p.name) {
                    (PropType::Id(Entity::Goal), _) => list(&l.goals),
                    (PropType::Id(Entity::Challenge), _) => list(&l.challenges),
                    (PropType::Enum(_), "statCode") => list(&l.stats),
                    _ => continue,
                };
                p.ty = ty;
            }
            k.props = props.into();
        }
        self
    }

    /// The table of a world whose personas come with a `world.toml`: `user.signed_up`
    /// then carries their own attributes (`tz`: a category's label, else a number),
    /// optional when not every persona has one. Unchanged for any other world.
    pub fn with_attributes(mut self, personas: &[crate::persona::Persona]) -> KindTable {
        let attrs = crate::persona::signed_up_attributes(personas);
        let Some(k) = self.kinds.iter_mut().find(|k| &*k.name == "user.signed_up") else {
            return self;
        };
        let mut props = k.props.to_vec();
        for a in attrs {
            let ty = if a.category {
                PropType::Str
            } else {
                PropType::Float { decimals: 3 }
            };
            let d = PropDecl::new(&a.name, ty).nullable();
            props.push(if a.everyone { d } else { d.optional() });
        }
        k.props = props.into();
        self
    }

    /// The built-in kinds, then these custom ones (already in name order, as
    /// `persona::declared` keeps them): their [`KindId`]s follow the built-ins'.
    pub fn with_custom(custom: &[KindDecl]) -> KindTable {
        let mut kinds = builtin_kinds();
        kinds.extend(custom.iter().cloned());
        KindTable { kinds }
    }

    /// The kinds of the world these personas live in: the built-in ones and those their
    /// folder's `world.toml` declares.
    pub fn of(personas: &[crate::persona::Persona]) -> KindTable {
        match personas.first() {
            Some(p) => KindTable::with_custom(&p.declared.kinds),
            None => KindTable::builtin(),
        }
    }

    /// The whole world's table, as its timeline writes it: the personas' custom kinds,
    /// the scenario's ids and pools in `user.signed_up`, custom attributes, and a team's
    /// catalog ids. `simulate schema` prints it; `verify` checks stored props against it.
    pub fn of_world(
        personas: &[crate::persona::Persona],
        scenario: &crate::scenario::Scenario,
    ) -> KindTable {
        KindTable::of(personas)
            .with_pools(&scenario.pools)
            .with_catalog(&scenario.catalog)
            .with_attributes(personas)
    }

    pub fn id(&self, name: &str) -> Option<KindId> {
        self.kinds
            .iter()
            .position(|k| &*k.name == name)
            .map(|i| KindId(i as u16))
    }

    pub fn get(&self, k: KindId) -> &KindDecl {
        &self.kinds[k.0 as usize]
    }

    pub fn name(&self, k: KindId) -> &str {
        &self.kinds[k.0 as usize].name
    }

    /// A kind's props: what a template mapped from it may read.
    pub fn props(&self, k: KindId) -> &[PropDecl] {
        &self.kinds[k.0 as usize].props
    }

    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &KindDecl> {
        self.kinds.iter()
    }

    /// The kinds' names, for fixes ("use one of: …").
    pub fn names(&self) -> Vec<&str> {
        self.kinds.iter().map(|k| &*k.name).collect()
    }
}

/// A world's kind names by index ([`KindTable`] order: built-in, then custom), for
/// consumers that hold only an index (a replay's due events, its statistics). Each world
/// carries its own, so two worlds in one process never see each other's kinds; the names
/// are interned (`timeline::intern`), so a name costs nothing to hand out.
#[derive(Clone, Debug, PartialEq)]
pub struct KindNames(std::sync::Arc<[&'static str]>);

impl KindNames {
    /// The names of a table's kinds.
    pub fn of(table: &KindTable) -> KindNames {
        KindNames(
            table
                .iter()
                .map(|k| crate::timeline::intern(&k.name))
                .collect(),
        )
    }

    /// The built-in kinds only.
    pub fn builtin() -> KindNames {
        KindNames(crate::timeline::EVENT_KINDS.into())
    }

    /// A kind's name by its index.
    #[inline]
    pub fn name(&self, kind: u16) -> Option<&'static str> {
        self.0.get(kind as usize).copied()
    }

    /// A kind's index by its name.
    pub fn index(&self, name: &str) -> Option<u16> {
        self.0.iter().position(|k| *k == name).map(|k| k as u16)
    }

    /// Every name, by index: what a threshold's `{event:…}` may name in this world.
    pub fn all(&self) -> &[&'static str] {
        &self.0
    }

    /// The built-in kinds followed by `custom` ones, in that order: the table of a world
    /// known only by its names (`report merge` reads them from the shards' summaries).
    pub fn with_custom<'a>(custom: impl IntoIterator<Item = &'a str>) -> KindNames {
        let mut all: Vec<&'static str> = crate::timeline::EVENT_KINDS.to_vec();
        all.extend(custom.into_iter().map(crate::timeline::intern));
        KindNames(all.into())
    }
}

impl Default for KindNames {
    fn default() -> KindNames {
        KindNames::builtin()
    }
}

impl PropType {
    /// A type as `world.toml` writes it: `int`, `float`, `float:2`, `str`, `bool`, `ts`,
    /// `date`, `json`, `id:<entity>`, `enum:a|b|c`, each with an optional trailing `?`
    /// (nullable). `Err` is the message.
    pub fn parse(text: &str) -> Result<(PropType, bool), String> {
        let (body, nullable) = match text.strip_suffix('?') {
            Some(b) => (b, true),
            None => (text, false),
        };
        let ty = match body {
            "int" => PropType::Int,
            "float" => PropType::Float { decimals: 3 },
            "str" => PropType::Str,
            "bool" => PropType::Bool,
            "ts" => PropType::Ts,
            "date" => PropType::Date,
            "json" => PropType::Json,
            _ => {
                if let Some(d) = body.strip_prefix("float:") {
                    match d.parse::<u8>() {
                        Ok(decimals) if decimals <= 9 => PropType::Float { decimals },
                        _ => return Err(format!("`{d}` is not a number of decimals (0 to 9)")),
                    }
                } else if let Some(e) = body.strip_prefix("id:") {
                    PropType::Id(Entity::parse(e)?)
                } else if let Some(list) = body.strip_prefix("enum:") {
                    let names: Vec<&str> = list.split('|').map(str::trim).collect();
                    if names.iter().any(|l| l.is_empty()) {
                        return Err(format!("`{body}` has an empty label"));
                    }
                    labels(&names)
                } else {
                    return Err(format!("`{text}` is not a prop type"));
                }
            }
        };
        Ok((ty, nullable))
    }

    /// The words for errors: `int`, `enum:a|b`.
    pub fn words(&self) -> String {
        match self {
            PropType::Int => "int".into(),
            PropType::Float { decimals } => format!("float:{decimals}"),
            PropType::Str => "str".into(),
            PropType::Bool => "bool".into(),
            PropType::Ts => "ts".into(),
            PropType::Date => "date".into(),
            PropType::Json => "json".into(),
            PropType::Id(e) => format!("id:{}", e.name()),
            PropType::Enum(l) => format!("enum:{}", l.join("|")),
        }
    }
}

/// The types a prop may take, for fixes.
pub const PROP_TYPES: &str = "int, float, float:2, str, bool, ts, date, json, id:<entity>, enum:a|b|c (a trailing ? allows null)";

impl Entity {
    fn parse(name: &str) -> Result<Entity, String> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(format!(
                "`{name}` is not an entity name (lowercase letters, digits, _)"
            ));
        }
        Ok(match name {
            "user" => Entity::User,
            "session" => Entity::Session,
            "gift" => Entity::Gift,
            "nudge" => Entity::Nudge,
            "purchase" => Entity::Purchase,
            "invite" => Entity::Invite,
            "challenge" => Entity::Challenge,
            "goal" => Entity::Goal,
            other => Entity::Pool(other.into()),
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Entity::User => "user",
            Entity::Session => "session",
            Entity::Gift => "gift",
            Entity::Nudge => "nudge",
            Entity::Purchase => "purchase",
            Entity::Invite => "invite",
            Entity::Challenge => "challenge",
            Entity::Goal => "goal",
            Entity::Pool(p) => p,
        }
    }
}

fn labels(names: &[&str]) -> PropType {
    PropType::Enum(names.iter().map(|n| Box::from(*n)).collect())
}

fn kind(name: &str, side: Side, props: Vec<PropDecl>) -> KindDecl {
    KindDecl {
        name: name.into(),
        side,
        props: props.into(),
        builtin: true,
        line: None,
    }
}

/// The built-in kinds, in [`EVENT_KINDS`] order, each prop as `timeline::json` writes it.
fn builtin_kinds() -> Vec<KindDecl> {
    let mut kinds = lifecycle_kinds();
    kinds.extend(progress_kinds());
    kinds.extend(social_kinds());
    debug_assert!(
        kinds
            .iter()
            .map(|k| &*k.name)
            .eq(EVENT_KINDS.iter().copied())
    );
    kinds
}

fn habit() -> PropDecl {
    PropDecl::new("habit", PropType::Float { decimals: 3 }).range(0, 1)
}

fn id(name: &str, e: Entity) -> PropDecl {
    PropDecl::new(name, PropType::Id(e))
}

/// Sign-up, sessions, logins and nudges.
fn lifecycle_kinds() -> Vec<KindDecl> {
    use PropType::{Int, Str};
    use Side::{Client, Server};
    let p = PropDecl::new;
    vec![
        kind(
            "user.signed_up",
            Client,
            vec![
                p("source", labels(&["launch", "organic", "invite"])),
                id("invited_by", Entity::User).nullable(),
                p("platform", Str).nullable(),
                p("locale", Str).nullable(),
                p("room", Int).min(0),
            ],
        ),
        kind(
            "session.started",
            Client,
            vec![
                p(
                    "trigger",
                    labels(&["internal", "nudge", "broadcast", "phase"]),
                ),
                p("phase", Int).min(0).optional(),
                habit(),
                p("room", Int).min(0),
            ],
        ),
        kind(
            "session.ended",
            Client,
            vec![
                p(
                    "reason",
                    labels(&["completed", "abandoned", "timeout", "outage"]),
                ),
                p("duration_ms", Int).min(0),
                habit(),
                p("reward_tries", Int).min(0),
                p("investment_tries", Int).min(0),
            ],
        ),
        kind(
            "user.logged_in",
            Client,
            vec![p("platform", Str).nullable()],
        ),
        kind(
            "nudge.sent",
            Server,
            vec![
                id("nudge_id", Entity::Nudge),
                p("channel", labels(&["push"])),
                p("campaign", Int).nullable().min(0),
            ],
        ),
        kind(
            "nudge.opened",
            Client,
            vec![id("nudge_id", Entity::Nudge), p("delay_ms", Int).min(0)],
        ),
    ]
}

/// Points, challenges, stats and goals.
fn progress_kinds() -> Vec<KindDecl> {
    use PropType::Int;
    use Side::{Client, Server};
    let p = PropDecl::new;
    let stat_codes: Vec<&str> = StatCode::ALL.iter().map(|c| c.name()).collect();
    vec![
        kind(
            "points.earned",
            Client,
            vec![
                p("amount", Int).min(1),
                p("source", labels(&["activity", "goal"])),
                p("balance", Int).min(0),
            ],
        ),
        kind(
            "points.redeemed",
            Client,
            vec![p("amount", Int).min(1), p("balance", Int).min(0)],
        ),
        kind(
            "challenge.viewed",
            Client,
            vec![id("challenge_id", Entity::Challenge)],
        ),
        kind(
            "stat.updated",
            Client,
            vec![
                p("statCode", labels(&stat_codes)),
                p("value", Int).min(0),
                p("delta", Int).min(0),
            ],
        ),
        kind(
            "goal.completed",
            Server,
            vec![
                id("goal_id", Entity::Goal),
                id("challenge_id", Entity::Challenge),
                p("statCode", labels(&stat_codes)),
                p("target", Int).min(0),
            ],
        ),
        kind(
            "goal.claimed",
            Client,
            vec![
                id("goal_id", Entity::Goal),
                id("challenge_id", Entity::Challenge),
                p("reward", Int).min(0),
            ],
        ),
    ]
}

/// Gifts, check-ins, purchases, profiles, invites and churn.
fn social_kinds() -> Vec<KindDecl> {
    use PropType::{Int, Str};
    use Side::{Client, Server};
    let p = PropDecl::new;
    vec![
        kind(
            "gift.created",
            Client,
            vec![
                id("gift_id", Entity::Gift),
                p("shares", Int).min(1),
                p("value", Int).min(0),
                p("room", Int).min(0),
            ],
        ),
        kind(
            "gift.claimed",
            Client,
            vec![
                id("gift_id", Entity::Gift),
                p("outcome", labels(&["won", "exhausted", "expired"])),
                p("share", Int).nullable().min(1),
            ],
        ),
        kind(
            "checkin.created",
            Client,
            vec![
                p("dayPart", labels(DAY_PARTS)),
                p("mood", Int).range(1, 5),
                p("streak", Int).min(1),
            ],
        ),
        kind(
            "purchase.completed",
            Client,
            vec![
                id("purchase_id", Entity::Purchase),
                p("amount", Int).min(1),
                p("currency", Str).pattern("^[A-Z]{3}$"),
                p("sku", Str),
            ],
        ),
        kind(
            "profile.updated",
            Client,
            vec![p("field", labels(PROFILE_FIELDS))],
        ),
        kind(
            "user.invited",
            Client,
            vec![id("invite_id", Entity::Invite)],
        ),
        kind(
            "user.churned",
            Server,
            vec![habit(), p("days_since_signup", Int).min(0)],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two worlds in one process each name their own custom kinds: no table is shared.
    #[test]
    fn each_worlds_kind_names_are_its_own() {
        let world = |name: &str| KindTable::with_custom(&[kind(name, Side::Client, Vec::new())]);
        let (a, b) = (
            KindNames::of(&world("dashboard.viewed")),
            KindNames::of(&world("ai.chat_sent")),
        );
        let first = EVENT_KINDS.len() as u16;
        assert_eq!(a.name(first), Some("dashboard.viewed"));
        assert_eq!(b.name(first), Some("ai.chat_sent"));
        assert_eq!(a.index("ai.chat_sent"), None);
        assert_eq!(b.index("ai.chat_sent"), Some(first));
        assert_eq!(KindNames::builtin().name(first), None);
        assert_eq!(
            a.index("gift.created"),
            KindNames::builtin().index("gift.created")
        );
    }

    #[test]
    fn builtins_follow_event_kinds_and_their_sides() {
        let t = KindTable::builtin();
        assert_eq!(t.names(), EVENT_KINDS);
        let server: Vec<&str> = t
            .iter()
            .filter(|k| k.side == Side::Server)
            .map(|k| &*k.name)
            .collect();
        assert_eq!(server, ["nudge.sent", "goal.completed", "user.churned"]);
        let claimed = t.id("goal.claimed").unwrap();
        assert_eq!(t.name(claimed), "goal.claimed");
        let props: Vec<&str> = t.props(claimed).iter().map(|p| &*p.name).collect();
        assert_eq!(props, ["goal_id", "challenge_id", "reward"]);
        assert_eq!(&*t.props(claimed)[2].key_json, br#""reward":"#);
        assert_eq!(t.id("dashboard.viewed"), None);
    }
}
