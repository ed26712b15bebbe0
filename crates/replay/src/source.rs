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
use simulate_core::scenario::tags::{Opens, PhaseTags};
use simulate_core::template::Ctx;
use simulate_core::timeline::{EVENT_KINDS, Event, Props, Sink};
use simulate_core::world::entities::{Entity, EntityIds};
use simulate_core::world::kinds::KindNames;
use simulate_core::world::pools::Team;

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
    /// The kind's name (from the world's own table of kinds).
    pub(crate) event: &'static str,
    /// 0 outside phases, else 1 + the scenario phase's index.
    pub phase: u8,
    /// The event's JSON line, without its newline.
    pub(crate) line: Bytes,
    /// The props of the user's `user.signed_up`, kept when a template reads `user.*`.
    pub(crate) user: Option<Arc<serde_json::Map<String, serde_json::Value>>>,
    /// The entity the event names in the team's format (`[ids] gift`): its prop
    /// (`gift_id`) and the team's id, which templates render for `{props.gift_id}`.
    /// Boxed: a due event is moved into every request's future, and most have none.
    pub(crate) entity: Option<Box<(&'static str, Box<str>)>>,
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
        vars: &'a [(simulate_core::template::Field, String)],
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
            vars,
            user: self.user.as_deref(),
            team: None,
            entity: self.entity.as_deref().map(|(p, id)| (*p, &**id)),
        }
    }

    pub(crate) fn event_name(&self) -> &'static str {
        self.event
    }

    /// Reads the fields the pacer needs from one log line (a copy of it kept).
    #[cfg(test)]
    fn from_line(line: &[u8]) -> Result<Due, String> {
        Due::parse(line, Bytes::copy_from_slice, &KindNames::builtin()).map(|(due, _)| due)
    }

    /// Reads the fields the pacer needs from one log line, the line kept by `keep`; with
    /// what the line says about a session it opens, for the phase tagger. `kinds` are
    /// the world's the mapping was compiled for.
    fn parse(
        line: &[u8],
        keep: impl FnOnce(&[u8]) -> Bytes,
        kinds: &KindNames,
    ) -> Result<(Due, Opens), String> {
        /// Of the props, only `session.started`'s phase (a number) is read.
        #[derive(serde::Deserialize)]
        struct HeadProps {
            #[serde(default)]
            phase: Option<serde_json::Value>,
        }
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
            #[serde(default)]
            props: Option<HeadProps>,
        }
        let h: Head<'_> = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let opens = if h.event == "session.started" {
            let phase = h.props.and_then(|p| p.phase);
            Opens::Session(
                phase
                    .and_then(|v| v.as_u64())
                    .and_then(|n| u8::try_from(n).ok()),
            )
        } else {
            Opens::Nothing
        };
        let kind = kinds.index(&h.event).unwrap_or(UNKNOWN_KIND);
        let due = Due {
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
            event: kinds.name(kind).unwrap_or("unknown"),
            phase: 0,
            line: keep(line),
            user: None,
            entity: None,
        };
        Ok((due, opens))
    }
}

/// The replay window in timeline milliseconds, `[from, to)`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// The phases of a scenario, for tagging statistics: their names and the tagger that
/// says which phase each event belongs to (the rule `run`'s metrics.json uses too).
#[derive(Clone, Debug, Default)]
pub struct Phases {
    pub names: Vec<String>,
    tags: PhaseTags,
}

impl Phases {
    pub fn of(s: &Scenario) -> Phases {
        Phases {
            names: s.phases.iter().map(|p| p.name.clone()).collect(),
            tags: PhaseTags::of(s),
        }
    }

    /// A fresh tagger: each source feeds one every event from t = 0.
    pub(crate) fn tagger(&self) -> PhaseTags {
        self.tags.clone()
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

/// The time between the end of what a database was seeded with and the window's start
/// (`replay --seeded`): its events are neither seeded nor sent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// What a source saw besides the events it handed out.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fed {
    /// With a [`Gap`]: users who signed up in it and have events in the window, which
    /// the target therefore meets without ever having seen them sign up.
    pub(crate) gap_users: Option<u64>,
}

/// Counts [`Fed::gap_users`]: who signed up in the gap, then who of them shows up.
struct GapUsers {
    gap: Gap,
    signed_up: BTreeSet<u32>,
    seen: u64,
}

impl GapUsers {
    fn new(gap: Option<Gap>) -> Option<GapUsers> {
        gap.map(|gap| GapUsers {
            gap,
            signed_up: BTreeSet::new(),
            seen: 0,
        })
    }

