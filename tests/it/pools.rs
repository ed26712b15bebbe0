//! The team's ids and pools (issue 19, items 3 and 4): `[ids]` and `[pools.*]` of a
//! scenario reach `user.signed_up`'s props and replay's `{user.*}` fields, the same at
//! any thread count; users from the team's file exist at t = 0 and their sign-up is
//! never sent. Against a real axum server on loopback.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{bin, replay_log};
use crate::replay::Server;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// 200 clients, 25 per team, 4 teams per business; businesses' ids from the team's file.
fn readiness(dir: &Path) -> PathBuf {
    write(
        dir,
        "businesses.json",
        r#"[{"id": "b-north"}, {"id": "b-south"}]"#,
    );
    write(
        dir,
        "scenario.toml",
        r#"name = "readiness"
users = 200
days = 1
seed = 7
signups_per_day = 0

[ids]
user = "c-{pad(n, 4)}"
session = "{user_id}-s{pad(n, 3)}"

[pools.team]
ids = "t-{n}"
per = 25

[pools.business]
file = "businesses.json"
column = "id"
of = "team"
per = 4
"#,
    )
}

fn run(scenario: &Path, out: &Path, threads: &str) -> Vec<u8> {
    let o = bin()
        .args(["run", "-q", "--threads", threads, "--scenario"])
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out.join("events.jsonl")).unwrap()
}

/// Each `user.signed_up` line's props, by timeline user id.
fn signups(log: &[u8]) -> BTreeMap<String, (i64, Value)> {
    log.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .filter(|v| v["event"] == "user.signed_up")
        .map(|v| {
            let user = v["user_id"].as_str().unwrap().to_string();
            (user, (v["t_ms"].as_i64().unwrap(), v["props"].clone()))
        })
        .collect()
}

/// Every line validates against `simulate schema --scenario`: the world's schema
/// declares the team's props of `user.signed_up` (and refuses them elsewhere).
fn schema_holds(scenario: &Path, log: &[u8]) {
    let o = bin()
        .arg("schema")
        .arg("--scenario")
        .arg(scenario)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let schema: Value = serde_json::from_slice(&o.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for line in log.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).unwrap();
        if let Err(e) = validator.validate(&v) {
            panic!("{}\n{e}", String::from_utf8_lossy(line));
        }
    }
}

#[test]
fn signed_up_carries_team_ids_and_pools_byte_identical_at_1_and_2_threads() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = readiness(dir.path());
    let one = run(&scenario, &dir.path().join("one"), "1");
    let two = run(&scenario, &dir.path().join("two"), "2");
    assert!(one == two, "the timeline differs between 1 and 2 threads");
    let all = signups(&one);
    // Invitees sign up later (they join their pools in user order too): the launch users.
    let s: BTreeMap<String, (i64, Value)> = all
        .iter()
        .filter(|(_, (_, p))| p["source"] == "launch")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(s.len(), 200);
    let (_, u0) = &s["u0"];
    assert_eq!(
        (&u0["id"], &u0["team"], &u0["business"]),
        (&"c-0001".into(), &"t-1".into(), &"b-north".into()),
        "{u0}"
    );
    assert_eq!(s["u199"].1["id"], "c-0200");
    assert_eq!(s["u199"].1["business"], "b-south");
    let mut per_team: BTreeMap<String, u32> = BTreeMap::new();
    let mut teams_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, p) in s.values() {
        let team = p["team"].as_str().unwrap().to_string();
        *per_team.entry(team.clone()).or_default() += 1;
        let teams = teams_of
            .entry(p["business"].as_str().unwrap().into())
            .or_default();
        if !teams.contains(&team) {
            teams.push(team);
        }
        assert!(p.get("existing").is_none(), "{p}");
    }
    assert_eq!(per_team.len(), 8);
    assert!(per_team.values().all(|n| *n == 25), "{per_team:?}");
    assert_eq!(teams_of["b-north"], ["t-1", "t-2", "t-3", "t-4"]);
    assert_eq!(teams_of["b-south"].len(), 4);
    schema_holds(&scenario, &one);

    // Replayed from the log: each request renders the user's team ids.
    let mapping = write(
        dir.path(),
        "m.toml",
        "[[request]]\nevent = \"user.signed_up\"\npath = \"/clients/{user.id}/teams/{user.team}/{user.business}\"\n\n[[request]]\nevent = \"session.started\"\npath = \"/s/{user.id}/{session_id}/{lookup('team', user.team, 'business')}\"\n",
    );
    let server = Server::start(None);
    let o = replay_log(
        &dir.path().join("one/events.jsonl"),
        &mapping,
        &server.url(),
        "1d:4s",
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let paths: Vec<String> = server.arrivals().into_iter().map(|a| a.path).collect();
    assert!(
        paths.contains(&"/clients/c-0001/teams/t-1/b-north".to_string()),
        "{:?}",
        &paths[..paths.len().min(5)]
    );
    assert_eq!(
        paths.iter().filter(|p| p.starts_with("/clients/")).count(),
        all.len()
    );
    assert!(paths.iter().any(|p| p.starts_with("/s/c-0")), "{paths:?}");
    assert!(!paths.iter().any(|p| p.contains("/u")), "{paths:?}");
    // `lookup` finds each client's business through their team, in the log's world;
    // sessions are named by `[ids] session`.
    let sessions: Vec<&String> = paths.iter().filter(|p| p.starts_with("/s/")).collect();
    assert!(
        sessions
            .iter()
            .any(|p| *p == "/s/c-0001/c-0001-s001/b-north")
            && sessions
                .iter()
                .any(|p| p.starts_with("/s/c-0200/c-0200-s00") && p.ends_with("/b-south")),
        "{sessions:?}"
    );
    assert!(
        sessions
            .iter()
            .all(|p| p.ends_with("/b-north") || p.ends_with("/b-south")),
        "{sessions:?}"
    );
}

