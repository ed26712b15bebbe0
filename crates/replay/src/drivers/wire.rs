//! A WebSocket client connection, shared by the Socket.IO and plain WebSocket drivers:
//! the target resolved once, TCP (or TLS over it for `wss://`), the upgrade request with
//! the event's `traceparent` and `x-sim-event`, and small buffers (ten thousand sockets
//! must not cost a gigabyte).

use std::net::SocketAddr;
use std::sync::Arc;

use simulate_core::diagnostic::Problem;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, protocol::WebSocketConfig};

use crate::outcome::{ErrorClass, Outcome, Status, io_error_class, ws_class};
use crate::tls::Tls;

/// A connection's byte stream: plain TCP, or TLS over it for `wss://` servers.
pub(crate) trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

pub(crate) type Ws = WebSocketStream<Box<dyn Io>>;

/// How a `wss://` server's connections are secured ([`crate::tls`]).
#[derive(Clone)]
pub(crate) struct Secure {
    connector: tokio_rustls::TlsConnector,
    name: rustls::pki_types::ServerName<'static>,
}

impl std::fmt::Debug for Secure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secure").field("name", &self.name).finish()
    }
}

impl Secure {
    pub(crate) fn new(host: &str, tls: &Tls) -> Result<Secure, Problem> {
        let config = tls.rustls(&[b"http/1.1"])?;
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
            Problem::new(
                format!("the WebSocket target's host `{host}`: {e}"),
                "give the server's DNS name or IP address",
            )
        })?;
        Ok(Secure {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            name,
        })
    }
}

/// A WebSocket server as a target URL names it, resolved once.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) tls: Option<Secure>,
    /// `ws://host:port` or `wss://host:port`, no path.
    pub(crate) origin: String,
    /// The URL's own path and query (`/ws?x=1`), `/` when it has none.
    pub(crate) path: String,
}

/// `http://`, `https://`, `ws://` or `wss://` `url` resolved; `what` names the target in
/// problems ("the Socket.IO target").
pub(crate) async fn resolve(url: &str, tls: &Tls, what: &str) -> Result<Server, Problem> {
    let shown = simulate_core::redact::mask_url(url);
    let fix = "write it like http://127.0.0.1:3001 (or ws://, https://, wss://)";
    let bad = |m: String| Problem::new(m, fix);
    let u = url::Url::parse(url).map_err(|e| bad(format!("{what} `{shown}`: {e}")))?;
    let secure = match u.scheme() {
        "http" | "ws" => false,
        "https" | "wss" => true,
        other => {
            return Err(bad(format!(
                "{what} `{shown}`: `{other}` is not http, https, ws or wss"
            )));
        }
    };
    let host = u
        .host_str()
        .ok_or_else(|| bad(format!("{what} has no host")))?;
    let bare = host.trim_matches(['[', ']']);
    let tls = secure.then(|| Secure::new(bare, tls)).transpose()?;
    let port = u.port_or_known_default().unwrap_or(80);
    let resolve = "check the host name, or give its IP address";
    let addr = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| Problem::new(format!("cannot resolve {host}: {e}"), resolve))?
        .next()
        .ok_or_else(|| Problem::new(format!("{host} resolves to no address"), resolve))?;
    let mut path = u.path().to_string();
    if let Some(q) = u.query() {
        path.push('?');
        path.push_str(q);
    }
    Ok(Server {
        addr,
        tls,
        origin: format!("{}://{host}:{port}", if secure { "wss" } else { "ws" }),
        path,
    })
}

/// Connects to `addr` (over TLS with `tls`) and upgrades to a WebSocket at `url`, the
/// upgrade carrying the event's `traceparent` and `x-sim-event`. A refused upgrade is its
/// HTTP status; a transport failure its class.
pub(crate) async fn upgrade(
    addr: SocketAddr,
    tls: Option<&Secure>,
    url: &str,
    (traceparent, event_id): (&str, &str),
) -> Result<Ws, Outcome> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| Outcome::Failed(io_error_class(&e)))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = match tls {
        None => Box::new(tcp),
        Some(t) => Box::new(
            t.connector
                .connect(t.name.clone(), tcp)
                .await
                .map_err(|_| Outcome::Failed(ErrorClass::Tls))?,
        ),
    };
    // tungstenite allocates a 128 KiB read buffer per socket by default: 1.3 GB for ten
    // thousand connections. The frames here are small.
    let cfg = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let mut req = url
        .into_client_request()
        .map_err(|_| Outcome::Failed(ErrorClass::Other))?;
    for (name, value) in [("traceparent", traceparent), ("x-sim-event", event_id)] {
        if let Ok(v) = value.parse() {
            req.headers_mut().insert(name, v);
        }
    }
    let (ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(cfg))
        .await
        .map_err(|e| match e {
            tungstenite::Error::Http(r) => Outcome::Status(Status::Http(r.status().as_u16())),
            other => Outcome::Failed(ws_class(&other)),
        })?;
    Ok(ws)
}
