//! The connections of one plain WebSocket server, one per user's session: opened at the
//! session's start event, closed at its end, and the messages in between.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use simulate_core::diagnostic::Problem;
use simulate_core::template::Ctx;
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use super::connection::{Cmd, Hello, handshake, run};
use super::report::Counters;
use crate::drivers::sessions::{Conn, Conns};
use crate::drivers::wire::resolve;
use crate::mapping::{Check, WebSocketRequest, WebSocketSettings, WsMessage, pick};
use crate::outcome::{ErrorClass, Outcome, Status, WsDone};
use crate::source::Due;
use crate::summary::WebSocketReport;
use crate::tls::Tls;

/// Every connection to one WebSocket server.
pub(crate) struct Client {
    shared: Arc<Shared>,
    conns: Conns<Cmd>,
}

impl Client {
    /// `https://` and `wss://` servers are reached over TLS ([`crate::tls`]).
    pub(crate) async fn new(
        settings: Arc<WebSocketSettings>,
        url: &str,
        timeout: Duration,
        tls: &Tls,
    ) -> Result<Client, Problem> {
        let server = resolve(url, tls, "the WebSocket target").await?;
        Ok(Client {
            shared: Arc::new(Shared {
                base: format!("{}{}", server.origin, server.path),
                tls: server.tls,
                settings,
                addr: server.addr,
                timeout,
                counters: Counters::default(),
            }),
            conns: Conns::new(),
        })
    }

    pub(crate) async fn send(&self, due: &Due, op: &WebSocketRequest, ctx: &Ctx<'_>) -> Outcome {
        let c = &self.shared.counters;
        match op {
            WebSocketRequest::Connect => {
                let how = (self.shared.timeout, "WebSocket");
                match self.conns.connect(due, how, self.open(due, ctx)).await {
                    Ok(()) => Outcome::Ok(Status::WebSocket(WsDone::Connected)),
                    Err(o) => fail(c, o),
                }
            }
            WebSocketRequest::Disconnect => {
                let timeout = self.shared.timeout;
                self.conns
                    .disconnect(&due.user_id, timeout, &c.disconnects)
                    .await;
                Outcome::Ok(Status::WebSocket(WsDone::Closed))
            }
            WebSocketRequest::Send(m) => {
                let sent = async {
                    let tx = self.sender(due, ctx).await?;
                    self.message(&tx, m, ctx).await
                };
                match tokio::time::timeout(self.shared.timeout, sent).await {
                    Err(_) => Outcome::Failed(ErrorClass::Timeout),
                    Ok(Err(o)) => o,
                    Ok(Ok(())) => Outcome::Ok(Status::WebSocket(if m.reply {
                        WsDone::Replied
                    } else {
                        WsDone::Written
                    })),
                }
            }
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

    /// The user's open connection, or a new one for the current session.
    async fn sender(
        &self,
        due: &Due,
        ctx: &Ctx<'_>,
    ) -> Result<mpsc::UnboundedSender<Cmd>, Outcome> {
        let c = &self.shared.counters;
        let may_open = (self.shared.settings.open_on_send, &c.implicit_connects);
        self.conns
            .sender(due, may_open, self.open(due, ctx))
            .await
            .map_err(|o| fail(c, o))
    }

    /// Writes one message; with `reply`, waits for the frame carrying its correlation
    /// value and checks it.
    async fn message(
        &self,
        tx: &mpsc::UnboundedSender<Cmd>,
        m: &WsMessage,
        ctx: &Ctx<'_>,
    ) -> Result<(), Outcome> {
        let rendered = m.message.render(ctx);
        let key = if m.reply {
            // The compiler made sure the message has the field; an empty render is an
            // application error of the mapping's data, not a wait for a reply that cannot
            // be told apart.
            let k = pick(&rendered, &self.shared.settings.correlation)
                .filter(|k| !k.is_empty() && k != "null")
                .ok_or(Outcome::Failed(ErrorClass::Application))?;
            Some(k)
        } else {
            None
        };
        let (reply, rx) = oneshot::channel();
        tx.send(Cmd::Send {
            text: rendered.to_string(),
            key,
            reply,
        })
        .map_err(|_| Outcome::Failed(ErrorClass::Reset))?;
        let answer = rx
            .await
            .map_err(|_| Outcome::Failed(ErrorClass::Reset))?
            .map_err(Outcome::Failed)?;
        match Check::all(&m.check, &answer) {
            false => Err(Outcome::Failed(ErrorClass::Application)),
            true => Ok(()),
        }
    }

    /// Connects (and sends the hello, if the mapping says so) for the user's session.
    async fn open(&self, due: &Due, ctx: &Ctx<'_>) -> Result<Conn<Cmd>, Outcome> {
        let s = &self.shared.settings;
        let mut url = self.shared.base.clone();
        if let Some(q) = &s.query {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&q.render(ctx));
        }
        let hello = Hello {
            url,
            traceparent: due.traceparent(),
            event_id: due.event_id(),
        };
        let ws = handshake(&self.shared, &hello).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let c = &self.shared.counters;
        let open = c.open.fetch_add(1, Ordering::Relaxed) + 1;
        c.peak_open.fetch_max(open, Ordering::Relaxed);
        tokio::spawn(run(Arc::clone(&self.shared), ws, rx, hello));
        // A failed hello fails the connect (counted once, as failed); dropping `tx` then
        // closes the socket.
        if let Some(h) = &s.hello {
            self.message(&tx, h, ctx).await?;
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

    /// Connection and message figures for the summary.
    pub(crate) fn report(&self) -> WebSocketReport {
        super::report::report(&self.shared)
    }
}

fn fail(c: &Counters, o: Outcome) -> Outcome {
    c.connect_errors.fetch_add(1, Ordering::Relaxed);
    o
}
