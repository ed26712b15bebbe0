//! HTTP/1.1 to plain-HTTP targets, one request at a time per pooled connection, written
//! by hand over tokio's `TcpStream`, with httparse reading the answers.
//!
//! Why not hyper here: hyper's HTTP/1.1 client runs each connection as a task of its own
//! and hands every request and response across channels to it, builds header maps and
//! parses URIs both ways. Measured at 70 k req/s against nginx on 2 cores
//! (docs/PERFORMANCE.md), that machinery was most of our user-space CPU per request, and
//! the one I/O thread's CPU is what decides the highest open-loop rate held. Here a
//! request's own task writes its bytes and reads the answer: one `write` and usually one
//! `read` per request, as wrk does. HTTP/2 and HTTPS still go through hyper and reqwest.
//!
//! What a load generator needs of HTTP/1.1 and no more: Content-Length, chunked and
//! read-to-close bodies (read whole; discarded, or kept for a check), 1xx interim answers skipped, bodiless
//! answers to HEAD / 204 / 304, `Connection: close` and HTTP/1.0 honoured. No pipelining:
//! bytes after a complete answer mean the connection is not reused.

use std::net::SocketAddr;
use std::sync::Mutex;

use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::{Keep, Parts, Plain, Reply};
use crate::outcome::{ErrorClass, io_error_class};

/// Headers read from one answer at most; more is a malformed answer for our purposes.
const MAX_HEADERS: usize = 64;

/// Read buffer growth step, and the size kept between requests.
const READ_CHUNK: usize = 4096;

use super::KEPT;

/// Idle keep-alive connections to one address.
pub(super) struct Pool {
    target: Plain,
    idle: Mutex<Vec<Conn>>,
}

struct Conn {
    io: TcpStream,
    buf: Vec<u8>,
    /// The body of the current answer, when a check reads it.
    kept: Option<Vec<u8>>,
    /// The current answer's headers, when `keep_headers` (a flow reads them).
    headers: Vec<(String, String)>,
    keep_headers: bool,
}

/// Why an exchange failed, and whether a fresh connection may try again: only when the
/// request could not even be written (the server had reset the connection), so it cannot
/// have been processed. A connection closed after the request was written is an error,
/// never a second delivery.
struct Failed {
    class: ErrorClass,
    retry: bool,
}

/// How the body of an answer ends.
enum Framing {
    Length(u64),
    Chunked,
    Close,
}

impl Pool {
    pub(super) fn new(target: Plain, capacity: usize) -> Pool {
        Pool {
            target,
            idle: Mutex::new(Vec::with_capacity(capacity.min(4096))),
        }
    }

    /// Sends one request and reads its answer whole. Returns the status, and the body
    /// when `keep` (a check reads it; else it is discarded as it arrives).
    pub(super) async fn send(
        &self,
        method: &Method,
        p: Parts<'_>,
        keep: Keep,
    ) -> Result<Reply, ErrorClass> {
        let bytes = request_bytes(&self.target, method, p)?;
        self.exchange(&bytes, *method == Method::HEAD, keep).await
    }

    /// Sends one whole request (head and body) and reads the answer whole. `bodiless`
    /// is true for HEAD, whose answer has headers only. Returns the status and the kept body.
    async fn exchange(
        &self,
        request: &[u8],
        bodiless: bool,
        keep: Keep,
    ) -> Result<Reply, ErrorClass> {
        loop {
            let Some(mut conn) = self.idle.lock().expect("pool lock").pop() else {
                break;
            };
            // Closed by the server while idle (a keep-alive timeout): its end of stream
            // is already known, without a system call. Dropped, and the next one tried.
            if conn.closed_by_peer() {
                continue;
            }
            conn.set_keep(keep);
            match conn.exchange(request, bodiless).await {
                Err(Failed { retry: true, .. }) => break,
                done => return self.finish(conn, done),
            }
        }
        let mut conn = Conn::open(self.target.addr).await?;
        conn.set_keep(keep);
        let done = conn.exchange(request, bodiless).await;
        self.finish(conn, done)
    }

    fn finish(
        &self,
        mut conn: Conn,
        done: Result<(u16, bool), Failed>,
    ) -> Result<Reply, ErrorClass> {
        match done {
            Ok((status, reusable)) => {
                let body = conn.kept.take().unwrap_or_default();
                let headers = std::mem::take(&mut conn.headers);
                if reusable {
                    self.idle.lock().expect("pool lock").push(conn);
                }
                Ok(Reply {
                    status,
                    body,
                    headers,
                })
            }
            Err(f) => Err(f.class),
        }
    }
}

