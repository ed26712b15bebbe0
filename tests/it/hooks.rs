//! `[[setup]]` and `[[teardown]]` against an axum gift server on loopback: the set-up
//! creates the gifts before any event is sent (every claim finds all of them), the
//! teardown removes them after, both reported apart from the load; `--teardown-only`
//! runs the teardown alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;

use crate::common::{bin, read_json, replay_log};

const GIFTS: usize = 6;

#[derive(Default)]
struct Gifts {
    ids: Mutex<BTreeSet<String>>,
    /// `x-sim-event` of every set-up and teardown request.
    hooks: Mutex<Vec<String>>,
}

struct GiftServer {
    url: String,
    gifts: Arc<Gifts>,
    _rt: tokio::runtime::Runtime,
}

/// POST /gifts {id} creates, DELETE /gifts/ID removes, POST /claims answers 200 only
/// while all the gifts exist (else 412).
fn start() -> GiftServer {
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let gifts = Arc::new(Gifts::default());
    async fn handle(
        State(g): State<Arc<Gifts>>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let event = headers
            .get("x-sim-event")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let path = uri.path();
        if path == "/claims" {
            return match g.ids.lock().unwrap().len() {
                GIFTS => StatusCode::OK,
                _ => StatusCode::PRECONDITION_FAILED,
            };
        }
        g.hooks.lock().unwrap().push(event);
        match (method, path.strip_prefix("/gifts")) {
            (Method::POST, Some("")) => {
                let v: Value = serde_json::from_slice(&body).unwrap();
                g.ids
                    .lock()
                    .unwrap()
                    .insert(v["id"].as_str().unwrap().into());
                StatusCode::CREATED
            }
            (Method::DELETE, Some(id)) => match g.ids.lock().unwrap().remove(&id[1..]) {
                true => StatusCode::NO_CONTENT,
                false => StatusCode::NOT_FOUND,
            },
            _ => StatusCode::BAD_REQUEST,
        }
    }
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&gifts));
    rt.spawn(async move { axum::serve(listener, app).await });
    GiftServer {
        url,
        gifts,
        _rt: rt,
    }
}

/// Ten users each claim a gift, 20 ms apart.
fn claims_log(dir: &Path) -> PathBuf {
    let log = dir.join("claims.jsonl");
    let text: String = (0..10)
        .map(|u| format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{},\"user_id\":\"u{u}\",\"persona\":\"gamer\",\"session_id\":\"s{u}-1\",\"seq\":2,\"event\":\"gift.claimed\",\"props\":{{\"gift_id\":\"g{u}\",\"outcome\":\"won\",\"share\":1}}}}\n",
            u * 20
        ))
        .collect();
    std::fs::write(&log, text).unwrap();
    log
}

const MAPPING: &str = r#"[[setup]]
path = "/gifts"
body = { id = "storm-{seq}" }
repeat = 6

[[teardown]]
method = "DELETE"
path = "/gifts/storm-{seq}"
repeat = 6
expect = ["2xx", 404]

[[request]]
event = "gift.claimed"
path = "/claims"
class = "api"
"#;

#[test]
fn setup_runs_before_the_load_and_teardown_after_both_counted_apart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start();
    let mapping = dir.path().join("m.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    let out = dir.path().join("s.json");
    let o = replay_log(&claims_log(dir.path()), &mapping, &server.url, "1x")
        .args(["--threshold", "errors<1", "--summary-export"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = read_json(&out);
    // Every claim found the six gifts: the set-up ran first; the teardown removed them.
    assert_eq!(s["totals"]["sent"], 10);
    assert_eq!(s["overall"]["statuses"]["200"], 10, "{}", s["overall"]);
    assert!(server.gifts.ids.lock().unwrap().is_empty());
    let setup = &s["setup"];
    assert_eq!(
        (setup["requests"].as_u64(), setup["ok"].as_u64()),
        (Some(6), Some(6)),
        "{setup}"
    );
    assert_eq!(setup["statuses"]["201"], 6);
    assert_eq!(s["teardown"]["statuses"]["204"], 6, "{}", s["teardown"]);
    let hooks = server.gifts.hooks.lock().unwrap().clone();
    let ids: BTreeSet<&str> = hooks.iter().map(String::as_str).collect();
    assert_eq!(ids.len(), 12, "each its own x-sim-event: {hooks:?}");
    assert!(
        ids.contains("setup-0/5") && ids.contains("teardown-0/0"),
        "{ids:?}"
    );
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("setup: 6 requests, 6 ok, 0 errors"),
        "{table}"
    );
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");

    // The teardown alone, later: nothing left to remove is a 404 it expects.
    server.gifts.ids.lock().unwrap().insert("storm-2".into());
    let o = bin()
        .args(["replay", "--teardown-only", "--mapping"])
        .arg(&mapping)
        .args(["--target", &server.url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(
        line.contains("teardown: 6 requests, 6 ok, 0 errors"),
        "{line}"
    );
    assert!(line.contains("204 1") && line.contains("404 5"), "{line}");
    assert!(server.gifts.ids.lock().unwrap().is_empty());
}

#[test]
fn a_failed_setup_stops_the_run_before_any_event() {
    let dir = tempfile::tempdir().unwrap();
    let server = start();
    let mapping = dir.path().join("m.toml");
    // The server answers 400 to a PUT: the set-up fails, the teardown cleans up.
    std::fs::write(
        &mapping,
        MAPPING.replace(
            "path = \"/gifts\"\n",
            "method = \"PUT\"\npath = \"/gifts\"\n",
        ),
    )
    .unwrap();
    let o = replay_log(&claims_log(dir.path()), &mapping, &server.url, "1x")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("6 of 6 set-up requests failed (400 ×6)"),
        "{err}"
    );
    assert!(
        err.contains("nothing was replayed; the teardown ran"),
        "{err}"
    );
    let hooks = server.gifts.hooks.lock().unwrap().clone();
    assert_eq!(
        hooks.len(),
        12,
        "six set-up requests, six teardown: {hooks:?}"
    );
}
