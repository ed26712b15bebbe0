//! The HTTP driver: one reqwest client (keep-alive pool, HTTP/1.1 or HTTP/2, rustls),
//! requests rendered from the mapping, outcomes classified for the statistics.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};

use super::mapping::{Expect, Mapping, Request};
use super::source::Due;
use super::stats::{ErrorClass, Outcome};
use super::template::{Body, Ctx};

pub struct Driver {
    client: reqwest::Client,
    base: String,
    pub mapping: Arc<Mapping>,
}

impl Driver {
    /// `base` is the target URL without a trailing slash; `http2` speaks HTTP/2 from the
    /// first byte (h2c) to plain-HTTP targets; HTTPS targets negotiate it by ALPN.
    pub fn new(
        mapping: Arc<Mapping>,
        base: &str,
        http2: bool,
        pool: usize,
    ) -> Result<Driver, String> {
        // reqwest is built without a default crypto provider (its default, aws-lc, needs
        // cmake and a long C build); ring is the lean one. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = reqwest::Client::builder()
            .timeout(mapping.timeout)
            .connect_timeout(mapping.timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true)
            .user_agent(concat!("simulate/", env!("CARGO_PKG_VERSION")));
        if http2 {
            b = b.http2_prior_knowledge();
        }
        let client = b
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(Driver {
            client,
            base: base.trim_end_matches('/').to_string(),
            mapping,
        })
    }

    /// Renders and sends one request; the whole response body is read, so the latency
    /// covers the answer, not just its headers.
    pub async fn send(&self, due: &Due, req: &Request) -> Outcome {
        let json = if req.needs_json {
            serde_json::from_slice::<serde_json::Value>(&due.line).ok()
        } else {
            None
        };
        let token = self
            .mapping
            .tokens
            .as_ref()
            .and_then(|t| t.get(&*due.user_id))
            .map(String::as_str);
        let ctx = Ctx {
            due,
            json: json.as_ref(),
            token,
        };
        let mut url = String::with_capacity(self.base.len() + 48);
        url.push_str(&self.base);
        req.path.render_into(&ctx, &mut url);
        let mut rb = self.client.request(req.method.clone(), url);
        let mut id = String::with_capacity(due.user_id.len() + 8);
        id.push_str(&due.user_id);
        id.push('/');
        id.push_str(itoa::Buffer::new().format(due.seq));
        if let Ok(v) = HeaderValue::from_str(&id) {
            rb = rb.header("x-sim-event", v);
        }
        for (name, t) in self.mapping.headers.iter().chain(&req.headers) {
            if let Ok(v) = HeaderValue::from_str(&t.render(&ctx)) {
                rb = rb.header(name, v);
            }
        }
        rb = match &req.body {
            None => rb,
            Some(Body::Line) => rb.body(due.line.clone()),
            Some(Body::Json(t)) => {
                let body = serde_json::to_vec(&t.render(&ctx)).unwrap_or_default();
                if req.headers.iter().any(|(n, _)| n == CONTENT_TYPE) {
                    rb.body(body)
                } else {
                    rb.header(CONTENT_TYPE, "application/json").body(body)
                }
            }
        };
        match rb.send().await {
            Err(e) => Outcome::Failed(classify(&e)),
            Ok(resp) => {
                let status = resp.status().as_u16();
                if let Err(e) = resp.bytes().await {
                    return Outcome::Failed(classify(&e));
                }
                if Expect::accepts(&req.expect, status) {
                    Outcome::Ok(status)
                } else {
                    Outcome::Status(status)
                }
            }
        }
    }
}

/// A transport error's class, from reqwest's flags and the io error underneath.
fn classify(e: &reqwest::Error) -> ErrorClass {
    if e.is_timeout() {
        return ErrorClass::Timeout;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return ErrorClass::Refused,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                    return ErrorClass::Reset;
                }
                TimedOut => return ErrorClass::Timeout,
                _ => {}
            }
        }
        if s.downcast_ref::<rustls::Error>().is_some() {
            return ErrorClass::Tls;
        }
        let text = s.to_string();
        if text.contains("connection closed") || text.contains("connection reset") {
            return ErrorClass::Reset;
        }
        src = s.source();
    }
    if e.is_connect() {
        ErrorClass::Connect
    } else {
        ErrorClass::Other
    }
}
