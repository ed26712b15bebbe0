//! The mapping: which request each event kind becomes (docs/REPLAY.md). Read from TOML
//! ([`raw`]), checked with file:line errors and compiled once ([`compile`]) into the
//! model below, which the drivers send. The model knows no transport; the drivers know
//! the model.

mod compile;
pub mod proto;
mod raw;
mod tokens;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use http::header::HeaderName;
use prost_reflect::MessageDescriptor;
use serde_json::Value;
use simulate_core::diagnostic::{Problems, Source};
use simulate_core::template::{Body, JsonTmpl, Template};
use simulate_core::timeline::EVENT_KINDS;

/// The mapping used when only `--target URL` is given.
pub const DEFAULT: (&str, &str) = (
    "targets/default.toml",
    include_str!("../../../../targets/default.toml"),
);

/// The three protocols a request can be sent in; statistics are tagged by them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Http,
    Grpc,
    SocketIo,
}

impl Protocol {
    /// The name in summaries and threshold tags (`{protocol:grpc}`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Grpc => "grpc",
            Protocol::SocketIo => "socketio",
        }
    }

    pub const ALL: [Protocol; 3] = [Protocol::Http, Protocol::Grpc, Protocol::SocketIo];
}

/// Statuses a request may answer with and still count as ok.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    Code(u16),
    /// `2xx`: the hundreds digit.
    Class(u16),
}

impl Expect {
    pub fn accepts(list: &[Expect], status: u16) -> bool {
        list.iter().any(|e| match e {
            Expect::Code(c) => *c == status,
            Expect::Class(h) => status / 100 == *h,
        })
    }
}

/// An HTTP request: method, path, headers and body are templates of the event.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: Method,
    pub path: Template,
    pub body: Option<Body>,
    pub headers: Vec<(HeaderName, Template)>,
    pub expect: Vec<Expect>,
}

/// One method of the gRPC contract, with its response check.
#[derive(Debug)]
pub struct GrpcCall {
    pub path: http::uri::PathAndQuery,
    pub input: MessageDescriptor,
    pub output: MessageDescriptor,
    /// `field == value` on the response; a response that fails it is an application error.
    pub check: Option<(String, Value)>,
}

/// A unary gRPC call and its request message, a JSON template of the method's input.
#[derive(Clone, Debug)]
pub struct GrpcRequest {
    pub call: Arc<GrpcCall>,
    pub message: JsonTmpl,
}

/// The `[socketio]` part of a mapping: how each session's connection is opened, and the
/// server broadcasts listened for.
#[derive(Debug)]
pub struct SocketIoSettings {
    /// `http://host:port`: where the server listens (`--socketio-target` replaces it).
    pub url: Option<String>,
    /// The Engine.IO path, `/socket.io/` by default.
    pub path: String,
    /// `/` or `/name`.
    pub namespace: String,
    /// Extra query parameters of the handshake, e.g. `userId={user_id}&token={token}`.
    pub query: Option<Template>,
    /// The CONNECT packet's auth object.
    pub auth: Option<JsonTmpl>,
    /// Sent right after connecting, as part of the connect (a room join).
    pub join: Option<Emit>,
    pub listen: Vec<Listen>,
    /// Reconnection attempts after a drop, with backoff from 100 ms doubling to 2 s.
    pub reconnect_attempts: u32,
}

/// A server broadcast listened for.
#[derive(Debug)]
pub struct Listen {
    pub event: String,
    /// Where the correlating value sits in the event's first argument (and in the origin
    /// emit's payload), e.g. `["giftId"]`.
    pub key: Option<Vec<String>>,
    /// The timeline event kind whose emit causes the broadcast: broadcast latency runs
    /// from the moment that emit was written.
    pub origin: Option<u16>,
}

/// One Socket.IO emit of the mapping.
#[derive(Clone, Debug)]
pub struct Emit {
    pub event: String,
    /// The first argument; none sends the event name alone.
    pub payload: Option<JsonTmpl>,
    /// Ask for an acknowledgement and time it (else the emit is done once written).
    pub ack: bool,
    /// `field == value` on the ack's first argument, else an application error.
    pub check: Option<(Vec<String>, Value)>,
    /// Indices of the listens this emit is the origin of.
    pub origins: Vec<usize>,
}

