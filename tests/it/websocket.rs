//! `simulate replay` over plain WebSocket against a tokio-tungstenite server on loopback
//! that replies to every JSON message with its `id`, pushes a frame of its own to each
//! connection and pings it; one variant drops each user's first connection mid-session.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

use crate::common::{read_json, replay_log};

/// What the server saw.
#[derive(Default)]
struct Seen {
    /// Per connection: the user its upgrade named and the `x-sim-event` it carried.
    connections: Mutex<Vec<(String, String)>>,
    /// Every message's `id`.
    ids: Mutex<Vec<String>>,
    /// Connections each user has opened.
    per_user: Mutex<HashMap<String, usize>>,
    /// Frames the connections had closed politely by the client.
    closes: AtomicUsize,
}

struct WsServer {
    addr: SocketAddr,
    seen: Arc<Seen>,
    _rt: tokio::runtime::Runtime,
}

/// The server; with `drop_at`, each user's first connection is cut (no close frame, no
/// reply) when its `drop_at`-th message arrives.
fn start(drop_at: Option<usize>) -> WsServer {
    let (rt, listener) = crate::common::server_runtime(2, "127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = Arc::clone(&seen);
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve(tcp, Arc::clone(&s), drop_at));
        }
    });
    WsServer {
        addr,
        seen,
        _rt: rt,
    }
}

