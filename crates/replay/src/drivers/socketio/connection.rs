//! One Socket.IO connection's task: the WebSocket upgrade and Engine.IO/Socket.IO
//! handshake, answering pings, emits and their acks, broadcasts heard, and reconnecting
//! with backoff after a drop while the session lasts.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::Shared;
use super::protocol::{Packet, nsp_prefix};
use super::report::heard;
use crate::drivers::wire::{Ws, upgrade};
use crate::outcome::{ErrorClass, Outcome, ws_class};

pub(super) enum Cmd {
    /// `packet` is the JSON array `["event", payload]`. The reply comes once the frame is
    /// written, or with the ack when one is asked for.
    Emit {
        packet: String,
        ack: bool,
        reply: oneshot::Sender<Result<Value, ErrorClass>>,
    },
    /// The first argument of the next event of this name the server sends (a capture's
    /// broadcast), registered before the emit it follows.
    Next {
        event: String,
        reply: oneshot::Sender<Value>,
    },
    Close(oneshot::Sender<()>),
}

/// What a connection's task owes its callers, kept across reconnects.
#[derive(Default)]
struct Owed {
    /// Acks awaited, by ack id.
    acks: HashMap<u64, oneshot::Sender<Result<Value, ErrorClass>>>,
    next_id: u64,
    /// Events awaited by name, in the order asked: the first such event answers the first.
    events: Vec<(String, oneshot::Sender<Value>)>,
}

impl Owed {
    /// An event the server sent (`data`: its JSON array) to whoever awaits its name.
    fn event(&mut self, data: &str) {
        if self.events.is_empty() {
            return;
        }
        let Ok(Value::Array(mut args)) = serde_json::from_str::<Value>(data) else {
            return;
        };
        let Some(name) = args.first().and_then(Value::as_str) else {
            return;
        };
        self.events.retain(|(_, r)| !r.is_closed());
        if let Some(i) = self.events.iter().position(|(e, _)| e == name) {
            let (_, reply) = self.events.remove(i);
            let first = if args.len() > 1 {
                args.swap_remove(1)
            } else {
                Value::Null
            };
            let _ = reply.send(first);
        }
    }
}

/// What a connection (and each reconnection) of one session sends to open.
pub(super) struct Hello {
    pub(super) url: String,
    pub(super) auth: Option<String>,
    /// Of the session's opening event: the upgrade request carries them as headers.
    pub(super) traceparent: String,
    pub(super) event_id: String,
}

/// WebSocket upgrade, Engine.IO open, Socket.IO CONNECT to the namespace.
/// Returns the socket and how long the server may stay silent before it counts as gone
/// (its pingInterval + pingTimeout).
pub(super) async fn handshake(sh: &Shared, hs: &Hello) -> Result<(Ws, Duration), Outcome> {
    let mut ws = upgrade(
        sh.addr,
        sh.tls.as_ref(),
        &hs.url,
        (&hs.traceparent, &hs.event_id),
    )
    .await?;
    // Engine.IO OPEN: `0{"sid":…,"pingInterval":…}`.
    let open = next_text(&mut ws).await?;
    let Some(Ok(o)) = open.strip_prefix('0').map(serde_json::from_str::<Value>) else {
        return Err(Outcome::Failed(ErrorClass::Other));
    };
    let ms = |k: &str| o.get(k).and_then(Value::as_u64);
    // Without the figures, socket.io's defaults: 25 s + 20 s.
    let quiet = Duration::from_millis(
        ms("pingInterval").unwrap_or(25_000) + ms("pingTimeout").unwrap_or(20_000),
    );
    let ns = &sh.settings.namespace;
    let mut connect = format!("40{}", nsp_prefix(ns));
    if let Some(a) = &hs.auth {
        connect.push_str(a);
    }
    ws.send(Message::text(connect))
        .await
        .map_err(|e| Outcome::Failed(ws_class(&e)))?;
    loop {
        let t = next_text(&mut ws).await?;
        if t == "2" {
            let _ = ws.send(Message::text("3")).await;
            continue;
        }
        let Some(p) = Packet::parse(&t) else {
            continue;
        };
        if p.ns != ns.as_str() {
            continue;
        }
        match p.kind {
            b'0' => return Ok((ws, quiet)),
            // CONNECT_ERROR: the server refused (bad auth, middleware): an app error.
            b'4' => return Err(Outcome::Failed(ErrorClass::Application)),
            _ => {}
        }
    }
}

async fn next_text(ws: &mut Ws) -> Result<String, Outcome> {
    loop {
        match ws.next().await {
            None => return Err(Outcome::Failed(ErrorClass::Reset)),
            Some(Err(e)) => return Err(Outcome::Failed(ws_class(&e))),
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(_))) => return Err(Outcome::Failed(ErrorClass::Reset)),
            Some(Ok(_)) => {}
        }
    }
}

