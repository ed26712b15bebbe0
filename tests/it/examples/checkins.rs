//! examples/checkins (seed 004): the generator's run and the Locust mix of check-ins and stats.

use super::support::*;

/// Seed 004, both phases: the generator's 100 users over two hours with analytics every
/// ten minutes and ids `user_1` …; then a day of 2,000 users replayed: check-ins and stats
/// views 80/20 (the Locust weights 4:1), each user created before their first check-in.
#[test]
fn checkins_generator_and_the_locust_mix() {
    let ex = example("checkins");
    ex.validates();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("phase-a");
    let o = ex
        .command("run", &["--report-every", "10m", "--threads", "2", "--out"])
        .arg(&out)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = [o.stdout, o.stderr].concat();
    let analytics = String::from_utf8_lossy(&printed)
        .lines()
        .filter(|l| l.contains("│ events"))
        .count();
    assert_eq!(analytics, 12, "a line every 10 simulated minutes of 2 h");
    assert!(out.join("metrics.json").exists());
    let phase_a: Vec<Value> = std::fs::read_to_string(out.join("events.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (user, p) in signups(&phase_a) {
        assert_eq!(p["id"], format!("user_{}", user_number(&user) + 1));
    }
    let world = ["--users", "2000", "--days", "1"];
    let events = ex.run(dir.path(), &world);
    ex.declares_what_it_maps(&events);
    let http = Recorder::start();
    let s = ex.replay(
        dir.path(),
        &http.url,
        &[&world[..], &["--compress", "1d:8s"]].concat(),
        &[],
    );
    all_answered(&s);
    mix_within_two_points(&s, &[("checkin", 80.0), ("stats", 20.0)]);
    check_ins_follow_their_users(&http.requests());
}

/// Every check-in names a user created before it, with a day part and a mood of 1–5;
/// stats are read at the user's own path.
fn check_ins_follow_their_users(requests: &[Request]) {
    let mut created = BTreeSet::new();
    let (mut check_ins, mut stats) = (0, 0);
    for r in requests {
        match (r.method.as_str(), r.uri.as_str()) {
            ("POST", "/api/users") => {
                created.insert(r.body["userId"].as_str().unwrap().to_string());
            }
            ("POST", "/api/check-ins") => {
                check_ins += 1;
                let user = r.body["userId"].as_str().unwrap();
                assert!(
                    created.contains(user),
                    "{user} checked in before being created"
                );
                let part = r.body["dayPart"].as_str().unwrap();
                assert!(
                    ["morning", "afternoon", "evening", "night"].contains(&part),
                    "{r:?}"
                );
                assert!((1..=5).contains(&r.body["mood"].as_i64().unwrap()), "{r:?}");
            }
            ("GET", path) => {
                stats += 1;
                let user = path
                    .strip_prefix("/api/users/")
                    .and_then(|p| p.strip_suffix("/stats"))
                    .unwrap_or_else(|| panic!("{path}"));
                assert!(created.contains(user), "{path}");
            }
            other => panic!("unexpected request {other:?}"),
        }
    }
    assert!(check_ins > 0 && stats > 0);
}

/// `--rate KIND=N/s` paces by one of the world's own kinds: `stats.viewed` is declared in
/// the example's world.toml, not built in (it was refused as "not an event kind").
#[test]
fn checkins_paced_by_its_own_kind() {
    let ex = example("checkins");
    let dir = tempfile::tempdir().unwrap();
    let http = Recorder::start();
    let s = ex.replay(
        dir.path(),
        &http.url,
        &[
            "--users",
            "2000",
            "--days",
            "1",
            "--rate",
            "stats.viewed=5/s",
            "--max-duration",
            "3s",
        ],
        &[],
    );
    assert_eq!(
        s["config"]["pace"], "--rate stats.viewed=5/s",
        "{}",
        s["config"]
    );
    let viewed = s["by_event"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["tags"]["event"] == "stats.viewed")
        .map_or(0, |e| e["count"].as_u64().unwrap());
    // 5 a second for up to 3 s (the engine's start and the cap's edges allowed).
    assert!(
        (8..=16).contains(&viewed),
        "{viewed} stats.viewed: {}",
        s["by_event"]
    );
}
