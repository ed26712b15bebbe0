//! Seed 002's gift app in miniature, on socketioxide (an independent Socket.IO v4 server):
//! rooms joined on request, gifts broadcast to their room (`gift:available` with the id
//! the app gave the gift, sender included), claims decided first come first served, stats acknowledged, `kick` answered by a
//! server-side disconnect. Shared by the
//! Socket.IO replay tests and `examples/socketio_target.rs`, the benchmark's server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;

/// One connection as the server saw it.
#[derive(Clone, Debug)]
pub struct Connection {
    pub sid: String,
    /// `userId` of the handshake's query string.
    pub query_user: String,
    pub auth: Value,
    pub traceparent: String,
}

#[derive(Default)]
pub struct Seen {
    pub connections: Mutex<Vec<Connection>>,
    /// (sid, room) per `room:join`.
    pub joins: Mutex<Vec<(String, String)>>,
    /// (event, payload) per emit received.
    pub emits: Mutex<Vec<(String, Value)>>,
    /// Shares left per gift.
    pub shares: Mutex<HashMap<String, i64>>,
    /// The id the app gave each gift (`srv-<n>`), sent in its `gift:available`.
    pub server_ids: Mutex<HashMap<String, String>>,
    pub disconnects: AtomicUsize,
    /// Counted whether or not recorded.
    pub connects: AtomicUsize,
    pub received: AtomicUsize,
    record: bool,
}

impl Seen {
    fn emit(&self, event: &str, payload: Value) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if self.record {
            self.emits.lock().unwrap().push((event.into(), payload));
        }
    }
}

/// The app on namespace `ns`; the server pings every `ping` and waits up to 2 s for the
/// answer. With `record`, every connection, join and emit is kept in the returned `Seen`
/// (tests); without, only counted (benchmarks).
pub fn layer(ns: &'static str, ping: Duration, record: bool) -> (SocketIoLayer, Arc<Seen>) {
    let seen = Arc::new(Seen {
        record,
        ..Seen::default()
    });
    let (layer, io) = SocketIo::builder()
        .ping_interval(ping)
        .ping_timeout(Duration::from_secs(2))
        .max_buffer_size(1024)
        .build_layer();
    let s0 = Arc::clone(&seen);
    // The handlers are registered in a connect middleware, which socketioxide runs before
    // it answers CONNECT: its connect handler runs in a task spawned after the answer, so a
    // client that emits at once (as ours does, and browsers do) could beat the
    // registration and see its first event dropped.
    let register = async move |s: SocketRef, TryData(auth): TryData<Value>| {
        let query_user = s
            .req_parts()
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("userId="))
            .unwrap_or("")
            .to_string();
        let traceparent = s
            .req_parts()
            .headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        s0.connects.fetch_add(1, Ordering::Relaxed);
        if s0.record {
            s0.connections.lock().unwrap().push(Connection {
                sid: s.id.to_string(),
                query_user,
                auth: auth.unwrap_or(Value::Null),
                traceparent,
            });
        }
        let seen = Arc::clone(&s0);
        s.on(
            "room:join",
            async move |s: SocketRef, Data(d): Data<Value>, ack: AckSender| {
                let room = d["room"].to_string();
                if seen.record {
                    seen.joins
                        .lock()
                        .unwrap()
                        .push((s.id.to_string(), room.clone()));
                }
                s.join(room);
                ack.send(&json!({"ok": true})).ok();
            },
        );
        let seen = Arc::clone(&s0);
        s.on(
            "gift:create",
            async move |s: SocketRef, Data(d): Data<Value>, ack: AckSender| {
                let gift = d["giftId"].as_str().unwrap_or("").to_string();
                let shares = d["shares"].as_i64().unwrap_or(0);
                seen.shares.lock().unwrap().insert(gift.clone(), shares);
                let server_id = {
                    let mut ids = seen.server_ids.lock().unwrap();
                    let id = format!("srv-{}", ids.len());
                    ids.insert(gift.clone(), id.clone());
                    id
                };
                seen.emit("gift:create", d.clone());
                ack.send(&json!({"ok": true})).ok();
                s.within(d["room"].to_string())
                    .emit(
                        "gift:available",
                        &json!({"giftId": gift, "serverId": server_id}),
                    )
                    .await
                    .ok();
            },
        );
        let seen = Arc::clone(&s0);
        s.on(
            "gift:claim",
            async move |Data(d): Data<Value>, ack: AckSender| {
                let gift = d["giftId"].as_str().unwrap_or("").to_string();
                let won = {
                    let mut shares = seen.shares.lock().unwrap();
                    match shares.get_mut(&gift) {
                        Some(n) if *n > 0 => {
                            *n -= 1;
                            true
                        }
                        _ => false,
                    }
                };
                seen.emit("gift:claim", d);
                ack.send(&json!({"ok": won})).ok();
            },
        );
        let seen = Arc::clone(&s0);
        s.on("stat", async move |Data(d): Data<Value>, ack: AckSender| {
            seen.emit("stat", d);
            ack.send(&json!({"ok": true})).ok();
        });
        // The server ends the socket's session itself (a 41 after the ack).
        s.on("kick", async |s: SocketRef, ack: AckSender| {
            ack.send(&json!({"ok": true})).ok();
            s.disconnect().ok();
        });
        let seen = Arc::clone(&s0);
        s.on_disconnect(async move || {
            seen.disconnects.fetch_add(1, Ordering::Relaxed);
        });
        Ok::<(), std::io::Error>(())
    };
    io.ns(ns, (async || {}).with(register));
    (layer, seen)
}
