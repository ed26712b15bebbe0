//! Each user's open connection for the protocols that hold one per session (Socket.IO and
//! plain WebSocket): the session it serves and the channel to the task that owns the
//! socket. One table for both drivers, so "a stale connection is replaced", "a session's
//! connect, disconnect and implicit open", "a disconnect whose connect failed is skipped"
//! and "close every connection at the end, within two seconds" mean the same thing for
//! each; the drivers bring only how to open a connection and their counters.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::outcome::{ErrorClass, Outcome};
use crate::source::Due;

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

    /// A session's connect: the user's previous connection closed (a session whose end
    /// fell outside the window), then `open` within `timeout`. The connection is kept, or
    /// the failure recorded for the session's disconnect (`protocol` names it there).
    pub(crate) async fn connect(
        &self,
        due: &Due,
        (timeout, protocol): (Duration, &str),
        open: impl Future<Output = Result<Conn<C>, Outcome>>,
    ) -> Result<(), Outcome> {
        if let Some(old) = self.take(&due.user_id) {
            close(old).await;
        }
        let failed = match tokio::time::timeout(timeout, open).await {
            Err(_) => Outcome::Failed(ErrorClass::Timeout),
            Ok(Err(o)) => o,
            Ok(Ok(conn)) => {
                self.insert(due.user_id.clone(), conn);
                return Ok(());
            }
        };
        let why = format!("the session's {protocol} connect: {}", failed.words());
        self.connect_failed(&due.user_id, due.session, why);
        Err(failed)
    }

    /// A session's disconnect: its connection closed within `timeout`, if it has one
    /// (then counted in `closed`).
    pub(crate) async fn disconnect(&self, user: &str, timeout: Duration, closed: &AtomicU64) {
        if let Some(conn) = self.take(user) {
            let _ = tokio::time::timeout(timeout, close(conn)).await;
            closed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The user's channel for this session: its open connection, else a new one from
    /// `open` (counted in `implicit`) when `may_open`, else a `connect` error.
    pub(crate) async fn sender(
        &self,
        due: &Due,
        (may_open, implicit): (bool, &AtomicU64),
        open: impl Future<Output = Result<Conn<C>, Outcome>>,
    ) -> Result<mpsc::UnboundedSender<C>, Outcome> {
        if let Some(tx) = self.current(&due.user_id, due.session) {
            return Ok(tx);
        }
        if !may_open {
            return Err(Outcome::Failed(ErrorClass::Connect));
        }
        implicit.fetch_add(1, Ordering::Relaxed);
        let conn = open.await?;
        let tx = conn.tx.clone();
        self.insert(due.user_id.clone(), conn);
        Ok(tx)
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
