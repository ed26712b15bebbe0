//! The connections of one Socket.IO server, one per user's session: opened at the
//! session's start event, closed at its end, and the emits in between.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use simulate_core::diagnostic::Problem;
use simulate_core::template::Ctx;
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::connection::{Cmd, Hello, Secure, handshake, run};
use super::report::{Broadcasts, Counters, Heard, pick};
use crate::drivers::Answer;
use crate::mapping::{Check, Emit, SocketIoRequest, SocketIoSettings};
use crate::outcome::{ErrorClass, Outcome, SocketIoDone, Status};
use crate::source::Due;
use crate::summary::SocketIoReport;
use crate::tls::Tls;

/// One user's connection: its task takes commands over the channel.
pub(super) struct Conn {
    session: u32,
    tx: mpsc::UnboundedSender<Cmd>,
}

/// Every connection to one Socket.IO server.
pub(crate) struct Client {
    shared: Arc<Shared>,
    conns: Mutex<HashMap<Box<str>, Conn>>,
}

impl Client {
    /// `https://` and `wss://` servers are reached over TLS ([`crate::tls`]).
    pub(crate) async fn new(
        settings: Arc<SocketIoSettings>,
        url: &str,
        timeout: Duration,
        tls: &Tls,
    ) -> Result<Client, Problem> {
        let shown = simulate_core::redact::mask_url(url);
        let fix = "write it like http://127.0.0.1:3001 (or ws://, https://, wss://)";
        let bad = |m: String| Problem::new(m, fix);
        let u = url::Url::parse(url)
            .map_err(|e| bad(format!("the Socket.IO target `{shown}`: {e}")))?;
        let secure = match u.scheme() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            other => {
                return Err(bad(format!(
                    "the Socket.IO target `{shown}`: `{other}` is not http, https, ws or wss"
                )));
            }
        };
        let host = u
            .host_str()
            .ok_or_else(|| bad("the Socket.IO target has no host".into()))?;
        let tls = secure
            .then(|| Secure::new(host.trim_matches(['[', ']']), tls))
            .transpose()?;
        let port = u.port_or_known_default().unwrap_or(80);
        let resolve = "check the host name, or give its IP address";
        let addr = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| Problem::new(format!("cannot resolve {host}: {e}"), resolve))?
            .next()
            .ok_or_else(|| Problem::new(format!("{host} resolves to no address"), resolve))?;
        let heard = settings
            .listen
            .iter()
            .map(|_| Heard {
                origins: HashMap::new(),
                received: 0,
                matched: 0,
                latency: Histogram::new(3).expect("3 significant figures is valid"),
            })
            .collect();
        Ok(Client {
            shared: Arc::new(Shared {
                base: format!(
                    "{}://{host}:{port}{}?EIO=4&transport=websocket",
                    if secure { "wss" } else { "ws" },
                    settings.path
                ),
                tls,
                settings,
                addr,
                timeout,
                counters: Counters::default(),
                broadcasts: Mutex::new(Broadcasts {
                    heard,
                    other: BTreeMap::new(),
                }),
            }),
            conns: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) async fn send(
        &self,
        due: &Due,
        op: &SocketIoRequest,
        ctx: &Ctx<'_>,
    ) -> (Outcome, Option<Answer>) {
        if let SocketIoRequest::Emit(e) = op {
            let sent = async {
                let tx = self.sender(due, ctx).await?;
                self.emit(&tx, e, ctx).await
            };
            return match tokio::time::timeout(self.shared.timeout, sent).await {
                Err(_) => (Outcome::Failed(ErrorClass::Timeout), None),
                Ok(Err(o)) => (o, None),
                Ok(Ok(json)) => (
                    Outcome::Ok(Status::SocketIo(if e.ack {
                        SocketIoDone::Acked
                    } else {
                        SocketIoDone::Written
                    })),
                    e.keep.then(|| Answer {
                        json,
                        headers: Vec::new(),
                    }),
                ),
            };
        }
        (self.session(due, op, ctx).await, None)
    }

    /// A session's connect or disconnect.
    async fn session(&self, due: &Due, op: &SocketIoRequest, ctx: &Ctx<'_>) -> Outcome {
        let c = &self.shared.counters;
        match op {
            SocketIoRequest::Connect => {
                // A session that starts while the previous one's connection is still open
                // (its end fell outside the window) replaces it.
                if let Some(old) = self.take(&due.user_id) {
                    close(old).await;
                }
                match tokio::time::timeout(self.shared.timeout, self.open(due, ctx)).await {
                    Err(_) => fail(c, Outcome::Failed(ErrorClass::Timeout)),
                    Ok(Err(o)) => fail(c, o),
                    Ok(Ok(conn)) => {
                        self.conns
                            .lock()
                            .expect("connections lock")
                            .insert(due.user_id.clone(), conn);
                        Outcome::Ok(Status::SocketIo(SocketIoDone::Connected))
                    }
                }
            }
            SocketIoRequest::Disconnect => {
                if let Some(conn) = self.take(&due.user_id) {
                    let _ = tokio::time::timeout(self.shared.timeout, close(conn)).await;
                    c.disconnects.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Ok(Status::SocketIo(SocketIoDone::Closed))
            }
            SocketIoRequest::Emit(_) => Outcome::Failed(ErrorClass::Other),
        }
    }

    /// Closes every connection still open (sessions that end after the window).
    pub(crate) async fn close_all(&self) {
        let all: Vec<Conn> = self
            .conns
            .lock()
            .expect("connections lock")
            .drain()
            .map(|(_, c)| c)
            .collect();
        let closing = futures_util::future::join_all(all.into_iter().map(close));
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    }

    fn take(&self, user: &str) -> Option<Conn> {
        self.conns.lock().expect("connections lock").remove(user)
    }

    /// The user's open connection, or a new one for the current session.
    async fn sender(
        &self,
        due: &Due,
        ctx: &Ctx<'_>,
    ) -> Result<mpsc::UnboundedSender<Cmd>, Outcome> {
        {
            let mut conns = self.conns.lock().expect("connections lock");
            if let Some(c) = conns.get(&*due.user_id) {
                if !c.tx.is_closed() && c.session == due.session {
                    return Ok(c.tx.clone());
                }
                conns.remove(&*due.user_id);
            }
        }
        let c = &self.shared.counters;
        if !self.shared.settings.open_on_emit {
            // The mapping's connection templates read the `connect` kind's props only.
            return Err(fail(c, Outcome::Failed(ErrorClass::Connect)));
        }
        c.implicit_connects.fetch_add(1, Ordering::Relaxed);
        let conn = self.open(due, ctx).await.map_err(|o| fail(c, o))?;
        let tx = conn.tx.clone();
        self.conns
            .lock()
            .expect("connections lock")
            .insert(due.user_id.clone(), conn);
        Ok(tx)
    }

    async fn emit(
        &self,
        tx: &mpsc::UnboundedSender<Cmd>,
        e: &Emit,
        ctx: &Ctx<'_>,
    ) -> Result<Option<Value>, Outcome> {
        let payload = e.payload.as_ref().map(|t| t.render(ctx));
        if !e.origins.is_empty() {
            let now = Instant::now();
            let mut f = self.shared.broadcasts.lock().expect("broadcasts lock");
            for &i in &e.origins {
                let key = self.shared.settings.listen[i]
                    .key
                    .as_deref()
                    .and_then(|k| payload.as_ref().and_then(|p| pick(p, k)));
                if let Some(k) = key {
                    f.heard[i].origins.insert(k, (now, 0));
                }
            }
        }
        let packet = match &payload {
            Some(p) => json!([e.event, p]).to_string(),
            None => json!([e.event]).to_string(),
        };
        let (reply, rx) = oneshot::channel();
        tx.send(Cmd::Emit {
            packet,
            ack: e.ack,
            reply,
        })
        .map_err(|_| Outcome::Failed(ErrorClass::Reset))?;
        let answer = rx
            .await
            .map_err(|_| Outcome::Failed(ErrorClass::Reset))?
            .map_err(Outcome::Failed)?;
        let first = answer.get(0);
        if !e.check.is_empty() && !first.is_some_and(|a| Check::all(&e.check, a)) {
            return Err(Outcome::Failed(ErrorClass::Application));
        }
        Ok(first.cloned())
    }

    /// Connects (and joins, if the mapping says so) for the user's session.
    async fn open(&self, due: &Due, ctx: &Ctx<'_>) -> Result<Conn, Outcome> {
        let s = &self.shared.settings;
        let mut url = self.shared.base.clone();
        if let Some(q) = &s.query {
            url.push('&');
            url.push_str(&q.render(ctx));
        }
        let hello = Hello {
            url,
            auth: s.auth.as_ref().map(|a| a.render(ctx).to_string()),
            traceparent: due.traceparent(),
            event_id: due.event_id(),
        };
        let (ws, quiet) = handshake(&self.shared, &hello).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let c = &self.shared.counters;
        let open = c.open.fetch_add(1, Ordering::Relaxed) + 1;
        c.peak_open.fetch_max(open, Ordering::Relaxed);
        tokio::spawn(run(Arc::clone(&self.shared), (ws, quiet), rx, hello));
        // A failed join fails the connect (counted once, as failed); dropping `tx` then
        // closes the socket.
        if let Some(j) = &s.join {
            self.emit(&tx, j, ctx).await?;
        }
        c.connects.fetch_add(1, Ordering::Relaxed);
        Ok(Conn {
            session: due.session,
            tx,
        })
    }

    /// Connections open now, for the live view.
    pub(crate) fn open_now(&self) -> usize {
        self.shared.counters.open.load(Ordering::Relaxed)
    }

    /// Connection, broadcast and delivery figures for the summary.
    pub(crate) fn report(&self) -> SocketIoReport {
        super::report::report(&self.shared)
    }

    /// Broadcast (fan-out) latency per listen, for thresholds.
    pub(crate) fn fanouts(&self) -> Vec<Histogram<u64>> {
        let f = self.shared.broadcasts.lock().expect("broadcasts lock");
        f.heard.iter().map(|h| h.latency.clone()).collect()
    }
}

fn fail(c: &Counters, o: Outcome) -> Outcome {
    c.connect_errors.fetch_add(1, Ordering::Relaxed);
    o
}

async fn close(conn: Conn) {
    let (tx, rx) = oneshot::channel();
    if conn.tx.send(Cmd::Close(tx)).is_ok() {
        let _ = rx.await;
    }
}
