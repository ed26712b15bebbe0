//! examples/challenge-service (seed 001): the team's catalog over REST and gRPC.

use super::support::*;

/// One goal of the team's challenges.json: its challenge and requirement.
struct Requirement {
    challenge: String,
    stat: String,
    operator: String,
    target: u64,
}

/// The team's export, goal id → requirement, read as the team wrote it.
fn teams_catalog(ex: &Example) -> BTreeMap<String, Requirement> {
    let file = ex.scenario.with_file_name("challenges.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let mut goals = BTreeMap::new();
    for ch in doc["challenges"].as_array().unwrap() {
        for g in ch["goals"].as_array().unwrap() {
            let req = &g["requirement"];
            goals.insert(
                g["id"].as_str().unwrap().to_string(),
                Requirement {
                    challenge: ch["id"].as_str().unwrap().to_string(),
                    stat: req["statCode"].as_str().unwrap().to_string(),
                    operator: req["operator"].as_str().unwrap().to_string(),
                    target: req["targetValue"].as_u64().unwrap(),
                },
            );
        }
    }
    goals
}

/// Seed 001: claims only of the team's goals, each in its challenge and completed when
/// its requirement is met; the 9 am rush, ids `user-000001`; the rush replayed over REST
/// and gRPC, every claim's path naming a goal of the file in its challenge.
#[test]
fn challenge_service_claims_its_catalog_over_rest_and_grpc() {
    let ex = example("challenge-service");
    ex.validates();
    let catalog = teams_catalog(&ex);
    let dir = tempfile::tempdir().unwrap();
    let events = ex.run(dir.path(), &["--users", "2000"]);
    ex.declares_what_it_maps(&events);
    goals_are_the_teams(&events, &catalog);
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
            let goal = catalog.get(parts[5]).expect("a goal of challenges.json");
            assert_eq!(goal.challenge, parts[3], "{}", r.uri);
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

/// Every claim names a goal of the team's file in its own challenge; every completion
/// comes when the user's stat (the last `stat.updated` value of the goal's stat code)
/// meets the goal's requirement as the file states it.
fn goals_are_the_teams(events: &[Value], catalog: &BTreeMap<String, Requirement>) {
    let (mut claims, mut completed) = (0, 0);
    let mut stats: BTreeMap<(String, String), u64> = BTreeMap::new();
    for e in events {
        let p = &e["props"];
        let user = e["user_id"].as_str().unwrap().to_string();
        match e["event"].as_str().unwrap() {
            "stat.updated" => {
                let code = p["statCode"].as_str().unwrap().to_string();
                stats.insert((user, code), p["value"].as_u64().unwrap());
            }
            "goal.claimed" => {
                claims += 1;
                let goal = catalog
                    .get(p["goal_id"].as_str().unwrap())
                    .unwrap_or_else(|| panic!("not a goal of challenges.json: {e}"));
                assert_eq!(p["challenge_id"], goal.challenge.as_str(), "{e}");
            }
            "goal.completed" => {
                completed += 1;
                let goal = catalog
                    .get(p["goal_id"].as_str().unwrap())
                    .unwrap_or_else(|| panic!("not a goal of challenges.json: {e}"));
                assert_eq!(p["challenge_id"], goal.challenge.as_str(), "{e}");
                assert_eq!(p["statCode"], goal.stat.as_str(), "{e}");
                assert_eq!(p["target"], goal.target, "{e}");
                let value = stats.get(&(user, goal.stat.clone())).copied().unwrap_or(0);
                let met = match goal.operator.as_str() {
                    ">=" => value >= goal.target,
                    ">" => value > goal.target,
                    _ => value == goal.target,
                };
                assert!(met, "completed at {} = {value}: {e}", goal.stat);
            }
            _ => {}
        }
    }
    assert!(
        claims > 100 && completed >= claims,
        "{claims} claims, {completed} completed"
    );
}

/// Seed 001's API levels in the mapping that also sends its gRPC events: `class:api=`
/// leading the stages counts only the REST requests towards the rate (40/s for 3 s), and
/// the events follow. The profile's pace (`api-levels`, led by `class:api=`) is the one
/// the world-size check speaks of.
#[test]
fn api_requests_alone_set_the_pace_of_a_class_led_plan() {
    let ex = example("challenge-service");
    let dir = tempfile::tempdir().unwrap();
    let grpc = crate::grpc::start(std::time::Duration::ZERO);
    let http = Recorder::start();
    let grpc_url = format!("http://{}", grpc.addr);
    let s = ex.replay(
        dir.path(),
        &http.url,
        &[
            "--users",
            "2000",
            "--stages",
            "class:api=3s:40/s",
            "--grpc-target",
            &grpc_url,
            "--no-default-threshold",
        ],
        &[("CHALLENGE_TOKEN", "tok-001")],
    );
    assert_eq!(s["config"]["pace"], "--stages class:api=3s:40/s");
    let api = http.requests().len() as u64;
    let events = grpc.seen.calls.lock().unwrap().len() as u64;
    // 120 due: the pacer plays the counted requests' integral, the edges of 3 s allowed.
    assert!(
        (110..=125).contains(&api),
        "{api} API requests in 3 s at 40/s"
    );
    assert!(
        events > api,
        "{events} gRPC events beside {api} API requests"
    );
    let o = ex
        .command("replay", &["--users", "50", "--profile", "api-levels"])
        .arg("--mapping")
        .arg(&ex.mapping)
        .args(["--target", &http.url, "--grpc-target", &grpc_url])
        .env("CHALLENGE_TOKEN", "tok-001")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the stages need 51000 requests of class api"),
        "{err}"
    );
}
