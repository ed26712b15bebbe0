//! The HTTP driver: requests rendered from the mapping, sent over one of two transports,
//! outcomes classified for the statistics.
//!
//! - `http://` targets: hyper's connection API directly, with a small pool of our own.
//!   Measured against reqwest on the same load (docs/PERFORMANCE.md), reqwest's per-request
//!   URL parsing, connector cloning and pool checkout roughly doubled the CPU per request,
//!   and on 2 cores that CPU is what decides the highest open-loop rate we can hold.
//! - `https://` targets: reqwest with rustls (certificates, ALPN, HTTP/2 negotiation).

use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use http::{Method, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::mapping::{Expect, Mapping, Request};
use super::source::Due;
use super::stats::{ErrorClass, Outcome};
use super::template::{Body, Ctx};

pub struct Driver {
    transport: Transport,
    /// The gRPC channel, when the mapping sends gRPC.
    grpc: Option<super::grpc::Client>,
    /// Socket.IO connections, when the mapping has `[socketio]`.
    pub sio: Option<super::socketio::Client>,
    /// The target URL without a trailing slash.
    base: String,
    pub mapping: Arc<Mapping>,
}

enum Transport {
    Direct(Box<Direct>),
    Reqwest(reqwest::Client),
}

impl Driver {
    /// `http2` speaks HTTP/2 from the first byte (h2c) to plain-HTTP targets; HTTPS targets
    /// negotiate it by ALPN. Resolves the target's address once, here.
    pub async fn new(
        mapping: Arc<Mapping>,
        target: &str,
        grpc_target: Option<&str>,
        sio_target: Option<&str>,
        ca_cert: Option<&[u8]>,
        http2: bool,
        pool: usize,
    ) -> Result<Driver, String> {
        let grpc = grpc_target
            .map(|u| super::grpc::Client::new(u, mapping.timeout, ca_cert))
            .transpose()?;
        let sio = match (&mapping.socketio, sio_target) {
            (Some(settings), Some(url)) => Some(
                super::socketio::Client::new(
                    std::sync::Arc::clone(settings),
                    url,
                    mapping.timeout,
                    ca_cert,
                )
                .await?,
            ),
            _ => None,
        };
        let base = target.trim_end_matches('/').to_string();
        let url = url::Url::parse(&base).map_err(|e| format!("the target URL: {e}"))?;
        let transport = if url.scheme() == "http" {
            let host = url.host_str().ok_or("the target URL has no host")?;
            let port = url.port_or_known_default().unwrap_or(80);
            let authority = match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_string(),
            };
            let addr = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .next()
                .ok_or_else(|| format!("{host} resolves to no address"))?;
            let prefix = url.path().trim_end_matches('/').to_string();
            Transport::Direct(Box::new(Direct {
                addr,
                host: HeaderValue::from_str(&authority).map_err(|e| e.to_string())?,
                authority,
                prefix,
                http2,
                idle: Mutex::new(Vec::with_capacity(pool.min(4096))),
                shared: tokio::sync::Mutex::new(None),
            }))
        } else {
            // reqwest is built without a default crypto provider (its default, aws-lc,
            // needs cmake and a long C build); ring is the lean one.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut b = reqwest::Client::builder()
                .connect_timeout(mapping.timeout.min(Duration::from_secs(5)))
                .pool_max_idle_per_host(pool)
                .tcp_nodelay(true);
            if http2 {
                b = b.http2_prior_knowledge();
            }
            if let Some(pem) = ca_cert {
                let cert = reqwest::Certificate::from_pem(pem)
                    .map_err(|e| format!("--ca-cert is not a PEM certificate: {e}"))?;
                b = b.add_root_certificate(cert);
            }
            Transport::Reqwest(
                b.build()
                    .map_err(|e| format!("cannot set up the HTTPS client: {e}"))?,
            )
        };
        Ok(Driver {
            transport,
            grpc,
            sio,
            base,
            mapping,
        })
    }

    /// Renders and sends one request; the whole response body is read, so the latency
    /// covers the answer, not just its headers. Bounded by the mapping's timeout.
    pub async fn send(&self, due: &Due, req: &Request) -> Outcome {
        if let (Some(op), Some(client)) = (&req.sio, &self.sio) {
            let json = req
                .needs_json
                .then(|| serde_json::from_slice::<serde_json::Value>(&due.line).ok())
                .flatten();
            // Boxed, like the gRPC call below: their futures are large, and inlined they
            // would make every HTTP request's task as large (tokio moves a task's future
            // into place at spawn; measured: 7 % of the CPU went to that copy).
            let ctx = self.ctx(due, json.as_ref());
            return Box::pin(client.send(due, op, &ctx)).await;
        }
        if let (Some((call, template)), Some(client)) = (&req.grpc, &self.grpc) {
            let json = template
                .needs_json()
                .then(|| serde_json::from_slice::<serde_json::Value>(&due.line).ok())
                .flatten();
            let ctx = self.ctx(due, json.as_ref());
            let msg = match super::grpc::message(&call.input, template.render(&ctx)) {
                Ok(m) => m,
                Err(_) => return Outcome::Failed(ErrorClass::Other),
            };
            return Box::pin(client.call(call, msg, &due.event_id(), &due.traceparent())).await;
        }
        let (path, headers, body) = self.render(due, req);
        let sent = async {
            match &self.transport {
                Transport::Direct(d) => d.send(req.method.clone(), &path, headers, body).await,
                Transport::Reqwest(c) => {
                    let mut url = self.base.clone();
                    url.push_str(&path);
                    let r = c
                        .request(req.method.clone(), url)
                        .headers(headers)
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| classify(&e))?;
                    let status = r.status().as_u16();
                    r.bytes().await.map_err(|e| classify(&e))?;
                    Ok(status)
                }
            }
        };
        match tokio::time::timeout(self.mapping.timeout, sent).await {
            Err(_) => Outcome::Failed(ErrorClass::Timeout),
            Ok(Err(class)) => Outcome::Failed(class),
            Ok(Ok(status)) if Expect::accepts(&req.expect, status) => Outcome::Ok(status),
            Ok(Ok(status)) => Outcome::Status(status),
        }
    }

    /// The path (after the target's own), headers and body of one request.
    fn ctx<'a>(&'a self, due: &'a Due, json: Option<&'a serde_json::Value>) -> Ctx<'a> {
        let token = self
            .mapping
            .tokens
            .as_ref()
            .and_then(|t| t.get(&*due.user_id))
            .map(String::as_str);
        Ctx { due, json, token }
    }

    fn render(&self, due: &Due, req: &Request) -> (String, HeaderMap, Bytes) {
        let json = if req.needs_json {
            serde_json::from_slice::<serde_json::Value>(&due.line).ok()
        } else {
            None
        };
        let ctx = self.ctx(due, json.as_ref());
        let mut path = String::with_capacity(48);
        req.path.render_into(&ctx, &mut path);
        let mut headers = HeaderMap::with_capacity(4 + req.headers.len());
        if let Ok(v) = HeaderValue::from_str(&due.event_id()) {
            headers.insert("x-sim-event", v);
        }
        if let Ok(v) = HeaderValue::from_str(&due.traceparent()) {
            headers.insert("traceparent", v);
        }
        for (name, t) in self.mapping.headers.iter().chain(&req.headers) {
            if let Ok(v) = HeaderValue::from_str(&t.render(&ctx)) {
                headers.insert(name, v);
            }
        }
        let body = match &req.body {
            None => Bytes::new(),
            Some(Body::Line) => due.line.clone(),
            Some(Body::Json(t)) => {
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                serde_json::to_vec(&t.render(&ctx))
                    .unwrap_or_default()
                    .into()
            }
        };
        (path, headers, body)
    }
}

