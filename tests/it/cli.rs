//! The command line as a user runs it.

use sha2::{Digest, Sha256};

use simulate_core::run_record::RunRecord;
use simulate_core::sinks::metrics::document::MetricsDoc;

use crate::common::{bin, conforms};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

#[test]
fn run_writes_log_metrics_and_record_with_a_true_checksum() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r");
    let o = bin()
        .args([
            "run",
            "--users",
            "400",
            "--days",
            "3",
            "--threads",
            "2",
            "-q",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events = std::fs::read(out.join("events.jsonl")).expect("events.jsonl");
    let run = json(&out.join("run.json"));
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(run["events_sha256"], sha256_hex(&events));
    assert_eq!(
        run["counts"]["events"].as_u64(),
        Some(events.iter().filter(|b| **b == b'\n').count() as u64)
    );
    assert_eq!(run["config"]["users"], 400);
    assert_eq!(metrics["events"]["total"], run["counts"]["events"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(run["events_sha256"].as_str().unwrap()));
    conforms::<RunRecord>(&run, "run.v1.json");
    conforms::<MetricsDoc>(&metrics, "metrics.v1.json");

    // Engine only: nothing written, same checksum.
    let none = dir.path().join("n");
    let o = bin()
        .args([
            "run",
            "--users",
            "400",
            "--days",
            "3",
            "--threads",
            "1",
            "--format",
            "none",
            "-q",
            "--out",
        ])
        .arg(&none)
        .output()
        .expect("runs");
    assert!(o.status.success());
    assert!(!none.join("events.jsonl").exists());
    assert_eq!(
        json(&none.join("run.json"))["events_sha256"],
        run["events_sha256"]
    );
    conforms::<RunRecord>(&json(&none.join("run.json")), "run.v1.json");
    assert_eq!(
        std::fs::read(none.join("metrics.json")).unwrap(),
        std::fs::read(out.join("metrics.json")).unwrap(),
        "metrics.json is deterministic"
    );

    // Compressed: the same stream inside.
    let zst = dir.path().join("z");
    let o = bin()
        .args([
            "run",
            "--users",
            "400",
            "--days",
            "3",
            "--format",
            "jsonl.zst",
            "-q",
            "--out",
        ])
        .arg(&zst)
        .output()
        .expect("runs");
    assert!(o.status.success());
    let plain =
        zstd::decode_all(std::fs::File::open(zst.join("events.jsonl.zst")).unwrap()).unwrap();
    assert_eq!(plain, events);
}

/// A month-long world fills every figure a short one leaves null (D7 to D30
/// retention): metrics.json conforms to its schema and type with them too.
#[test]
fn a_month_of_metrics_conforms_to_its_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("m");
    let o = bin()
        .args([
            "run", "--users", "150", "--days", "31", "--format", "none", "-q",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let metrics = json(&out.join("metrics.json"));
    assert!(
        metrics["retention"]["overall"]["d30"].is_number(),
        "{}",
        metrics["retention"]
    );
    conforms::<MetricsDoc>(&metrics, "metrics.v1.json");
}

#[test]
fn an_existing_run_is_never_overwritten_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r");
    let args = [
        "run", "--users", "100", "--days", "1", "-q", "--format", "none", "--out",
    ];
    assert!(
        bin()
            .args(args)
            .arg(&out)
            .output()
            .unwrap()
            .status
            .success()
    );
    let before = std::fs::read(out.join("run.json")).unwrap();
    let o = bin()
        .args([
            "run", "--users", "100", "--days", "1", "--seed", "9", "-q", "--format", "none",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("already holds") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(out.join("run.json")).unwrap(),
        before,
        "nothing changed"
    );
    let o = bin()
        .args([
            "run", "--users", "100", "--days", "1", "--seed", "9", "-q", "--format", "none",
            "--force", "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_ne!(std::fs::read(out.join("run.json")).unwrap(), before);
}

#[test]
fn bad_flags_and_files_get_one_clear_error() {
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--format", "csv"], "jsonl, jsonl.zst or none"),
        (&["run", "--users", "0"], "--users"),
        (&["run", "--scenario", "/nonexistent/s.toml"], "cannot read"),
        (&["run", "--report-every", "10"], "no unit"),
        (&["personas", "show", "wizard"], "hunter"),
        (
            &["replay", "--mapping", "/nonexistent/m.toml"],
            "cannot read",
        ),
        // A log is replayed as written: a length given with it would be ignored.
        (
            &[
                "replay",
                "--from-log",
                "/nonexistent/events.jsonl",
                "--span",
                "2h",
                "--target",
                "http://127.0.0.1:9",
            ],
            "--span, --seed, --scenario and --personas do not apply",
        ),
        // The old flag still works, and says it is the old one.
        (
            &["replay", "--targets", "/nonexistent/m.toml"],
            "note: --targets is now --mapping",
        ),
    ];
    for (args, needle) in cases {
        let o = bin()
            .args(*args)
            .arg("-q")
            .output()
            .or_else(|_| bin().args(*args).output())
            .unwrap();
        let o = if o.status.code() == Some(2)
            && String::from_utf8_lossy(&o.stderr).contains("unexpected argument")
        {
            bin().args(*args).output().unwrap()
        } else {
            o
        };
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && err.lines().count() < 25,
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_scenario_error_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, "name = \"x\"\n\n[[phases]]\nname = \"rush\"\nkind = \"login_rush\"\nat = \"1d8x\"\nover = \"60s\"\nusers = 10\n").unwrap();
    let o = bin()
        .args(["run", "-q", "--scenario"])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("s.toml:6") && err.contains("phases[0].at") && err.contains("fix:"),
        "{err}"
    );
}

#[test]
fn personas_commands_list_show_and_draw() {
    let o = bin().args(["personas", "list"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    for name in ["hunter", "saver", "gift_claimer", "gamer", "checkin"] {
        assert!(out.contains(name), "{out}");
    }
    let o = bin().args(["personas", "show", "hunter"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("earn_points") && out.contains("notes:") && out.contains("seed 000"),
        "{out}"
    );
    let o = bin().args(["personas", "graph", "gamer"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("stateDiagram-v2") && out.contains("play --> claim"),
        "{out}"
    );
    let o = bin()
        .args(["personas", "graph", "gamer", "--format", "dot"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with("digraph") && out.contains("\"play\" -> \"claim\""),
        "{out}"
    );
    let o = bin()
        .args(["personas", "validate", "personas"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_closed_stdout_is_not_a_crash() {
    // `simulate … | head`: the reader is gone before anything is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = bin()
        .args(["personas", "show", "hunter"])
        .stdout(writer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

#[test]
fn schema_prints_the_timeline_schema_of_the_world() {
    let published = include_str!("../../schema/event.v1.json");
    let o = bin().arg("schema").output().expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), published);

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.schema.json");
    let o = bin()
        .args(["schema", "--personas", "personas", "--scenario"])
        .arg("scenarios/default.toml")
        .arg("--out")
        .arg(&file)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), published);

    // A world that cannot run gets no schema: its problems instead, exit 2.
    let bad = dir.path().join("personas");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("x.toml"), "name = \"x\"\nshare = \"most\"\n").unwrap();
    let o = bin()
        .args(["schema", "--personas"])
        .arg(&bad)
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("x.toml:2: field `share`"), "{err}");
}

#[test]
fn the_pinned_default_checksum_is_the_clis() {
    // The value default_world_checksum_is_pinned (crates/core) and docs/TIMELINE.md state.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r");
    let o = bin()
        .args(["run", "--users", "2000", "--days", "7", "--seed", "1"])
        .args(["--format", "none", "-q", "--out"])
        .arg(&out)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        json(&out.join("run.json"))["events_sha256"],
        "6ee5d57d9baf34979828f434e3650e1ef49fb33fe331e09777af66f11b3aac0c"
    );
}
