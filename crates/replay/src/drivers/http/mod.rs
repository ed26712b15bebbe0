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
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};
use http::{Method, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};

mod h1;
use crate::mapping::{Expect, Mapping, Request};
use crate::source::Due;
use crate::stats::{ErrorClass, Outcome};
use simulate_core::template::{Body, Ctx};

pub struct Driver {
    transport: Transport,
    /// The gRPC channel, when the mapping sends gRPC.
    grpc: Option<crate::drivers::grpc::Client>,
    /// Socket.IO connections, when the mapping has `[socketio]`.
    pub sio: Option<crate::drivers::socketio::Client>,
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
            .map(|u| crate::drivers::grpc::Client::new(u, mapping.timeout, ca_cert))
            .transpose()?;
        let sio = match (&mapping.socketio, sio_target) {
            (Some(settings), Some(url)) => Some(
                crate::drivers::socketio::Client::new(
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
                authority,
                prefix,
                http2,
                h1: h1::Pool::new(addr, pool),
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
            let msg = match crate::drivers::grpc::message(&call.input, template.render(&ctx)) {
                Ok(m) => m,
                Err(_) => return Outcome::Failed(ErrorClass::Other),
            };
            return Box::pin(client.call(call, msg, &due.event_id(), &due.traceparent())).await;
        }
        let sent = async {
            match &self.transport {
                Transport::Direct(d) if !d.http2 => {
                    let bytes = d.request_bytes(&req.method, self.parts(due, req))?;
                    d.h1.send(&bytes, req.method == Method::HEAD).await
                }
                Transport::Direct(d) => d.send_h2(req.method.clone(), self.parts(due, req)).await,
                Transport::Reqwest(c) => {
                    let Parts {
                        path,
                        headers,
                        body,
                    } = self.parts(due, req);
                    let mut url = self.base.clone();
                    url.push_str(&path);
                    let r = c
                        .request(req.method.clone(), url)
                        .headers(header_map(headers))
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
        due.ctx(json, token)
    }

    /// One request's path (after the target's own), headers and body. A header given
    /// twice (the mapping's over ours, a route's over the mapping's) is sent once, with
    /// the later value; a value that is not a valid header value is left out.
    fn parts<'a>(&'a self, due: &Due, req: &'a Request) -> Parts<'a> {
        let json = if req.needs_json {
            serde_json::from_slice::<serde_json::Value>(&due.line).ok()
        } else {
            None
        };
        let ctx = self.ctx(due, json.as_ref());
        let mut path = String::with_capacity(48);
        req.path.render_into(&ctx, &mut path);
        let mut headers: Vec<(&str, String)> = Vec::with_capacity(3 + req.headers.len());
        let mut put = |name: &'a str, value: String| {
            if !value.bytes().all(|b| b == b'\t' || (32..127).contains(&b)) {
                return;
            }
            match headers.iter_mut().find(|(n, _)| *n == name) {
                Some(h) => h.1 = value,
                None => headers.push((name, value)),
            }
        };
        put("x-sim-event", due.event_id());
        put("traceparent", due.traceparent());
        for (name, t) in self.mapping.headers.iter().chain(&req.headers) {
            put(name.as_str(), t.render(&ctx));
        }
        let body = match &req.body {
            None => Bytes::new(),
            Some(Body::Line) => due.line.clone(),
            Some(Body::Json(t)) => {
                if !headers.iter().any(|(n, _)| *n == "content-type") {
                    headers.push(("content-type", "application/json".into()));
                }
                serde_json::to_vec(&t.render(&ctx))
                    .unwrap_or_default()
                    .into()
            }
        };
        Parts {
            path,
            headers,
            body,
        }
    }
}

/// A request before it is put on the wire.
struct Parts<'a> {
    path: String,
    /// Lower-case names, valid values, each name once.
    headers: Vec<(&'a str, String)>,
    body: Bytes,
}

/// The headers for hyper and reqwest.
fn header_map(headers: Vec<(&str, String)>) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.insert(n, v);
        }
    }
    map
}

/// Plain-HTTP connections to one address: HTTP/1.1 keep-alive connections used one
/// request at a time (our own, see `h1`), or one hyper HTTP/2 connection multiplexing all.
struct Direct {
    addr: SocketAddr,
    authority: String,
    /// The target URL's own path, put before every request's.
    prefix: String,
    http2: bool,
    h1: h1::Pool,
    shared: tokio::sync::Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
}

