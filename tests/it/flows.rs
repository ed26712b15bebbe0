//! Flows against a real app (issue 22): an axum gift app on loopback that assigns gift
//! ids itself and issues tokens and a session cookie at a form-encoded login. Claims
//! succeed only when the claim uses the id captured from the create's answer; without
//! captures every claim is an error (its check), never silently ok, and the outcome
//! threshold fails. Also: a poll-until step, a failed create whose claim is skipped for
//! that dependency, a token revoked mid-run and renewed by re-running the login.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::common::{read_json, replay_log};

/// What the app knows and what it saw.
#[derive(Default)]
struct App {
    /// The valid token of each user (a login issues `tok-<user>-<n>`).
    tokens: HashMap<String, String>,
    logins: BTreeMap<String, u32>,
    /// Server ids → (the timeline's gift id, created at, claimed).
    gifts: HashMap<u64, (String, Instant, bool)>,
    next_id: u64,
    /// `x-sim-event` of every request, in arrival order.
    events: Vec<String>,
    /// Claims whose cookie was not the claimer's session.
    bad_cookies: u32,
    /// Claims that carried the claimer's session cookie.
    good_cookies: u32,
    /// Logins that were not form-encoded.
    not_forms: u32,
    /// u5's first claim is refused with 401 once (its token revoked).
    revoked: bool,
}

type Shared = Arc<Mutex<App>>;

fn user_of(h: &HeaderMap) -> String {
    let id = h["x-sim-event"].to_str().unwrap_or("");
    id.split('/').next().unwrap_or("").to_string()
}

fn authorized(app: &App, h: &HeaderMap) -> bool {
    let user = user_of(h);
    let bearer = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    bearer.is_some() && app.tokens.get(&user).map(String::as_str) == bearer
}

fn seen(app: &Shared, h: &HeaderMap) {
    let id = h["x-sim-event"].to_str().unwrap_or("").to_string();
    app.lock().unwrap().events.push(id);
}

async fn login(State(app): State<Shared>, h: HeaderMap, body: String) -> Response {
    seen(&app, &h);
    let mut a = app.lock().unwrap();
    let form = h
        .get("content-type")
        .is_some_and(|v| v.as_bytes() == b"application/x-www-form-urlencoded");
    let pairs: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let user = pairs.get("user").cloned().unwrap_or_default();
    if !form || pairs.get("password").map(String::as_str) != Some("pw") || user != user_of(&h) {
        a.not_forms += 1;
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    }
    let n = a.logins.entry(user.clone()).or_default();
    *n += 1;
    let token = format!("tok-{user}-{n}");
    a.tokens.insert(user.clone(), token.clone());
    (
        [("set-cookie", format!("sid=s-{user}; Path=/; HttpOnly"))],
        axum::Json(json!({ "token": token })),
    )
        .into_response()
}

