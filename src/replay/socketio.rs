//! Socket.IO replay: one connection per simulated session, events as emits (with their
//! acknowledgements), and server broadcasts listened for with their fan-out latency.
//!
//! The client is written here over tokio-tungstenite instead of taken from a crate:
//! rust_socketio's async client is marked experimental, always pulls native-tls/OpenSSL
//! and older dependencies, and carries per-socket machinery (the polling transport, boxed
//! callbacks, its own reconnect loop) that we would pay for ten thousand times over. What
//! a load generator needs of the protocol is small (Engine.IO 4 over WebSocket carrying
//! Socket.IO 5 text packets): open, answer pings, connect to a namespace with auth, emit
//! with ack ids, read events and acks, disconnect. Here that is one task, one unbounded
//! channel and a 4 KiB read buffer per connection.
//!
//! Connection lifetime follows the timeline: opened at the session's start event (with the
//! auth and query templates rendered for that user and session), closed at its end event,
//! so the server sees one distinct connection per session. A connection that drops is
//! re-established with backoff while its session lasts; emits wait for it (bounded by the
//! mapping's timeout). An emit for a user with no open connection (a window that starts
//! mid-session, or a server that disconnected the socket) opens one first.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message, protocol::WebSocketConfig};

use super::source::Due;
use super::stats::{ErrorClass, Outcome, percentiles};
use super::template::{Ctx, JsonTmpl, Template};

/// The `[socketio]` part of a mapping, compiled.
#[derive(Debug)]
pub struct Settings {
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

/// A server event listened for.
#[derive(Debug)]
pub struct Listen {
    pub event: String,
    /// Where the correlating value sits in the event's first argument (and in the origin
    /// emit's payload), e.g. `["giftId"]`.
    pub key: Option<Vec<String>>,
    /// The timeline event kind whose emit causes the broadcast: fan-out latency runs from
    /// the moment that emit was written.
    pub origin: Option<u16>,
}

/// One emit of the mapping.
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

/// What a request of protocol `socketio` does.
#[derive(Clone, Debug)]
pub enum Op {
    Connect,
    Disconnect,
    Emit(Emit),
}

/// Connection-level counts, read for the summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub connects: AtomicU64,
    pub connect_errors: AtomicU64,
    /// Connections opened by an emit that found none (not at a session start).
    pub implicit_connects: AtomicU64,
    pub disconnects: AtomicU64,
    /// Transport lost without our asking.
    pub drops: AtomicU64,
    pub reconnects: AtomicU64,
    pub reconnect_failures: AtomicU64,
    /// The server disconnected the socket from the namespace (41).
    pub server_disconnects: AtomicU64,
    pub pings: AtomicU64,
    pub open: AtomicUsize,
    pub peak_open: AtomicUsize,
}

/// Per listened event: receipts and their fan-out latency.
#[derive(Debug)]
struct Heard {
    /// Origin key → when its emit was written and how many receipts it had.
    origins: HashMap<String, (Instant, u32)>,
    received: u64,
    matched: u64,
    latency: Histogram<u64>,
}

#[derive(Debug, Default)]
struct Fanout {
    heard: Vec<Heard>,
    /// Events received that no listen names, by name (the first 64 names).
    other: BTreeMap<String, u64>,
}

/// State every connection task shares.
#[derive(Debug)]
struct Shared {
    settings: Arc<Settings>,
    addr: SocketAddr,
    /// `ws://host:port/socket.io/?EIO=4&transport=websocket` (or `wss://`).
    base: String,
    tls: Option<Tls>,
    timeout: Duration,
    counters: Counters,
    fanout: Mutex<Fanout>,
}

/// One user's connection: its task takes commands over the channel.
struct Conn {
    session: u32,
    tx: mpsc::UnboundedSender<Cmd>,
}

enum Cmd {
    /// `packet` is the JSON array `["event", payload]`. The reply comes once the frame is
    /// written, or with the ack when one is asked for.
    Emit {
        packet: String,
        ack: bool,
        reply: oneshot::Sender<Result<Value, ErrorClass>>,
    },
    Close(oneshot::Sender<()>),
}

/// A connection's byte stream: plain TCP, or TLS over it for `wss://` servers.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

type Ws = WebSocketStream<Box<dyn Io>>;

