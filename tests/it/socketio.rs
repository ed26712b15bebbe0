//! `simulate replay` over Socket.IO against socketioxide servers on loopback: an
//! independent Socket.IO v4 implementation, started by each test with short ping intervals.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::common::bin;
use crate::gift_app::{self, Seen};

struct SocketIoServer {
    addr: SocketAddr,
    seen: Arc<Seen>,
    _rt: tokio::runtime::Runtime,
}

/// The gift app on its own runtime, pinging every `ping`.
fn start(ns: &'static str, ping: Duration) -> SocketIoServer {
    let (rt, listener) = crate::common::server_runtime(2, "127.0.0.1:0");
    let (layer, seen) = gift_app::layer(ns, ping, true);
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().layer(layer);
    rt.spawn(async move { axum::serve(listener, app).await });
    SocketIoServer {
        addr,
        seen,
        _rt: rt,
    }
}

use crate::common::read_json as summary;

fn lines(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn sessions_get_their_own_connections_gifts_arrive_once_acked_and_broadcasts_fan_out() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::replay::run_log(dir.path(), "400", "1");
    let events = lines(&log);
    let socketio = start("/", Duration::from_millis(300));
    let http = crate::replay::Server::start(None);
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/socketio-gifts.toml");
    let out = dir.path().join("s.json");
    let o = crate::common::replay_log(&log, &mapping, &http.url(), "1d:4s")
        .args(["--socketio-target", &format!("http://{}", socketio.addr)])
        .args(["--threshold", "fanout_p99{listen:gift:available}<2s"])
        .args(["--threshold", "p99{protocol:socketio}<2s"])
        .args([
            "--threshold",
            "errors{protocol:socketio,event:gift.created}<1",
        ])
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);

    one_connection_per_session(&events, &socketio, &s);
    every_gift_event_arrives_once(&events, &socketio);
    acks_and_broadcasts_are_timed(&events, &s);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
}

