//! Race and idempotency probes against an axum claim server on loopback: with a lock
//! around check-then-insert every group of copies gets one 200 and one 409; without it
//! (a pause between the check and the insert) both copies win, and the probe reports it.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

use crate::common::{read_json, replay_log};

#[derive(Default)]
struct Claims {
    /// Check and insert under one lock.
    locked: bool,
    taken: Mutex<HashSet<String>>,
    guard: tokio::sync::Mutex<()>,
    /// Every claim: its `x-sim-event` and idempotency key.
    seen: Mutex<Vec<(String, String)>>,
}

struct ClaimServer {
    url: String,
    claims: Arc<Claims>,
    _rt: tokio::runtime::Runtime,
}

fn start(locked: bool) -> ClaimServer {
    let (rt, listener) = crate::common::server_runtime(2, "127.0.0.1:0");
    let claims = Arc::new(Claims {
        locked,
        ..Claims::default()
    });
    /// The status, with a body saying whether the claim went through (a mapping's check
    /// reads it).
    async fn claim(
        State(c): State<Arc<Claims>>,
        uri: Uri,
        headers: HeaderMap,
    ) -> (StatusCode, axum::Json<Value>) {
        let s = decide(&c, uri, headers).await;
        let claimed = s == StatusCode::OK;
        (s, axum::Json(serde_json::json!({ "claimed": claimed })))
    }
    async fn decide(c: &Claims, uri: Uri, headers: HeaderMap) -> StatusCode {
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let event = h("x-sim-event");
        c.seen
            .lock()
            .unwrap()
            .push((event.clone(), h("idempotency-key")));
        let user = event.split('/').next().unwrap_or("");
        let id = format!("{user}:{}", uri.path());
        if c.locked {
            let _one_at_a_time = c.guard.lock().await;
            return match c.taken.lock().unwrap().insert(id) {
                true => StatusCode::OK,
                false => StatusCode::CONFLICT,
            };
        }
        let claimed = c.taken.lock().unwrap().contains(&id);
        // The race: another claim passes the check before this one inserts.
        tokio::time::sleep(Duration::from_millis(150)).await;
        if claimed {
            return StatusCode::CONFLICT;
        }
        c.taken.lock().unwrap().insert(id);
        StatusCode::OK
    }
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .fallback(claim)
        .with_state(Arc::clone(&claims));
    rt.spawn(async move { axum::serve(listener, app).await });
    ClaimServer {
        url,
        claims,
        _rt: rt,
    }
}

const USERS: usize = 12;

/// Each user claims one goal, 40 ms apart.
fn claims_log(dir: &Path) -> std::path::PathBuf {
    let log = dir.join("claims.jsonl");
    let mut text = String::new();
    for u in 0..USERS {
        let t = u * 40;
        text.push_str(&format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{t},\"user_id\":\"u{u}\",\"persona\":\"hunter\",\"session_id\":\"s{u}-1\",\"seq\":3,\"event\":\"goal.claimed\",\"props\":{{\"goal_id\":\"g{u}\",\"challenge_id\":\"c1\",\"reward\":10}}}}\n"
        ));
    }
    std::fs::write(&log, text).unwrap();
    log
}

/// The claim request with its probe; `check`: and a check on the answer's body (which a
/// 409's body fails).
fn mapping(dir: &Path, same_key: bool, check: bool) -> std::path::PathBuf {
    let m = dir.join(format!("probe-{same_key}-{check}.toml"));
    let check = if check {
        "check = { field = \"claimed\", equals = true }\n"
    } else {
        ""
    };
    std::fs::write(
        &m,
        format!(
            r#"[[request]]
event = "goal.claimed"
path = "/goals/{{props.goal_id}}/claim"
expect = ["2xx", 409]
class = "api"
probe = {{ copies = 2, key = "idempotency-key", same_key = {same_key}, expect = {{ success = 1, rest = 409 }} }}
{check}"#
        ),
    )
    .unwrap();
    m
}

