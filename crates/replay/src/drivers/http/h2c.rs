//! HTTP/2 from the first byte to plain-HTTP targets (`--http2`): one hyper connection
//! multiplexing every request, reopened when it breaks.

use bytes::Bytes;
use http::{Method, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::{Keep, Parts, Plain, Reply, header_map};
use crate::outcome::{ErrorClass, hyper_class, io_error_class};

pub(super) struct Connection {
    target: Plain,
    shared: tokio::sync::Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
}

impl Connection {
    pub(super) fn new(target: Plain) -> Connection {
        Connection {
            target,
            shared: tokio::sync::Mutex::new(None),
        }
    }

    /// Returns the status, and the body when `keep` (a check reads it).
    pub(super) async fn send(
        &self,
        method: Method,
        p: Parts<'_>,
        keep: Keep,
    ) -> Result<Reply, ErrorClass> {
        let mut r = http::Request::new(Full::new(p.body));
        *r.method_mut() = method;
        *r.headers_mut() = header_map(p.headers);
        let t = &self.target;
        let uri = format!("http://{}{}{}", t.authority, t.prefix, p.path);
        *r.uri_mut() = Uri::try_from(uri).map_err(|_| ErrorClass::Other)?;
        let mut s = self.h2().await?;
        // A broken connection shows as closed, and the next request opens another.
        read_whole(s.send_request(r).await, keep).await
    }

    /// The shared HTTP/2 connection, opened on first use and after it breaks.
    async fn h2(&self) -> Result<http2::SendRequest<Full<Bytes>>, ErrorClass> {
        let mut shared = self.shared.lock().await;
        if let Some(s) = shared.as_ref().filter(|s| !s.is_closed()) {
            return Ok(s.clone());
        }
        let stream = tokio::net::TcpStream::connect(self.target.addr)
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

/// The status of a response after reading its whole body, and the body when `keep`.
async fn read_whole(
    resp: Result<http::Response<hyper::body::Incoming>, hyper::Error>,
    keep: Keep,
) -> Result<Reply, ErrorClass> {
    let resp = resp.map_err(|e| hyper_class(&e))?;
    let status = resp.status().as_u16();
    let headers = if keep.headers {
        super::header_pairs(resp.headers())
    } else {
        Vec::new()
    };
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| hyper_class(&e))?;
    Ok(Reply {
        status,
        body: if keep.body {
            super::kept(body.to_bytes().into())
        } else {
            Vec::new()
        },
        headers,
    })
}
