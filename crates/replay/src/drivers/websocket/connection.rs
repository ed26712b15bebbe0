//! One plain WebSocket connection's task: messages written, replies matched by their
//! correlation value, pings both ways, and reconnecting with backoff after a drop while
//! the session lasts.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::Shared;
use crate::drivers::wire::{Ws, upgrade};
use crate::mapping::pick;
use crate::outcome::{ErrorClass, Outcome, ws_class};

/// A reply's waiter: the reply's JSON, or why it will not come.
pub(super) type Waiter = oneshot::Sender<Result<Value, ErrorClass>>;

pub(super) enum Cmd {
    /// `text` is the rendered JSON message. With `key` (its correlation value), the reply
    /// comes with the frame that carries the same value; without, once written.
    Send {
        text: String,
        key: Option<String>,
        reply: Waiter,
    },
    Close(oneshot::Sender<()>),
}

/// What a connection (and each reconnection) of one session opens with.
pub(super) struct Hello {
    pub(super) url: String,
    /// Of the session's opening event: the upgrade request carries them as headers.
    pub(super) traceparent: String,
    pub(super) event_id: String,
}

pub(super) async fn handshake(sh: &Shared, hs: &Hello) -> Result<Ws, Outcome> {
    upgrade(
        sh.addr,
        sh.tls.as_ref(),
        &hs.url,
        (&hs.traceparent, &hs.event_id),
    )
    .await
}

/// How a connection's serving loop ended.
enum End {
    /// We closed it (session end, replay end) or every handle is gone.
    Closed,
    /// The transport broke or the server went quiet past a ping.
    Dropped,
    /// The server sent a close frame: not reconnected; a later message of the session
    /// opens a new connection.
    ClosedByServer,
}

/// Serves one connection until its session ends, re-establishing it after drops.
pub(super) async fn run(
    sh: Arc<Shared>,
    mut ws: Ws,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    hello: Hello,
) {
    let c = &sh.counters;
    let mut pending: HashMap<String, Waiter> = HashMap::new();
    loop {
        let end = serve(&sh, &mut ws, &mut rx, &mut pending).await;
        c.open.fetch_sub(1, Ordering::Relaxed);
        for (_, p) in pending.drain() {
            let _ = p.send(Err(ErrorClass::Reset));
        }
        match end {
            End::Closed => return,
            End::ClosedByServer => {
                c.server_closes.fetch_add(1, Ordering::Relaxed);
                return;
            }
            End::Dropped => {
                c.drops.fetch_add(1, Ordering::Relaxed);
            }
        }
        match reconnect(&sh, &rx, &hello).await {
            Some(w) => {
                ws = w;
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

/// A new connection after a drop, with backoff from 100 ms doubling to 2 s; `None` when
/// the attempts run out or the session ended meanwhile.
async fn reconnect(sh: &Shared, rx: &mpsc::UnboundedReceiver<Cmd>, hello: &Hello) -> Option<Ws> {
    let mut backoff = Duration::from_millis(100);
    for _ in 0..sh.settings.reconnect_attempts {
        tokio::time::sleep(backoff).await;
        if rx.is_closed() {
            return None;
        }
        if let Ok(w) = handshake(sh, hello).await {
            return Some(w);
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
    None
}

async fn serve(
    sh: &Shared,
    ws: &mut Ws,
    rx: &mut mpsc::UnboundedReceiver<Cmd>,
    pending: &mut HashMap<String, Waiter>,
) -> End {
    let every = sh.settings.ping_every;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    // Our pings ask for a frame back: silence past a ping interval and the timeout means
    // the server is gone.
    let quiet = every + sh.timeout;
    let mut deadline = tokio::time::Instant::now() + quiet;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => {
                    let _ = ws.close(None).await;
                    return End::Closed;
                }
                Some(Cmd::Close(done)) => {
                    let _ = ws.close(None).await;
                    let _ = done.send(());
                    return End::Closed;
                }
                Some(Cmd::Send { text, key, reply }) => {
                    if let Err(e) = ws.send(Message::text(text)).await {
                        let _ = reply.send(Err(ws_class(&e)));
                        return End::Dropped;
                    }
                    sh.counters.written.fetch_add(1, Ordering::Relaxed);
                    match key {
                        Some(k) => {
                            pending.insert(k, reply);
                        }
                        None => {
                            let _ = reply.send(Ok(Value::Null));
                        }
                    }
                }
            },
            msg = ws.next() => {
                deadline = tokio::time::Instant::now() + quiet;
                if let Some(end) = received(sh, msg, pending) {
                    return end;
                }
            }
            _ = ping.tick() => {
                if ws.send(Message::Ping(Default::default())).await.is_err() {
                    return End::Dropped;
                }
                sh.counters.pings_sent.fetch_add(1, Ordering::Relaxed);
            }
            _ = tokio::time::sleep_until(deadline) => return End::Dropped,
        }
    }
}

/// A frame from the server: a reply handed to its waiter, a push counted, a ping counted
/// (tungstenite queues its pong, written at the next read); `Some` when the socket ended.
fn received(
    sh: &Shared,
    msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    pending: &mut HashMap<String, Waiter>,
) -> Option<End> {
    let c = &sh.counters;
    let text = match msg {
        None | Some(Err(_)) => return Some(End::Dropped),
        Some(Ok(Message::Close(_))) => return Some(End::ClosedByServer),
        Some(Ok(Message::Ping(_))) => {
            c.pings_answered.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Ok(Message::Pong(_))) => {
            c.pongs.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Ok(Message::Text(t))) => t,
        Some(Ok(_)) => return None,
    };
    let v: Option<Value> = serde_json::from_str(text.as_str()).ok();
    let waiter = v
        .as_ref()
        .and_then(|v| pick(v, &sh.settings.correlation))
        .and_then(|k| pending.remove(&k));
    match waiter {
        Some(w) => {
            c.replies.fetch_add(1, Ordering::Relaxed);
            let _ = w.send(Ok(v.unwrap_or(Value::Null)));
        }
        None => {
            c.unmatched.fetch_add(1, Ordering::Relaxed);
        }
    }
    None
}

impl crate::drivers::sessions::CloseCmd for Cmd {
    fn close(done: oneshot::Sender<()>) -> Cmd {
        Cmd::Close(done)
    }
}
