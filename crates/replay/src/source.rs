//! Where replayed events come from: the engine, streamed as it simulates, or a JSONL log
//! written by `simulate run`. Both hand the pacer the same [`Due`] records in batches over a
//! bounded channel, so memory stays flat however long the window.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::ReplayError;
use crate::pacer::{Live, session_delta};

use simulate_core::bounded::{LOG_LINE, Line, read_line};
use simulate_core::diagnostic::Problem;
use simulate_core::engine::Engine;
use simulate_core::ids;
use simulate_core::scenario::Scenario;
use simulate_core::template::Ctx;
use simulate_core::timeline::{EVENT_KINDS, Event, Sink};

/// `kind` of an event name this version does not know (from a foreign log).
pub(crate) const UNKNOWN_KIND: u16 = u16::MAX;
/// Events per hand-over between the producing thread and the pacer.
const BATCH: usize = 512;
/// Batches in the channel: the producer runs at most this far ahead of the clock.
pub(crate) const CHANNEL_BATCHES: usize = 64;

/// One event due to be sent.
#[derive(Clone, Debug)]
pub(crate) struct Due {
    pub(crate) t_ms: i64,
    pub(crate) user_id: Box<str>,
    pub(crate) seq: u32,
    /// The user's session number (from 1), 0 outside a session.
    pub(crate) session: u32,
    pub kind: u16,
    /// 0 outside phases, else 1 + the scenario phase's index.
    pub phase: u8,
    /// The event's JSON line, without its newline.
    pub(crate) line: Bytes,
}

impl Due {
    /// The event's W3C `traceparent` ([`ids::traceparent`]).
    pub(crate) fn traceparent(&self) -> String {
        ids::traceparent(&self.user_id, self.session, self.seq)
    }

    /// `<user_id>/<seq>`: every request carries it (`x-sim-event`), whatever the protocol.
    pub(crate) fn event_id(&self) -> String {
        ids::event_id(&self.user_id, self.seq)
    }

    /// What a template may render from this event.
    pub(crate) fn ctx<'a>(
        &'a self,
        json: Option<&'a serde_json::Value>,
        token: Option<&'a str>,
    ) -> Ctx<'a> {
        Ctx {
            user_id: &self.user_id,
            seq: self.seq,
            session: self.session,
            t_ms: self.t_ms,
            event: self.event_name(),
            line: &self.line,
            json,
            token,
        }
    }

    pub(crate) fn event_name(&self) -> &'static str {
        EVENT_KINDS
            .get(self.kind as usize)
            .copied()
            .unwrap_or("unknown")
    }

    /// Reads the fields the pacer needs from one log line (a copy of it kept).
    #[cfg(test)]
    fn from_line(line: &[u8]) -> Result<Due, String> {
        Due::parse(line, Bytes::copy_from_slice)
    }

    /// Reads the fields the pacer needs from one log line, the line kept by `keep`.
    fn parse(line: &[u8], keep: impl FnOnce(&[u8]) -> Bytes) -> Result<Due, String> {
        #[derive(serde::Deserialize)]
        struct Head<'a> {
            t_ms: i64,
            #[serde(borrow)]
            user_id: std::borrow::Cow<'a, str>,
            seq: u32,
            #[serde(borrow)]
            event: std::borrow::Cow<'a, str>,
            #[serde(borrow, default)]
            session_id: Option<std::borrow::Cow<'a, str>>,
        }
        let h: Head<'_> = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let kind = EVENT_KINDS
            .iter()
            .position(|k| *k == h.event)
            .map(|k| k as u16)
            .unwrap_or(UNKNOWN_KIND);
        Ok(Due {
            t_ms: h.t_ms,
            user_id: h.user_id.into(),
            seq: h.seq,
            session: h
                .session_id
                .as_deref()
                .and_then(|s| s.rsplit_once('-'))
                .and_then(|(_, n)| n.parse().ok())
                .unwrap_or(0),
            kind,
            phase: 0,
            line: keep(line),
        })
    }
}

/// The replay window in timeline milliseconds, `[from, to)`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// Phase windows of a scenario, for tagging statistics.
#[derive(Clone, Debug, Default)]
pub struct Phases {
    pub names: Vec<String>,
    spans: Vec<(i64, i64)>,
}

