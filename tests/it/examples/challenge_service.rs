//! examples/challenge-service (seed 001): the team's catalog over REST and gRPC.

use super::support::*;

/// The challenge a goal of the generated catalog belongs to: goal ids run across
/// challenges, 50 a challenge (`goal-300` is in `challenge-6`). Loading the team's
/// challenges.json is not supported yet, so the world's catalog is generated at its size.
fn challenge_of(goal: &str) -> String {
    let n: u32 = goal.strip_prefix("goal-").unwrap().parse().unwrap();
    format!("challenge-{}", n / 50)
}

/// Seed 001: claims only of the catalog's goals (10 × 50), each goal completed by one requirement,
/// the 9 am rush, ids `user-000001`; the rush replayed over REST and gRPC.
#[test]
fn challenge_service_claims_its_catalog_over_rest_and_grpc() {
    let ex = example("challenge-service");
    ex.validates();
    let dir = tempfile::tempdir().unwrap();
    let events = ex.run(dir.path(), &["--users", "2000"]);
    ex.declares_what_it_maps(&events);
    goals_are_the_catalogs(&events);
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
        // The loopback gRPC server refuses users whose id ends in 7 (about 10 %).
        "--threshold",
        "errors{protocol:grpc}<15%",
    ];
    let s = ex.replay(
        dir.path(),
        &http.url,
        &args,
        &[("CHALLENGE_TOKEN", "tok-001")],
    );
    let requests = http.requests();
    assert!(requests.iter().any(|r| r.uri == "/v1/challenges"));
    for r in &requests {
        assert_eq!(r.headers["authorization"], "Bearer tok-001");
        if r.method == Method::POST {
            let parts: Vec<&str> = r.uri.split('/').collect();
            assert_eq!(challenge_of(parts[5]), parts[3], "{}", r.uri);
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
    let refused = calls
        .iter()
        .filter(|(_, e)| e.user_id.ends_with('7'))
        .count() as u64;
    for g in s["groups"].as_array().unwrap() {
        let errors = g["errors"].as_u64().unwrap();
        if g["tags"]["protocol"] != "grpc" {
            assert_eq!(errors, 0, "{g}");
        }
    }
    let grpc_errors: u64 = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["tags"]["protocol"] == "grpc")
        .map(|g| g["errors"].as_u64().unwrap())
        .sum();
    assert_eq!(grpc_errors, refused);
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

/// Every claim names a goal of the 10 × 50 catalog in its own challenge; every completion
/// of one goal carries the same stat code and target.
fn goals_are_the_catalogs(events: &[Value]) {
    let (mut claims, mut completed) = (0, 0);
    let mut requirement: BTreeMap<String, (Value, Value)> = BTreeMap::new();
    for e in events {
        let p = &e["props"];
        match e["event"].as_str().unwrap() {
            "goal.claimed" => {
                claims += 1;
                let goal = p["goal_id"].as_str().unwrap();
                assert_eq!(p["challenge_id"], challenge_of(goal).as_str(), "{e}");
            }
            "goal.completed" => {
                completed += 1;
                let goal = p["goal_id"].as_str().unwrap();
                assert_eq!(p["challenge_id"], challenge_of(goal).as_str(), "{e}");
                let req = (p["statCode"].clone(), p["target"].clone());
                assert!(
                    ["enemy_kills", "login_count", "games_played"]
                        .contains(&req.0.as_str().unwrap()),
                    "{e}"
                );
                let first = requirement.entry(goal.to_string()).or_insert(req.clone());
                assert_eq!(*first, req, "{e}");
            }
            _ => {}
        }
    }
    assert!(
        claims > 100 && completed >= claims,
        "{claims} claims, {completed} completed"
    );
    for g in requirement.keys() {
        let n: u32 = g.strip_prefix("goal-").unwrap().parse().unwrap();
        assert!(n < 500, "{g}: beyond 10 challenges × 50 goals");
    }
}
