//! `replay --concurrency N`: the world is sized so that N sessions are open at the
//! window's busiest instant, and the replay reports the sessions open it sent.

use std::path::Path;

use serde_json::Value;

use crate::common::{bin, read_json};
use crate::replay::{Server, run_log};

/// Sessions open at once in `[from, to)` of a `simulate run` log, counted from the event
/// lines: an independent count of what the replay must find.
fn peak_in_log(log: &Path, from: i64, to: i64) -> u64 {
    let (mut open, mut peak) = (0i64, 0i64);
    for line in std::fs::read_to_string(log).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let t = v["t_ms"].as_i64().unwrap();
        if t >= to {
            break;
        }
        if t >= from {
            peak = peak.max(open);
        }
        match v["event"].as_str().unwrap() {
            "session.started" => open += 1,
            "session.ended" => open -= 1,
            _ => continue,
        }
        if t >= from {
            peak = peak.max(open);
        }
    }
    peak as u64
}

#[test]
fn concurrency_sizes_the_world_and_the_replay_sees_that_peak() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(None);
    let summary = dir.path().join("summary.json");
    let replay = |summary: &Path| {
        bin()
            .args(["replay", "--concurrency", "25", "--days", "1"])
            .args(["--window", "18h..20h", "--compress", "2h:2s", "-q"])
            .args(["--target", &server.url(), "--summary-export"])
            .arg(summary)
            .output()
            .expect("runs")
    };
    let o = replay(&summary);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = read_json(&summary);
    let sized = &s["config"]["concurrency"];
    assert_eq!(sized["target"], 25);
    let users = sized["users"].as_u64().unwrap();
    let predicted = sized["peak"].as_u64().unwrap();
    assert!(
        predicted.abs_diff(25) <= 1,
        "the nearest size reaches the target: {sized}"
    );
    assert_eq!(s["config"]["world"]["users"].as_u64(), Some(users));

    // The pacer's own count of what it sent agrees with the sizing's count…
    let open = &s["sessions_open"];
    assert_eq!(open["peak"].as_u64(), Some(predicted), "{open}");
    assert!(open["median"].as_u64().unwrap() <= predicted);
    let per_second: Vec<u64> = s["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["sessions_open"].as_u64())
        .collect();
    assert_eq!(per_second.iter().max().copied(), Some(predicted));

    // …and with the event log `simulate run` writes for that world.
    let log = run_log(dir.path(), &users.to_string(), "1");
    assert_eq!(peak_in_log(&log, 18 * 3_600_000, 20 * 3_600_000), predicted);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");

    // The same flags size the same world.
    let again = dir.path().join("again.json");
    assert!(replay(&again).status.success());
    assert_eq!(read_json(&again)["config"]["concurrency"], *sized);
}

#[test]
fn concurrency_and_users_together_are_refused() {
    let o = bin()
        .args(["replay", "--concurrency", "25", "--users", "100"])
        .args(["--target", "http://127.0.0.1:9"])
        .output()
        .expect("runs");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--concurrency") && err.contains("--users"),
        "{err}"
    );
    let o = bin()
        .args([
            "replay",
            "--concurrency",
            "0",
            "--target",
            "http://127.0.0.1:9",
        ])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("out of range"), "{err}");
}