/// hyper's client connections to one plain-HTTP address: HTTP/1.1 connections reused one
/// request at a time, or one HTTP/2 connection multiplexing them all.
struct Direct {
    addr: SocketAddr,
    authority: String,
    host: HeaderValue,
    /// The target URL's own path, put before every request's.
    prefix: String,
    http2: bool,
    idle: Mutex<Vec<http1::SendRequest<Full<Bytes>>>>,
    shared: tokio::sync::Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
}

impl Direct {
    async fn connect(&self) -> Result<TokioIo<tokio::net::TcpStream>, ErrorClass> {
        let s = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| io_error_class(&e))?;
        let _ = s.set_nodelay(true);
        Ok(TokioIo::new(s))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<u16, ErrorClass> {
        let mut r = http::Request::new(Full::new(body));
        *r.method_mut() = method;
        *r.headers_mut() = headers;
        let uri = if self.http2 {
            format!("http://{}{}{path}", self.authority, self.prefix)
        } else {
            format!("{}{path}", self.prefix)
        };
        *r.uri_mut() = Uri::try_from(uri).map_err(|_| ErrorClass::Other)?;
        if self.http2 {
            let mut s = self.h2().await?;
            // A broken connection shows as closed, and the next request opens another.
            return read_whole(s.send_request(r).await).await;
        }
        r.headers_mut().insert(HOST, self.host.clone());
        let mut s = self.h1().await?;
        let status = read_whole(s.send_request(r).await).await?;
        // Back to the pool only once the answer is read whole: the connection is clean.
        if !s.is_closed() {
            self.idle.lock().expect("pool lock").push(s);
        }
        Ok(status)
    }

