//! The timeline's entities a team names by format (`[ids] gift = "gift-{pad(n, 6)}"`):
//! gifts, nudges, purchases and invites, each the thing one event creates (`gift.created`)
//! and later ones may name (`gift.claimed`). The timeline keeps its own ids (`g3-1`);
//! wherever an id is rendered for the team (a replay request, a seed row) the team's is
//! written instead, numbered here.
//!
//! An entity's `n` is its 1-based number in the world: the order of the events creating
//! them in the timeline, which is the same at any thread count and for any `--days` that
//! holds them. So whoever renders must see the timeline from t = 0 in order (replay's
//! sources do, before the window too; the seed sees the whole run).

use std::collections::HashMap;

use super::pools::Team;
use crate::timeline::{Event, Props};

/// An entity of the timeline with an id of its own.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entity {
    Gift,
    Invite,
    Nudge,
    Purchase,
}

/// What the timeline says about one entity.
struct About {
    /// Its name in `[ids]` (`gift`).
    name: &'static str,
    /// The prop naming it (`gift_id`).
    prop: &'static str,
    /// The kind creating it, and the kind naming it later, if any.
    creates: &'static str,
    refers: Option<&'static str>,
    /// The letter its timeline ids start with (`g3-1`).
    letter: char,
}

/// In [`Entity`] order.
const ABOUT: [About; 4] = [
    About {
        name: "gift",
        prop: "gift_id",
        creates: "gift.created",
        refers: Some("gift.claimed"),
        letter: 'g',
    },
    About {
        name: "invite",
        prop: "invite_id",
        creates: "user.invited",
        refers: None,
        letter: 'i',
    },
    About {
        name: "nudge",
        prop: "nudge_id",
        creates: "nudge.sent",
        refers: Some("nudge.opened"),
        letter: 'n',
    },
    About {
        name: "purchase",
        prop: "purchase_id",
        creates: "purchase.completed",
        refers: None,
        letter: 'p',
    },
];

impl Entity {
    pub const ALL: [Entity; 4] = [
        Entity::Gift,
        Entity::Invite,
        Entity::Nudge,
        Entity::Purchase,
    ];

    fn about(self) -> &'static About {
        &ABOUT[self as usize]
    }

    /// Its name in `[ids]` (`gift`).
    pub fn name(self) -> &'static str {
        self.about().name
    }

    /// The prop naming it in the events about it (`gift_id`).
    pub fn prop(self) -> &'static str {
        self.about().prop
    }

    /// The entity an event kind names, and whether the kind creates it.
    pub fn of_kind(kind: &str) -> Option<(Entity, bool)> {
        Entity::ALL.into_iter().find_map(|e| {
            let a = e.about();
            if a.creates == kind {
                Some((e, true))
            } else if a.refers == Some(kind) {
                Some((e, false))
            } else {
                None
            }
        })
    }

    /// The timeline's id of the entity an event names (`g3-1`), as its line writes it.
    pub fn named_by(e: &Event) -> Option<(Entity, bool, String)> {
        let (entity, creates, owner, n) = match e.props {
            Props::GiftCreated { gift, .. } => (Entity::Gift, true, gift.creator, gift.n),
            Props::GiftClaimed { gift, .. } => (Entity::Gift, false, gift.creator, gift.n),
            Props::NudgeSent { nudge, .. } => (Entity::Nudge, true, e.user, nudge),
            Props::NudgeOpened { nudge, .. } => (Entity::Nudge, false, e.user, nudge),
            Props::Purchase { n, .. } => (Entity::Purchase, true, e.user, n),
            Props::Invited { invite } => (Entity::Invite, true, e.user, invite),
            _ => return None,
        };
        Some((
            entity,
            creates,
            format!("{}{owner}-{n}", entity.about().letter),
        ))
    }

    /// The user a timeline id belongs to (`g3-1` → 3): its creator, buyer, inviter.
    fn owner(id: &str) -> Option<u32> {
        id.get(1..)?.split_once('-')?.0.parse().ok()
    }
}

/// The team's ids of the world's entities, numbered as the timeline creates them.
#[derive(Debug)]
pub struct EntityIds {
    team: Team,
    /// Per entity, the last number given.
    next: [u64; 4],
    /// Timeline id → the team's, for entities a later event may name (gifts, nudges), or
    /// for all with `keep_all` (a seed renders rows of every kind after the run).
    known: HashMap<Box<str>, Box<str>>,
    keep_all: bool,
}

