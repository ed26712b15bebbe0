//! `--span` as users type it: seed 004's two-hour world, and a span carried from `seed` to
//! `verify` and checked by `replay`.

use crate::common::{bin, read_json};
use crate::seed::text;

#[test]
fn seed004_two_hours_of_100_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No --out: the default folder names the span.
    let o = bin()
        .current_dir(dir.path())
        .args([
            "run",
            "--users",
            "100",
            "--span",
            "2h",
            "--report-every",
            "10m",
        ])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", text(&o));
    let out = dir.path().join("output/default-s42-u100-2h");
    let run = read_json(&out.join("run.json"));
    assert_eq!(run["config"]["span"], "2h");
    assert_eq!(run["config"]["span_ms"], 7_200_000);
    assert_eq!(run["config"]["days"], 1);
    // A world with no complete day: avg_dau is null, its one day covers 2 h, and both
    // documents still match their schemas and types.
    let metrics = read_json(&out.join("metrics.json"));
    assert!(metrics["engagement"]["avg_dau"].is_null(), "{metrics}");
    assert_eq!(metrics["engagement"]["days"][0]["covered_ms"], 7_200_000);
    assert_eq!(metrics["window"]["span"], "2h");
    crate::common::conforms::<simulate_core::run_record::RunRecord>(&run, "run.v1.json");
    crate::common::conforms::<simulate_core::sinks::metrics::document::MetricsDoc>(
        &metrics,
        "metrics.v1.json",
    );
    let signed = run["counts"]["users_signed_up"].as_u64().expect("count");
    assert!(signed >= 90, "{signed} of 100 users signed up in 2 h");
    let log = std::fs::read_to_string(out.join("events.jsonl")).expect("events.jsonl");
    let last = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line")["t_ms"].clone())
        .filter_map(|t| t.as_i64())
        .max()
        .expect("events");
    assert!(
        last < 7_200_000,
        "an event at t_ms {last}, past the 2 h span"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains(" users over 2h in "));
    // The analytics line every 10 simulated minutes: 12 of them in 2 h.
    let lines: Vec<String> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.trim_start().starts_with('+') && l.contains("│ events"))
        .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    assert_eq!(lines.len(), 12, "{lines:?}");
    assert_eq!((lines[0].as_str(), lines[11].as_str()), ("+10m", "+2h"));
}

#[test]
fn a_seeded_span_and_start_are_verified_and_bound_the_replay_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("w.sqlite");
    let db = db.to_str().expect("utf-8 path");
    let run = |args: &[&str]| bin().args(args).output().expect("runs");
    let evening = "2026-01-05T18:00Z";
    let o = run(&[
        "seed", "-q", "--users", "150", "--span", "36h", "--start", evening, "--sqlite", db,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(" users over 36h, sha256 "),
        "{}",
        text(&o)
    );
    // The same length and start written another way are the same world …
    let same = ["--span", "1d12h", "--start", "2026-01-05T18:00:00Z"];
    let o = run(&[&["verify", "-q", "--sqlite", db][..], &same].concat());
    assert!(o.status.success(), "{}", text(&o));
    // … a different one is refused, whichever flag says it.
    for (flag, value) in [("--span", "2d"), ("--days", "2")] {
        let o = run(&["verify", "-q", "--sqlite", db, flag, value]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let said = format!("{flag} {value} (the seed used 36h)");
        assert!(text(&o).contains(&said), "{}", text(&o));
    }
    let o = run(&["verify", "-q", "--sqlite", db, "--start", "2026-01-05"]);
    assert!(text(&o).contains("--start 2026-01-05 (the seed used 2026-01-05T18:00Z)"));
    // A window past an explicit span is refused before anything is sent.
    let o = run(&[
        "replay",
        "--span",
        "2h",
        "--window",
        "1h..3h",
        "--target",
        "http://127.0.0.1:9",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--window ends at 3h but the world is 2h long")
            && text(&o).contains("use --span 3h (or more)"),
        "{}",
        text(&o)
    );
    // Bad lengths and starts are all named at once.
    let o = run(&[
        "run",
        "--span",
        "2h",
        "--days",
        "1",
        "--start",
        "2026-01-05T18:00",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--span and --days both set the world's length"));
    assert!(text(&o).contains("2026-01-05T18:00 has no time zone; times are UTC"));
    assert!(text(&o).contains("fix: write 2026-01-05T18:00Z"));
}
