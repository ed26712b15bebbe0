//! What the summary says of the plain WebSocket connections and their messages.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::Shared;
use crate::summary::{Connections, WebSocketMessages, WebSocketReport};

/// Connection and message counts, read for the summary.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) connects: AtomicU64,
    pub(super) connect_errors: AtomicU64,
    /// Connections opened by a message that found none (not at a session start).
    pub(super) implicit_connects: AtomicU64,
    pub(super) disconnects: AtomicU64,
    /// Transport lost without our asking, or the server silent past a ping.
    pub(super) drops: AtomicU64,
    pub(super) reconnects: AtomicU64,
    pub(super) reconnect_failures: AtomicU64,
    /// The server closed the socket with a close frame.
    pub(super) server_closes: AtomicU64,
    /// The server's pings (tungstenite answers each with a pong).
    pub(super) pings_answered: AtomicU64,
    pub(super) pings_sent: AtomicU64,
    pub(super) pongs: AtomicU64,
    pub(super) written: AtomicU64,
    /// Frames that carried the correlation value of a message waiting for its reply.
    pub(super) replies: AtomicU64,
    /// Text frames that answered no message waiting (server pushes, late replies).
    pub(super) unmatched: AtomicU64,
    pub(super) open: AtomicUsize,
    pub(super) peak_open: AtomicUsize,
}

pub(super) fn report(sh: &Shared) -> WebSocketReport {
    let c = &sh.counters;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    WebSocketReport {
        connections: Connections {
            opened: n(&c.connects),
            failed: n(&c.connect_errors),
            implicit: n(&c.implicit_connects),
            closed: n(&c.disconnects),
            dropped: n(&c.drops),
            reconnected: n(&c.reconnects),
            reconnect_failures: n(&c.reconnect_failures),
            server_disconnects: n(&c.server_closes),
            peak_open: c.peak_open.load(Ordering::Relaxed) as u64,
            pings_answered: n(&c.pings_answered),
        },
        messages: WebSocketMessages {
            written: n(&c.written),
            replies: n(&c.replies),
            unmatched: n(&c.unmatched),
            pings_sent: n(&c.pings_sent),
            pongs: n(&c.pongs),
        },
    }
}