impl EntityIds {
    /// For a world that names any entity by format; `None` otherwise (nothing to number).
    pub fn new(team: &Team, keep_all: bool) -> Option<EntityIds> {
        (!team.pools.entities.is_empty()).then(|| EntityIds {
            team: team.clone(),
            next: [0; 4],
            known: HashMap::new(),
            keep_all,
        })
    }

    /// An event of `kind` naming the entity whose timeline id is `id`, seen in timeline
    /// order: the team's id (a creation takes the next number), or `None` when the world
    /// names this entity its own way or its creation was never seen.
    pub fn see(&mut self, kind: &str, id: &str) -> Option<Box<str>> {
        let (entity, creates) = Entity::of_kind(kind)?;
        self.seen(entity, creates, id)
    }

    /// [`EntityIds::see`] for an event from the engine: the prop it names and its value.
    pub fn see_event(&mut self, e: &Event) -> Option<(&'static str, Box<str>)> {
        let (entity, creates, id) = Entity::named_by(e)?;
        self.seen(entity, creates, &id).map(|t| (entity.prop(), t))
    }

    fn seen(&mut self, entity: Entity, creates: bool, id: &str) -> Option<Box<str>> {
        let format = self.team.pools.entity_format(entity)?;
        if !creates {
            return self.known.get(id).cloned();
        }
        self.next[entity as usize] += 1;
        let n = self.next[entity as usize];
        let (seed, pools) = (self.team.seed, &self.team.pools);
        let owner = Entity::owner(id).unwrap_or(0);
        let user = pools
            .user_id(seed, owner)
            .unwrap_or_else(|| crate::ids::user_id(owner));
        let team_id: Box<str> = format.render_session(seed, &user, id, n).into();
        let referred = entity.about().refers.is_some();
        if referred || self.keep_all {
            self.known.insert(id.into(), team_id.clone());
        }
        Some(team_id)
    }

    /// The team's id of an entity seen before (by its timeline id).
    pub fn get(&self, id: &str) -> Option<&str> {
        self.known.get(id).map(|s| &**s)
    }
}

/// Fed the whole timeline (a seed's run), it numbers every entity the rows will name.
impl crate::timeline::Sink for EntityIds {
    fn event(&mut self, e: &Event, _: &[u8]) -> std::io::Result<bool> {
        self.see_event(e);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::ids::IdFormat;
    use crate::world::pools::Pools;

    fn team() -> Team {
        Team {
            seed: 1,
            users: 10,
            pools: Pools {
                entities: vec![(
                    Entity::Gift,
                    IdFormat::parse_entity("gift-{pad(n, 6)}", "gift_id").unwrap(),
                )],
                ..Pools::default()
            },
        }
    }

    #[test]
    fn gifts_are_numbered_in_timeline_order_and_claims_name_them() {
        let mut ids = EntityIds::new(&team(), false).unwrap();
        assert_eq!(
            ids.see("gift.created", "g7-1").as_deref(),
            Some("gift-000001")
        );
        assert_eq!(
            ids.see("gift.created", "g2-1").as_deref(),
            Some("gift-000002")
        );
        assert_eq!(
            ids.see("gift.claimed", "g7-1").as_deref(),
            Some("gift-000001")
        );
        assert_eq!(ids.see("gift.claimed", "g9-9"), None, "never created");
        assert_eq!(ids.see("purchase.completed", "p1-1"), None, "no format");
        assert_eq!(ids.see("session.started", "s1-1"), None);
        assert!(EntityIds::new(&Team::default(), false).is_none());
    }

    #[test]
    fn the_engines_events_name_what_their_lines_write() {
        use crate::timeline::{ClaimOutcome, GiftId};
        let e = Event {
            t_ms: 0,
            user: 4,
            seq: 1,
            session: 1,
            persona: 0,
            props: Props::GiftClaimed {
                gift: GiftId { creator: 3, n: 2 },
                outcome: ClaimOutcome::Expired,
            },
        };
        assert_eq!(
            Entity::named_by(&e),
            Some((Entity::Gift, false, "g3-2".to_string()))
        );
        assert_eq!(Entity::owner("g3-2"), Some(3));
    }
}