/// The HTTP/1.1 request as it goes on the wire. The request target is checked by
/// `http`'s own URI parser, as hyper did: a path rendered from event fields with a
/// space or a line break in it must fail as a request (class `other`), never reach
/// the wire as a second header or request. A fragment is dropped, as clients do.
fn request_bytes(t: &Plain, method: &Method, p: Parts<'_>) -> Result<Vec<u8>, ErrorClass> {
    let mut target = String::with_capacity(t.prefix.len() + p.path.len());
    target.push_str(&t.prefix);
    target.push_str(&p.path);
    let target = http::uri::PathAndQuery::try_from(target).map_err(|_| ErrorClass::Other)?;
    let mut out = Vec::with_capacity(256 + target.as_str().len() + p.body.len());
    for piece in [method.as_str(), " ", target.as_str(), " HTTP/1.1\r\nhost: "] {
        out.extend_from_slice(piece.as_bytes());
    }
    out.extend_from_slice(t.authority.as_bytes());
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

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn, ErrorClass> {
        let io = TcpStream::connect(addr)
            .await
            .map_err(|e| io_error_class(&e))?;
        let _ = io.set_nodelay(true);
        Ok(Conn {
            io,
            buf: Vec::with_capacity(READ_CHUNK),
            kept: None,
            headers: Vec::new(),
            keep_headers: false,
        })
    }

    /// Whether the runtime has seen the server end this connection (tokio records it
    /// from epoll's RDHUP with the connection's readiness, so this costs no system call).
    fn closed_by_peer(&self) -> bool {
        use futures_util::FutureExt;
        match self.io.ready(Interest::READABLE).now_or_never() {
            Some(Ok(r)) => r.is_read_closed(),
            Some(Err(_)) => true,
            None => false,
        }
    }

    /// Reads more of the answer; end of stream is an error (the answer is incomplete).
    async fn read_more(&mut self) -> Result<(), Failed> {
        self.buf.reserve(READ_CHUNK);
        match self.io.read_buf(&mut self.buf).await {
            Ok(0) => Err(Failed {
                class: ErrorClass::Reset,
                retry: false,
            }),
            Ok(_) => Ok(()),
            Err(e) => Err(Failed {
                class: io_error_class(&e),
                retry: false,
            }),
        }
    }

    /// Writes the request and reads the answer. Ok: the status, and whether the
    /// connection is clean for another request.
    async fn exchange(&mut self, request: &[u8], bodiless: bool) -> Result<(u16, bool), Failed> {
        self.io.write_all(request).await.map_err(|e| Failed {
            class: io_error_class(&e),
            retry: true,
        })?;
        self.buf.clear();
        let (status, framing, mut reusable) = loop {
            match head(&self.buf, bodiless)? {
                None => self.read_more().await?,
                // An interim answer (100 Continue, 103 Early Hints): the real one follows.
                Some((len, status, _, _)) if (100..200).contains(&status) && status != 101 => {
                    self.buf.drain(..len);
                }
                Some((len, status, framing, reusable)) => {
                    if self.keep_headers {
                        self.headers = head_fields(&self.buf[..len]);
                    }
                    self.buf.drain(..len);
                    break (status, framing, reusable);
                }
            }
        };
        match framing {
            Framing::Length(n) => self.skip(n).await?,
            Framing::Chunked => self.chunks().await?,
            Framing::Close => {
                reusable = false;
                loop {
                    self.keep(self.buf.len());
                    self.buf.clear();
                    self.buf.reserve(READ_CHUNK);
                    match self.io.read_buf(&mut self.buf).await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => {
                            return Err(Failed {
                                class: io_error_class(&e),
                                retry: false,
                            });
                        }
                    }
                }
            }
        }
        // Bytes past the answer: not ours to interpret; don't reuse the connection.
        reusable &= self.buf.is_empty();
        if self.buf.capacity() > 4 * READ_CHUNK {
            self.buf = Vec::with_capacity(READ_CHUNK);
        }
        Ok((status, reusable))
    }

    /// What the next answer keeps of itself.
    fn set_keep(&mut self, keep: Keep) {
        self.kept = keep.body.then(Vec::new);
        self.keep_headers = keep.headers;
    }

    /// Copies the first `n` bytes of the buffer to the kept body, when one is kept (up
    /// to [`KEPT`]: one byte past the limit says the body was cut).
    fn keep(&mut self, n: usize) {
        if let Some(k) = &mut self.kept {
            let room = KEPT.saturating_sub(k.len()).min(n);
            k.extend_from_slice(&self.buf[..room]);
        }
    }

    /// Passes over the next `n` bytes of the answer's body, reading them as they come
    /// (kept when a check reads the body).
    async fn skip(&mut self, mut n: u64) -> Result<(), Failed> {
        loop {
            let have = (self.buf.len() as u64).min(n);
            self.keep(have as usize);
            self.buf.drain(..have as usize);
            n -= have;
            if n == 0 {
                return Ok(());
            }
            self.read_more().await?;
        }
    }

    /// Reads a chunked body to its end, trailers included, discarding it as it goes.
    async fn chunks(&mut self) -> Result<(), Failed> {
        loop {
            match httparse::parse_chunk_size(&self.buf) {
                Err(_) => return Err(malformed()),
                Ok(httparse::Status::Partial) => self.read_more().await?,
                Ok(httparse::Status::Complete((used, 0))) => {
                    self.buf.drain(..used);
                    return self.trailers().await;
                }
                Ok(httparse::Status::Complete((used, size))) => {
                    self.buf.drain(..used);
                    // The chunk's data, then its CRLF (never kept).
                    self.skip(size).await?;
                    let kept = self.kept.take();
                    let crlf = self.skip(2).await;
                    self.kept = kept;
                    crlf?;
                }
            }
        }
    }

    /// After the last chunk: trailer lines up to an empty one.
    async fn trailers(&mut self) -> Result<(), Failed> {
        loop {
            match self.buf.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.buf.drain(..2);
                    return Ok(());
                }
                Some(end) => {
                    self.buf.drain(..end + 2);
                }
                None => self.read_more().await?,
            }
        }
    }
}

