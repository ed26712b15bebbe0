//! The protocol drivers: how a mapped request goes on the wire. [`Driver`] holds a
//! client for each protocol the mapping sends and hands each request to its own; the
//! drivers read the mapping's model ([`crate::mapping`]), never the reverse.

pub mod grpc;
pub mod http;
mod probe;
mod sessions;
pub mod socketio;
pub mod websocket;
mod wire;

use std::sync::Arc;

use serde_json::Value;
use simulate_core::diagnostic::Problem;

use crate::mapping::{Mapped, Mapping, Protocol, Request};
use crate::outcome::{ErrorClass, Outcome};
use crate::source::Due;
use crate::tls::Tls;

/// Where each protocol's requests go.
#[derive(Clone, Debug)]
pub struct Targets {
    /// The HTTP base URL (`--target`).
    pub http: String,
    /// The gRPC server, needed when the mapping sends gRPC.
    pub grpc: Option<String>,
    /// The Socket.IO server, needed when the mapping has `[socketio]`.
    pub socketio: Option<String>,
    /// The plain WebSocket server, needed when the mapping has `[websocket]`.
    pub websocket: Option<String>,
}

/// What a flow reads of an answer (kept only when a capture, an outcome or the cookie
/// jar asks): its JSON (an HTTP body, a gRPC response, a Socket.IO ack's first
/// argument), for HTTP its headers, for a Socket.IO emit the broadcasts it awaited.
#[derive(Clone, Debug, Default)]
pub(crate) struct Answer {
    pub(crate) json: Option<crate::mapping::json_path::Json>,
    /// Lower-case names.
    pub(crate) headers: Vec<(String, String)>,
    /// Socket.IO events a capture awaited after the emit: (name, first argument).
    pub(crate) broadcasts: Vec<(String, Value)>,
}

/// How one request of a flow goes out beyond its templates.
#[derive(Debug, Default)]
pub(crate) struct Sending<'a> {
    /// Appended to `x-sim-event` after a `/`: a later step's number (`u12/5/2`).
    pub(crate) suffix: Option<&'a str>,
    /// The captured values its templates read.
    pub(crate) vars: &'a [(simulate_core::template::Field, String)],
    /// The user's cookie jar as a `cookie` header value.
    pub(crate) cookie: Option<String>,
}

pub(crate) struct Driver {
    pub(crate) http: http::Client,
    grpc: Option<grpc::Client>,
    /// Socket.IO connections, when the mapping has `[socketio]`.
    pub socketio: Option<socketio::Client>,
    /// Plain WebSocket connections, when the mapping has `[websocket]`.
    pub websocket: Option<websocket::Client>,
    /// The probes' tallies (requests the mapping sends several times at once).
    pub(crate) probes: probe::Book,
    pub mapping: Arc<Mapping>,
    /// Values captured by flows (empty unless the mapping has some).
    pub(crate) vars: crate::flows::Vars,
    /// The world's ids and pools, read by templates' `lookup(…)`.
    pub(crate) team: Option<Arc<simulate_core::world::pools::Team>>,
}

