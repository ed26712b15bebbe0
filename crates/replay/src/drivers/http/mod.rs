//! The HTTP driver: requests rendered from the mapping, sent over one of three
//! transports, outcomes classified for the statistics.
//!
//! - `http://` targets: our own HTTP/1.1 ([`h1`]), or HTTP/2 from the first byte
//!   ([`h2c`], hyper's connection API) with `--http2`. Measured against reqwest on the
//!   same load (docs/PERFORMANCE.md), reqwest's per-request URL parsing, connector cloning
//!   and pool checkout roughly doubled the CPU per request, and on 2 cores that CPU is
//!   what decides the highest open-loop rate we can hold.
//! - `https://` targets: reqwest with rustls ([`https`]: certificates, ALPN, HTTP/2
//!   negotiation).

mod h1;
mod h2c;
mod https;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use simulate_core::diagnostic::Problem;
use simulate_core::template::{Body, Ctx, Template};

use super::{Answer, Sending};
use crate::mapping::json_path::{self, Json, Paths};
use crate::mapping::{Check, Expect, HttpRequest, Mapping, MissingToken};
use crate::outcome::{ErrorClass, Outcome, Status};
use crate::source::Due;
use crate::tls::Tls;

/// The most of an answer's body a check reads (1 MiB), the same on every transport: a
/// longer body fails its check as `body_too_large` rather than being judged on a cut
/// (or, on one transport only, a whole) body.
pub(crate) const KEPT_BODY: usize = 1 << 20;

/// What a transport keeps of a checked body: one byte past [`KEPT_BODY`] says it was cut.
const KEPT: usize = KEPT_BODY + 1;

/// A kept body cut to [`KEPT`] (the transports that read it whole).
fn kept(mut body: Vec<u8>) -> Vec<u8> {
    body.truncate(KEPT);
    body
}

/// The kept body as JSON, read once for both the checks and the captures, and only at
/// the paths they name (a parse per check and one more for the captures was a third of
/// a checking flow's instructions; a whole `Value` then most of what remained).
fn body_json(body: Vec<u8>, paths: &Arc<Paths>) -> Option<Json> {
    (body.len() <= KEPT_BODY)
        .then(|| json_path::read(body, paths))
        .flatten()
        .map(Json::Picked)
}

/// The outcome of an answer whose status `expect` accepts: its checks on the kept body
/// of `body_len` bytes (`json`: that body read, [`body_json`]).
fn checked(check: &[Check], body_len: usize, json: Option<&Json>, status: u16) -> Outcome {
    match check {
        [] => Outcome::Ok(Status::Http(status)),
        _ if body_len > KEPT_BODY => Outcome::Failed(ErrorClass::BodyTooLarge),
        _ if !json.is_some_and(|v| Check::all_in(check, v)) => {
            Outcome::Failed(ErrorClass::Application)
        }
        _ => Outcome::Ok(Status::Http(status)),
    }
}

/// What of an answer a transport keeps: the body (a check, capture or outcome reads it)
/// and the headers (a header capture or the cookie jar reads them).
#[derive(Clone, Copy)]
pub(super) struct Keep {
    pub(super) body: bool,
    pub(super) headers: bool,
}

/// An answer as a transport returns it: the body and headers only when kept.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
    /// Lower-case names, in the order received.
    pub(super) headers: Vec<(String, String)>,
}

