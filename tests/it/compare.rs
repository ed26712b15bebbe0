//! `run --replicates` and `simulate compare`: replicates are single runs with
//! consecutive seeds, their intervals are sound, and a persona change that lowers D1
//! fails a `--fail-if 'D1 decreased'` gate while a run against itself passes.

use std::path::{Path, PathBuf};

use serde_json::Value;
use simulate_core::compare::CompareDoc;
use simulate_core::replicates::ReplicatesDoc;

use crate::common::{bin, conforms, read_json};
use crate::seed::text;

/// A small world (300 users, two days: D1 has a complete day to count).
const WORLD: [&str; 6] = ["--users", "300", "--span", "2d", "--threads", "2"];

fn run(out: &Path, extra: &[&str]) -> std::process::Output {
    let o = bin()
        .args(["run", "-q"])
        .args(WORLD)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", text(&o));
    o
}

fn compare(a: &Path, b: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .arg("compare")
        .arg(a)
        .arg(b)
        .args(extra)
        .output()
        .expect("runs")
}

/// Every interval in a folded tree: (path, value).
fn intervals(v: &Value, path: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if m.contains_key("mean") && m.contains_key("n") => {
            out.push((path, v.clone()))
        }
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| intervals(v, format!("{path}.{k}"), out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| intervals(v, format!("{path}[{i}]"), out)),
        _ => {}
    }
}

#[test]
fn replicates_are_the_single_runs_of_consecutive_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("r");
    let o = run(&out, &["--seed", "7", "--replicates", "3"]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("3 replicates folded"), "{said}");
    let summary = read_json(&out.join("summary.json"));
    conforms::<ReplicatesDoc>(&summary, "replicates.v1.json");
    let reps = summary["replicates"].as_array().expect("replicates");
    let seeds: Vec<u64> = reps.iter().map(|r| r["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds, [7, 8, 9]);
    assert_eq!(summary["folded_seeds"], serde_json::json!([7, 8, 9]));
    let sums: Vec<&str> = reps
        .iter()
        .map(|r| r["events_sha256"].as_str().unwrap())
        .collect();
    assert!(sums[0] != sums[1] && sums[1] != sums[2] && sums[0] != sums[2]);
    for (seed, sum) in seeds.iter().zip(&sums) {
        let folder = out.join(format!("replicates/{seed}"));
        // Metrics and record only: no event log unless --format names one.
        assert!(folder.join("metrics.json").is_file() && !folder.join("events.jsonl").exists());
        let record = read_json(&folder.join("run.json"));
        assert_eq!(record["events_sha256"], *sum);
        assert_eq!(record["config"]["seed"], *seed);
        // The same world run alone with that seed gives the same timeline.
        let single = dir.path().join(format!("s{seed}"));
        run(&single, &["--seed", &seed.to_string(), "--format", "none"]);
        assert_eq!(
            read_json(&single.join("run.json"))["events_sha256"],
            *sum,
            "seed {seed}"
        );
    }
    let mut all = Vec::new();
    intervals(&summary["metrics"], String::new(), &mut all);
    assert!(all.len() > 100, "{} intervals", all.len());
    let mut spread = 0;
    for (path, i) in &all {
        let (mean, n) = (i["mean"].as_f64().unwrap(), i["n"].as_u64().unwrap());
        if n < 2 {
            continue;
        }
        let (lo, hi) = (i["lo"].as_f64().unwrap(), i["hi"].as_f64().unwrap());
        assert!(lo <= mean && mean <= hi, "{path}: {i}");
        spread += usize::from(hi > lo);
    }
    assert!(spread > 20, "only {spread} figures vary between seeds");
    // What every seed shares has a zero-width interval at its value.
    let span = &summary["metrics"]["window"]["span_ms"];
    assert_eq!(
        (&span["mean"], &span["lo"], &span["hi"], &span["n"]),
        (
            &Value::from(172_800_000.0),
            &Value::from(172_800_000.0),
            &Value::from(172_800_000.0),
            &Value::from(3)
        )
    );
    assert_eq!(summary["metrics"]["window"]["span"], "2d");
}

/// Personas whose users drift away ten times as fast: D1 falls.
fn churnier_personas(dir: &Path) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("personas");
    let out = dir.join("churny");
    std::fs::create_dir_all(&out).unwrap();
    for f in std::fs::read_dir(shipped).unwrap() {
        let f = f.unwrap().path();
        let text = std::fs::read_to_string(&f).unwrap();
        let churny = text.replace(
            "churn_hazard = { value = 6.0",
            "churn_hazard = { value = 60.0",
        );
        assert_ne!(text, churny, "{} has no churn_hazard of 6.0", f.display());
        std::fs::write(out.join(f.file_name().unwrap()), churny).unwrap();
    }
    out
}

#[test]
fn compare_gates_a_persona_change_that_lowers_d1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run(&a, &["--replicates", "3"]);
    let personas = churnier_personas(dir.path());
    run(
        &b,
        &[
            "--replicates",
            "3",
            "--personas",
            personas.to_str().unwrap(),
        ],
    );

    // A run against itself: no difference anywhere, and the gate passes.
    let o = compare(
        &a,
        &a,
        &[
            "--fail-if",
            "D1 decreased, revenue decreased by more than 1%",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("3 replicates, seeds 42..=44"), "{table}");
    for line in table
        .lines()
        .filter(|l| l.starts_with("D1 ") || l.starts_with("revenue "))
    {
        assert!(line.ends_with("no difference"), "{line}");
    }
    assert!(table.contains("ok      D1 decreased"), "{table}");

    // The churnier world: D1 falls beyond the noise, so the gate fails (exit 99).
    let o = compare(
        &a,
        &b,
        &[
            "--json",
            "--fail-if",
            "D1 decreased",
            "--fail-if",
            "D1 increased",
        ],
    );
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("json");
    conforms::<CompareDoc>(&doc, "compare.v1.json");
    let d1 = doc["figures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["figure"] == "D1")
        .expect("D1");
    assert_eq!(d1["noise"], "exceeds_noise", "{d1}");
    assert!(d1["difference_hi"].as_f64().unwrap() < 0.0, "{d1}");
    let rules: Vec<(&Value, &Value)> = doc["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (&r["fired"], &r["basis"]))
        .collect();
    assert_eq!(
        rules,
        [
            (&Value::from(true), &Value::from("interval")),
            (&Value::from(false), &Value::from("interval"))
        ]
    );

    // One replicate's folder is a single run: noise unknown, judged on the values.
    let o = compare(
        &a.join("replicates/42"),
        &b.join("replicates/42"),
        &["--fail-if", "D1 decreased"],
    );
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("1 run, seed 42") && table.contains("noise unknown"),
        "{table}"
    );
    assert!(
        table.contains("FAILED  D1 decreased  (judged on the values alone"),
        "{table}"
    );
}

#[test]
fn bad_rules_and_folders_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = compare(dir.path(), dir.path(), &["--fail-if", "D7 fell"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--fail-if `D7 fell`: it says neither `decreased` nor `increased`"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("<figure> decreased|increased [by more than X%]"),
        "{}",
        text(&o)
    );
    let o = compare(dir.path(), dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("holds neither summary.json nor metrics.json"),
        "{}",
        text(&o)
    );
}