    /// An idle HTTP/1.1 connection that is still open and ready, or a new one.
    async fn h1(&self) -> Result<http1::SendRequest<Full<Bytes>>, ErrorClass> {
        loop {
            let idle = self.idle.lock().expect("pool lock").pop();
            match idle {
                Some(mut s) => {
                    if !s.is_closed() && s.ready().await.is_ok() {
                        return Ok(s);
                    }
                }
                None => break,
            }
        }
        let (s, conn) = http1::handshake(self.connect().await?)
            .await
            .map_err(|e| hyper_class(&e))?;
        tokio::spawn(conn);
        Ok(s)
    }

    /// The shared HTTP/2 connection, opened on first use and after it breaks.
    async fn h2(&self) -> Result<http2::SendRequest<Full<Bytes>>, ErrorClass> {
        let mut shared = self.shared.lock().await;
        if let Some(s) = shared.as_ref().filter(|s| !s.is_closed()) {
            return Ok(s.clone());
        }
        let (s, conn) = http2::handshake(TokioExecutor::new(), self.connect().await?)
            .await
            .map_err(|e| hyper_class(&e))?;
        tokio::spawn(conn);
        *shared = Some(s.clone());
        Ok(s)
    }
}

/// The status of a response, after reading its whole body.
async fn read_whole(
    resp: Result<http::Response<hyper::body::Incoming>, hyper::Error>,
) -> Result<u16, ErrorClass> {
    let resp = resp.map_err(|e| hyper_class(&e))?;
    let status = resp.status().as_u16();
    resp.into_body()
        .collect()
        .await
        .map_err(|e| hyper_class(&e))?;
    Ok(status)
}

/// A failed connect's or write's class.
pub(super) fn io_error_class(e: &std::io::Error) -> ErrorClass {
    io_class(e).unwrap_or(ErrorClass::Connect)
}

fn io_class(e: &std::io::Error) -> Option<ErrorClass> {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => Some(ErrorClass::Refused),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected => {
            Some(ErrorClass::Reset)
        }
        TimedOut => Some(ErrorClass::Timeout),
        _ => None,
    }
}

/// The class of an error chain: the io error underneath if any, else what the text says.
pub(super) fn chain_class(
    mut src: Option<&(dyn std::error::Error + 'static)>,
) -> Option<ErrorClass> {
    while let Some(s) = src {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return Some(ErrorClass::Tls);
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(c) = io_class(io) {
                return Some(c);
            }
            // An io::Error's `source()` skips the error it wraps: descend into that one
            // (rustls reports a bad certificate as io errors wrapped twice).
            if let Some(inner) = io.get_ref() {
                src = Some(inner);
                continue;
            }
        }
        src = s.source();
    }
    None
}

fn hyper_class(e: &hyper::Error) -> ErrorClass {
    if e.is_timeout() {
        return ErrorClass::Timeout;
    }
    if let Some(c) = chain_class(e.source()) {
        return c;
    }
    if e.is_closed() || e.is_incomplete_message() || e.is_canceled() {
        ErrorClass::Reset
    } else {
        ErrorClass::Other
    }
}

/// A reqwest error's class, from its flags and the io error underneath.
fn classify(e: &reqwest::Error) -> ErrorClass {
    if e.is_timeout() {
        return ErrorClass::Timeout;
    }
    if let Some(c) = chain_class(e.source()) {
        return c;
    }
    let text = format!("{e:?}");
    if text.contains("connection closed") || text.contains("IncompleteMessage") {
        ErrorClass::Reset
    } else if e.is_connect() {
        ErrorClass::Connect
    } else {
        ErrorClass::Other
    }
}
