//! A user's requests wait for each other's answers unless the mapping says `ordered =
//! false` (seed 001's platform sends its gRPC OnMessage calls concurrently): against a
//! server answering in 200 ms, a user's two events 10 ms apart reach it together only
//! with the key.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;

use crate::common::replay_log;

/// A server that answers every request after 200 ms, recording when each arrived.
struct SlowServer {
    url: String,
    arrived: Arc<Mutex<Vec<Instant>>>,
    _rt: tokio::runtime::Runtime,
}

fn slow_server() -> SlowServer {
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let arrived: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = Arc::clone(&arrived);
    let app = Router::new().fallback(move || {
        let seen = Arc::clone(&seen);
        async move {
            seen.lock().unwrap().push(Instant::now());
            tokio::time::sleep(Duration::from_millis(200)).await;
            "{}"
        }
    });
    rt.spawn(async move { axum::serve(listener, app).await });
    SlowServer {
        url,
        arrived,
        _rt: rt,
    }
}

/// One user's two stat updates, 10 ms apart.
fn two_events(dir: &Path) -> PathBuf {
    let p = dir.join("two.jsonl");
    let mut text = String::new();
    for (i, t) in [0, 10].into_iter().enumerate() {
        text.push_str(&format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{t},\"user_id\":\"u0\",\"persona\":\"gamer\",\"session_id\":\"s0-1\",\"seq\":{i},\"event\":\"stat.updated\",\"props\":{{\"statCode\":\"enemy_kills\",\"value\":{i},\"delta\":1}}}}\n"
        ));
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// The gap between the server seeing the user's two requests, with `ordered` given.
fn gap(ordered: Option<bool>) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let server = slow_server();
    let key = ordered.map_or(String::new(), |o| format!("ordered = {o}\n"));
    let m = dir.path().join("m.toml");
    std::fs::write(
        &m,
        format!("[[request]]\nevent = \"stat.updated\"\npath = \"/stat\"\n{key}"),
    )
    .unwrap();
    let o = replay_log(&two_events(dir.path()), &m, &server.url, "1x")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let at = server.arrived.lock().unwrap().clone();
    assert_eq!(at.len(), 2, "both requests arrive");
    at[1] - at[0]
}

#[test]
fn unordered_requests_do_not_wait_for_the_same_users_answers() {
    // With the key: the second leaves at its instant, 10 ms after the first.
    let unordered = gap(Some(false));
    assert!(unordered < Duration::from_millis(150), "{unordered:?}");
    // By default (and with `ordered = true`): after the first's 200 ms answer.
    for ordered in [None, Some(true)] {
        let chained = gap(ordered);
        assert!(
            chained >= Duration::from_millis(195),
            "{ordered:?}: {chained:?}"
        );
    }
}

#[test]
fn ordered_false_is_refused_where_order_matters() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("bad.toml");
    std::fs::write(
        &m,
        r#"[[request]]
event = "stat.updated"
ordered = false
[[request.steps]]
path = "/a"
[[request.steps]]
path = "/b"
ordered = true

[[request]]
event = "gift.created"
path = "/g"
capture = [{ into = "vars.id", field = "id" }]
ordered = false
"#,
    )
    .unwrap();
    let log = two_events(dir.path());
    let o = replay_log(&log, &m, "http://127.0.0.1:9", "1x")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for want in [
        "bad.toml:3: field `request[0].ordered`: a request with `steps` keeps its order",
        "field `request[0].steps[1].ordered`: a flow's steps are sent in order",
        "bad.toml:14: field `request[1].ordered`: a request with `capture`",
        "remove `ordered = false`",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}
