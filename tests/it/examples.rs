//! The worked examples, one folder per seed system (examples/<system>/, issue 19 item 7):
//! each world is valid and has the shape its README promises, measured on a run of it and
//! on a replay of it to servers on loopback that record what arrives.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::bin;

// One module per example: each runs the world at a test's size, checks the shape its
// README promises, and replays part of it to servers on loopback that record what arrives.
mod challenge_service;
mod checkins;
mod gift_app;
mod points_app;
mod readiness;
mod seeds;
mod support;

/// An example's personas folder.
fn personas(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .join("personas")
}

#[test]
fn the_examples_personas_validate() {
    for name in [
        "points-app",
        "challenge-service",
        "gift-app",
        "readiness",
        "checkins",
    ] {
        let o = bin()
            .args(["personas", "validate"])
            .arg(personas(name))
            .output()
            .expect("runs");
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Seed 001's `generateChallengeConfig`: 10 challenges of 50 goals, each goal a stat code
/// of the three, `>=` a target of 10 to 109, and a reward; goal ids unique across
/// challenges (they key `user_goal_progress` with the user).
#[test]
fn challenge_service_catalog_has_the_seeds_shape() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/challenge-service/challenges.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let challenges = doc["challenges"].as_array().unwrap();
    assert_eq!(challenges.len(), 10);
    let mut ids = BTreeSet::new();
    for (c, ch) in challenges.iter().enumerate() {
        assert_eq!(ch["id"], format!("challenge-{c}"));
        let goals = ch["goals"].as_array().unwrap();
        assert_eq!(goals.len(), 50, "{}", ch["id"]);
        for g in goals {
            assert!(ids.insert(g["id"].as_str().unwrap().to_string()), "{g}");
            let req = &g["requirement"];
            let code = req["statCode"].as_str().unwrap();
            assert!(
                ["enemy_kills", "login_count", "games_played"].contains(&code),
                "{g}"
            );
            assert_eq!(req["operator"], ">=");
            let target = req["targetValue"].as_i64().unwrap();
            assert!((10..110).contains(&target), "{g}");
            assert!(g["reward"]["amount"].as_i64().unwrap() > 0, "{g}");
        }
    }
    assert_eq!(ids.len(), 500);
}