impl Phases {
    pub fn of(s: &Scenario) -> Phases {
        Phases {
            names: s.phases.iter().map(|p| p.name.clone()).collect(),
            spans: s.phases.iter().map(|p| p.window()).collect(),
        }
    }
    /// The first phase whose window holds `t`, as 1 + index; 0 for none.
    pub(crate) fn at(&self, t: i64) -> u8 {
        self.spans
            .iter()
            .position(|(a, b)| (*a..*b).contains(&t))
            .map(|i| (i + 1).min(255) as u8)
            .unwrap_or(0)
    }
    pub(crate) fn name(&self, p: u8) -> &str {
        match p {
            0 => "steady",
            n => self
                .names
                .get(n as usize - 1)
                .map_or("steady", |s| s.as_str()),
        }
    }
}

type Tx = mpsc::Sender<Vec<Due>>;

/// Counts the sessions opened before the window (events the replay does not send), so the
/// sessions open at the window's start are right.
pub(crate) struct Before(pub(crate) Arc<Live>);

impl Before {
    fn count(&self, kind: u16) {
        if let Some(d) = session_delta(kind) {
            self.0.sessions_open.fetch_add(d, Ordering::Relaxed);
        }
    }
}

/// Event lines copied into shared blocks, one allocation per block rather than per line.
/// The lines are allocated on the producing thread and freed on the I/O thread; with one
/// allocation each, glibc's arena lock was contended on every request (`perf`: futex
/// waits on the producer's arena), and the I/O thread's CPU decides the rate held.
struct Lines(bytes::BytesMut);

impl Lines {
    const BLOCK: usize = 64 << 10;

    fn new() -> Lines {
        Lines(bytes::BytesMut::new())
    }

    fn copy(&mut self, line: &[u8]) -> Bytes {
        if self.0.capacity() - self.0.len() < line.len() {
            self.0 = bytes::BytesMut::with_capacity(Self::BLOCK.max(line.len()));
        }
        self.0.extend_from_slice(line);
        self.0.split().freeze()
    }
}

/// The engine's sink for replay: drops events before the window, stops after it.
struct Feed {
    before: Before,
    tx: Tx,
    window: Window,
    phases: Phases,
    batch: Vec<Due>,
    lines: Lines,
    closed: bool,
}

impl Feed {
    fn flush(&mut self) {
        if !self.batch.is_empty() && !self.closed {
            let b = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            self.closed = self.tx.blocking_send(b).is_err();
        }
    }
}

impl Sink for Feed {
    fn event(&mut self, e: &Event, line: &[u8]) -> std::io::Result<bool> {
        if e.t_ms < self.window.from_ms {
            self.before.count(e.props.kind() as u16);
            return Ok(true);
        }
        if e.t_ms >= self.window.to_ms || self.closed {
            return Ok(false);
        }
        self.batch.push(Due {
            t_ms: e.t_ms,
            user_id: ids::user_id(e.user).into(),
            seq: e.seq,
            session: e.session,
            kind: e.props.kind() as u16,
            phase: self.phases.at(e.t_ms),
            line: self.lines.copy(line.strip_suffix(b"\n").unwrap_or(line)),
        });
        if self.batch.len() >= BATCH {
            self.flush();
        }
        Ok(!self.closed)
    }

