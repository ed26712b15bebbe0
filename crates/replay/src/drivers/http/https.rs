//! `https://` targets: reqwest with rustls (certificates, ALPN, HTTP/2 negotiation),
//! pooled connections.

use std::time::Duration;

use http::Method;
use simulate_core::diagnostic::Problem;

use super::{Keep, Parts, Reply, header_map};
use crate::outcome::{ErrorClass, reqwest_class};
use crate::tls::Tls;

pub(super) struct Client {
    client: reqwest::Client,
    /// The target URL without a trailing slash.
    base: String,
}

impl Client {
    pub(super) fn new(
        base: &str,
        timeout: Duration,
        tls: &Tls,
        http2: bool,
        pool: usize,
    ) -> Result<Client, Problem> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true);
        if http2 {
            b = b.http2_prior_knowledge();
        }
        let client = tls.reqwest(b)?.build().map_err(|e| {
            Problem::new(
                format!("cannot set up the HTTPS client: {e}"),
                "check --ca-cert (a PEM certificate)",
            )
        })?;
        Ok(Client {
            client,
            base: base.to_string(),
        })
    }

    /// Returns the status, and the body when `keep` (a check reads it).
    pub(super) async fn send(
        &self,
        method: Method,
        p: Parts<'_>,
        keep: Keep,
    ) -> Result<Reply, ErrorClass> {
        let Parts {
            path,
            headers,
            body,
        } = p;
        let mut url = self.base.clone();
        url.push_str(&path);
        let r = self
            .client
            .request(method, url)
            .headers(header_map(headers))
            .body(body)
            .send()
            .await
            .map_err(|e| reqwest_class(&e))?;
        let status = r.status().as_u16();
        let headers = if keep.headers {
            super::header_pairs(r.headers())
        } else {
            Vec::new()
        };
        let body = r.bytes().await.map_err(|e| reqwest_class(&e))?;
        Ok(Reply {
            status,
            body: if keep.body {
                super::kept(body.into())
            } else {
                Vec::new()
            },
            headers,
        })
    }
}
