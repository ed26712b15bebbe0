//! Each user's open connection for the protocols that hold one per session (Socket.IO and
//! plain WebSocket): the session it serves and the channel to the task that owns the
//! socket. One table for both drivers, so "a stale connection is replaced" and "close
//! every connection at the end, within two seconds" mean the same thing for each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

/// A connection task's command that asks it to close and say when it has.
pub(crate) trait CloseCmd: Send + 'static {
    fn close(done: oneshot::Sender<()>) -> Self;
}

/// One user's connection: its task takes commands over the channel.
pub(crate) struct Conn<C> {
    pub(crate) session: u32,
    pub(crate) tx: mpsc::UnboundedSender<C>,
}

/// Every user's connection to one server.
pub(crate) struct Conns<C> {
    by_user: Mutex<HashMap<Box<str>, Conn<C>>>,
    /// Users whose session's connect failed, with the session and why: that session's
    /// disconnect has nothing to close (skipped for that dependency, not `closed`).
    failed: Mutex<HashMap<Box<str>, (u32, String)>>,
}

impl<C: CloseCmd> Conns<C> {
    pub(crate) fn new() -> Conns<C> {
        Conns {
            by_user: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn insert(&self, user: Box<str>, conn: Conn<C>) {
        self.failed.lock().expect("connections lock").remove(&user);
        self.by_user
            .lock()
            .expect("connections lock")
            .insert(user, conn);
    }

    /// The connect of the user's `session` failed (`why`, in words).
    pub(crate) fn connect_failed(&self, user: &str, session: u32, why: String) {
        self.failed
            .lock()
            .expect("connections lock")
            .insert(user.into(), (session, why));
    }

    /// Why the user's `session` has no connection to close, when its connect failed and
    /// none opened since: its disconnect then depends on a request that failed.
    pub(crate) fn never_opened(&self, user: &str, session: u32) -> Option<String> {
        if self
            .by_user
            .lock()
            .expect("connections lock")
            .contains_key(user)
        {
            return None;
        }
        let mut failed = self.failed.lock().expect("connections lock");
        match failed.get(user) {
            Some((s, _)) if *s == session => failed.remove(user).map(|(_, why)| why),
            _ => None,
        }
    }

    pub(crate) fn take(&self, user: &str) -> Option<Conn<C>> {
        self.by_user.lock().expect("connections lock").remove(user)
    }

    /// The user's channel when its connection is open and serves this session; a closed
    /// or older one is dropped from the table.
    pub(crate) fn current(&self, user: &str, session: u32) -> Option<mpsc::UnboundedSender<C>> {
        let mut conns = self.by_user.lock().expect("connections lock");
        if let Some(c) = conns.get(user) {
            if !c.tx.is_closed() && c.session == session {
                return Some(c.tx.clone());
            }
            conns.remove(user);
        }
        None
    }

    /// Closes every connection still open (sessions that end after the window).
    pub(crate) async fn close_all(&self) {
        let all: Vec<Conn<C>> = self
            .by_user
            .lock()
            .expect("connections lock")
            .drain()
            .map(|(_, c)| c)
            .collect();
        let closing = futures_util::future::join_all(all.into_iter().map(close));
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    }
}

/// Asks the connection's task to close and waits until it has (or is gone).
pub(crate) async fn close<C: CloseCmd>(conn: Conn<C>) {
    let (tx, rx) = oneshot::channel();
    if conn.tx.send(C::close(tx)).is_ok() {
        let _ = rx.await;
    }
}