/// Replays the claims against `server` with `probe_violations<1`; the exit code and
/// the summary.
fn replay(
    dir: &Path,
    server: &ClaimServer,
    (same_key, check): (bool, bool),
) -> (Option<i32>, Value, String) {
    let out = dir.join(format!("s-{same_key}-{check}.json"));
    let m = mapping(dir, same_key, check);
    let o = replay_log(&claims_log(dir), &m, &server.url, "1x")
        .args(["--threshold", "probe_violations<1", "--summary-export"])
        .arg(&out)
        .output()
        .unwrap();
    let s = read_json(&out);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
    (
        o.status.code(),
        s,
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// The timeline's requests are counted as ever, once per event; the copies apart.
fn every_event_once_copies_apart(s: &Value, claims: &Claims) {
    assert_eq!(s["totals"]["sent"], USERS, "{}", s["totals"]);
    assert_eq!(s["overall"]["count"], USERS);
    let p = &s["probes"];
    assert_eq!(p["sets"], USERS, "{p}");
    assert_eq!(p["copies_sent"], USERS, "{p}");
    let seen = claims.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2 * USERS);
    for u in 0..USERS {
        let own = format!("u{u}/3");
        let mut ids: Vec<&str> = seen
            .iter()
            .filter(|(e, _)| e.starts_with(own.as_str()))
            .map(|(e, _)| e.as_str())
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, [own.clone(), format!("{own}/p1")], "{seen:?}");
    }
}

#[test]
fn a_probe_finds_the_missing_lock_and_passes_the_locked_server() {
    let dir = tempfile::tempdir().unwrap();
    // With the lock: one 200 and one 409 each time, no violation; the copies share the key.
    let locked = start(true);
    let (code, s, _) = replay(dir.path(), &locked, (true, false));
    assert_eq!(code, Some(0), "{}", s["probes"]);
    every_event_once_copies_apart(&s, &locked.claims);
    let p = &s["probes"];
    assert_eq!(p["violations"], 0, "{p}");
    assert_eq!(p["by_event"][0]["answers"]["200"], USERS, "{p}");
    assert_eq!(p["by_event"][0]["answers"]["409"], USERS, "{p}");
    assert_eq!(p["by_event"][0]["expected"], "1 success of 2, the rest 409");
    for (event, key) in locked.claims.seen.lock().unwrap().iter() {
        let own = event.trim_end_matches("/p1");
        assert_eq!(key, own, "same_key: the copy carries the request's key");
    }
    assert_eq!(s["thresholds"][0]["ok"], true, "{}", s["thresholds"]);

    // Without it: both copies pass the check; each group is a violation, listed with
    // what came back, and the threshold fails the run.
    let unlocked = start(false);
    let (code, s, table) = replay(dir.path(), &unlocked, (false, false));
    assert_eq!(code, Some(99), "{}", s["probes"]);
    every_event_once_copies_apart(&s, &unlocked.claims);
    let p = &s["probes"];
    let violations = p["violations"].as_u64().unwrap();
    assert!(violations as usize >= USERS * 3 / 4, "{p}");
    let first = &p["listed"][0];
    assert_eq!(first["event"], "goal.claimed");
    assert_eq!(first["got"], serde_json::json!(["200", "200"]), "{p}");
    assert_eq!(s["thresholds"][0]["ok"], false);
    assert_eq!(s["thresholds"][0]["observed"], violations as f64);
    assert!(
        table.contains(&format!("{violations} violations")) && table.contains("got 200, 200"),
        "{table}"
    );
    // same_key = false: each copy has its own key.
    for (event, key) in unlocked.claims.seen.lock().unwrap().iter() {
        assert_eq!(
            key, event,
            "the copy's key is the request's with /p1: {event}"
        );
    }
    // The timeline's own requests are never errors here: 409 is expected.
    assert_eq!(s["totals"]["errors"], 0);
}

#[test]
fn a_probe_judges_statuses_whatever_the_check_says_of_a_409s_body() {
    // The locked server answers one 200 and one 409 per group; the check (`claimed` is
    // true) fails on the 409's body. The probe's expectation is about statuses: no
    // violation, and its answers read 200 and 409, not `app`.
    let dir = tempfile::tempdir().unwrap();
    let locked = start(true);
    let (code, s, table) = replay(dir.path(), &locked, (true, true));
    let p = &s["probes"];
    assert_eq!(p["violations"], 0, "{p}\n{table}");
    assert_eq!(p["by_event"][0]["answers"]["200"], USERS, "{p}");
    assert_eq!(p["by_event"][0]["answers"]["409"], USERS, "{p}");
    assert_eq!(p["by_event"][0]["answers"].get("app"), None, "{p}");
    assert_eq!(s["thresholds"][0]["ok"], true, "{}", s["thresholds"]);
    // The check's verdict still counts in the request's own figures: the timeline's
    // requests that got the 409 are `app` errors there, and none of the others.
    let errors = s["totals"]["errors"].as_u64().unwrap();
    assert!(errors as usize <= USERS, "{}", s["totals"]);
    assert_eq!(s["overall"]["count"], USERS);
    assert_eq!(code, Some(0), "{table}");
}
