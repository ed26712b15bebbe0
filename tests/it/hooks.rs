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

/// A gift app that assigns ids itself: POST /gifts answers 201 `{"id": N}`, DELETE
/// /gifts/N 204 (404 when there is no such gift).
struct IdServer {
    url: String,
    ids: Arc<Mutex<BTreeSet<u64>>>,
    _rt: tokio::runtime::Runtime,
}

fn start_ids(held: &[u64]) -> IdServer {
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let ids: Arc<Mutex<BTreeSet<u64>>> = Arc::new(Mutex::new(held.iter().copied().collect()));
    async fn handle(
        State(ids): State<Arc<Mutex<BTreeSet<u64>>>>,
        method: Method,
        uri: Uri,
    ) -> (StatusCode, String) {
        let mut ids = ids.lock().unwrap();
        match (method, uri.path().strip_prefix("/gifts")) {
            (Method::POST, Some("")) => {
                // Ids the app picks, unrelated to the timeline's: 500, 507, 514, …
                let id = 500 + 7 * ids.iter().filter(|i| **i < 1000).count() as u64;
                ids.insert(id);
                (StatusCode::CREATED, format!("{{\"id\":{id}}}"))
            }
            (Method::DELETE, Some(id)) => match id[1..].parse().map(|id| ids.remove(&id)) {
                Ok(true) => (StatusCode::NO_CONTENT, String::new()),
                _ => (StatusCode::NOT_FOUND, String::new()),
            },
            _ => (StatusCode::BAD_REQUEST, String::new()),
        }
    }
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(handle).with_state(Arc::clone(&ids));
    rt.spawn(async move { axum::serve(listener, app).await });
    IdServer { url, ids, _rt: rt }
}

/// Eight users each create a gift, 20 ms apart.
fn creates_log(dir: &Path) -> PathBuf {
    let log = dir.join("creates.jsonl");
    let text: String = (0..8)
        .map(|u| format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{},\"user_id\":\"u{u}\",\"persona\":\"gamer\",\"session_id\":\"s{u}-1\",\"seq\":1,\"event\":\"gift.created\",\"props\":{{\"gift_id\":\"g{u}-1\",\"shares\":1,\"value\":5,\"room\":\"r1\"}}}}\n",
            u * 20
        ))
        .collect();
    std::fs::write(&log, text).unwrap();
    log
}

const BY_IDS: &str = r#"[[request]]
event = "gift.created"
entity = { gift = "{props.gift_id}" }
path = "/gifts"
body = { ref = "{props.gift_id}" }
capture = [{ into = "entity.gift.id", field = "id" }]
class = "api"

[[teardown]]
method = "DELETE"
path = "/gifts/{entity.gift.id}"
for_each = "entity.gift.id"
expect = ["2xx", 404]
"#;

#[test]
fn the_teardown_removes_what_the_run_created_by_captured_ids_then_again_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // Gift 1000 is not the run's: no teardown may touch it.
    let server = start_ids(&[1000]);
    let mapping = dir.path().join("m.toml");
    std::fs::write(&mapping, BY_IDS).unwrap();
    let (out, ids_file) = (dir.path().join("s.json"), dir.path().join("out/ids.json"));
    let o = replay_log(&creates_log(dir.path()), &mapping, &server.url, "1x")
        .args(["--threshold", "errors<1", "--summary-export"])
        .arg(&out)
        .arg("--captured-ids")
        .arg(&ids_file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // After the run and its teardown the app holds none of the run's gifts.
    assert_eq!(
        server
            .ids
            .lock()
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [1000]
    );
    let s = read_json(&out);
    let t = &s["teardown"];
    assert_eq!(t["for_each"]["entity.gift.id"], 8, "{t}");
    assert_eq!(
        (t["statuses"]["204"].as_u64(), t["errors"].as_u64()),
        (Some(8), Some(0)),
        "{t}"
    );
    assert_eq!(
        s["totals"]["sent"], 8,
        "the teardown is not in the load's figures"
    );
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("teardown: 8 requests, 8 ok, 0 errors")
            && table.contains("over 8 captured entity.gift.id"),
        "{table}"
    );
    // The file names each gift by the timeline's key with the id the app gave it.
    let f = read_json(&ids_file);
    crate::common::conforms::<simulate_replay::captured::CapturedIds>(&f, "captured-ids.v1.json");
    let values = f["values"]["entity.gift.id"].as_array().unwrap();
    let ids: BTreeSet<u64> = values
        .iter()
        .map(|v| v["value"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, (0..8).map(|k| 500 + 7 * k).collect());
    assert_eq!(values[0]["key"], "g0-1", "{f}");

    // Another state of the app (restored from a backup): the run's gifts are back, with
    // gift 1000. The teardown alone, from the file, removes the run's and only those.
    server.ids.lock().unwrap().extend(&ids);
    let teardown = || {
        let mut c = bin();
        c.args(["replay", "--teardown-only", "--mapping"])
            .arg(&mapping)
            .args(["--target", &server.url]);
        c
    };
    let o = teardown()
        .arg("--captured-ids")
        .arg(&ids_file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(
        line.contains("teardown: 8 requests, 8 ok, 0 errors"),
        "{line}"
    );
    assert_eq!(
        server
            .ids
            .lock()
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [1000]
    );
    // Without the file it cannot know the ids: refused, nothing sent.
    let o = teardown().output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("repeats over captured ids (entity.gift.id)")
            && err.contains("--captured-ids FILE"),
        "{err}"
    );
}

