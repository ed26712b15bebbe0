//! Which phase an event belongs to: `run`'s metrics.json and `replay`'s statistics tag
//! by the same rule (docs/SCENARIOS.md), against a real server on loopback.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::common::{bin, read_json as json};
use crate::replay::Server;

/// A login rush, then a game burst ten minutes after it (inside the rush's window of its
/// minute plus ten), in a world that ends an hour later so a replay can cover it all.
const RUSH_THEN_BURST: &str = r#"
name = "rush-then-burst"
users = 300
span = "1d9h"
seed = 5

[[phases]]
name = "rush"
kind = "login_rush"
at = "1d8h"
over = "60s"
users = 100

[[phases]]
name = "burst"
kind = "game_burst"
at = "1d8h10m"
users = 40
updates = { dist = "uniform", min = 5, max = 10 }
"#;

/// metrics.json's `events.by_phase`: phase → event → count.
fn run_by_phase(run: &Path) -> BTreeMap<String, BTreeMap<String, u64>> {
    let m = json(&run.join("metrics.json"));
    let mut out = BTreeMap::new();
    for p in m["events"]["by_phase"].as_array().unwrap() {
        let events = p["events"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        out.insert(p["phase"].as_str().unwrap().to_string(), events);
    }
    out
}

/// A replay summary's requests: phase → event → count, `steady` left out.
fn replay_by_phase(summary: &Value) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for g in summary["groups"].as_array().unwrap() {
        let phase = g["tags"]["phase"].as_str().unwrap();
        if phase != "steady" {
            *out.entry(phase.into())
                .or_default()
                .entry(g["tags"]["event"].as_str().unwrap().into())
                .or_default() += g["count"].as_u64().unwrap();
        }
    }
    out
}

#[test]
fn a_burst_after_a_login_rush_is_the_bursts_in_run_and_replay_alike() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("rush.toml");
    std::fs::write(&scenario, RUSH_THEN_BURST).unwrap();
    let run = dir.path().join("run");
    let o = bin()
        .args(["run", "-q", "--scenario"])
        .arg(&scenario)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ran = run_by_phase(&run);
    // Every burst user sends at least 5 stat updates within a second of 1d8h10m: all of
    // them are the burst's, none the rush's (the rush's window still runs to 1d8h11m).
    let burst_updates = ran["burst"]["stat.updated"];
    assert!(burst_updates >= 5 * 30, "{ran:?}");
    let rush_updates = ran["rush"].get("stat.updated").copied().unwrap_or(0);
    assert!(rush_updates < burst_updates, "{ran:?}");

    // Replays of the engine and of the log send the same events under the same phases.
    let server = Server::start(None);
    let replay = |source: &[&str], name: &str| {
        let out = dir.path().join(name);
        let o = bin()
            .arg("replay")
            .args(source)
            .args(["--window", "1d7h59m..", "--compress", "61m:3s", "-q"])
            .args(["--target", &server.url(), "--summary-export"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        replay_by_phase(&json(&out))
    };
    let log = run.join("events.jsonl");
    let scenario = scenario.to_str().unwrap();
    for sent in [
        replay(&["--scenario", scenario], "engine.json"),
        replay(&["--from-log", log.to_str().unwrap()], "log.json"),
    ] {
        assert_eq!(sent["burst"]["stat.updated"], burst_updates, "{sent:?}");
        // Every kind the replay sent counts as many requests as metrics.json's events.
        for (phase, events) in &sent {
            for (event, n) in events {
                assert_eq!(Some(n), ran[phase].get(event), "{phase} {event}: {sent:?}");
            }
        }
    }
}
