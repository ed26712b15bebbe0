//! `simulate serve --scenario`: the reference target lists the world's own catalog (the
//! team's challenge and goal ids) and refuses claims of goals it does not have.

use std::io::{BufRead, Read, Write};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::common::bin;

/// One HTTP/1.1 request on a fresh connection: the status and the JSON body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\nx-sim-event: u1/{seq}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let (_, json) = answer.split_once("\r\n\r\n").unwrap();
    (
        status,
        serde_json::from_str(json.trim()).unwrap_or(Value::Null),
    )
}

#[test]
fn serve_lists_the_worlds_catalog_and_refuses_claims_of_other_goals() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(
        &scenario,
        "users = 10\ndays = 1\n\n[[catalog.challenges]]\nid = \"daily\"\nname = \"Daily\"\n\n[[catalog.challenges.goals]]\nid = \"daily-kills\"\nstat = \"enemy_kills\"\ntarget = 20\nreward = 15\n\n[[catalog.challenges.goals]]\nid = \"daily-logins\"\nstat = \"login_count\"\noperator = \"==\"\ntarget = 3\n",
    )
    .unwrap();
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(&scenario)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(rest) = line.split("http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve starts listening");
    let (status, list) = http(&addr, "GET", "/v1/challenges", "");
    let (known, unknown) = (
        http(
            &addr,
            "POST",
            "/v1/events/goal.claimed",
            r#"{"user_id":"u1","props":{"goal_id":"daily-logins"}}"#,
        ),
        http(
            &addr,
            "POST",
            "/v1/events/goal.claimed",
            r#"{"user_id":"u1","props":{"goal_id":"goal-0"}}"#,
        ),
    );
    let (_, stats) = http(&addr, "GET", "/v1/stats", "");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, 200);
    assert_eq!(list[0]["challenge_id"], "daily", "{list}");
    assert_eq!(list[0]["name"], "Daily");
    let goals: Vec<&str> = list[0]["goals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["goal_id"].as_str().unwrap())
        .collect();
    assert_eq!(goals, ["daily-kills", "daily-logins"]);
    assert_eq!(list[0]["goals"][1]["operator"], "==");
    assert_eq!(list[0]["goals"][0]["target"], 20);
    assert_eq!(known.0, 200, "{}", known.1);
    assert_eq!(unknown.0, 409, "{}", unknown.1);
    assert!(
        unknown.1["error"].as_str().unwrap().contains("goal-0"),
        "{}",
        unknown.1
    );
    assert_eq!(stats["unknown_goal_claims"], 1, "{stats}");
    assert_eq!(stats["goal_claims"], 1, "{stats}");
}