fn malformed() -> Failed {
    Failed {
        class: ErrorClass::Other,
        retry: false,
    }
}

/// A complete head's headers, names in lower case (kept for a flow's captures and cookies).
fn head_fields(buf: &[u8]) -> Vec<(String, String)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    if resp.parse(buf).is_err() {
        return Vec::new();
    }
    resp.headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// The answer's head, if it has all arrived: its length in bytes, status, framing and
/// whether the server keeps the connection open.
fn head(buf: &[u8], bodiless: bool) -> Result<Option<(usize, u16, Framing, bool)>, Failed> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(malformed()),
    };
    let status = resp.code.unwrap_or(0);
    // HTTP/1.0 closes unless it says keep-alive; HTTP/1.1 stays open unless it says close.
    let mut keep = resp.version == Some(1);
    let switched = status == 101;
    let mut length = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(malformed)?;
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked when it is the last coding applied.
            chunked = h
                .value
                .rsplit(|b| *b == b',')
                .next()
                .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep = true;
                }
            }
        }
    }
    let framing = if bodiless || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    Ok(Some((len, status, framing, keep && !switched)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn target() -> Plain {
        Plain {
            addr: "127.0.0.1:8080".parse().unwrap(),
            authority: "127.0.0.1:8080".into(),
            prefix: "/api".into(),
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
        let d = target();
        let post = request_bytes(&d, &Method::POST, parts("/v1/x?q=1#frag", "hi")).unwrap();
        assert_eq!(
            String::from_utf8(post).unwrap(),
            "POST /api/v1/x?q=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nx-sim-event: u1/2\r\n\
             content-type: text/plain\r\ncontent-length: 2\r\n\r\nhi"
        );
        // No body and a method without one: no length. An empty POST states 0.
        let get = request_bytes(&d, &Method::GET, parts("/a", "")).unwrap();
        assert!(!String::from_utf8(get).unwrap().contains("content-length"));
        let empty = request_bytes(&d, &Method::POST, parts("/a", "")).unwrap();
        assert!(
            String::from_utf8(empty)
                .unwrap()
                .ends_with("content-length: 0\r\n\r\n")
        );
        // Rendered from event fields: a space or a line break never reaches the wire.
        for bad in ["/a b", "/a\r\nx-evil: 1", "/a\n"] {
            assert_eq!(
                request_bytes(&d, &Method::POST, parts(bad, "")).err(),
                Some(ErrorClass::Other),
                "{bad:?}"
            );
        }
    }

    fn framing(raw: &str) -> (u16, &'static str, bool) {
        let (len, status, f, keep) = head(raw.as_bytes(), false)
            .ok()
            .flatten()
            .expect("complete");
        assert_eq!(len, raw.find("\r\n\r\n").unwrap() + 4);
        let f = match f {
            Framing::Length(0) => "empty",
            Framing::Length(_) => "length",
            Framing::Chunked => "chunked",
            Framing::Close => "close",
        };
        (status, f, keep)
    }

    #[test]
    fn heads_say_how_the_body_ends_and_whether_the_connection_stays() {
        assert_eq!(
            framing("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            (200, "length", true)
        );
        assert_eq!(
            framing(
                "HTTP/1.1 201 Created\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n"
            ),
            (201, "chunked", false)
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\n\r\nbody"),
            (200, "close", false)
        );
        assert_eq!(
            framing("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\ncontent-length: 0\r\n\r\n"),
            (200, "empty", true)
        );
        assert_eq!(
            framing("HTTP/1.1 204 No Content\r\n\r\n"),
            (204, "empty", true)
        );
        assert!(
            head(b"HTTP/1.1 200 OK\r\nContent-Le", false)
                .ok()
                .flatten()
                .is_none()
        );
        assert!(head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", false).is_err());
        assert!(head(b"NOT HTTP\r\n\r\n", false).is_err());
    }
}