    /// One event of the timeline, before or in the window; `user` is `None` for an id
    /// this version did not write.
    fn event(&mut self, t_ms: i64, user: Option<u32>, kind: u16, in_window: bool) {
        let Some(user) = user else { return };
        if in_window {
            if self.signed_up.remove(&user) {
                self.seen += 1;
            }
        } else if (self.gap.from_ms..self.gap.to_ms).contains(&t_ms)
            && EVENT_KINDS.get(kind as usize) == Some(&"user.signed_up")
        {
            self.signed_up.insert(user);
        }
    }
}

fn fed(gap_users: Option<GapUsers>) -> Fed {
    Fed {
        gap_users: gap_users.map(|g| g.seen),
    }
}

type Tx = mpsc::Sender<Vec<Due>>;

/// A user's `user.signed_up` props, as templates read them (`user.<name>`).
pub(crate) type UserProps = Arc<serde_json::Map<String, serde_json::Value>>;

/// Per user, the props of their `user.signed_up` (kept only when a template reads
/// `user.*`), and which users the team's system already holds (`"existing":true`: a users
/// file): their sign-up is not sent. With them, the team's ids of the world's entities
/// (`[ids] gift`), numbered as the timeline creates them: every event is seen, those
/// before the window too.
pub(crate) struct Users {
    keep: bool,
    props: std::collections::HashMap<Box<str>, UserProps>,
    entities: Option<EntityIds>,
}

impl Users {
    pub(crate) fn new(keep: bool, team: Option<&Team>) -> Users {
        Users {
            keep,
            props: std::collections::HashMap::new(),
            entities: team.and_then(|t| EntityIds::new(t, false)),
        }
    }

    /// The team's id of the entity an engine's event names, if the world names it so.
    fn entity_of_event(&mut self, e: &Event) -> Option<Box<(&'static str, Box<str>)>> {
        self.entities.as_mut()?.see_event(e).map(Box::new)
    }

    /// The same for a log's line of `kind` (its props read only for an entity's kinds).
    fn entity_of_line(&mut self, kind: u16, line: &[u8]) -> Option<Box<(&'static str, Box<str>)>> {
        let ids = self.entities.as_mut()?;
        let name = EVENT_KINDS.get(kind as usize)?;
        let (entity, _) = Entity::of_kind(name)?;
        let v: serde_json::Value = serde_json::from_slice(line).ok()?;
        let id = v.get("props")?.get(entity.prop())?.as_str()?;
        ids.see(name, id).map(|t| Box::new((entity.prop(), t)))
    }

    /// One `user.signed_up` line: its props kept; whether the user already exists in the
    /// team's system (the request is then not sent).
    fn signed_up(&mut self, user_id: &str, line: &[u8]) -> bool {
        const EXISTING: &[u8] = b"\"existing\":true";
        let existing = line.windows(EXISTING.len()).any(|w| w == EXISTING);
        if self.keep {
            #[derive(serde::Deserialize)]
            struct Line {
                props: serde_json::Map<String, serde_json::Value>,
            }
            if let Ok(l) = serde_json::from_slice::<Line>(line) {
                self.props.insert(user_id.into(), Arc::new(l.props));
            }
        }
        existing
    }