/// A header map's pairs, names in lower case (hyper and reqwest keep them so).
fn header_pairs(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// A kept answer for the flow: its JSON body (`json`, when it is JSON), and its headers.
fn answer(reply: Reply, json: Option<Json>) -> Answer {
    Answer {
        json,
        headers: reply.headers,
        broadcasts: Vec::new(),
    }
}

/// A JSON object's fields as a form-encoded body (`a=1&b=x`): strings as they are,
/// other values as JSON, null as empty.
fn form_encoded(v: &serde_json::Value) -> Vec<u8> {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    if let Some(o) = v.as_object() {
        for (k, v) in o {
            match v {
                serde_json::Value::Null => out.append_pair(k, ""),
                other => out.append_pair(k, &crate::mapping::flow::text_of(other)),
            };
        }
    }
    out.finish().into_bytes()
}

/// Every HTTP request to one target.
pub(crate) struct Client {
    transport: Transport,
    /// The mapping's headers, sent with every request (auth included), and whether each
    /// reads a captured variable (left out while the user has none).
    headers: Vec<(HeaderName, Template, bool)>,
    /// Users without a token are sent without the headers that read it
    /// (`missing_token = "anonymous"`).
    anonymous: bool,
    timeout: Duration,
}

enum Transport {
    H1(h1::Pool),
    H2c(h2c::Connection),
    Https(https::Client),
}

/// A plain-HTTP target, resolved once.
struct Plain {
    addr: SocketAddr,
    /// `host:port` as the URL gives it, for the Host header and h2c's URIs.
    authority: String,
    /// The target URL's own path, put before every request's.
    prefix: String,
}

impl Client {
    /// `http2` speaks HTTP/2 from the first byte (h2c) to plain-HTTP targets; HTTPS
    /// targets negotiate it by ALPN. Resolves the target's address once, here. `pool`
    /// bounds the idle connections kept.
    pub(crate) async fn new(
        target: &str,
        mapping: &Mapping,
        tls: &Tls,
        http2: bool,
        pool: usize,
    ) -> Result<Client, Problem> {
        let base = target.trim_end_matches('/');
        let url = url::Url::parse(base).map_err(|e| {
            Problem::new(
                format!("the target URL: {e}"),
                "write it like http://127.0.0.1:3000",
            )
        })?;
        let transport = if url.scheme() == "http" {
            let plain = Plain::resolve(&url).await?;
            if http2 {
                Transport::H2c(h2c::Connection::new(plain))
            } else {
                Transport::H1(h1::Pool::new(plain, pool))
            }
        } else {
            Transport::Https(https::Client::new(base, mapping.timeout, tls, http2, pool)?)
        };
        Ok(Client {
            transport,
            headers: mapping
                .headers
                .iter()
                .map(|(n, t)| {
                    let mut read = Vec::new();
                    t.vars_read(&mut read);
                    (n.clone(), t.clone(), !read.is_empty())
                })
                .collect(),
            anonymous: mapping.missing_token == MissingToken::Anonymous,
            timeout: mapping.timeout,
        })
    }

    /// Renders and sends one request; the whole response body is read, so the latency
    /// covers the answer, not just its headers. Bounded by the mapping's timeout. An
    /// answer with an expected status that fails the request's check (a JSON body
    /// without the field's value) is an application error.
    pub(crate) async fn send(
        &self,
        due: &Due,
        req: &HttpRequest,
        ctx: &Ctx<'_>,
        how: &Sending<'_>,
    ) -> (Outcome, Option<Answer>) {
        let (outcome, answer, _) = self.send_copy(due, req, ctx, how, 0).await;
        (outcome, answer)
    }

    /// [`Client::send`] for copy `k` of a probe (0: the timeline's own request): copy k
    /// carries `x-sim-event: <user_id>/<seq>/p<k>`, and its own idempotency key unless
    /// the probe's copies share one. The third value is the HTTP status the answer came
    /// with, whatever its check said: a probe judges statuses, and a 409 whose body fails
    /// the check is still the 409 the probe expects.
    pub(crate) async fn send_copy(
        &self,
        due: &Due,
        req: &HttpRequest,
        ctx: &Ctx<'_>,
        how: &Sending<'_>,
        k: u32,
    ) -> (Outcome, Option<Answer>, Option<u16>) {
        let parts = self.parts(due, req, ctx, (how, k));
        let keep = Keep {
            body: !req.check.is_empty() || req.keep,
            headers: req.keep_headers,
        };
        let sent = async {
            match &self.transport {
                Transport::H1(pool) => pool.send(&req.method, parts, keep).await,
                Transport::H2c(conn) => conn.send(req.method.clone(), parts, keep).await,
                Transport::Https(client) => client.send(req.method.clone(), parts, keep).await,
            }
        };
        let mut reply = match tokio::time::timeout(self.timeout, sent).await {
            Err(_) => return (Outcome::Failed(ErrorClass::Timeout), None, None),
            Ok(Err(class)) => return (Outcome::Failed(class), None, None),
            Ok(Ok(reply)) => reply,
        };
        let status = reply.status;
        let accepted = Expect::accepts(&req.expect, status);
        let body_len = reply.body.len();
        let json = ((accepted && !req.check.is_empty()) || req.keep)
            .then(|| body_json(std::mem::take(&mut reply.body), &req.paths))
            .flatten();
        let outcome = if accepted {
            checked(&req.check, body_len, json.as_ref(), status)
        } else {
            Outcome::Status(Status::Http(status))
        };
        (outcome, req.keep.then(|| answer(reply, json)), Some(status))
    }

    /// One request's path (after the target's own), headers and body. A header given
    /// twice (the mapping's over ours, a route's over the mapping's) is sent once, with
    /// the later value; a value that is not a valid header value is left out, and so is
    /// a header that reads `{token}` for a user without one (`missing_token =
    /// "anonymous"`).
    fn parts<'a>(
        &'a self,
        due: &Due,
        req: &'a HttpRequest,
        ctx: &Ctx<'_>,
        (how, k): (&Sending<'_>, u32),
    ) -> Parts<'a> {
        let mut path = String::with_capacity(48);
        req.path.render_into(ctx, &mut path);
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
        let mut event_id = due.event_id();
        if let Some(step) = how.suffix {
            event_id.push('/');
            event_id.push_str(step);
        }
        // The id moves into its header: only a probe's key needs it again, so only a
        // probe pays for a copy (a clone per request was measurable in callgrind).
        let probe = req
            .probe
            .as_ref()
            .and_then(|p| Some((p.key.as_ref()?, p.same_key)));
        let sent = match (k, probe) {
            (0, None) => std::mem::take(&mut event_id),
            (0, Some(_)) => event_id.clone(),
            _ => format!("{event_id}/p{k}"),
        };
        put("x-sim-event", sent);
        put("traceparent", due.traceparent());
        let own = req.headers.iter().map(|(n, t)| (n, t, false));
        for (name, t, reads) in self.headers.iter().map(|(n, t, r)| (n, t, *r)).chain(own) {
            if self.anonymous && ctx.token.is_none() && t.uses_token() {
                continue;
            }
            if reads && !has_vars(t, ctx) {
                continue;
            }
            put(name.as_str(), t.render(ctx));
        }
        if let Some((key, same_key)) = probe {
            probe_key(&mut headers, key.as_str(), (&event_id, k, same_key));
        }
        if let Some(jar) = &how.cookie {
            match headers.iter_mut().find(|(n, _)| *n == "cookie") {
                Some((_, given)) => *given = format!("{given}; {jar}"),
                None => headers.push(("cookie", jar.clone())),
            }
        }
        let body = match &req.body {
            None => Bytes::new(),
            Some(Body::Line) => due.line.clone(),
            Some(Body::Json(t)) if req.form => {
                if !headers.iter().any(|(n, _)| *n == "content-type") {
                    headers.push(("content-type", "application/x-www-form-urlencoded".into()));
                }
                form_encoded(&t.render(ctx)).into()
            }
            Some(Body::Json(t)) => {
                if !headers.iter().any(|(n, _)| *n == "content-type") {
                    headers.push(("content-type", "application/json".into()));
                }
                serde_json::to_vec(&t.render(ctx))
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

/// Whether the render has every captured value the template reads.
fn has_vars(t: &Template, ctx: &Ctx<'_>) -> bool {
    let mut read = Vec::new();
    t.vars_read(&mut read);
    read.iter().all(|f| ctx.vars.iter().any(|(k, _)| k == f))
}

impl Plain {
    async fn resolve(url: &url::Url) -> Result<Plain, Problem> {
        let host = url.host_str().ok_or_else(|| {
            Problem::new(
                "the target URL has no host",
                "write it like http://127.0.0.1:3000",
            )
        })?;
        let port = url.port_or_known_default().unwrap_or(80);
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let addr = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| {
                Problem::new(
                    format!("cannot resolve {host}: {e}"),
                    "check the host name, or give its IP address",
                )
            })?
            .next()
            .ok_or_else(|| {
                Problem::new(
                    format!("{host} resolves to no address"),
                    "check the host name, or give its IP address",
                )
            })?;
        Ok(Plain {
            addr,
            authority,
            prefix: url.path().trim_end_matches('/').to_string(),
        })
    }
}

/// A probe copy's idempotency key: the request's own value (`{event_id}` when it sends
/// none), with `/p<k>` appended for copy k when the copies do not share it.
fn probe_key<'a>(
    headers: &mut Vec<(&'a str, String)>,
    name: &'a str,
    (event_id, k, same): (&str, u32, bool),
) {
    let i = match headers.iter().position(|(n, _)| *n == name) {
        Some(i) => i,
        None => {
            headers.push((name, event_id.to_string()));
            headers.len() - 1
        }
    };
    if k > 0 && !same {
        headers[i].1.push_str(&format!("/p{k}"));
    }
}

/// A request before it is put on the wire.
struct Parts<'a> {
    /// After the target URL's own path.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{Check, Cond};

    fn body_json(body: &[u8]) -> Option<Json> {
        let ok = [String::from("ok")];
        super::body_json(body.to_vec(), &Arc::new(Paths::new([&ok[..]])))
    }

    #[test]
    fn a_checked_body_over_the_limit_fails_as_too_large_on_every_transport() {
        let check = [Check {
            path: vec!["ok".into()],
            cond: Cond::Equals(serde_json::Value::Bool(true)),
            read_as: Some(0),
        }];
        let small = br#"{"ok": true}"#.to_vec();
        assert_eq!(
            {
                let b = kept(small.clone());
                checked(&check, b.len(), body_json(&b).as_ref(), 200)
            },
            Outcome::Ok(Status::Http(200))
        );
        // Valid JSON that holds the check, but longer than a check reads.
        let mut big = br#"{"ok": true, "pad": ""#.to_vec();
        big.resize(KEPT_BODY + 10, b'x');
        big.extend_from_slice(br#""}"#);
        let cut = kept(big);
        assert_eq!(cut.len(), KEPT_BODY + 1);
        assert_eq!(
            checked(&check, cut.len(), body_json(&cut).as_ref(), 200),
            Outcome::Failed(ErrorClass::BodyTooLarge)
        );
        assert_eq!(ErrorClass::BodyTooLarge.name(), "body_too_large");
        // Exactly the limit is read whole.
        let mut edge = br#"{"ok": true, "pad": ""#.to_vec();
        edge.resize(KEPT_BODY - 2, b'x');
        edge.extend_from_slice(br#""}"#);
        assert_eq!(
            {
                let b = kept(edge);
                checked(&check, b.len(), body_json(&b).as_ref(), 200)
            },
            Outcome::Ok(Status::Http(200))
        );
        // Without a check the body is not read into memory, whatever its size.
        assert_eq!(checked(&[], 0, None, 204), Outcome::Ok(Status::Http(204)));
    }
}