impl Direct {
    /// The HTTP/1.1 request as it goes on the wire. The request target is checked by
    /// `http`'s own URI parser, as hyper did: a path rendered from event fields with a
    /// space or a line break in it must fail as a request (class `other`), never reach
    /// the wire as a second header or request. A fragment is dropped, as clients do.
    fn request_bytes(&self, method: &Method, p: Parts<'_>) -> Result<Vec<u8>, ErrorClass> {
        let mut target = String::with_capacity(self.prefix.len() + p.path.len());
        target.push_str(&self.prefix);
        target.push_str(&p.path);
        let target = http::uri::PathAndQuery::try_from(target).map_err(|_| ErrorClass::Other)?;
        let mut out = Vec::with_capacity(256 + target.as_str().len() + p.body.len());
        for piece in [method.as_str(), " ", target.as_str(), " HTTP/1.1\r\nhost: "] {
            out.extend_from_slice(piece.as_bytes());
        }
        out.extend_from_slice(self.authority.as_bytes());
        for (name, value) in &p.headers {
            for piece in ["\r\n", name, ": ", value] {
                out.extend_from_slice(piece.as_bytes());
            }
        }
        // A body, or a method that expects one, states its length (an empty POST too).
        if !p.body.is_empty() || !matches!(*method, Method::GET | Method::HEAD | Method::DELETE) {
            out.extend_from_slice(b"\r\ncontent-length: ");
            out.extend_from_slice(itoa::Buffer::new().format(p.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(&p.body);
        Ok(out)
    }

    async fn send_h2(&self, method: Method, p: Parts<'_>) -> Result<u16, ErrorClass> {
        let mut r = http::Request::new(Full::new(p.body));
        *r.method_mut() = method;
        *r.headers_mut() = header_map(p.headers);
        let uri = format!("http://{}{}{}", self.authority, self.prefix, p.path);
        *r.uri_mut() = Uri::try_from(uri).map_err(|_| ErrorClass::Other)?;
        let mut s = self.h2().await?;
        // A broken connection shows as closed, and the next request opens another.
        read_whole(s.send_request(r).await).await
    }

    /// The shared HTTP/2 connection, opened on first use and after it breaks.
    async fn h2(&self) -> Result<http2::SendRequest<Full<Bytes>>, ErrorClass> {
        let mut shared = self.shared.lock().await;
        if let Some(s) = shared.as_ref().filter(|s| !s.is_closed()) {
            return Ok(s.clone());
        }
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| io_error_class(&e))?;
        let _ = stream.set_nodelay(true);
        let (s, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn direct() -> Direct {
        let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        Direct {
            addr,
            authority: "127.0.0.1:8080".into(),
            prefix: "/api".into(),
            http2: false,
            h1: h1::Pool::new(addr, 1),
            shared: tokio::sync::Mutex::new(None),
        }
    }

    fn parts(path: &str, body: &'static str) -> Parts<'static> {
        Parts {
            path: path.into(),
            headers: vec![
                ("x-sim-event", "u1/2".into()),
                ("content-type", "text/plain".into()),
            ],
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn http1_requests_are_written_whole_and_bad_targets_refused() {
        let d = direct();
        let post = d
            .request_bytes(&Method::POST, parts("/v1/x?q=1#frag", "hi"))
            .unwrap();
        assert_eq!(
            String::from_utf8(post).unwrap(),
            "POST /api/v1/x?q=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nx-sim-event: u1/2\r\n\
             content-type: text/plain\r\ncontent-length: 2\r\n\r\nhi"
        );
        // No body and a method without one: no length. An empty POST states 0.
        let get = d.request_bytes(&Method::GET, parts("/a", "")).unwrap();
        assert!(!String::from_utf8(get).unwrap().contains("content-length"));
        let empty = d.request_bytes(&Method::POST, parts("/a", "")).unwrap();
        assert!(
            String::from_utf8(empty)
                .unwrap()
                .ends_with("content-length: 0\r\n\r\n")
        );
        // Rendered from event fields: a space or a line break never reaches the wire.
        for bad in ["/a b", "/a\r\nx-evil: 1", "/a\n"] {
            assert_eq!(
                d.request_bytes(&Method::POST, parts(bad, "")).err(),
                Some(ErrorClass::Other),
                "{bad:?}"
            );
        }
    }
}
