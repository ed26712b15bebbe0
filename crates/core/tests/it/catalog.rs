//! A team's own catalog (`[[catalog.challenges]]`, renamed stats, operators) and gift
//! sizes: the same bytes at any thread count, the team's ids and names in the lines, and
//! every completion meeting its requirement at the instant it is written.

use std::collections::BTreeMap;

use serde_json::Value;
use simulate_core::diagnostic::Source;
use simulate_core::scenario::{Overrides, Scenario};
use simulate_core::world::kinds::KindTable;

use crate::common::{Spec, simulate};

/// Three challenges with the team's ids; `frags` is the team's name for enemy_kills.
const SCENARIO: &str = r#"
signups_per_day = 0.0

[gifts]
sizes = [50, 100]

[catalog]
stats = { frags = "enemy_kills", logins = "login_count" }

[[catalog.challenges]]
id = "ch-daily"
name = "Daily"

[[catalog.challenges.goals]]
id = "daily-frags"
requirement = { statCode = "frags", operator = ">=", targetValue = 20 }
reward = { type = "WALLET", amount = 15 }

[[catalog.challenges.goals]]
id = "daily-logins"
stat = "logins"
operator = ">"
target = 2
reward = 5

[[catalog.challenges]]
id = "ch-games"

[[catalog.challenges.goals]]
id = "games-exactly-3"
stat = "games_played"
operator = "=="
target = 3

[[catalog.challenges.goals]]
id = "games-10"
stat = "games_played"
target = 10
reward = 40

[[catalog.challenges]]
id = "ch-hard"

[[catalog.challenges.goals]]
id = "hard-frags"
stat = "frags"
target = 400
reward = 100

[[phases]]
name = "wave"
kind = "goal_wave"
at = "30h"
tiers = [{ users = "10%", after = "0m" }]

[[phases]]
name = "storm"
kind = "gift_storm"
at = "20h"
over = "2m"
users = "5%"
"#;

/// (stat name, operator, target) of each goal id.
fn requirements() -> BTreeMap<&'static str, (&'static str, &'static str, u64, &'static str)> {
    BTreeMap::from([
        ("daily-frags", ("frags", ">=", 20, "ch-daily")),
        ("daily-logins", ("logins", ">", 2, "ch-daily")),
        ("games-exactly-3", ("games_played", "==", 3, "ch-games")),
        ("games-10", ("games_played", ">=", 10, "ch-games")),
        ("hard-frags", ("frags", ">=", 400, "ch-hard")),
    ])
}

#[test]
fn a_teams_catalog_is_deterministic_and_named_the_teams_way() {
    let spec = |threads| Spec {
        users: 1500,
        days: 2,
        threads,
        scenario: Some(SCENARIO),
        ..Default::default()
    };
    let one = simulate(spec(1));
    let two = simulate(spec(2));
    assert_eq!(one.checksum, two.checksum);
    // `simulate schema` of this world lists the team's ids and names, and every line
    // validates against it.
    let scenario = Scenario::from_source(
        &Source::new("team.toml", SCENARIO),
        &Overrides::default(),
        &one.personas,
    )
    .unwrap();
    let kinds = KindTable::builtin().with_catalog(&scenario.catalog);
    let schema = serde_json::to_value(kinds.json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let reqs = requirements();
    // Per user, the last value of each stat as the lines name it.
    let mut stats: BTreeMap<(String, String), u64> = BTreeMap::new();
    let (mut completed, mut claimed, mut gifts) = (BTreeMap::new(), 0, 0);
    for line in one.lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let e: Value = serde_json::from_slice(line).unwrap();
        if let Err(err) = validator.validate(&e) {
            panic!("{e}\n{err}");
        }
        let (user, p) = (e["user_id"].as_str().unwrap().to_string(), &e["props"]);
        match e["event"].as_str().unwrap() {
            "stat.updated" => {
                let code = p["statCode"].as_str().unwrap();
                assert!(["frags", "logins", "games_played"].contains(&code), "{e}");
                stats.insert((user, code.to_string()), p["value"].as_u64().unwrap());
            }
            "challenge.viewed" => {
                let c = p["challenge_id"].as_str().unwrap();
                assert!(["ch-daily", "ch-games", "ch-hard"].contains(&c), "{e}");
            }
            "goal.completed" => {
                let goal = p["goal_id"].as_str().unwrap();
                let (code, op, target, challenge) = reqs[goal];
                assert_eq!(p["challenge_id"], challenge, "{e}");
                assert_eq!(p["statCode"], code, "{e}");
                let value = stats.get(&(user, code.to_string())).copied().unwrap_or(0);
                let met = match op {
                    ">=" => value >= target,
                    ">" => value > target,
                    _ => value == target,
                };
                assert!(met, "{goal} completed at {code} = {value}: {e}");
                *completed.entry(goal.to_string()).or_insert(0) += 1;
            }
            "goal.claimed" => {
                let goal = p["goal_id"].as_str().unwrap();
                assert_eq!(p["challenge_id"], reqs[goal].3, "{e}");
                claimed += 1;
                let mut generated = e.clone();
                generated["props"]["goal_id"] = "goal-0".into();
                assert!(!validator.is_valid(&generated), "{generated}");
            }
            "gift.created" => {
                let shares = p["shares"].as_u64().unwrap();
                assert!(shares == 50 || shares == 100, "{e}");
                gifts += 1;
            }
            _ => {}
        }
    }
    assert!(claimed > 100, "{claimed} claims; completed: {completed:?}");
    assert!(completed.len() >= 3, "{completed:?}");
    assert!(completed.contains_key("games-exactly-3"), "{completed:?}");
    assert!(gifts >= 75, "{gifts} gifts");
}