/// How `wss://` connections are secured: web PKI roots plus `--ca-cert`.
#[derive(Clone)]
struct Tls {
    connector: tokio_rustls::TlsConnector,
    name: rustls::pki_types::ServerName<'static>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("name", &self.name).finish()
    }
}

impl Tls {
    fn new(host: &str, ca_cert: Option<&[u8]>) -> Result<Tls, String> {
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = ca_cert {
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("--ca-cert is not a PEM certificate: {e}"))?;
                roots.add(cert).map_err(|e| format!("--ca-cert: {e}"))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| format!("the Socket.IO target's host `{host}`: {e}"))?;
        Ok(Tls {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
            name,
        })
    }
}

/// What a connection (and each reconnection) of one session sends to open.
struct Hello {
    url: String,
    auth: Option<String>,
    /// Of the session's opening event: the upgrade request carries them as headers.
    traceparent: String,
    event_id: String,
}

/// Every connection to one Socket.IO server.
pub struct Client {
    shared: Arc<Shared>,
    conns: Mutex<HashMap<Box<str>, Conn>>,
}

impl Client {
    /// `https://` and `wss://` servers are reached over TLS, trusting the web PKI roots
    /// and `ca_cert` (PEM).
    pub async fn new(
        settings: Arc<Settings>,
        url: &str,
        timeout: Duration,
        ca_cert: Option<&[u8]>,
    ) -> Result<Client, String> {
        let shown = crate::redact::mask_url(url);
        let u = url::Url::parse(url).map_err(|e| format!("the Socket.IO target `{shown}`: {e}"))?;
        let secure = match u.scheme() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            other => {
                return Err(format!(
                    "the Socket.IO target `{shown}`: `{other}` is not http, https, ws or wss"
                ));
            }
        };
        let host = u.host_str().ok_or("the Socket.IO target has no host")?;
        let tls = secure
            .then(|| Tls::new(host.trim_matches(['[', ']']), ca_cert))
            .transpose()?;
        let port = u.port_or_known_default().unwrap_or(80);
        let addr = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} resolves to no address"))?;
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
                fanout: Mutex::new(Fanout {
                    heard,
                    other: BTreeMap::new(),
                }),
            }),
            conns: Mutex::new(HashMap::new()),
        })
    }

    pub async fn send(&self, due: &Due, op: &Op, ctx: &Ctx<'_>) -> Outcome {
        let c = &self.shared.counters;
        match op {
            Op::Connect => {
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
                        Outcome::Ok(0)
                    }
                }
            }
            Op::Disconnect => {
                if let Some(conn) = self.take(&due.user_id) {
                    let _ = tokio::time::timeout(self.shared.timeout, close(conn)).await;
                    c.disconnects.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Ok(0)
            }
            Op::Emit(e) => {
                let sent = async {
                    let tx = self.sender(due, ctx).await?;
                    self.emit(&tx, e, ctx).await
                };
                match tokio::time::timeout(self.shared.timeout, sent).await {
                    Err(_) => Outcome::Failed(ErrorClass::Timeout),
                    Ok(Err(o)) => o,
                    Ok(Ok(())) => Outcome::Ok(0),
                }
            }
        }
    }

    /// Closes every connection still open (sessions that end after the window).
    pub async fn close_all(&self) {
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
    ) -> Result<(), Outcome> {
        let payload = e.payload.as_ref().map(|t| t.render(ctx));
        if !e.origins.is_empty() {
            let now = Instant::now();
            let mut f = self.shared.fanout.lock().expect("fan-out lock");
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
        match &e.check {
            Some((field, want)) if answer.get(0).and_then(|a| at(a, field)) != Some(want) => {
                Err(Outcome::Failed(ErrorClass::Application))
            }
            _ => Ok(()),
        }
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
    pub fn open_now(&self) -> usize {
        self.shared.counters.open.load(Ordering::Relaxed)
    }

    /// Connection, fan-out and delivery figures for the summary.
    pub fn report(&self) -> Value {
        let c = &self.shared.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let f = self.shared.fanout.lock().expect("fan-out lock");
        let listens: Vec<Value> = self
            .shared
            .settings
            .listen
            .iter()
            .zip(&f.heard)
            .map(|(l, h)| {
                let per: Vec<u32> = h.origins.values().map(|(_, n)| *n).collect();
                let origins = per.len() as u64;
                json!({
                    "event": l.event,
                    "origin": l.origin.map(|k| crate::timeline::EVENT_KINDS[k as usize]),
                    "received": h.received,
                    "matched": h.matched,
                    "origins": origins,
                    "origins_unheard": per.iter().filter(|n| **n == 0).count(),
                    "receipts_per_origin": {
                        "mean": if origins > 0 { (h.matched as f64 / origins as f64 * 100.0).round() / 100.0 } else { 0.0 },
                        "max": per.iter().max().copied().unwrap_or(0),
                    },
                    "fanout_ms": percentiles(&h.latency),
                })
            })
            .collect();
        json!({
            "connections": {
                "opened": n(&c.connects),
                "failed": n(&c.connect_errors),
                "implicit": n(&c.implicit_connects),
                "closed": n(&c.disconnects),
                "dropped": n(&c.drops),
                "reconnected": n(&c.reconnects),
                "reconnect_failures": n(&c.reconnect_failures),
                "server_disconnects": n(&c.server_disconnects),
                "peak_open": c.peak_open.load(Ordering::Relaxed),
                "pings_answered": n(&c.pings),
            },
            "listen": listens,
            "other_events": f.other,
        })
    }

    /// Fan-out latency per listen, for thresholds.
    pub fn fanouts(&self) -> Vec<Histogram<u64>> {
        let f = self.shared.fanout.lock().expect("fan-out lock");
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

/// The value at `path` in `v`, as text (strings bare, others as JSON).
fn pick(v: &Value, path: &[String]) -> Option<String> {
    at(v, path).map(|x| match x {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn at<'a>(mut v: &'a Value, path: &[String]) -> Option<&'a Value> {
    for k in path {
        v = v.get(k.as_str())?;
    }
    Some(v)
}

/// `/nsp,` before a packet's payload, empty for the main namespace.
fn nsp_prefix(ns: &str) -> String {
    if ns == "/" {
        String::new()
    } else {
        format!("{ns},")
    }
}

/// WebSocket upgrade, Engine.IO open, Socket.IO CONNECT to the namespace.
/// Returns the socket and how long the server may stay silent before it counts as gone
/// (its pingInterval + pingTimeout).
async fn handshake(sh: &Shared, hs: &Hello) -> Result<(Ws, Duration), Outcome> {
    let tcp = TcpStream::connect(sh.addr)
        .await
        .map_err(|e| Outcome::Failed(super::http::io_error_class(&e)))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = match &sh.tls {
        None => Box::new(tcp),
        Some(t) => Box::new(
            t.connector
                .connect(t.name.clone(), tcp)
                .await
                .map_err(|_| Outcome::Failed(ErrorClass::Tls))?,
        ),
    };
    // tungstenite allocates a 128 KiB read buffer per socket by default: 1.3 GB for ten
    // thousand connections. Socket.IO frames here are small.
    let cfg = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let mut req = hs
        .url
        .as_str()
        .into_client_request()
        .map_err(|_| Outcome::Failed(ErrorClass::Other))?;
    for (name, value) in [
        ("traceparent", &hs.traceparent),
        ("x-sim-event", &hs.event_id),
    ] {
        if let Ok(v) = value.parse() {
            req.headers_mut().insert(name, v);
        }
    }
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(req, stream, Some(cfg))
        .await
        .map_err(|e| match e {
            tungstenite::Error::Http(r) => Outcome::Status(r.status().as_u16()),
            other => Outcome::Failed(ws_class(&other)),
        })?;
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

fn ws_class(e: &tungstenite::Error) -> ErrorClass {
    match e {
        tungstenite::Error::Io(io) => super::http::io_error_class(io),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            ErrorClass::Reset
        }
        tungstenite::Error::Protocol(_) => ErrorClass::Reset,
        _ => ErrorClass::Other,
    }
}

/// A Socket.IO packet inside an Engine.IO MESSAGE (`4…`).
#[derive(Debug, PartialEq)]
struct Packet<'a> {
    /// `0` connect, `1` disconnect, `2` event, `3` ack, `4` connect error.
    kind: u8,
    ns: &'a str,
    id: Option<u64>,
    data: &'a str,
}

impl<'a> Packet<'a> {
    fn parse(text: &'a str) -> Option<Packet<'a>> {
        let b = text.as_bytes();
        if b.len() < 2 || b[0] != b'4' {
            return None;
        }
        let kind = b[1];
        let mut rest = &text[2..];
        let mut ns = "/";
        if rest.starts_with('/') {
            let end = rest.find(',').unwrap_or(rest.len());
            ns = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or("");
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id = rest[..digits].parse().ok();
        Some(Packet {
            kind,
            ns,
            id,
            data: &rest[digits..],
        })
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
async fn run(
    sh: Arc<Shared>,
    (mut ws, mut quiet): (Ws, Duration),
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    hello: Hello,
) {
    let c = &sh.counters;
    let mut pending: HashMap<u64, oneshot::Sender<Result<Value, ErrorClass>>> = HashMap::new();
    let mut next_id = 0u64;
    loop {
        let end = serve(&sh, &mut ws, quiet, &mut rx, &mut pending, &mut next_id).await;
        c.open.fetch_sub(1, Ordering::Relaxed);
        for (_, p) in pending.drain() {
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
    pending: &mut HashMap<u64, oneshot::Sender<Result<Value, ErrorClass>>>,
    next_id: &mut u64,
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
                Some(Cmd::Emit { packet, ack, reply }) => {
                    let mut frame = String::with_capacity(packet.len() + prefix.len() + 12);
                    frame.push_str("42");
                    frame.push_str(&prefix);
                    if ack {
                        frame.push_str(itoa::Buffer::new().format(*next_id));
                    }
                    frame.push_str(&packet);
                    match ws.send(Message::text(frame)).await {
                        Err(e) => {
                            let _ = reply.send(Err(ws_class(&e)));
                            return End::Dropped;
                        }
                        Ok(()) if ack => {
                            pending.insert(*next_id, reply);
                            *next_id += 1;
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
                                if let Some(r) = p.id.and_then(|id| pending.remove(&id)) {
                                    let v = serde_json::from_str(p.data).unwrap_or(Value::Null);
                                    let _ = r.send(Ok(v));
                                }
                            }
                            b'2' => {
                                heard(sh, p.data, Instant::now());
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

/// A server event arrived: count it, and time it against its origin if it has one.
fn heard(sh: &Shared, data: &str, now: Instant) {
    let Ok(Value::Array(args)) = serde_json::from_str::<Value>(data) else {
        return;
    };
    let Some(name) = args.first().and_then(Value::as_str) else {
        return;
    };
    let mut f = sh.fanout.lock().expect("fan-out lock");
    let Some(i) = sh.settings.listen.iter().position(|l| l.event == name) else {
        if f.other.len() < 64 || f.other.contains_key(name) {
            *f.other.entry(name.to_string()).or_default() += 1;
        }
        return;
    };
    let key = sh.settings.listen[i]
        .key
        .as_deref()
        .and_then(|k| args.get(1).and_then(|a| pick(a, k)));
    let h = &mut f.heard[i];
    h.received += 1;
    if let Some((sent, n)) = key.and_then(|k| h.origins.get_mut(&k)) {
        *n += 1;
        let us = (now.saturating_duration_since(*sent).as_micros() as u64).max(1);
        h.matched += 1;
        let _ = h.latency.record(us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_parse_with_and_without_namespace_and_ack_id() {
        assert_eq!(
            Packet::parse(r#"42["gift",{"id":1}]"#),
            Some(Packet {
                kind: b'2',
                ns: "/",
                id: None,
                data: r#"["gift",{"id":1}]"#
            })
        );
        assert_eq!(
            Packet::parse(r#"43/chat,17[{"ok":true}]"#),
            Some(Packet {
                kind: b'3',
                ns: "/chat",
                id: Some(17),
                data: r#"[{"ok":true}]"#
            })
        );
        assert_eq!(
            Packet::parse(r#"40/chat,{"sid":"x"}"#).map(|p| (p.kind, p.ns)),
            Some((b'0', "/chat"))
        );
        assert_eq!(
            Packet::parse("41").map(|p| (p.kind, p.ns)),
            Some((b'1', "/"))
        );
        assert_eq!(Packet::parse("2"), None);
    }
}