#[test]
fn users_from_the_teams_file_exist_at_t0_and_their_signup_is_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (1..=12).map(|i| format!("acct-{i:03}")).collect();
    write(
        dir.path(),
        "users.csv",
        &format!("id,name\n{}\n", ids.join(",x\n") + ",x"),
    );
    let scenario = write(
        dir.path(),
        "scenario.toml",
        "users = 12\ndays = 1\nsignups_per_day = 0\n\n[ids]\nuser = { file = \"users.csv\", column = \"id\" }\n",
    );
    let log = run(&scenario, &dir.path().join("r"), "1");
    let s = signups(&log);
    for (i, id) in ids.iter().enumerate() {
        let (t, p) = &s[&format!("u{i}")];
        assert_eq!(
            (*t, &p["id"], &p["existing"]),
            (0, &id.as_str().into(), &true.into())
        );
    }
    schema_holds(&scenario, &log);
    // They sign up at t = 0 but come back over launch day, not in one burst at t = 0.
    let first_sessions: Vec<i64> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .filter(|v| v["event"] == "session.started" && v["props"]["trigger"] == "internal")
        .map(|v| v["t_ms"].as_i64().unwrap())
        .collect();
    assert!(
        first_sessions.iter().filter(|t| **t == 0).count() == 0,
        "{first_sessions:?}"
    );
    assert!(
        first_sessions.iter().any(|t| *t > 3_600_000),
        "{first_sessions:?}"
    );
    let mapping = write(
        dir.path(),
        "m.toml",
        "[[request]]\nevent = \"user.signed_up\"\npath = \"/signup/{user.id}\"\n\n[[request]]\nevent = \"session.started\"\npath = \"/s/{user.id}\"\n",
    );
    // From the engine and from the log: no sign-up request, sessions carry the file's ids.
    for from_log in [false, true] {
        let server = Server::start(None);
        let mut c = if from_log {
            replay_log(
                &dir.path().join("r/events.jsonl"),
                &mapping,
                &server.url(),
                "1d:3s",
            )
        } else {
            let mut c = bin();
            c.args([
                "replay",
                "-q",
                "--compress",
                "1d:3s",
                "--target",
                &server.url(),
            ])
            .arg("--scenario")
            .arg(&scenario)
            .arg("--mapping")
            .arg(&mapping);
            c
        };
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let paths: Vec<String> = server.arrivals().into_iter().map(|a| a.path).collect();
        assert!(!paths.iter().any(|p| p.starts_with("/signup")), "{paths:?}");
        assert!(paths.iter().any(|p| p.starts_with("/s/acct-")), "{paths:?}");
    }
    // More users than the file holds: refused, naming the file and its length.
    let o = bin()
        .args(["run", "-q", "--users", "13", "--scenario"])
        .arg(&scenario)
        .arg("--out")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("users.csv holds 12 existing users") && e.contains("--users"),
        "{e}"
    );
}

#[test]
fn a_user_field_the_world_lacks_and_a_short_list_are_refused_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = readiness(dir.path());
    let mapping = write(
        dir.path(),
        "m.toml",
        "[[request]]\nevent = \"session.started\"\npath = \"/s/{user.tam}\"\n\n[[request]]\nevent = \"session.ended\"\npath = \"/e/{lookup('tema', user.team, 'busines')}\"\n",
    );
    let server = Server::start(None);
    let o = bin()
        .args([
            "replay",
            "-q",
            "--compress",
            "1d:3s",
            "--target",
            &server.url(),
        ])
        .arg("--scenario")
        .arg(&scenario)
        .arg("--mapping")
        .arg(&mapping)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("m.toml:3") && e.contains("`user.tam`") && e.contains("user.team"),
        "{e}"
    );
    assert!(
        e.contains("m.toml:7")
            && e.contains(
                "`lookup`'s pool `tema` is not a pool of this world (did you mean `team`?)"
            )
            && e.contains(
                "`lookup`'s field `busines` is not a pool of this world (did you mean `business`?)"
            ),
        "{e}"
    );
    assert!(server.arrivals().is_empty());
    // From a log, against the scenario its run.json names.
    let out = dir.path().join("r");
    run(&scenario, &out, "1");
    let o = replay_log(&out.join("events.jsonl"), &mapping, &server.url(), "1d:3s")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("`user.tam`"), "{e}");
    assert!(server.arrivals().is_empty());
    // 400 users need 4 businesses; the file holds 2.
    let o = bin()
        .args(["run", "-q", "--users", "400", "--scenario"])
        .arg(&scenario)
        .arg("--out")
        .arg(dir.path().join("x"))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("pools.business") && e.contains("holds 2 ids") && e.contains("need 4"),
        "{e}"
    );
}