    fn of(&self, user_id: &str) -> Option<UserProps> {
        if self.keep {
            self.props.get(user_id).cloned()
        } else {
            None
        }
    }
}

/// `user.signed_up`'s index in [`EVENT_KINDS`].
fn signed_up_kind() -> u16 {
    EVENT_KINDS
        .iter()
        .position(|k| *k == "user.signed_up")
        .unwrap_or(usize::from(UNKNOWN_KIND)) as u16
}

/// Counts the sessions opened before the window (events the replay does not send), so the
/// sessions open at the window's start are right; with `--shard`, those of its own users.
pub(crate) struct Before(pub(crate) Arc<Live>, pub(crate) Option<crate::shard::Shard>);

impl Before {
    fn count(&self, kind: u16, user_id: impl FnOnce() -> Box<str>) {
        if let Some(d) = session_delta(kind)
            && self.1.is_none_or(|s| s.owns(&user_id()))
        {
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
    tags: PhaseTags,
    gap_users: Option<GapUsers>,
    users: Users,
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
        // Every event is tagged, those before the window too: the sessions they open
        // decide the phase of the window's first events.
        let phase = self.tags.event(e);
        let in_window = e.t_ms >= self.window.from_ms;
        if in_window && (e.t_ms >= self.window.to_ms || self.closed) {
            return Ok(false);
        }
        if let Some(g) = &mut self.gap_users {
            g.event(e.t_ms, Some(e.user), e.props.kind() as u16, in_window);
        }
        let existing = matches!(e.props, Props::SignedUp { .. })
            && self.users.signed_up(&ids::user_id(e.user), line);
        let entity = self.users.entity_of_event(e);
        if !in_window || existing {
            self.before
                .count(e.props.kind() as u16, || ids::user_id(e.user).into());
            return Ok(true);
        }
        let user_id: Box<str> = ids::user_id(e.user).into();
        let user = self.users.of(&user_id);
        self.batch.push(Due {
            t_ms: e.t_ms,
            user_id,
            seq: e.seq,
            session: e.session,
            kind: e.props.kind() as u16,
            event: e.props.name(),
            phase,
            line: self.lines.copy(line.strip_suffix(b"\n").unwrap_or(line)),
            user,
            entity,
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
    (window, gap): (Window, Option<Gap>),
    phases: Phases,
    (tx, before, users): (Tx, Before, Users),
    stop: &AtomicBool,
) -> Result<Fed, ReplayError> {
    let mut feed = Feed {
        before,
        tx,
        window,
        tags: phases.tagger(),
        gap_users: GapUsers::new(gap),
        users,
        batch: Vec::with_capacity(BATCH),
        lines: Lines::new(),
        closed: false,
    };
    engine
        .run(&mut feed, stop)
        .map_err(|e| ReplayError::Failed(format!("the engine stopped: {e}")))?;
    Ok(fed(feed.gap_users))
}

/// Counts the window's events that `counted` picks, up to `enough` of them, by running the
/// engine (built without event lines) on this thread: before any traffic, to check that a
/// world holds the events a plan of stages needs.
pub fn count_events(
    mut engine: Engine,
    window: Window,
    counted: &(dyn Fn(u16) -> bool + Sync),
    enough: u64,
    stop: &AtomicBool,
) -> Result<u64, ReplayError> {
    struct Count<'a> {
        window: Window,
        counted: &'a (dyn Fn(u16) -> bool + Sync),
        enough: u64,
        n: u64,
    }
    impl Sink for Count<'_> {
        fn event(&mut self, e: &Event, _: &[u8]) -> std::io::Result<bool> {
            if e.t_ms < self.window.from_ms {
                return Ok(true);
            }
            if e.t_ms >= self.window.to_ms {
                return Ok(false);
            }
            self.n += (self.counted)(e.props.kind() as u16) as u64;
            Ok(self.n < self.enough)
        }
    }
    let mut count = Count {
        window,
        counted,
        enough,
        n: 0,
    };
    engine
        .run(&mut count, stop)
        .map_err(|e| ReplayError::Failed(format!("the engine stopped: {e}")))?;
    Ok(count.n)
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
    (path, kinds): (&Path, &KindNames),
    (window, gap): (Window, Option<Gap>),
    phases: &Phases,
    (tx, before, mut users): (Tx, Before, Users),
    stop: &AtomicBool,
) -> Result<Fed, ReplayError> {
    let shown = path.display();
    let signed_up = signed_up_kind();
    let unreadable = |e: std::io::Error| unreadable(path, e);
    let mut reader = open_log(path)?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut lines = Lines::new();
    let mut tags = phases.tagger();
    let mut gap_users = GapUsers::new(gap);
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
        let (mut due, opens) = Due::parse(&line, |l| lines.copy(l), kinds).map_err(|m| {
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
        // Tagged before the window too: the sessions opened then decide later phases.
        let user = ids::user_number(&due.user_id);
        due.phase = tags.tag(due.t_ms, user, due.session, opens);
        let in_window = due.t_ms >= window.from_ms;
        if in_window
            && (due.t_ms >= window.to_ms || stop.load(std::sync::atomic::Ordering::Relaxed))
        {
            break;
        }
        if let Some(g) = &mut gap_users {
            g.event(due.t_ms, user, due.kind, in_window);
        }
        let existing = due.kind == signed_up && users.signed_up(&due.user_id, &line);
        due.entity = users.entity_of_line(due.kind, &line);
        if !in_window || existing {
            before.count(due.kind, || due.user_id.clone());
            continue;
        }
        due.user = users.of(&due.user_id);
        batch.push(due);
        if batch.len() >= BATCH
            && tx
                .blocking_send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                .is_err()
        {
            return Ok(fed(gap_users));
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
    Ok(fed(gap_users))
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
