//! What the reference target lists at `/v1/challenges` and checks a goal claim against:
//! its own `challenge-0…N` (`--challenges`), or the catalog of the world it is given
//! (`--scenario`: the team's challenges and goals), so a replay of that world is held
//! to the team's goal ids, as seed 001's service holds it.

use std::collections::HashSet;

use serde_json::{Value, json};
use simulate_core::catalog::Catalog;

/// The challenges listed and, with a world, the goals a claim may name.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    pub(crate) listing: Value,
    /// The goal ids a claim may name; `None` accepts any (no world given).
    pub(crate) goals: Option<HashSet<String>>,
}

impl Catalogue {
    /// `challenge-0` … `challenge-<n - 1>`, any goal claimable: the service's own.
    pub fn generated(challenges: u16) -> Catalogue {
        Catalogue {
            listing: (0..challenges)
                .map(|c| json!({"challenge_id": format!("challenge-{c}")}))
                .collect(),
            goals: None,
        }
    }

    /// A world's catalog: each challenge with its goals (id, stat, operator, target,
    /// reward), in the ids and stat names the timeline writes; a claim of any other goal
    /// is refused.
    pub fn of(catalog: &Catalog) -> Catalogue {
        let listing = (0..catalog.challenges())
            .map(|c| {
                let goals: Vec<Value> = catalog
                    .goals_of(c)
                    .map(|g| {
                        let goal = &catalog.goals[g as usize];
                        json!({
                            "goal_id": catalog.goal_id(g),
                            "statCode": catalog.stat_name(goal.code),
                            "operator": goal.op.symbol(),
                            "target": goal.target,
                            "reward": goal.reward,
                        })
                    })
                    .collect();
                json!({
                    "challenge_id": catalog.challenge_id(c),
                    "name": catalog.challenge_name(c),
                    "goals": goals,
                })
            })
            .collect();
        let goals = (0..catalog.goals.len() as u16)
            .map(|g| catalog.goal_id(g))
            .collect();
        Catalogue {
            listing,
            goals: Some(goals),
        }
    }
}