/// One distinct connection per session, opened for the right user with its auth, in
/// its room, and closed when the session ended.
fn one_connection_per_session(events: &[Value], socketio: &SocketIoServer, s: &Value) {
    // One distinct connection per session, opened for the right user with its auth.
    let sessions: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "session.started")
        .collect();
    let conns = socketio.seen.connections.lock().unwrap().clone();
    assert_eq!(conns.len(), sessions.len(), "{}", s["socketio"]);
    let sids: BTreeSet<&str> = conns.iter().map(|c| c.sid.as_str()).collect();
    assert_eq!(sids.len(), conns.len(), "connection ids are distinct");
    let want: BTreeSet<(String, String)> = sessions
        .iter()
        .map(|e| {
            (
                e["user_id"].as_str().unwrap().to_string(),
                e["session_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let got: BTreeSet<(String, String)> = conns
        .iter()
        .map(|c| {
            assert_eq!(c.auth["userId"].as_str(), Some(c.query_user.as_str()));
            assert!(c.traceparent.starts_with("00-"), "{c:?}");
            (
                c.query_user.clone(),
                c.auth["session"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    // Each connection joined its user's room, as session.started records it.
    let room_of: HashMap<&str, String> = sessions
        .iter()
        .map(|e| {
            (
                e["session_id"].as_str().unwrap(),
                e["props"]["room"].to_string(),
            )
        })
        .collect();
    let joins = socketio.seen.joins.lock().unwrap().clone();
    assert_eq!(joins.len(), conns.len());
    let session_of: HashMap<&str, &str> = conns
        .iter()
        .map(|c| (c.sid.as_str(), c.auth["session"].as_str().unwrap()))
        .collect();
    for (sid, room) in &joins {
        assert_eq!(&room_of[session_of[sid.as_str()]], room);
    }
    // Every session ended inside the day closed its connection.
    let ended = events
        .iter()
        .filter(|e| e["event"] == "session.ended")
        .count();
    let c = &s["socketio"]["connections"];
    assert_eq!(c["opened"], conns.len());
    assert_eq!(c["implicit"], 0);
    assert_eq!(c["dropped"], 0, "pings answered, no connection timed out");
    assert!(c["pings_answered"].as_u64().unwrap() > 0, "{c}");
    assert!(c["closed"].as_u64().unwrap() >= ended as u64, "{c}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        socketio.seen.disconnects.load(Ordering::Relaxed),
        conns.len()
    );
}

/// Every gift event arrived exactly once, as an emit carrying its event id.
fn every_gift_event_arrives_once(events: &[Value], socketio: &SocketIoServer) {
    let mut want_ids: BTreeMap<String, usize> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| matches!(e["event"].as_str(), Some("gift.created" | "gift.claimed")))
    {
        *want_ids
            .entry(format!("{}/{}", e["user_id"].as_str().unwrap(), e["seq"]))
            .or_default() += 1;
    }
    assert!(want_ids.len() > 20, "the day has gifts: {}", want_ids.len());
    let mut got_ids: BTreeMap<String, usize> = BTreeMap::new();
    for (_, p) in socketio.seen.emits.lock().unwrap().iter() {
        *got_ids
            .entry(p["eventId"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(got_ids, want_ids);
}

/// Acks were timed, per protocol; creations passed their check; every gift:available
/// broadcast is tied to its gift.created emit and timed.
fn acks_and_broadcasts_are_timed(events: &[Value], s: &Value) {
    let sessions = events
        .iter()
        .filter(|e| e["event"] == "session.started")
        .count();
    // Acks were timed, per protocol; creations passed their check.
    let groups = s["groups"].as_array().unwrap();
    let socketio_groups: Vec<&Value> = groups
        .iter()
        .filter(|g| g["tags"]["protocol"] == "socketio")
        .collect();
    let count = |event: &str| -> (u64, u64) {
        socketio_groups
            .iter()
            .filter(|g| g["tags"]["event"] == event)
            .fold((0, 0), |(n, e), g| {
                (
                    n + g["count"].as_u64().unwrap(),
                    e + g["errors"].as_u64().unwrap(),
                )
            })
    };
    let created = events
        .iter()
        .filter(|e| e["event"] == "gift.created")
        .count() as u64;
    assert_eq!(count("gift.created"), (created, 0));
    assert_eq!(count("session.started").0, sessions as u64);
    assert!(groups.iter().any(|g| g["tags"]["protocol"] == "http"));

    // Broadcasts: every gift:available is tied to its gift.created emit and timed.
    let l = &s["socketio"]["listen"][0];
    assert_eq!(l["event"], "gift:available");
    assert_eq!(l["origins"], created);
    assert!(l["received"].as_u64().unwrap() >= created, "{l}");
    assert_eq!(l["matched"], l["received"]);
    assert!(
        l["receipts_per_origin"]["max"].as_u64().unwrap() >= 1,
        "{l}"
    );
    let p99 = l["fanout_ms"]["p99"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 < 2000.0, "{l}");
}

/// A TCP relay in front of the server whose connections the test can cut at once.
struct Relay {
    addr: SocketAddr,
    cut: Arc<tokio::sync::Notify>,
    _rt: tokio::runtime::Runtime,
}

fn relay(to: SocketAddr) -> Relay {
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let cut = Arc::new(tokio::sync::Notify::new());
    let c = Arc::clone(&cut);
    rt.spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                let Ok(mut out) = tokio::net::TcpStream::connect(to).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut out) => {}
                    _ = c.notified() => {}
                }
            });
        }
    });
    Relay { addr, cut, _rt: rt }
}

/// A log of `users` sessions opening at t = 0, each sending `stats` stats 100 ms apart
/// (seq 2, 4, …), ending 200 ms after the last; with `kick`, a `profile.updated` at
/// 1.25 s (seq 25).
fn stats_log(dir: &Path, users: usize, stats: i64, kick: bool) -> std::path::PathBuf {
    let log = dir.join("stats.jsonl");
    let mut text = String::new();
    let line = |t: i64, u: usize, seq: u32, event: &str, props: &str| {
        format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{t},\"user_id\":\"u{u}\",\"persona\":\"gamer\",\"session_id\":\"s{u}-1\",\"seq\":{seq},\"event\":\"{event}\",\"props\":{props}}}\n"
        )
    };
    let mut all = Vec::new();
    for u in 0..users {
        all.push((
            0,
            u,
            0,
            "session.started",
            "{\"trigger\":\"internal\",\"habit\":0.5,\"room\":0}".to_string(),
        ));
        for k in 1..=stats {
            all.push((
                k * 100,
                u,
                2 * k as u32,
                "stat.updated",
                format!("{{\"statCode\":\"kills\",\"value\":{k},\"delta\":1}}"),
            ));
        }
        if kick {
            all.push((
                1250,
                u,
                25,
                "profile.updated",
                "{\"field\":\"avatar\"}".to_string(),
            ));
        }
        all.push((
            stats * 100 + 200,
            u,
            2 * stats as u32 + 1,
            "session.ended",
            "{\"reason\":\"done\"}".to_string(),
        ));
    }
    all.sort_by_key(|(t, u, ..)| (*t, *u));
    for (t, u, seq, e, p) in &all {
        text.push_str(&line(*t, *u, *seq, e, p));
    }
    std::fs::write(&log, text).unwrap();
    log
}

#[test]
fn dropped_connections_come_back_and_their_sessions_go_on() {
    let dir = tempfile::tempdir().unwrap();
    // 40 users connect at once, then each sends a stat every 100 ms for 3 s, then ends;
    // at 1.25 s the server kicks every socket, at 1.5 s the network drops every connection.
    let log = stats_log(dir.path(), 40, 30, true);
    let mapping = dir.path().join("m.toml");
    std::fs::write(
        &mapping,
        r#"timeout = "3s"
[socketio]
namespace = "/live"
auth = { userId = "{user_id}" }

[[request]]
event = "stat.updated"
protocol = "socketio"
emit = "stat"
payload = { eventId = "{event_id}", value = "{props.value}" }
ack = true
check = { field = "ok", equals = true }
kind = "stat"

[[request]]
event = "profile.updated"
protocol = "socketio"
emit = "kick"
ack = true
kind = "kick"
"#,
    )
    .unwrap();
    let socketio = start("/live", Duration::from_millis(200));
    let relay = relay(socketio.addr);
    let out = dir.path().join("s.json");
    let cutting = Arc::new(AtomicBool::new(true));
    let cutter = {
        let (cut, cutting, seen) = (
            Arc::clone(&relay.cut),
            Arc::clone(&cutting),
            Arc::clone(&socketio.seen),
        );
        // Cut once stat 15 of every user is in (after the kick and the new connections),
        // whatever the machine's speed.
        std::thread::spawn(move || {
            while cutting.load(Ordering::SeqCst) {
                if seen.received.load(Ordering::Relaxed) >= 40 * 15 {
                    cut.notify_waiters();
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // The cut's losses are counted below, not judged.
    let o = crate::common::replay_log(&log, &mapping, &format!("http://{}", relay.addr), "1x")
        .arg("--no-default-threshold")
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    cutting.store(false, Ordering::SeqCst);
    cutter.join().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    let c = &s["socketio"]["connections"];
    // Kicked by the server, each session's next stat opened a new connection (as an app
    // calling connect() again would; no automatic reconnect, as in the official client).
    assert_eq!(c["server_disconnects"], 40, "{c}");
    assert_eq!(c["implicit"], 40, "{c}");
    assert_eq!(c["opened"], 80, "{c}");
    // The cut dropped every connection (the relay holds them all); each came back.
    assert_eq!(c["dropped"], 40, "{c}");
    assert_eq!(c["reconnected"], 40, "{c}");
    assert_eq!(c["reconnect_failures"], 0, "{c}");
    assert_eq!(socketio.seen.connections.lock().unwrap().len(), 120);
    // The server saw every stat at most once; what it missed was lost in the cut and
    // counted as an error, nothing else.
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for (_, p) in socketio.seen.emits.lock().unwrap().iter() {
        *got.entry(p["eventId"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(got.values().all(|n| *n == 1), "duplicates: {got:?}");
    let t = &s["totals"];
    let stats = 40 * 30;
    let emitted = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["tags"]["event"] == "stat.updated")
        .map(|g| g["count"].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(emitted, stats);
    assert!(
        got.len() as u64 + t["errors"].as_u64().unwrap() >= stats,
        "{t}"
    );
    assert!(
        got.len() > stats as usize * 3 / 4,
        "traffic resumed: {}",
        got.len()
    );
}

#[test]
fn socketio_mapping_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("bad.toml");
    std::fs::write(
        &m,
        r#"[socketio]
namespace = "live"

[[socketio.listen]]
event = "gift:available"
origin = "gift.made"

[[request]]
event = "gift.created"
protocol = "socketio"
payload = { id = "{props.gift_id}" }
check = { field = "ok", equals = true }

[[socketio.listen]]
event = "gift:available"
"#,
    )
    .unwrap();
    // Refused before anything is sent: the target port is never connected to.
    let replay = || {
        let mut c = bin();
        c.args(["replay", "--users", "10", "--days", "1"])
            .args(["--target", "http://127.0.0.1:9"]);
        c
    };
    let o = replay().arg("--mapping").arg(&m).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:2: field `socketio.namespace`"),
        "{err}"
    );
    assert!(
        err.contains("field `socketio.listen[0].origin`") && err.contains("gift.made"),
        "{err}"
    );
    assert!(
        err.contains("bad.toml:8: field `request[0]`") && err.contains("emit"),
        "{err}"
    );
    assert!(
        err.contains("field `socketio.listen[1].event`") && err.contains("already listened for"),
        "{err}"
    );
    // A Socket.IO server for a mapping without [socketio] is a mistake, not ignored.
    let o = replay()
        .args(["--socketio-target", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("has no [socketio] table"), "{err}");
    // A --ca-cert file without a certificate is refused for every protocol, up front.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let o = replay().arg("--ca-cert").arg(&junk).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("holds no PEM certificate"), "{err}");
    assert!(
        !err.contains("replaying"),
        "refused before the replay starts: {err}"
    );
    // --seeded-schema means nothing without --seeded.
    let o = replay().args(["--seeded-schema", "x"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--seeded <FILE|URL>"));
}

#[test]
fn one_session_sends_over_http_grpc_and_socketio_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::replay::run_log(dir.path(), "200", "1");
    let events = lines(&log);
    let socketio = start("/", Duration::from_millis(500));
    let grpc = crate::grpc::start(Duration::ZERO);
    let http = crate::replay::Server::start(None);
    let mapping = dir.path().join("mixed.toml");
    std::fs::write(
        &mapping,
        r#"server_side = ["nudge.sent", "goal.completed", "user.churned"]
[grpc]
[socketio]
auth = { userId = "{user_id}", session = "{session_id}" }
join = { emit = "room:join", payload = { room = "{props.room}" }, ack = true }
open_on_emit = false

# Counted only: without an origin no broadcast is tied to an emit.
[[socketio.listen]]
event = "gift:available"

[[request]]
protocol = "grpc"
events = ["stat.updated", "user.logged_in", "points.earned"]
method = "simulate.events.v1.EventService/OnMessage"
message = { event_name = "{event}", namespace = "simulate", user_id = "{user_id}", payload = { seq = "{seq}" } }

[[request]]
protocol = "socketio"
events = ["gift.created", "gift.claimed"]
emit = "gift:claim"
payload = { giftId = "{props.gift_id}", eventId = "{event_id}" }
ack = true

[[request]]
events = ["user.signed_up", "nudge.opened", "points.redeemed", "challenge.viewed", "goal.claimed", "checkin.created", "purchase.completed", "profile.updated", "user.invited"]
path = "/v1/events/{event}"
body = "{line}"
"#,
    )
    .unwrap();
    let out = dir.path().join("s.json");
    let o = crate::common::replay_log(&log, &mapping, &http.url(), "1d:3s")
        .args(["--grpc-target", &format!("http://{}", grpc.addr)])
        .args(["--socketio-target", &format!("http://{}", socketio.addr)])
        .args(["--threshold", "errors{protocol:grpc|socketio}<1"])
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = |e: &Value| format!("{}/{}", e["user_id"].as_str().unwrap(), e["seq"]);
    let want = |kinds: &[&str]| -> BTreeSet<String> {
        events
            .iter()
            .filter(|e| kinds.contains(&e["event"].as_str().unwrap()))
            .map(id)
            .collect()
    };
    let once = |ids: Vec<String>| -> BTreeSet<String> {
        let n = ids.len();
        let set: BTreeSet<String> = ids.into_iter().collect();
        assert_eq!(set.len(), n, "an event arrived twice");
        set
    };
    let by_grpc = once(
        grpc.seen
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|(i, _)| i.clone())
            .collect(),
    );
    assert_eq!(
        by_grpc,
        want(&["stat.updated", "user.logged_in", "points.earned"])
    );
    let by_socketio = once(
        socketio
            .seen
            .emits
            .lock()
            .unwrap()
            .iter()
            .map(|(_, p)| p["eventId"].as_str().unwrap().to_string())
            .collect(),
    );
    assert_eq!(by_socketio, want(&["gift.created", "gift.claimed"]));
    let by_http = once(http.arrivals().into_iter().map(|a| a.id).collect());
    assert_eq!(
        by_http,
        want(&[
            "user.signed_up",
            "nudge.opened",
            "points.redeemed",
            "challenge.viewed",
            "goal.claimed",
            "checkin.created",
            "purchase.completed",
            "profile.updated",
            "user.invited"
        ])
    );
    let sessions = events
        .iter()
        .filter(|e| e["event"] == "session.started")
        .count();
    assert_eq!(socketio.seen.connections.lock().unwrap().len(), sessions);
    let s = summary(&out);
    all_three_protocols(&s);
    only_figures_that_exist(&s, &String::from_utf8_lossy(&o.stdout));
    assert_eq!(s["thresholds"][0]["ok"], true, "{}", s["thresholds"]);
}

/// The summary has groups of HTTP, gRPC and Socket.IO requests.
fn all_three_protocols(s: &Value) {
    let protocols: BTreeSet<&str> = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["tags"]["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(
        protocols.into_iter().collect::<Vec<_>>(),
        ["grpc", "http", "socketio"]
    );
}

/// A listen without an origin has receipts only: no tied counts, no fan-out; statuses are
/// named as their protocol names them (issue 18).
fn only_figures_that_exist(s: &Value, table: &str) {
    // A listen without an origin has receipts only: no tied counts, no fan-out (issue 18).
    let l = &s["socketio"]["listen"][0];
    let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["event", "origin", "received"], "{l}");
    crate::common::conforms::<simulate_replay::summary::Summary>(s, "replay-summary.v1.json");
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with("gift:available:"))
        .expect("the listen's line");
    assert_eq!(
        line.trim(),
        format!("gift:available: {} received", l["received"])
    );
    // Statuses by name: HTTP numbers, gRPC names, Socket.IO steps.
    let statuses = s["overall"]["statuses"].as_object().unwrap();
    for name in ["200", "OK", "connected", "acked", "closed"] {
        assert!(statuses.contains_key(name), "{statuses:?}");
    }
    assert!(!statuses.contains_key("0"), "{statuses:?}");
}

#[test]
fn wss_servers_are_trusted_with_ca_cert_and_refused_without() {
    let dir = tempfile::tempdir().unwrap();
    let log = stats_log(dir.path(), 10, 5, false);
    let tls = crate::common::self_signed(dir.path());
    let (rt, listener) = crate::common::server_runtime(2, "127.0.0.1:0");
    let port = listener.local_addr().unwrap().port();
    let (layer, seen) = gift_app::layer("/", Duration::from_millis(500), true);
    crate::common::serve_tls(
        &rt,
        listener,
        tls.acceptor,
        axum::Router::new().layer(layer),
    );
    let mapping = dir.path().join("m.toml");
    std::fs::write(
        &mapping,
        "[socketio]\nauth = { userId = \"{user_id}\" }\n\n[[request]]\nevent = \"stat.updated\"\nprotocol = \"socketio\"\nemit = \"stat\"\npayload = { eventId = \"{event_id}\" }\nack = true\ncheck = { field = \"ok\", equals = true }\n",
    )
    .unwrap();
    let target = format!("https://localhost:{port}");
    let replay = |extra: &[&str], out: &Path| {
        crate::common::replay_log(&log, &mapping, &target, "4x")
            .arg("--summary-export")
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    let trusted = dir.path().join("t.json");
    let o = replay(&["--ca-cert", tls.ca_file.to_str().unwrap()], &trusted);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&trusted);
    assert_eq!(s["totals"]["errors"], 0, "{}", s["overall"]);
    assert_eq!(s["socketio"]["connections"]["opened"], 10);
    assert_eq!(seen.emits.lock().unwrap().len(), 50);

    // Without the CA the certificate is unknown: no connection, TLS errors, nothing sent.
    let refused = dir.path().join("r.json");
    let o = replay(&[], &refused);
    assert_eq!(o.status.code(), Some(99), "the default errors<5% fails");
    let s = summary(&refused);
    assert_eq!(s["socketio"]["connections"]["opened"], 0);
    assert!(
        s["overall"]["error_classes"]["tls"].as_u64().unwrap() >= 10,
        "{}",
        s["overall"]
    );
    assert_eq!(seen.emits.lock().unwrap().len(), 50);
}

/// `--rate` paces Socket.IO emits like HTTP requests (tests/it/load.rs): 600 stats that the
/// timeline packs into 3 s go out at 100/s, each once, acked.
#[test]
fn a_rate_paces_socketio_emits_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = stats_log(dir.path(), 20, 30, false);
    let mapping = dir.path().join("m.toml");
    std::fs::write(
        &mapping,
        r#"[socketio]
namespace = "/live"
auth = { userId = "{user_id}" }

[[request]]
event = "stat.updated"
protocol = "socketio"
emit = "stat"
payload = { eventId = "{event_id}", value = "{props.value}" }
ack = true
check = { field = "ok", equals = true }
kind = "stat"
"#,
    )
    .unwrap();
    let socketio = start("/live", Duration::from_millis(500));
    let out = dir.path().join("s.json");
    let o = bin()
        .args(["replay", "--from-log"])
        .arg(&log)
        .arg("--mapping")
        .arg(&mapping)
        .args(["--target", &format!("http://{}", socketio.addr), "-q"])
        .args(["--rate", "stat.updated=100/s", "--summary-export"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for (_, p) in socketio.seen.emits.lock().unwrap().iter() {
        *got.entry(p["eventId"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(got.len(), 600, "every stat sent");
    assert!(got.values().all(|n| *n == 1), "each once: {got:?}");
    let s = summary(&out);
    assert_eq!(s["totals"]["errors"], 0, "{}", s["totals"]);
    // Six seconds of 100 emits; the first and last may be partial.
    let sent: Vec<i64> = s["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["sent"].as_i64().unwrap())
        .collect();
    assert!((6..=8).contains(&sent.len()), "{sent:?}");
    for got in &sent[1..sent.len() - 1] {
        assert!((got - 100).abs() <= 10, "{sent:?}");
    }
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
}

/// Four users, each in a room of their own, create a gift 20 ms apart.
fn gifts_log(dir: &Path) -> std::path::PathBuf {
    let log = dir.join("gifts.jsonl");
    let line = |t: i64, u: usize, seq: u32, event: &str, props: String| {
        format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{t},\"user_id\":\"u{u}\",\"persona\":\"gamer\",\"session_id\":\"s{u}-1\",\"seq\":{seq},\"event\":\"{event}\",\"props\":{props}}}\n"
        )
    };
    let mut text = String::new();
    for u in 0..4 {
        let start = format!("{{\"trigger\":\"internal\",\"habit\":0.5,\"room\":{u}}}");
        text.push_str(&line(u as i64, u, 0, "session.started", start));
    }
    for u in 0..4 {
        let gift = format!("{{\"gift_id\":\"g{u}-1\",\"shares\":1,\"value\":5,\"room\":{u}}}");
        text.push_str(&line(200 + 20 * u as i64, u, 1, "gift.created", gift));
    }
    for u in 0..4 {
        text.push_str(&line(
            900 + u as i64,
            u,
            2,
            "session.ended",
            "{\"reason\":\"done\"}".into(),
        ));
    }
    std::fs::write(&log, text).unwrap();
    log
}

/// The create's step waits for its room's `gift:available` and keeps the id the app
/// gave the gift; the next step sends it back.
const BROADCAST_CAPTURE: &str = r#"timeout = "3s"
[socketio]
query = "userId={user_id}"
auth = { userId = "{user_id}", session = "{session_id}" }
join = { emit = "room:join", payload = { room = "{props.room}" }, ack = true }
open_on_emit = false

[[request]]
event = "gift.created"

[[request.steps]]
protocol = "socketio"
emit = "gift:create"
payload = { giftId = "{props.gift_id}", shares = 1, room = "{props.room}" }
ack = true
capture = [{ into = "vars.sid", broadcast = "gift:available", field = "serverId", within = "1s" }]
kind = "create"

[[request.steps]]
protocol = "socketio"
emit = "stat"
payload = { giftId = "{props.gift_id}", sid = "{vars.sid}" }
ack = true
kind = "confirm"
"#;

#[test]
fn a_capture_takes_its_value_from_the_next_broadcast_on_the_users_connection() {
    let dir = tempfile::tempdir().unwrap();
    let log = gifts_log(dir.path());
    let run = |mapping_text: &str| {
        let socketio = start("/", Duration::from_millis(300));
        let mapping = dir.path().join("m.toml");
        std::fs::write(&mapping, mapping_text).unwrap();
        let out = dir.path().join("s.json");
        let o = crate::common::replay_log(&log, &mapping, "http://127.0.0.1:9", "1x")
            .args(["--socketio-target", &format!("http://{}", socketio.addr)])
            .arg("--no-default-threshold")
            .arg("--summary-export")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (summary(&out), socketio)
    };
    let (s, socketio) = run(BROADCAST_CAPTURE);
    assert_eq!(s["totals"]["errors"], 0, "{}", s["overall"]);
    // Each user's second step sent back the id the app broadcast for that user's gift.
    let ids = socketio.seen.server_ids.lock().unwrap().clone();
    let sent: BTreeMap<String, String> = socketio
        .seen
        .emits
        .lock()
        .unwrap()
        .iter()
        .filter(|(e, _)| e == "stat")
        .map(|(_, p)| {
            (
                p["giftId"].as_str().unwrap().to_string(),
                p["sid"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert_eq!(sent, ids.into_iter().collect::<BTreeMap<_, _>>());
    assert!(sent.values().all(|v| v.starts_with("srv-")), "{sent:?}");
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");

    // A broadcast that never comes: the step times out within its bound, and the step
    // that needs the value is skipped for that dependency.
    let (s, socketio) = run(&BROADCAST_CAPTURE.replace(
        "broadcast = \"gift:available\"",
        "broadcast = \"gift:never\"",
    ));
    let create = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["tags"]["kind"] == "create")
        .unwrap();
    assert_eq!(create["error_classes"]["timeout"], 4, "{create}");
    assert_eq!(s["totals"]["skipped_dependency"], 4, "{}", s["totals"]);
    let stats = socketio
        .seen
        .emits
        .lock()
        .unwrap()
        .iter()
        .filter(|(e, _)| e == "stat")
        .count();
    assert_eq!(stats, 0);
}