/// What a Socket.IO request does to the user's connection.
#[derive(Clone, Debug)]
pub enum SocketIoRequest {
    Connect,
    Disconnect,
    Emit(Emit),
}

/// One compiled request, in its protocol.
#[derive(Debug)]
pub enum Request {
    Http(HttpRequest),
    Grpc(GrpcRequest),
    SocketIo(SocketIoRequest),
}

impl Request {
    pub fn protocol(&self) -> Protocol {
        match self {
            Request::Http(_) => Protocol::Http,
            Request::Grpc(_) => Protocol::Grpc,
            Request::SocketIo(_) => Protocol::SocketIo,
        }
    }
}

/// A mapped event kind: the request it becomes and the tag its statistics go under.
#[derive(Debug)]
pub struct Mapped {
    pub request: Request,
    /// Index into [`Mapping::tags`].
    pub tag: u16,
    /// Rendering needs the event's JSON parsed (a `{props.…}`-like field is used).
    pub needs_json: bool,
}

/// What happens to an event of one kind.
#[derive(Debug)]
pub enum Route {
    /// Not in the mapping: counted and skipped.
    Unmapped,
    /// Produced by the server itself: counted and skipped.
    ServerSide,
    Send(Box<Mapped>),
}

#[derive(Debug)]
pub struct Mapping {
    pub name: String,
    pub base_url: Option<String>,
    pub timeout: Duration,
    pub http2: bool,
    /// Sent with every HTTP request (auth included).
    pub headers: Vec<(HeaderName, Template)>,
    /// Per-user tokens for `{token}`.
    pub tokens: Option<HashMap<String, String>>,
    /// One route per [`EVENT_KINDS`] entry.
    pub routes: Vec<Route>,
    /// Request tags (the mapping's `kind = "read"`, …) in first-use order.
    pub tags: Vec<String>,
    /// Where gRPC requests go (the mapping's `[grpc] target`).
    pub grpc_target: Option<String>,
    /// The Socket.IO connection settings, when the mapping has `[socketio]`.
    pub socketio: Option<Arc<SocketIoSettings>>,
}

impl Mapping {
    pub fn route(&self, kind: u16) -> &Route {
        self.routes.get(kind as usize).unwrap_or(&Route::Unmapped)
    }

    pub fn shipped() -> Mapping {
        Mapping::from_source(&Source::new(DEFAULT.0, DEFAULT.1), None)
            .expect("the shipped mapping is valid")
    }

    pub fn load(path: &Path) -> Result<Mapping, Problems> {
        let src = Source::read(path)?;
        Mapping::from_source(&src, path.parent())
    }

    /// Whether any event kind is sent over `protocol`.
    pub fn sends(&self, protocol: Protocol) -> bool {
        self.routes
            .iter()
            .any(|r| matches!(r, Route::Send(m) if m.request.protocol() == protocol))
    }

    /// The user's token, if the mapping has a token file and it names the user.
    pub fn token(&self, user_id: &str) -> Option<&str> {
        self.tokens
            .as_ref()
            .and_then(|t| t.get(user_id))
            .map(String::as_str)
    }

    /// Every mapped and skipped kind, for the docs table and the run's summary.
    pub fn table(&self) -> Vec<(&'static str, String)> {
        EVENT_KINDS
            .iter()
            .zip(&self.routes)
            .map(|(k, r)| {
                let what = match r {
                    Route::Unmapped => "unmapped (counted, skipped)".to_string(),
                    Route::ServerSide => "server-side (skipped)".to_string(),
                    Route::Send(m) => {
                        let tag = &self.tags[m.tag as usize];
                        match &m.request {
                            Request::Grpc(g) => format!("gRPC {} [{tag}]", g.call.path),
                            Request::SocketIo(op) => {
                                format!("Socket.IO {} [{tag}]", op.describe())
                            }
                            Request::Http(h) => {
                                format!("{} {} [{tag}]", h.method, h.path.source())
                            }
                        }
                    }
                };
                (*k, what)
            })
            .collect()
    }
}

impl SocketIoRequest {
    fn describe(&self) -> String {
        match self {
            SocketIoRequest::Connect => "connect".to_string(),
            SocketIoRequest::Disconnect => "disconnect".to_string(),
            SocketIoRequest::Emit(e) => {
                format!("emit {}{}", e.event, if e.ack { " (ack)" } else { "" })
            }
        }
    }
}