impl Driver {
    /// Sets up a client per protocol; `pool` bounds the idle HTTP connections kept.
    pub(crate) async fn new(
        mapping: Arc<Mapping>,
        to: &Targets,
        tls: &Tls,
        http2: bool,
        pool: usize,
    ) -> Result<Driver, Problem> {
        let grpc = match (&to.grpc, mapping.sends(Protocol::Grpc)) {
            (Some(url), _) => Some(grpc::Client::new(url, mapping.timeout, tls)?),
            (None, true) => {
                return Err(Problem::new(
                    "the mapping sends gRPC but no gRPC target is given",
                    "pass --grpc-target, or `target` under [grpc] in the mapping",
                ));
            }
            (None, false) => None,
        };
        let socketio = match (&mapping.socketio, &to.socketio) {
            (Some(settings), Some(url)) => {
                Some(socketio::Client::new(Arc::clone(settings), url, mapping.timeout, tls).await?)
            }
            (Some(_), None) => {
                return Err(Problem::new(
                    "the mapping has [socketio] but no Socket.IO target is given",
                    "pass --socketio-target, or `url` under [socketio] in the mapping",
                ));
            }
            (None, _) => None,
        };
        let websocket = match (&mapping.websocket, &to.websocket) {
            (Some(settings), Some(url)) => {
                Some(websocket::Client::new(Arc::clone(settings), url, mapping.timeout, tls).await?)
            }
            (Some(_), None) => {
                return Err(Problem::new(
                    "the mapping has [websocket] but no WebSocket target is given",
                    "pass --websocket-target, or `url` under [websocket] in the mapping",
                ));
            }
            (None, _) => None,
        };
        let http = http::Client::new(&to.http, &mapping, tls, http2, pool).await?;
        Ok(Driver {
            http,
            grpc,
            socketio,
            websocket,
            probes: probe::Book::default(),
            mapping,
            vars: crate::flows::Vars::default(),
            team: None,
        })
    }

    /// Socket.IO and WebSocket connections open now, when the mapping has either.
    pub(crate) fn sockets_open(&self) -> Option<usize> {
        let s = self.socketio.as_ref().map(socketio::Client::open_now);
        let w = self.websocket.as_ref().map(websocket::Client::open_now);
        match (s, w) {
            (None, None) => None,
            (s, w) => Some(s.unwrap_or(0) + w.unwrap_or(0)),
        }
    }

    /// Why a session's disconnect is not sent: its connect failed, so there is nothing
    /// to close (counted as skipped for that dependency, not as `closed`).
    pub(crate) fn never_opened(&self, due: &Due, m: &Mapped) -> Option<String> {
        match &m.request {
            Request::SocketIo(crate::mapping::SocketIoRequest::Disconnect) => {
                self.socketio.as_ref()?.never_opened(due)
            }
            Request::WebSocket(crate::mapping::WebSocketRequest::Disconnect) => {
                self.websocket.as_ref()?.never_opened(due)
            }
            _ => None,
        }
    }

    /// Renders and sends one request, bounded by the mapping's timeout: a plain one
    /// (`how` empty), or a flow's, with its `x-sim-event` suffix, the captured values it
    /// reads and the user's cookies; the answer when the step keeps it.
    pub(crate) async fn send_with(
        &self,
        due: &Due,
        m: &Mapped,
        how: &Sending<'_>,
    ) -> (Outcome, Option<Answer>) {
        let json = m
            .needs_json
            .then(|| serde_json::from_slice::<Value>(&due.line).ok())
            .flatten();
        let mut ctx = due.ctx(json.as_ref(), self.mapping.token(&due.user_id), how.vars);
        ctx.team = self.team.as_deref();
        match &m.request {
            Request::Http(r) => match &r.probe {
                None => self.http.send(due, r, &ctx, how).await,
                Some(p) => Box::pin(self.probes.send(&self.http, (due, r, &ctx, how), p)).await,
            },
            // Boxed: their futures are large, and inlined they would make every HTTP
            // request's task as large (tokio moves a task's future into place at spawn;
            // measured: 7 % of the CPU went to that copy).
            Request::Grpc(r) => match &self.grpc {
                Some(c) => Box::pin(c.call(due, r, &ctx, how.suffix)).await,
                None => (Outcome::Failed(ErrorClass::Other), None),
            },
            Request::SocketIo(op) => match &self.socketio {
                Some(c) => Box::pin(c.send(due, op, &ctx)).await,
                None => (Outcome::Failed(ErrorClass::Other), None),
            },
            // A WebSocket reply is not kept: a flow reads nothing from it.
            Request::WebSocket(op) => match &self.websocket {
                Some(c) => (Box::pin(c.send(due, op, &ctx)).await, None),
                None => (Outcome::Failed(ErrorClass::Other), None),
            },
        }
    }
}
