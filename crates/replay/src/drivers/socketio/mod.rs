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
//!
//! [`protocol`] holds the packet format, [`connection`] one socket's task (handshake,
//! pings, reconnects), [`client`] the connections per user, and [`report`] the counts
//! and broadcast latencies of the summary.

mod client;
mod connection;
mod protocol;
mod report;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) use client::Client;
use report::{Broadcasts, Counters};

use crate::mapping::SocketIoSettings;

/// State every connection task shares.
#[derive(Debug)]
struct Shared {
    settings: Arc<SocketIoSettings>,
    addr: SocketAddr,
    /// `ws://host:port/socket.io/?EIO=4&transport=websocket` (or `wss://`).
    base: String,
    tls: Option<crate::drivers::wire::Secure>,
    timeout: Duration,
    counters: Counters,
    broadcasts: Mutex<Broadcasts>,
}