    fn tick(&mut self, now_ms: i64) -> std::io::Result<()> {
        if now_ms >= self.window.from_ms {
            self.flush();
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.flush();
        Ok(())
    }
}

/// Runs the engine on this thread into `tx` (call from a dedicated thread).
pub(crate) fn from_engine(
    mut engine: Engine,
    window: Window,
    phases: Phases,
    (tx, before): (Tx, Before),
    stop: &AtomicBool,
) -> Result<(), ReplayError> {
    let mut feed = Feed {
        before,
        tx,
        window,
        phases,
        batch: Vec::with_capacity(BATCH),
        lines: Lines::new(),
        closed: false,
    };
    engine
        .run(&mut feed, stop)
        .map(|_| ())
        .map_err(|e| ReplayError::Failed(format!("the engine stopped: {e}")))
}

/// Reads a JSONL log on this thread into `tx`; a bad line names the file and line.
fn unreadable(path: &Path, e: std::io::Error) -> Problem {
    Problem::new(
        format!("cannot read {}: {e}", path.display()),
        "check the path and its permissions",
    )
}

/// A log, plain or zstd-compressed (`.zst`), for reading line by line.
fn open_log(path: &Path) -> Result<Box<dyn BufRead>, Problem> {
    let file = std::fs::File::open(path).map_err(|e| unreadable(path, e))?;
    Ok(if path.extension().is_some_and(|x| x == "zst") {
        Box::new(std::io::BufReader::new(
            zstd::Decoder::new(file).map_err(|e| unreadable(path, e))?,
        ))
    } else {
        Box::new(std::io::BufReader::with_capacity(1 << 20, file))
    })
}

/// Every user with an event in `window` of a log, read before the replay (a mapping
/// refusing users without a token checks them before any traffic). Lines that are not
/// events are passed over here: the replay itself reports them.
pub fn log_users(path: &Path, window: Window) -> Result<BTreeSet<String>, Problem> {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        t_ms: i64,
        #[serde(borrow)]
        user_id: std::borrow::Cow<'a, str>,
    }
    let mut reader = open_log(path)?;
    let (mut users, mut line) = (BTreeSet::new(), Vec::new());
    loop {
        match read_line(&mut reader, &mut line, LOG_LINE).map_err(|e| unreadable(path, e))? {
            Line::End => return Ok(users),
            // The replay itself refuses the log there.
            Line::TooLong => return Ok(users),
            Line::Read => {}
        }
        if let Ok(h) = serde_json::from_slice::<Head<'_>>(&line)
            && (window.from_ms..window.to_ms).contains(&h.t_ms)
            && !users.contains(h.user_id.as_ref())
        {
            users.insert(h.user_id.into_owned());
        }
    }
}

pub(crate) fn from_log(
    path: &Path,
    window: Window,
    phases: &Phases,
    (tx, before): (Tx, Before),
    stop: &AtomicBool,
) -> Result<(), ReplayError> {
    let shown = path.display();
    let unreadable = |e: std::io::Error| unreadable(path, e);
    let mut reader = open_log(path)?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = Lines::new();
    let mut last = i64::MIN;
    let mut line = Vec::new();
    for i in 0usize.. {
        match read_line(&mut reader, &mut line, LOG_LINE).map_err(unreadable)? {
            Line::End => break,
            Line::TooLong => {
                return Err(Problem::in_file(
                    shown.to_string(),
                    Some(i + 1),
                    format!(
                        "the line is longer than {}: not a timeline event",
                        simulate_core::bounded::size(LOG_LINE as u64)
                    ),
                    "pass a log written by `simulate run` (events.jsonl or events.jsonl.zst); its lines are a few hundred bytes",
                )
                .into());
            }
            Line::Read => {}
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut due = Due::parse(&line, |l| lines.copy(l)).map_err(|m| {
            Problem::in_file(
                shown.to_string(),
                Some(i + 1),
                format!("not a timeline event ({m})"),
                "pass a log written by `simulate run` (events.jsonl or events.jsonl.zst)",
            )
        })?;
        if due.t_ms < last {
            return Err(Problem::in_file(
                shown.to_string(),
                Some(i + 1),
                format!("events out of time order (t_ms {} after {last})", due.t_ms),
                "pass the log as `simulate run` wrote it, or sort it by t_ms",
            )
            .into());
        }
        last = due.t_ms;
        if due.t_ms < window.from_ms {
            before.count(due.kind);
            continue;
        }
        if due.t_ms >= window.to_ms || stop.load(std::sync::atomic::Ordering::Relaxed) {
            break;
        }
        due.phase = phases.at(due.t_ms);
        batch.push(due);
        if batch.len() >= BATCH
            && tx
                .blocking_send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                .is_err()
        {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trace ids are part of what a target sees: they must not change between versions.
    /// The expected values come from an independent implementation (Python).
    #[test]
    fn traceparents_are_stable_w3c_ids() {
        let line = |user: &str, session: &str, seq: u32| {
            format!(
                r#"{{"t_ms":0,"user_id":"{user}","seq":{seq},"event":"app.opened","session_id":"{session}"}}"#
            )
        };
        let d = Due::from_line(line("u12", "s12-1", 4).as_bytes()).unwrap();
        assert_eq!(
            d.traceparent(),
            "00-17c9018c89094a1927242d9385b26aa9-53141a22a4645836-01"
        );
        let d = Due::from_line(line("u7", "", 0).as_bytes()).unwrap();
        assert_eq!(
            d.traceparent(),
            "00-b14de8a77382d0e9011cc220e516192a-c12e8662d1e867b9-01"
        );
    }
}
