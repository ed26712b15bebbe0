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
use super::connection::{Cmd, Hello, handshake, run};
use super::report::{Broadcasts, Counters, Heard, pick};
use crate::drivers::Answer;
use crate::drivers::sessions::{Conn, Conns};
use crate::drivers::wire::resolve;
use crate::mapping::{Check, Emit, SocketIoRequest, SocketIoSettings};
use crate::outcome::{ErrorClass, Outcome, SocketIoDone, Status};
use crate::source::Due;
use crate::summary::SocketIoReport;
use crate::tls::Tls;

/// Every connection to one Socket.IO server.
pub(crate) struct Client {
    shared: Arc<Shared>,
    conns: Conns<Cmd>,
}

impl Client {
    /// `https://` and `wss://` servers are reached over TLS ([`crate::tls`]).
    pub(crate) async fn new(
        settings: Arc<SocketIoSettings>,
        url: &str,
        timeout: Duration,
        tls: &Tls,
    ) -> Result<Client, Problem> {
        let server = resolve(url, tls, "the Socket.IO target").await?;
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
                    "{}{}?EIO=4&transport=websocket",
                    server.origin, settings.path
                ),
                tls: server.tls,
                settings,
                addr: server.addr,
                timeout,
                counters: Counters::default(),
                broadcasts: Mutex::new(Broadcasts {
                    heard,
                    other: BTreeMap::new(),
                }),
            }),
            conns: Conns::new(),
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
                Ok(Ok((json, broadcasts))) => (
                    Outcome::Ok(Status::SocketIo(if e.ack {
                        SocketIoDone::Acked
                    } else {
                        SocketIoDone::Written
                    })),
                    e.keep.then(|| Answer {
                        json: json.map(crate::mapping::json_path::Json::Whole),
                        headers: Vec::new(),
                        broadcasts,
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
                let how = (self.shared.timeout, "Socket.IO");
                match self.conns.connect(due, how, self.open(due, ctx)).await {
                    Ok(()) => Outcome::Ok(Status::SocketIo(SocketIoDone::Connected)),
                    Err(o) => fail(c, o),
                }
            }
            SocketIoRequest::Disconnect => {
                let timeout = self.shared.timeout;
                self.conns
                    .disconnect(&due.user_id, timeout, &c.disconnects)
                    .await;
                Outcome::Ok(Status::SocketIo(SocketIoDone::Closed))
            }
            SocketIoRequest::Emit(_) => Outcome::Failed(ErrorClass::Other),
        }
    }

    /// Why this session's disconnect has nothing to close: its connect failed.
    pub(crate) fn never_opened(&self, due: &Due) -> Option<String> {
        self.conns.never_opened(&due.user_id, due.session)
    }

    /// Closes every connection still open (sessions that end after the window).
    pub(crate) async fn close_all(&self) {
        self.conns.close_all().await;
    }

    /// The user's open connection, or a new one for the current session (unless the
    /// mapping's connection templates read the `connect` kind's props only).
    async fn sender(
        &self,
        due: &Due,
        ctx: &Ctx<'_>,
    ) -> Result<mpsc::UnboundedSender<Cmd>, Outcome> {
        let c = &self.shared.counters;
        let may_open = (self.shared.settings.open_on_emit, &c.implicit_connects);
        self.conns
            .sender(due, may_open, self.open(due, ctx))
            .await
            .map_err(|o| fail(c, o))
    }

    /// Emits, with its ack when it asks for one; then the broadcasts its captures read,
    /// each the next of its name after the emit (awaited from before it is written).
    async fn emit(
        &self,
        tx: &mpsc::UnboundedSender<Cmd>,
        e: &Emit,
        ctx: &Ctx<'_>,
    ) -> Result<(Option<Value>, Vec<(String, Value)>), Outcome> {
        let mut heard = Vec::with_capacity(e.awaits.len());
        for (event, within) in &e.awaits {
            let (reply, rx) = oneshot::channel();
            let next = Cmd::Next {
                event: event.clone(),
                reply,
            };
            tx.send(next)
                .map_err(|_| Outcome::Failed(ErrorClass::Reset))?;
            heard.push((event, within.unwrap_or(self.shared.timeout), rx));
        }
        let first = self.emit_only(tx, e, ctx).await?;
        let mut broadcasts = Vec::with_capacity(heard.len());
        for (event, within, rx) in heard {
            match tokio::time::timeout(within, rx).await {
                Ok(Ok(v)) => broadcasts.push((event.clone(), v)),
                Ok(Err(_)) => return Err(Outcome::Failed(ErrorClass::Reset)),
                Err(_) => return Err(Outcome::Failed(ErrorClass::Timeout)),
            }
        }
        Ok((first, broadcasts))
    }

    async fn emit_only(
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
    async fn open(&self, due: &Due, ctx: &Ctx<'_>) -> Result<Conn<Cmd>, Outcome> {
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
            self.emit_only(&tx, j, ctx).await?;
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