/// A claim server that looks in the database on each claim: 200 while the set-up's six
/// `storm-` rows are there, else 412.
fn start_db_claims(url: String) -> (String, tokio::runtime::Runtime) {
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    async fn claim(State(url): State<Arc<String>>) -> StatusCode {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM storm WHERE id LIKE 'storm-%'")
            .fetch_one(&mut c)
            .await
            .unwrap();
        match n {
            6 => StatusCode::OK,
            _ => StatusCode::PRECONDITION_FAILED,
        }
    }
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/claims", axum::routing::post(claim))
        .with_state(Arc::new(url));
    rt.spawn(async move { axum::serve(listener, app).await });
    (addr, rt)
}

const SQL_HOOKS: &str = r#"[[setup]]
sql = "INSERT INTO storm SELECT 'storm-' || g FROM generate_series(0, 5) g"

[[teardown]]
sql = "DELETE FROM storm WHERE id LIKE 'storm-%'"

[[request]]
event = "gift.claimed"
path = "/claims"
class = "api"
"#;

/// The URL with a password in it, when it has none (the test server trusts local
/// connections, so any password works): to show it is never printed.
fn with_password(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest))
            if rest
                .split_once('@')
                .is_some_and(|(who, _)| !who.contains(':')) =>
        {
            format!("{scheme}://{}", rest.replacen('@', ":sekret-pw@", 1))
        }
        _ => url.to_string(),
    }
}

#[test]
fn sql_setup_rows_exist_during_the_run_and_the_sql_teardown_removes_them() {
    let db = crate::seed::TestDb::new();
    db.sql(&[
        "CREATE TABLE storm (id text PRIMARY KEY)",
        "INSERT INTO storm VALUES ('keep')",
    ]);
    let (target, _rt) = start_db_claims(db.url());
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("m.toml");
    std::fs::write(&mapping, SQL_HOOKS).unwrap();
    let url = with_password(&db.url());
    let out = dir.path().join("s.json");
    let o = replay_log(&claims_log(dir.path()), &mapping, &target, "1x")
        .args([
            "--database-url",
            &url,
            "--threshold",
            "errors<1",
            "--summary-export",
        ])
        .arg(&out)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Every claim saw the six rows: the set-up committed them before the first event.
    let s = read_json(&out);
    assert_eq!(s["overall"]["statuses"]["200"], 10, "{}", s["overall"]);
    let (setup, teardown) = (&s["setup"], &s["teardown"]);
    assert_eq!(
        (
            setup["statuses"]["committed"].as_u64(),
            setup["rows"].as_u64()
        ),
        (Some(1), Some(6)),
        "{setup}"
    );
    assert_eq!(teardown["rows"], 6, "{teardown}");
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
    // The teardown removed them, and only them.
    assert_eq!(
        db.count("SELECT count(*) FROM storm WHERE id LIKE 'storm-%'"),
        0
    );
    assert_eq!(db.count("SELECT count(*) FROM storm"), 1);

    // A failed statement rolls its whole step back and stops the run before any event;
    // the database's words are shown, the password never.
    std::fs::write(
        &mapping,
        SQL_HOOKS.replace(
            "generate_series(0, 5) g\"",
            "generate_series(0, 5) g; INSERT INTO missing VALUES (1)\"",
        ),
    )
    .unwrap();
    let o = replay_log(&claims_log(dir.path()), &mapping, &target, "1x")
        .args(["--database-url", &url])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1 of 1 set-up requests failed (sql ×1)")
            && err.contains("relation \"missing\" does not exist")
            && err.contains("nothing was replayed; the teardown ran"),
        "{err}"
    );
    assert_eq!(db.count("SELECT count(*) FROM storm"), 1, "rolled back");
    let all = format!("{err}{}", String::from_utf8_lossy(&o.stdout));
    assert!(!all.contains("sekret-pw"), "{all}");

    // SQL steps without a database: refused before anything is sent.
    let o = replay_log(&claims_log(dir.path()), &mapping, &target, "1x")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("runs SQL in its [[setup]] or [[teardown]], and no database is given"),
        "{err}"
    );
}