// The handshake callback's error type is tungstenite's, large by its design.
#[allow(clippy::result_large_err)]
async fn serve(tcp: tokio::net::TcpStream, seen: Arc<Seen>, drop_at: Option<usize>) {
    let who = Arc::new(Mutex::new((String::new(), String::new())));
    let w = Arc::clone(&who);
    let callback = move |req: &Request, resp: Response| {
        let user = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("user=")))
            .unwrap_or("")
            .to_string();
        let event = req
            .headers()
            .get("x-sim-event")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        *w.lock().unwrap() = (user, event);
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
        return;
    };
    let (user, event) = who.lock().unwrap().clone();
    seen.connections.lock().unwrap().push((user.clone(), event));
    let nth = {
        let mut per = seen.per_user.lock().unwrap();
        let n = per.entry(user).or_default();
        *n += 1;
        *n
    };
    let cut = drop_at.filter(|_| nth == 1);
    let _ = ws
        .send(Message::text(json!({"type": "push"}).to_string()))
        .await;
    let mut ping = tokio::time::interval(Duration::from_millis(100));
    let mut got = 0;
    loop {
        tokio::select! {
            _ = ping.tick() => {
                if ws.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) => {
                        seen.closes.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Some(Ok(_)) => continue,
                    _ => return,
                };
                let v: Value = serde_json::from_str(text.as_str()).unwrap();
                let id = v["id"].as_str().unwrap().to_string();
                got += 1;
                if cut == Some(got) {
                    // Gone without a word: the transport breaks under the client.
                    return;
                }
                seen.ids.lock().unwrap().push(id.clone());
                let reply = json!({"id": id, "ok": true}).to_string();
                if ws.send(Message::text(reply)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A log of `users` sessions opening at t = 0, each sending `stats` stats 100 ms apart,
/// ending 200 ms after the last.
fn stats_log(dir: &Path, users: usize, stats: i64) -> PathBuf {
    let log = dir.join("stats.jsonl");
    let line = |t: i64, u: usize, seq: i64, event: &str, props: &str| {
        format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{t},\"user_id\":\"u{u}\",\"persona\":\"gamer\",\"session_id\":\"s{u}-1\",\"seq\":{seq},\"event\":\"{event}\",\"props\":{props}}}\n"
        )
    };
    let mut all = Vec::new();
    for u in 0..users {
        let start = "{\"trigger\":\"internal\",\"habit\":0.5,\"room\":0}";
        all.push((0, u, line(0, u, 0, "session.started", start)));
        for k in 1..=stats {
            let props = format!("{{\"statCode\":\"kills\",\"value\":{k},\"delta\":1}}");
            all.push((k * 100, u, line(k * 100, u, k, "stat.updated", &props)));
        }
        let end = stats * 100 + 200;
        let props = "{\"reason\":\"done\"}";
        all.push((end, u, line(end, u, stats + 1, "session.ended", props)));
    }
    all.sort_by_key(|(t, u, _)| (*t, *u));
    std::fs::write(&log, all.into_iter().map(|(_, _, l)| l).collect::<String>()).unwrap();
    log
}

const MAPPING: &str = r#"timeout = "3s"
[websocket]
query = "user={user_id}"
ping_every = "200ms"
hello = { message = { id = "hello-{event_id}", type = "hello", user = "{user_id}" }, reply = true }

[[request]]
event = "stat.updated"
protocol = "websocket"
message = { id = "{event_id}", type = "stat", value = "{props.value}" }
reply = true
check = { field = "ok", equals = true }
kind = "stat"
class = "event"
"#;

fn replay(dir: &Path, server: &WsServer, users: usize, stats: i64) -> (Value, String) {
    let log = stats_log(dir, users, stats);
    let mapping = dir.join("ws.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    let out = dir.join("s.json");
    let o = replay_log(&log, &mapping, "http://127.0.0.1:9", "1x")
        .args(["--websocket-target", &format!("ws://{}/ws", server.addr)])
        .arg("--no-default-threshold")
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        read_json(&out),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// The WebSocket requests' figures: (count, errors, replied).
fn websocket_figures(s: &Value, event: &str) -> (u64, u64, u64) {
    s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["tags"]["protocol"] == "websocket" && g["tags"]["event"] == event)
        .fold((0, 0, 0), |(n, e, r), g| {
            (
                n + g["count"].as_u64().unwrap(),
                e + g["errors"].as_u64().unwrap(),
                r + g["statuses"]["replied"].as_u64().unwrap_or(0),
            )
        })
}

#[test]
fn every_event_goes_once_as_a_message_and_its_reply_is_matched_and_timed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(None);
    let (users, stats) = (10, 20);
    let (s, table) = replay(dir.path(), &server, users, stats);
    // One connection per session, opened for its user by the session's start event.
    let conns = server.seen.connections.lock().unwrap().clone();
    assert_eq!(conns.len(), users);
    for (user, event) in &conns {
        assert_eq!(event, &format!("{user}/0"), "{conns:?}");
    }
    // Every stat arrived exactly once, after its session's hello.
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for id in server.seen.ids.lock().unwrap().iter() {
        *got.entry(id.clone()).or_default() += 1;
    }
    assert!(got.values().all(|n| *n == 1), "duplicates: {got:?}");
    for u in 0..users {
        assert_eq!(got.get(&format!("hello-u{u}/0")), Some(&1));
        for k in 1..=stats {
            assert_eq!(got.get(&format!("u{u}/{k}")), Some(&1), "u{u}/{k}");
        }
    }
    // Each message's reply was matched, checked and timed.
    let n = users as u64 * stats as u64;
    assert_eq!(websocket_figures(&s, "stat.updated"), (n, 0, n));
    let g = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["tags"]["event"] == "stat.updated")
        .unwrap();
    let p50 = g["latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 < 1000.0, "{g}");
    let w = &s["websocket"];
    assert_eq!(w["messages"]["replies"], n + users as u64, "{w}");
    assert_eq!(w["messages"]["written"], n + users as u64, "{w}");
    assert_eq!(
        w["messages"]["unmatched"], users,
        "one push per connection: {w}"
    );
    assert!(w["messages"]["pongs"].as_u64().unwrap() > 0, "{w}");
    let c = &w["connections"];
    assert_eq!(c["opened"], users, "{c}");
    assert_eq!(c["closed"], users, "{c}");
    assert_eq!(c["dropped"], 0, "{c}");
    assert!(c["pings_answered"].as_u64().unwrap() > 0, "{c}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.seen.closes.load(Ordering::Relaxed), users);
    assert!(
        table.contains("websocket: 10 connections opened"),
        "{table}"
    );
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
}

#[test]
fn a_server_that_drops_connections_sees_them_come_back_and_the_drops_counted() {
    let dir = tempfile::tempdir().unwrap();
    // Each user's first connection is cut when its 4th message (hello + 3 stats) arrives.
    let server = start(Some(4));
    let (users, stats) = (8, 15);
    let (s, _) = replay(dir.path(), &server, users, stats);
    let c = &s["websocket"]["connections"];
    assert_eq!(c["dropped"], users, "{c}");
    assert_eq!(c["reconnected"], users, "{c}");
    assert_eq!(c["reconnect_failures"], 0, "{c}");
    assert_eq!(server.seen.connections.lock().unwrap().len(), 2 * users);
    // The message the cut swallowed is a `reset` error, one per user; every other one
    // arrived once and was replied to.
    let n = users as u64 * stats as u64;
    let (count, errors, replied) = websocket_figures(&s, "stat.updated");
    assert_eq!(
        (count, errors, replied),
        (n, users as u64, n - users as u64)
    );
    assert_eq!(
        s["overall"]["error_classes"]["reset"], users,
        "{}",
        s["overall"]
    );
    let ids = server.seen.ids.lock().unwrap().clone();
    let stats_seen = ids.iter().filter(|i| !i.starts_with("hello")).count() as u64;
    assert_eq!(stats_seen, n - users as u64);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
}

#[test]
fn a_session_whose_connect_failed_has_its_disconnect_skipped_not_closed() {
    let dir = tempfile::tempdir().unwrap();
    let log = stats_log(dir.path(), 3, 1);
    let mapping = dir.path().join("ws.toml");
    std::fs::write(
        &mapping,
        MAPPING.replace("timeout = \"3s\"", "timeout = \"1s\""),
    )
    .unwrap();
    let out = dir.path().join("s.json");
    // Nothing listens on the discard port: every connect is refused.
    let o = replay_log(&log, &mapping, "http://127.0.0.1:9", "1x")
        .args(["--websocket-target", "ws://127.0.0.1:9/ws"])
        .arg("--no-default-threshold")
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = read_json(&out);
    // The connects are errors; the disconnects had nothing to close: skipped for the
    // failed connect, named, never counted as `closed`.
    assert_eq!(websocket_figures(&s, "session.started"), (3, 3, 0));
    assert_eq!(
        websocket_figures(&s, "session.ended").0,
        0,
        "{}",
        s["groups"]
    );
    assert_eq!(s["totals"]["skipped_dependency"], 3, "{}", s["totals"]);
    assert_eq!(
        s["skipped"]["dependency"]["session.ended"], 3,
        "{}",
        s["skipped"]
    );
    let deps = s["dependencies"].to_string();
    assert!(
        deps.contains("the session's WebSocket connect: refused"),
        "{deps}"
    );
    assert!(
        s["overall"]["statuses"].get("closed").is_none(),
        "{}",
        s["overall"]
    );
    assert_eq!(s["websocket"]["connections"]["closed"], 0);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
}