async fn create(State(app): State<Shared>, h: HeaderMap, body: axum::Json<Value>) -> Response {
    seen(&app, &h);
    // Slow enough that the claims due 30 ms after their gift wait for its id.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut a = app.lock().unwrap();
    if !authorized(&a, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let reference = body["ref"].as_str().unwrap_or("").to_string();
    if reference == "g7-1" {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    a.next_id += 1;
    let id = 1000 + a.next_id;
    a.gifts.insert(id, (reference, Instant::now(), false));
    (
        StatusCode::CREATED,
        [("location", format!("/gifts/{id}"))],
        axum::Json(json!({ "data": { "id": id } })),
    )
        .into_response()
}

async fn visible(State(app): State<Shared>, h: HeaderMap, UrlPath(id): UrlPath<u64>) -> Response {
    seen(&app, &h);
    let a = app.lock().unwrap();
    let shown = a
        .gifts
        .get(&id)
        .is_some_and(|(_, at, _)| at.elapsed() > Duration::from_millis(40));
    axum::Json(json!({ "visible": shown })).into_response()
}

async fn claim(State(app): State<Shared>, h: HeaderMap, UrlPath(id): UrlPath<String>) -> Response {
    seen(&app, &h);
    let mut a = app.lock().unwrap();
    let user = user_of(&h);
    if user == "u5" && !a.revoked {
        a.revoked = true;
        a.tokens.remove("u5");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if !authorized(&a, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let cookie = h.get("cookie").and_then(|v| v.to_str().ok()).unwrap_or("");
    if cookie == format!("sid=s-{user}") {
        a.good_cookies += 1;
    } else {
        a.bad_cookies += 1;
    }
    // Seed 002's app: an unknown id is answered 200 with `not_found`.
    let status = match id.parse::<u64>().ok().and_then(|n| a.gifts.get_mut(&n)) {
        None => "not_found",
        Some((_, _, claimed)) if *claimed => "empty",
        Some((_, _, claimed)) => {
            *claimed = true;
            "claimed"
        }
    };
    axum::Json(json!({ "status": status })).into_response()
}

struct Server {
    url: String,
    app: Shared,
    _rt: tokio::runtime::Runtime,
}

fn gift_app() -> Server {
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app: Shared = Arc::default();
    let router = Router::new()
        .route("/login", post(login))
        .route("/gifts", post(create))
        .route("/by-location/gifts/{id}", get(visible))
        .route("/gifts/{id}/claim", post(claim))
        .with_state(Arc::clone(&app));
    rt.spawn(async move { axum::serve(listener, router).await });
    Server { url, app, _rt: rt }
}

fn line(t_ms: i64, user: &str, seq: u32, event: &str, props: Value) -> String {
    json!({
        "v": 1, "ts": "2026-01-05T00:00:00.000Z", "t_ms": t_ms, "user_id": user,
        "persona": "gamer", "session_id": format!("s-{user}"), "seq": seq, "event": event,
        "props": props,
    })
    .to_string()
}

/// Ten users log in, each creates a gift, and the next user claims it 30 ms later; u0
/// also claims a gift the replay never created (`g99-1`).
fn gift_log(dir: &Path) -> PathBuf {
    let mut lines = Vec::new();
    for i in 0..10i64 {
        let u = format!("u{i}");
        lines.push((
            i * 10,
            line(i * 10, &u, 0, "user.logged_in", json!({"platform": "ios"})),
        ));
        let gift = json!({"gift_id": format!("g{i}-1"), "shares": 1, "value": 5, "room": "r1"});
        lines.push((
            200 + i * 10,
            line(200 + i * 10, &u, 1, "gift.created", gift),
        ));
        let c = format!("u{}", (i + 1) % 10);
        let claim = json!({"gift_id": format!("g{i}-1"), "outcome": "won", "share": 1});
        lines.push((
            230 + i * 10,
            line(230 + i * 10, &c, 2, "gift.claimed", claim),
        ));
    }
    let missing = json!({"gift_id": "g99-1", "outcome": "won", "share": 1});
    lines.push((400, line(400, "u0", 3, "gift.claimed", missing)));
    lines.sort_by_key(|(t, _)| *t);
    let p = dir.join("gifts.jsonl");
    let text: Vec<String> = lines.into_iter().map(|(_, l)| l).collect();
    std::fs::write(&p, text.join("\n") + "\n").unwrap();
    p
}

/// The login, the create (a step that captures the server's id and the Location, then
/// a poll until the gift is visible) and the claim, by captured id or by the timeline's.
fn mapping(dir: &Path, claim_path: &str) -> PathBuf {
    let text = format!(
        r#"cookie_jar = true

[auth]
bearer = "{{vars.token}}"
login = "user.logged_in"

[[request]]
event = "user.logged_in"
path = "/login"
form = {{ user = "{{user_id}}", password = "pw" }}
capture = [{{ into = "vars.token", field = "token" }}]
kind = "login"
class = "api"

[[request]]
event = "gift.created"
entity = {{ gift = "{{props.gift_id}}" }}
class = "api"

[[request.steps]]
path = "/gifts"
body = {{ ref = "{{props.gift_id}}" }}
capture = [{{ into = "entity.gift.id", field = "data.id" }}, {{ into = "vars.where", header = "location" }}]
kind = "create"

[[request.steps]]
method = "GET"
path = "/by-location{{vars.where}}"
poll = {{ every = "10ms", timeout = "2s" }}
check = {{ field = "visible", equals = true }}
kind = "visible"

[[request]]
event = "gift.claimed"
entity = {{ gift = "{{props.gift_id}}" }}
path = "{claim_path}"
check = {{ field = "status", one_of = ["claimed", "empty", "already_claimed"] }}
outcome = "status"
kind = "claim"
class = "api"
"#
    );
    let p = dir.join("flow.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const NOT_FOUND: &str = "outcome{event:gift.claimed,reason:not_found}<1%";

fn run(dir: &Path, server: &Server, claim_path: &str) -> (std::process::Output, Value) {
    let log = gift_log(dir);
    let m = mapping(dir, claim_path);
    let out = dir.join("s.json");
    let o = replay_log(&log, &m, &server.url, "1x")
        .args(["--threshold", "errors<=1", "--threshold", NOT_FOUND])
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    let s = if out.exists() {
        read_json(&out)
    } else {
        Value::Null
    };
    (o, s)
}

#[test]
fn claims_use_the_captured_id_and_a_failed_create_skips_its_claim() {
    let dir = tempfile::tempdir().unwrap();
    let server = gift_app();
    let (o, s) = run(dir.path(), &server, "/gifts/{entity.gift.id}/claim");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{out}");
    // Nine gifts created (g7-1 failed with 500), each claimed once by its next user.
    let claims = s["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["event"] == "gift.claimed")
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(claims["field"], "status");
    assert_eq!(claims["counts"], json!({"claimed": 9}), "{claims}");
    // The claim of g7-1 (its create failed), of g99-1 (never created) and g7's poll step.
    let t = &s["totals"];
    assert_eq!(t["skipped_dependency"], 3, "{t}");
    assert_eq!(t["errors"], 1, "only the create of g7-1: {t}");
    let deps: Vec<&str> = s["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dependency"].as_str().unwrap())
        .collect();
    assert!(
        deps.iter()
            .any(|d| d.contains("entity.gift.id of g7-1") && d.contains("status 500")),
        "{deps:?}"
    );
    assert!(
        deps.iter().any(|d| d.contains("entity.gift.id of g99-1")),
        "{deps:?}"
    );
    assert_eq!(s["skipped"]["dependency"]["gift.claimed"], 2, "{s}");
    // Claims due 30 ms after their create waited for the server's id: chained.
    assert!(t["chained"].as_u64().unwrap() >= 5, "{t}");
    // Per-step rows: the poll step has its own tag, each poll a request of its own.
    let kinds: BTreeMap<&str, u64> = s["by_kind"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["tags"]["kind"].as_str().unwrap(),
                k["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds.get("visible"), Some(&9), "{kinds:?}");
    assert_eq!(kinds.get("create"), Some(&10), "{kinds:?}");
    let a = server.app.lock().unwrap();
    // u5's token was revoked at its claim: the login ran again and the claim went on.
    assert_eq!(a.logins.get("u5"), Some(&2), "{:?}", a.logins);
    assert!(a.events.iter().any(|e| e == "u5/2/login"), "{:?}", a.events);
    assert_eq!(kinds.get("login"), Some(&11), "{kinds:?}");
    // Later steps carry their step number; forms and cookies arrived as sent.
    assert!(a.events.iter().any(|e| e == "u3/1/2"), "{:?}", a.events);
    assert_eq!(a.not_forms, 0);
    assert_eq!((a.good_cookies, a.bad_cookies), (9, 0));
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
}

#[test]
fn without_captures_every_claim_is_an_error_and_the_outcome_threshold_fails() {
    let dir = tempfile::tempdir().unwrap();
    let server = gift_app();
    // The timeline's gift id is not the server's: every claim is `not_found`.
    let (o, s) = run(dir.path(), &server, "/gifts/{props.gift_id}/claim");
    assert_eq!(o.status.code(), Some(99), "{s}");
    let claims = &s["outcomes"].as_array().unwrap()[0];
    // Every claim went out (none reads a captured value), g7-1's and g99-1's too.
    assert_eq!(claims["counts"]["not_found"], 11, "{claims}");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains(&format!("✗ {NOT_FOUND}")), "{table}");
    let by_event = s["by_event"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["tags"]["event"] == "gift.claimed")
        .unwrap();
    assert_eq!(by_event["error_classes"]["app"], 11, "{by_event}");
    assert_eq!(by_event["ok"], 0, "never silently ok: {by_event}");
}

#[test]
fn flow_mapping_errors_are_all_reported_with_their_place_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let log = gift_log(dir.path());
    let m = dir.path().join("bad.toml");
    std::fs::write(
        &m,
        r#"[[request]]
event = "gift.created"
path = "/gifts"
[[request.steps]]
path = "/a/{vars.later}"
[[request.steps]]
protocol = "carrier-pigeon"
path = "/b"
capture = [{ into = "vars.later", field = "id" }, { into = "entity.gift.id", field = "id" }]
think = "soon"

[[request]]
event = "gift.claimed"
path = "/c/{vars.never}"
"#,
    )
    .unwrap();
    let o = replay_log(&log, &m, "http://127.0.0.1:9", "1x")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "bad.toml:3: field `request[0].path`: `path` belongs in a step",
        "field `request[0].steps[1].protocol`: `carrier-pigeon` is not a protocol",
        "field `request[0].steps[1].capture[1].into`: the request names no `gift` entity",
        "field `request[0].steps[1].think`: `soon` is not a duration",
        "field `request[0].steps[0]`: `vars.later` is read before it is written: step 2 of this request captures it",
        "field `request[1]`: `vars.never` is read, and no capture writes it",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}
