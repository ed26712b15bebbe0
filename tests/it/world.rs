//! A team's own world (`world.toml`: declared kinds and custom actions) through the
//! binary: the same bytes at any thread count, its events valid against the schema
//! `simulate schema` writes for it, counted in metrics.json, replayed against the
//! reference target (`simulate serve`), and bad declarations refused with file:line.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{bin, read_json};

const CUSTOM: [&str; 3] = ["ai.chat_sent", "daily_metrics.posted", "dashboard.viewed"];

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/custom-world")
}

fn personas() -> PathBuf {
    data().join("personas")
}

/// `simulate run` of the custom world into `out`, with `threads` threads.
fn run(out: &Path, threads: &str) {
    let o = bin()
        .args([
            "run",
            "--users",
            "300",
            "--days",
            "2",
            "-q",
            "--threads",
            threads,
        ])
        .arg("--personas")
        .arg(personas())
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_custom_world_is_the_same_at_any_thread_count_fits_its_schema_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    run(&one, "1");
    run(&two, "2");
    let log = std::fs::read(one.join("events.jsonl")).unwrap();
    assert!(
        log == std::fs::read(two.join("events.jsonl")).unwrap(),
        "byte-identical at 1 and 2 threads"
    );

    let o = bin()
        .arg("schema")
        .arg("--personas")
        .arg(personas())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let schema: Value = serde_json::from_slice(&o.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for line in log.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{v}: {errors:?}");
        *counts
            .entry(v["event"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    // A prop of the wrong type is caught by the schema: the check above can fail.
    let mut bad: Value = serde_json::from_slice(
        log.split(|b| *b == b'\n')
            .find(|l| l.windows(16).any(|w| w == b"dashboard.viewed"))
            .unwrap(),
    )
    .unwrap();
    bad["props"]["widgets"] = Value::from("four");
    assert!(!validator.is_valid(&bad));

    let metrics = read_json(&one.join("metrics.json"));
    for kind in CUSTOM {
        let n = counts.get(kind).copied().unwrap_or(0);
        assert!(n > 20, "{kind}: {n} events");
        assert_eq!(
            metrics["events"]["by_kind"][kind], n,
            "{kind} in metrics.json"
        );
    }
    let in_series: u64 = metrics["series"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["events_by_kind"]["dashboard.viewed"].as_u64())
        .sum();
    assert_eq!(
        in_series, counts["dashboard.viewed"],
        "the series count them too"
    );
    let first_views: Vec<i64> = log
        .split(|b| *b == b'\n')
        .filter(|l| l.windows(16).any(|w| w == b"dashboard.viewed"))
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .filter(|v| v["user_id"] == "u0")
        .map(|v| v["props"]["views"].as_i64().unwrap())
        .collect();
    let expected: Vec<i64> = (1..=first_views.len() as i64).collect();
    assert_eq!(first_views, expected, "the counter counts each success");
}

/// A log of a custom world replays with its kinds named (the mapping is compiled for the
/// world its run.json names): custom kinds are sent and counted under their names.
#[test]
fn a_custom_worlds_log_replays_with_its_own_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    run(&out, "2");
    let (_rt, url, _, ledger) = super::replay::reference_target(Default::default(), false);
    let summary = dir.path().join("summary.json");
    let o = crate::common::replay_log(
        &out.join("events.jsonl"),
        &data().join("mapping.toml"),
        &url,
        "2d:3s",
    )
    .arg("--summary-export")
    .arg(&summary)
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stats = ledger.lock().unwrap().to_json();
    let summary = read_json(&summary);
    let events: Vec<&str> = summary["by_event"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tags"]["event"].as_str().unwrap())
        .collect();
    for kind in CUSTOM {
        assert!(
            stats["received"][kind].as_u64().unwrap_or(0) > 0,
            "{kind}: {stats}"
        );
        assert!(events.contains(&kind), "{kind}: {events:?}");
    }
    let unmapped = &summary["skipped"]["unmapped"];
    assert!(unmapped.get("unknown").is_none(), "{unmapped}");
}

#[test]
fn a_custom_world_replays_against_the_reference_target() {
    let (_rt, url, _, ledger) = super::replay::reference_target(Default::default(), false);
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let replay = || {
        let o = bin()
            .args([
                "replay",
                "--users",
                "150",
                "--days",
                "1",
                "--compress",
                "1d:3s",
            ])
            .arg("--personas")
            .arg(personas())
            .arg("--mapping")
            .arg(data().join("mapping.toml"))
            .args(["--target", &url, "-q"])
            .arg("--summary-export")
            .arg(&summary)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    replay();
    let stats = ledger.lock().unwrap().to_json();
    for kind in CUSTOM {
        assert!(
            stats["received"][kind].as_u64().unwrap_or(0) > 0,
            "{kind} received: {stats}"
        );
    }
    let summary = read_json(&summary);
    let events: Vec<&str> = summary["by_event"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["tags"]["event"].as_str().unwrap())
        .collect();
    for kind in CUSTOM {
        assert!(
            events.contains(&kind),
            "{kind} in the summary's by_event: {events:?}"
        );
    }
    let first = stats["total"].as_u64().unwrap();
    replay();
    let again = ledger.lock().unwrap().to_json();
    assert_eq!(again["total"], first, "a second replay is all duplicates");
    assert_eq!(again["duplicates"], first);
}

/// A copy of the custom world with `edit` applied to one of its files.
fn broken(dir: &Path, file: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let to = dir.join("personas");
    std::fs::create_dir_all(&to).unwrap();
    for f in ["world.toml", "client.toml"] {
        let text = std::fs::read_to_string(personas().join(f)).unwrap();
        let text = if f == file { edit(text) } else { text };
        std::fs::write(to.join(f), text).unwrap();
    }
    to
}

#[test]
fn bad_declarations_and_mappings_are_refused_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let folder = broken(dir.path(), "world.toml", |t| {
        t.replace("widgets = \"int\"", "widgets = \"integer\"")
            .replace("emits = \"ai.chat_sent\"", "emits = \"ai.chat\"")
    });
    let o = bin()
        .args(["personas", "validate"])
        .arg(&folder)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("world.toml:5") && err.contains("`integer` is not a prop type"),
        "{err}"
    );
    assert!(
        err.contains("world.toml:36") && err.contains("`ai.chat` is not a declared kind"),
        "{err}"
    );

    let mapping = dir.path().join("mapping.toml");
    std::fs::write(
        &mapping,
        std::fs::read_to_string(data().join("mapping.toml"))
            .unwrap()
            .replace("{props.mood}", "{props.moood}")
            .replace("\"ai.chat_sent\"]", "\"ai.chat_sennt\"]"),
    )
    .unwrap();
    let o = bin()
        .args([
            "replay",
            "--users",
            "10",
            "--days",
            "1",
            "--target",
            "http://127.0.0.1:9",
        ])
        .arg("--personas")
        .arg(personas())
        .arg("--mapping")
        .arg(&mapping)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`ai.chat_sennt` is not an event kind"),
        "{err}"
    );
    assert!(
        err.contains("`props.moood` is not a prop of `daily_metrics.posted`"),
        "{err}"
    );
}

#[test]
fn a_phase_bursts_a_custom_action() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["run", "-q", "--threads", "2", "--format", "none"])
        .arg("--personas")
        .arg(personas())
        .arg("--scenario")
        .arg(data().join("scenario.toml"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let metrics = read_json(&dir.path().join("metrics.json"));
    let phase = metrics["events"]["by_phase"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == "evening metrics")
        .expect("the phase's figures");
    let posted = phase["events"]["daily_metrics.posted"]
        .as_u64()
        .unwrap_or(0);
    // A fifth of 300 users (less those churned or in a session at 21:00) post once, beside
    // the usual sessions, which open on the dashboard: posts outnumber dashboard views.
    let viewed = phase["events"]["dashboard.viewed"].as_u64().unwrap_or(0);
    assert!(
        (40..=120).contains(&posted) && posted > 2 * viewed,
        "{posted} posts, {viewed} dashboard views in the burst: {phase}"
    );

    let scenario = dir.path().join("bad.toml");
    std::fs::write(
        &scenario,
        std::fs::read_to_string(data().join("scenario.toml"))
            .unwrap()
            .replace("\"post_metrics\"", "\"post_metric\""),
    )
    .unwrap();
    let o = bin()
        .args(["run", "-q", "--format", "none"])
        .arg("--personas")
        .arg(personas())
        .arg("--scenario")
        .arg(&scenario)
        .arg("--out")
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:13")
            && err.contains("`post_metric` is not a custom action")
            && err.contains("post_metrics"),
        "{err}"
    );
}