/// How a connection's serving loop ended.
enum End {
    /// We closed it (session end, replay end) or every handle is gone.
    Closed,
    /// The transport broke or the server went quiet past its ping timeout.
    Dropped,
    /// The server disconnected the socket from the namespace: like the official client,
    /// do not reconnect; a later emit of the session opens a new connection.
    Kicked,
}

/// Serves one connection until its session ends, re-establishing it after drops.
pub(super) async fn run(
    sh: Arc<Shared>,
    (mut ws, mut quiet): (Ws, Duration),
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    hello: Hello,
) {
    let c = &sh.counters;
    let mut owed = Owed::default();
    loop {
        let end = serve(&sh, &mut ws, quiet, &mut rx, &mut owed).await;
        c.open.fetch_sub(1, Ordering::Relaxed);
        for (_, p) in owed.acks.drain() {
            let _ = p.send(Err(ErrorClass::Reset));
        }
        match end {
            End::Closed => return,
            End::Kicked => {
                c.server_disconnects.fetch_add(1, Ordering::Relaxed);
                return;
            }
            End::Dropped => {
                c.drops.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut backoff = Duration::from_millis(100);
        let mut back = None;
        for _ in 0..sh.settings.reconnect_attempts {
            tokio::time::sleep(backoff).await;
            if rx.is_closed() {
                return;
            }
            if let Ok(w) = handshake(&sh, &hello).await {
                back = Some(w);
                break;
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        match back {
            Some((w, q)) => {
                (ws, quiet) = (w, q);
                c.reconnects.fetch_add(1, Ordering::Relaxed);
                let open = c.open.fetch_add(1, Ordering::Relaxed) + 1;
                c.peak_open.fetch_max(open, Ordering::Relaxed);
            }
            None => {
                c.reconnect_failures.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
    }
}

async fn serve(
    sh: &Shared,
    ws: &mut Ws,
    quiet: Duration,
    rx: &mut mpsc::UnboundedReceiver<Cmd>,
    owed: &mut Owed,
) -> End {
    let ns = sh.settings.namespace.as_str();
    let prefix = nsp_prefix(ns);
    // The server pings every pingInterval; silence past interval + timeout means it is gone.
    let mut deadline = tokio::time::Instant::now() + quiet;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => {
                    let _ = ws.close(None).await;
                    return End::Closed;
                }
                Some(Cmd::Close(done)) => {
                    let _ = ws.send(Message::text(format!("41{prefix}"))).await;
                    let _ = ws.close(None).await;
                    let _ = done.send(());
                    return End::Closed;
                }
                Some(Cmd::Next { event, reply }) => owed.events.push((event, reply)),
                Some(Cmd::Emit { packet, ack, reply }) => {
                    let mut frame = String::with_capacity(packet.len() + prefix.len() + 12);
                    frame.push_str("42");
                    frame.push_str(&prefix);
                    if ack {
                        frame.push_str(itoa::Buffer::new().format(owed.next_id));
                    }
                    frame.push_str(&packet);
                    match ws.send(Message::text(frame)).await {
                        Err(e) => {
                            let _ = reply.send(Err(ws_class(&e)));
                            return End::Dropped;
                        }
                        Ok(()) if ack => {
                            owed.acks.insert(owed.next_id, reply);
                            owed.next_id += 1;
                        }
                        Ok(()) => {
                            let _ = reply.send(Ok(Value::Null));
                        }
                    }
                }
            },
            msg = ws.next() => {
                let text = match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return End::Dropped,
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                };
                deadline = tokio::time::Instant::now() + quiet;
                let t = text.as_str();
                match t.as_bytes().first() {
                    Some(b'2') => {
                        sh.counters.pings.fetch_add(1, Ordering::Relaxed);
                        if ws.send(Message::text("3")).await.is_err() {
                            return End::Dropped;
                        }
                    }
                    Some(b'1') => return End::Dropped,
                    Some(b'4') => {
                        let Some(p) = Packet::parse(t) else { continue };
                        if p.ns != ns {
                            continue;
                        }
                        match p.kind {
                            b'1' => return End::Kicked,
                            b'3' => {
                                if let Some(r) = p.id.and_then(|id| owed.acks.remove(&id)) {
                                    let v = serde_json::from_str(p.data).unwrap_or(Value::Null);
                                    let _ = r.send(Ok(v));
                                }
                            }
                            b'2' => {
                                heard(sh, p.data, Instant::now());
                                owed.event(p.data);
                                // The server asked for an ack: give an empty one.
                                if let Some(id) = p.id {
                                    let ack = format!("43{prefix}{id}[]");
                                    if ws.send(Message::text(ack)).await.is_err() {
                                        return End::Dropped;
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(deadline) => return End::Dropped,
        }
    }
}

impl crate::drivers::sessions::CloseCmd for Cmd {
    fn close(done: oneshot::Sender<()>) -> Cmd {
        Cmd::Close(done)
    }
}
