//! examples/challenge-service (seed 001): the team's catalog over REST and gRPC.

use super::support::*;

/// A goal of challenges.json: its challenge, stat code and target.
struct Goal {
    challenge: String,
    stat: String,
    target: i64,
}

fn catalog() -> BTreeMap<String, Goal> {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/challenge-service/challenges.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let mut goals = BTreeMap::new();
    for ch in doc["challenges"].as_array().unwrap() {
        for g in ch["goals"].as_array().unwrap() {
            goals.insert(
                g["id"].as_str().unwrap().to_string(),
                Goal {
                    challenge: ch["id"].as_str().unwrap().to_string(),
                    stat: g["requirement"]["statCode"].as_str().unwrap().to_string(),
                    target: g["requirement"]["targetValue"].as_i64().unwrap(),
                },
            );
        }
    }
    goals
}

/// Seed 001: claims only of the team's goals, goals completed by their own requirement,
/// the 9 am rush, ids `user-000001`; the rush replayed over REST and gRPC.
#[test]
fn challenge_service_claims_the_teams_catalog_over_rest_and_grpc() {
    let ex = example("challenge-service");
    ex.validates();
    let dir = tempfile::tempdir().unwrap();
    let events = ex.run(dir.path(), &["--users", "2000"]);
    ex.declares_what_it_maps(&events);
    goals_are_the_teams(&events, &catalog());
    let rush = 9 * HOUR;
    let logins = events
        .iter()
        .filter(|e| e["event"] == "user.logged_in")
        .filter(|e| (rush..rush + 60_000).contains(&e["t_ms"].as_i64().unwrap()))
        .count();
    assert!(logins >= 200, "{logins} logins in the rush's minute");
    for (user, p) in signups(&events) {
        assert_eq!(p["id"], format!("user-{:06}", user_number(&user) + 1));
    }
    let grpc = crate::grpc::start(std::time::Duration::ZERO);
    let http = Recorder::start();
    let grpc_url = format!("http://{}", grpc.addr);
    let args = [
        "--users",
        "2000",
        "--window",
        "9h..9h20m",
        "--compress",
        "20m:5s",
        "--grpc-target",
        &grpc_url,
    ];
    let s = ex.replay(
        dir.path(),
        &http.url,
        &args,
        &[("CHALLENGE_TOKEN", "tok-001")],
    );
    all_answered(&s);
    let goals = catalog();
    let requests = http.requests();
    assert!(requests.iter().any(|r| r.uri == "/v1/challenges"));
    for r in &requests {
        assert_eq!(r.headers["authorization"], "Bearer tok-001");
        if r.method == Method::POST {
            let parts: Vec<&str> = r.uri.split('/').collect();
            assert_eq!(goals[parts[5]].challenge, parts[3], "{}", r.uri);
            assert!(
                r.headers["x-user-id"]
                    .to_str()
                    .unwrap()
                    .starts_with("user-")
            );
        }
    }
    let calls = grpc.seen.calls.lock().unwrap();
    let sent: u64 = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["tags"]["protocol"] == "grpc")
        .map(|g| g["count"].as_u64().unwrap())
        .sum();
    assert_eq!(calls.len() as u64, sent);
    for (_, e) in calls.iter() {
        assert!(["statItemUpdated", "userLoggedIn"].contains(&e.event_name.as_str()));
        assert_eq!(e.payload["userId"], e.user_id);
        assert!(
            e.user_id.starts_with("user-") && e.user_id.len() == 11,
            "{}",
            e.user_id
        );
    }
}

/// Every claim names a goal of the catalog in its own challenge; every completed goal
/// carries the catalog's stat code and target.
fn goals_are_the_teams(events: &[Value], goals: &BTreeMap<String, Goal>) {
    let (mut claims, mut completed) = (0, 0);
    for e in events {
        let p = &e["props"];
        match e["event"].as_str().unwrap() {
            "goal.claimed" => {
                claims += 1;
                let g = &goals[p["goal_id"].as_str().unwrap()];
                assert_eq!(p["challenge_id"], g.challenge.as_str(), "{e}");
            }
            "goal.completed" => {
                completed += 1;
                let g = &goals[p["goal_id"].as_str().unwrap()];
                assert_eq!(p["challenge_id"], g.challenge.as_str(), "{e}");
                assert_eq!(p["statCode"], g.stat.as_str(), "{e}");
                assert_eq!(p["target"], g.target, "{e}");
            }
            _ => {}
        }
    }
    assert!(
        claims > 100 && completed >= claims,
        "{claims} claims, {completed} completed"
    );
}
