//! Plain WebSocket replay (seed 000's "events over WebSocket"): one connection per
//! simulated session, each mapped event a JSON text frame rendered from its template, and
//! replies matched to their messages by a correlation field (`id` by default) and timed.
//!
//! Connection lifetime follows the timeline as with Socket.IO ([`super::socketio`]):
//! opened at the session's start event (the upgrade request rendered for that user and
//! session, then the optional `hello` message), closed at its end event. A connection
//! that drops (a broken transport, or no frame back within a ping interval plus the
//! timeout) is re-established with backoff while its session lasts; messages wait for it
//! within the mapping's timeout, and replies lost in the drop are `reset` errors. A close
//! frame from the server ends the socket without reconnecting; the session's next message
//! opens a new connection (counted `implicit`).
//!
//! [`connection`] holds one socket's task (pings, replies, reconnects), [`client`] the
//! connections per user, and [`report`] the counts of the summary.

mod client;
mod connection;
mod report;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use client::Client;
use report::Counters;

use crate::drivers::wire::Secure;
use crate::mapping::WebSocketSettings;

/// State every connection task shares.
#[derive(Debug)]
struct Shared {
    settings: Arc<WebSocketSettings>,
    addr: SocketAddr,
    /// `ws://host:port/path[?query]` (or `wss://`), before the mapping's `query`.
    base: String,
    tls: Option<Secure>,
    timeout: Duration,
    counters: Counters,
}
