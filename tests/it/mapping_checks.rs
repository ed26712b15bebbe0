//! A mapping does what it says or is refused before any traffic (issue 18): HTTP checks
//! read the JSON answer, templates read only the props their kinds carry, missing
//! environment variables and tokens are named, and statuses read as their protocol names
//! them. Each against a real server on loopback.

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use crate::common::{read_json, replay_log};
use crate::replay::{Server, even_log};

/// An axum server answering every request with `{"ok": true, "data": {"n": 1}}`, with a
/// length to even users and chunked to odd ones, recording each request's authorization
/// header.
struct JsonServer {
    url: String,
    auth: Arc<Mutex<Vec<Option<String>>>>,
    _rt: tokio::runtime::Runtime,
}

fn json_server() -> JsonServer {
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let auth: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen = Arc::clone(&auth);
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let seen = Arc::clone(&seen);
        async move {
            let a = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            seen.lock().unwrap().push(a);
            let user: u32 = headers["x-sim-event"].to_str().unwrap()[1..]
                .split('/')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let body = json!({"ok": true, "data": {"n": 1}}).to_string();
            let body = if user.is_multiple_of(2) {
                Body::from(body)
            } else {
                let (a, b) = body.split_at(9);
                let parts = [a.to_string(), b.to_string()].map(Ok::<_, std::io::Error>);
                Body::from_stream(futures_util::stream::iter(parts))
            };
            Response::builder()
                .header("content-type", "application/json")
                .body(body)
                .unwrap()
        }
    });
    rt.spawn(async move { axum::serve(listener, app).await });
    JsonServer { url, auth, _rt: rt }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn http_checks_read_the_json_answer_and_failures_are_app_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = even_log(dir.path(), 6, 2);
    let server = json_server();
    for (check, ok, http2) in [
        (r#"{ field = "ok", equals = false }"#, false, false),
        (r#"{ field = "data.n", equals = 1 }"#, true, false),
        (r#"{ field = "data.n", equals = 1 }"#, true, true),
    ] {
        let mapping = write(
            dir.path(),
            "m.toml",
            &format!("[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\ncheck = {check}\n"),
        );
        let out = dir.path().join("s.json");
        let o = replay_log(&log, &mapping, &server.url, "20x")
            .args(http2.then_some("--http2"))
            .arg("--summary-export")
            .arg(&out)
            .output()
            .unwrap();
        // Failed checks are errors: every request failing breaks the default errors<5%.
        let code = if ok { 0 } else { 99 };
        assert_eq!(
            o.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let s = read_json(&out);
        let t = &s["totals"];
        if ok {
            assert_eq!(
                (t["ok"].as_u64(), t["errors"].as_u64()),
                (Some(6), Some(0)),
                "{t}"
            );
            assert_eq!(s["overall"]["statuses"]["200"], 6);
        } else {
            assert_eq!(
                (t["ok"].as_u64(), t["errors"].as_u64()),
                (Some(0), Some(6)),
                "{t}"
            );
            assert_eq!(s["overall"]["error_classes"]["app"], 6);
            let table = String::from_utf8_lossy(&o.stdout);
            assert!(table.contains("other errors: app 6"), "{table}");
        }
    }
    assert_eq!(server.auth.lock().unwrap().len(), 18);
}

#[test]
fn props_an_event_kind_lacks_and_missing_inputs_are_refused_before_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let log = even_log(dir.path(), 20, 2);
    let server = Server::start(None);
    let refused = |mapping: &Path| {
        let o = replay_log(&log, mapping, &server.url(), "20x")
            .env_remove("SIM_T18_KEY")
            .env_remove("SIM_T18_OTHER")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    // Every problem at once: a prop goal.claimed lacks, a foreign field, two variables.
    let m = write(
        dir.path(),
        "m.toml",
        "[headers]\nx-key = \"{env.SIM_T18_KEY}:{env.SIM_T18_OTHER}\"\n\n[[request]]\nevent = \"goal.claimed\"\npath = \"/goals/{props.goalId}/claim\"\nemit = \"claim\"\n",
    );
    let err = refused(&m);
    assert!(err.contains("4 problems"), "{err}");
    assert!(
        err.contains("m.toml:6: field `request[0].path`: in `{props.goalId}`: `props.goalId` is not a prop of `goal.claimed` (did you mean `goal_id`?)"),
        "{err}"
    );
    assert!(
        err.contains("fix: use one of: goal_id, challenge_id, reward"),
        "{err}"
    );
    assert!(
        err.contains("m.toml:7: field `request[0].emit`: `emit` has no effect on a http request"),
        "{err}"
    );
    for name in ["SIM_T18_KEY", "SIM_T18_OTHER"] {
        assert!(err.contains(&format!("`{name}` is not set")), "{err}");
        assert!(err.contains(&format!("fix: export {name}=…")), "{err}");
    }

    // A token file naming one user of twenty: refused with the count and a few ids.
    write(dir.path(), "tokens.json", r#"{"u3": "tok-three"}"#);
    let tokens = |policy: &str| {
        write(
            dir.path(),
            "t.toml",
            &format!(
                "[auth]\ntokens_file = \"tokens.json\"\nbearer = \"{{token}}\"\n{policy}\n[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\n"
            ),
        )
    };
    let err = refused(&tokens(""));
    assert!(
        err.contains("t.toml:2: field `auth.tokens_file`: 19 of the 20 users known before the replay have no token in the token file (u0, u1, u10, u11, u12, …)"),
        "{err}"
    );
    assert!(err.contains("missing_token = \"skip\""), "{err}");
    // A token file no template reads (the braces forgotten) does nothing: refused.
    let err = refused(&write(
        dir.path(),
        "u.toml",
        "[auth]\ntokens_file = \"tokens.json\"\nbearer = \"token\"\n\n[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\n",
    ));
    assert!(
        err.contains("u.toml:2: field `auth.tokens_file`: no template reads the tokens"),
        "{err}"
    );
    assert!(server.arrivals().is_empty(), "nothing sent on bad input");

    // skip: only u3's request goes out; the others are counted as skipped.
    let out = dir.path().join("s.json");
    let o = replay_log(
        &log,
        &tokens("missing_token = \"skip\""),
        &server.url(),
        "20x",
    )
    .arg("--summary-export")
    .arg(&out)
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 1);
    assert_eq!(arrivals[0].id, "u3/0");
    let s = read_json(&out);
    assert_eq!(s["totals"]["no_token"], 19);
    assert_eq!(s["totals"]["sent"], 1);
    assert_eq!(s["skipped"]["no_token"]["stat.updated"], 19);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("19 without a token"), "{table}");
}

/// A checked answer over 1 MiB fails as `body_too_large` on HTTP/1.1 and h2c alike, where
/// HTTP/1.1 judged a cut body and h2c the whole one (issue 18 review).
#[test]
fn a_checked_body_over_1_mib_fails_the_same_on_every_transport() {
    let dir = tempfile::tempdir().unwrap();
    let log = even_log(dir.path(), 4, 2);
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Valid JSON that holds the check, 1.1 MiB long.
    let big = json!({"ok": true, "pad": "x".repeat(1_153_434)}).to_string();
    let app = Router::new().fallback(move || {
        let big = big.clone();
        async move {
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(big))
                .unwrap()
        }
    });
    rt.spawn(async move { axum::serve(listener, app).await });
    let mapping = write(
        dir.path(),
        "m.toml",
        "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\ncheck = { field = \"ok\", equals = true }\n",
    );
    for http2 in [false, true] {
        let out = dir.path().join("s.json");
        let o = replay_log(&log, &mapping, &url, "20x")
            .args(http2.then_some("--http2"))
            .arg("--no-default-threshold")
            .arg("--summary-export")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let s = read_json(&out);
        assert_eq!(
            s["overall"]["error_classes"]["body_too_large"], 4,
            "http2 {http2}: {}",
            s["overall"]
        );
        assert_eq!(s["totals"]["ok"], 0, "{}", s["totals"]);
    }
    drop(rt);
}
