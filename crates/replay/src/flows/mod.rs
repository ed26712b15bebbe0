//! Flows while a replay runs: an event's steps sent in order, each after the previous
//! answer (and its think time); the values a step reads looked up, awaited or found
//! missing; answers checked, captured, counted by outcome; the login re-run on a 401.
//! The model is `mapping::flow`; plain requests never come here (the pacer's fast path),
//! and a one-request flow whose values are there is sent by the pacer's job as a plain
//! request is, then recorded here ([`inline`], [`finish`]).
//!
//! Statistics: step 1 is the request the pacer handed out (latency from the event's
//! intended instant); a later step is a request of its own, due when the previous answer
//! came plus its think time, with its own tag. A wait for another user's value counts
//! as a chained wait. A request whose value will never come is not sent: it is counted
//! as skipped for a failed dependency, named in the summary.

pub(crate) mod counts;
mod vars;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use simulate_core::template::Field;
use tokio::sync::Semaphore;

use vars::Found;
pub(crate) use vars::Vars;

use crate::drivers::{Answer, Driver, Sending};
use crate::mapping::flow::{From, VarRef, pick};
use crate::mapping::json_path::Found as Read;
use crate::mapping::{Mapped, Mapping, Protocol, Route};
use crate::outcome::{ErrorClass, Outcome, Status};
use crate::source::Due;
use crate::stats::{Key, Stats, Waits};

/// One event's flow, from the request the pacer handed out.
pub(crate) struct Run<'a> {
    pub(crate) driver: &'a Driver,
    pub(crate) stats: &'a Mutex<Stats>,
    pub(crate) due: &'a Due,
    /// The pacer's id and group of step 1, when it left and whether it was late.
    pub(crate) id: u64,
    pub(crate) key: Key,
    pub(crate) sent: Instant,
    pub(crate) late: bool,
    /// `--connections`, for HTTP steps.
    pub(crate) wires: Option<&'a Arc<Semaphore>>,
}

/// Which request of the flow is going out.
struct Req<'m> {
    step: &'m Mapped,
    id: u64,
    key: Key,
    /// When it left (after any chained wait).
    sent: Instant,
    late: bool,
    /// `x-sim-event`'s suffix: none for step 1, `2`, `3`, …, `login`.
    suffix: Option<String>,
    /// Whether this request belongs to the login flow (which is not re-run for itself).
    login: bool,
}

/// The entity keys every step of `m` names, rendered from the event.
fn entity_keys(due: &Due, m: &Mapped) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = Vec::new();
    let steps = std::iter::once(m).chain(&m.then);
    if steps.clone().all(|s| s.extras.entities.is_empty()) {
        return keys;
    }
    let json = steps
        .clone()
        .any(|s| s.extras.entities.iter().any(|(_, t)| t.needs_json()))
        .then(|| serde_json::from_slice::<Value>(&due.line).ok())
        .flatten();
    let ctx = due.ctx(json.as_ref(), None, &[]);
    for s in steps {
        for (name, t) in &s.extras.entities {
            if !keys.iter().any(|(n, _)| n == name) {
                keys.push((name.clone(), t.render(&ctx)));
            }
        }
    }
    keys
}

/// The entity values the flow of `m` for `due` will capture: announced when the pacer
/// hands the event out, so a reader handed out later waits for them.
pub(crate) fn announce(driver: &Driver, due: &Due, m: &Mapped) {
    let writes = entity_writes(due, m);
    if !writes.is_empty() {
        driver.vars.announce(&writes);
    }
}

fn entity_writes(due: &Due, m: &Mapped) -> Vec<((String, String), String)> {
    let captures = std::iter::once(m)
        .chain(&m.then)
        .flat_map(|s| &s.extras.captures);
    let mut keys = None;
    let mut out = Vec::new();
    for c in captures {
        if let VarRef::Entity(e, n) = &c.into {
            let keys = keys.get_or_insert_with(|| entity_keys(due, m));
            if let Some((_, k)) = keys.iter().find(|(name, _)| name == e) {
                out.push(((e.clone(), k.clone()), n.clone()));
            }
        }
    }
    out
}

/// Whether the flow of `m` is one request naming no entity: [`one`] runs it, as [`run`]
/// would (no step to skip, no entity key to render, no entity value to settle).
pub(crate) fn is_one(m: &Mapped) -> bool {
    m.then.is_empty() && m.extras.entities.is_empty()
}

/// A flow of one request naming no entity ([`is_one`]): that request sent, its answer
/// checked and captured, without `run`'s loop, entity keys and settling.
pub(crate) async fn one(r: Run<'_>, m: &Mapped) {
    debug_assert!(is_one(m));
    // Nothing comes after it: its failure is counted where it happened, in `send`.
    let _ = send(&r, first(&r, m), &[]).await;
}

/// Step 1 of the flow: the pacer's own request, id, group and instant.
fn first<'m>(r: &Run<'_>, step: &'m Mapped) -> Req<'m> {
    Req {
        step,
        id: r.id,
        key: r.key,
        sent: r.sent,
        late: r.late,
        suffix: None,
        login: false,
    }
}

/// Runs the whole flow of `m` for the event: every step in order; a step after a
/// failed one is not sent (skipped for that dependency).
pub(crate) async fn run(r: Run<'_>, m: &Mapped) {
    let keys = entity_keys(r.due, m);
    let mut failure: Option<String> = None;
    for (n, step) in std::iter::once(m).chain(&m.then).enumerate() {
        if let Some(why) = &failure {
            r.stats
                .lock()
                .expect("stats lock")
                .flows
                .skip(r.due.kind, why);
            continue;
        }
        let req = if n == 0 {
            first(&r, step)
        } else {
            if let Some(t) = step.extras.think {
                tokio::time::sleep(t).await;
            }
            later(&r, step, (n + 1).to_string(), false)
        };
        if let Err(why) = send(&r, req, &keys).await {
            failure = Some(format!("{} step {}: {why}", r.due.event_name(), n + 1));
        }
    }
    let writes = entity_writes(r.due, m);
    if !writes.is_empty() {
        let why = failure.unwrap_or_else(|| {
            format!(
                "{} {} did not capture it",
                r.due.event_name(),
                r.due.event_id()
            )
        });
        r.driver.vars.settle(&writes, &why);
    }
}

/// A request of the flow that the pacer did not hand out: due and sent now.
fn later<'m>(r: &Run<'_>, step: &'m Mapped, suffix: String, login: bool) -> Req<'m> {
    let now = Instant::now();
    let id = r.driver.vars.next_id();
    let key = Key {
        protocol: step.request.protocol(),
        tag: step.tag,
        ..r.key
    };
    r.stats.lock().expect("stats lock").step_sent(id, key, now);
    Req {
        step,
        id,
        key,
        sent: now,
        late: false,
        suffix: Some(suffix),
        login,
    }
}

/// The login flow for this user, run now (boxed: it sends requests as `send` does).
fn login<'a>(
    r: &'a Run<'_>,
    keys: &'a [(String, String)],
) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
    Box::pin(async move {
        let mapping = &r.driver.mapping;
        let Some(Route::Send(m)) = mapping.login.map(|k| mapping.route(k)) else {
            return Err("no login flow".into());
        };
        for (n, step) in std::iter::once(&**m).chain(&m.then).enumerate() {
            let suffix = if n == 0 {
                "login".to_string()
            } else {
                format!("login.{}", n + 1)
            };
            let mut req = later(r, step, suffix, true);
            req.key.event = mapping.login.unwrap_or(req.key.event);
            r.stats.lock().expect("stats lock").relabel(req.id, req.key);
            send(r, req, keys).await?;
        }
        Ok(())
    })
}

/// Sends one request of the flow and records it: its values found (or awaited, or the
/// request withdrawn), polled if it polls, re-sent once after a login on a 401; then
/// its answer's cookies, captures and outcome. `Err`: why later steps cannot go on.
async fn send(r: &Run<'_>, mut req: Req<'_>, keys: &[(String, String)]) -> Result<(), String> {
    let vars = match values(r, &req, keys).await {
        Ok(v) => v,
        Err(why) => {
            r.stats
                .lock()
                .expect("stats lock")
                .withdraw(req.id, r.due.kind, &why);
            return Err(why);
        }
    };
    if vars.1 {
        req.sent = Instant::now();
    }
    let _wire = wire(r, &req).await;
    let (mut outcome, mut answer) = poll(r, &req, &vars.0).await;
    if outcome == Outcome::Status(Status::Http(401)) && can_login(r, &req) {
        login(r, keys).await.ok();
        if let Ok(again) = values(r, &req, keys).await {
            (outcome, answer) = poll(r, &req, &again.0).await;
        }
    }
    record(r, &req, keys, outcome, answer)
}

/// What a flow's request ends with, its answer in: the user's cookies taken, its
/// captures stored (one that finds nothing makes it an application error), a failure
/// told to the user's values it was to write, its outcome counted, its statistics
/// recorded. `Err`: why later steps cannot go on.
fn record(
    r: &Run<'_>,
    req: &Req<'_>,
    keys: &[(String, String)],
    mut outcome: Outcome,
    answer: Option<Answer>,
) -> Result<(), String> {
    let user = r.due.user_id.as_ref();
    if let Some(a) = &answer {
        if r.driver.mapping.cookie_jar {
            r.driver.vars.take_cookies(user, &a.headers);
        }
        if outcome.is_ok() && !capture(r, req, keys, a) {
            outcome = Outcome::Failed(ErrorClass::Application);
        }
    }
    if !outcome.is_ok() {
        for c in &req.step.extras.captures {
            if let VarRef::User(n) = &c.into {
                let why = format!(
                    "{} {}: {}",
                    r.due.event_name(),
                    r.due.event_id(),
                    words(outcome)
                );
                r.driver.vars.fail_user(user, n, &why);
            }
        }
    }
    let mut s = r.stats.lock().expect("stats lock");
    if let Some(path) = &req.step.extras.outcome {
        let value = answer
            .as_ref()
            .and_then(|a| a.json.as_ref())
            .and_then(|j| j.at(path))
            .map_or_else(
                || format!("({})", words(outcome)),
                |v| v.text().into_owned(),
            );
        s.flows
            .outcome((req.key.event, req.key.tag), &path.join("."), value);
    }
    let waits = Waits {
        slot: req.late,
        connection: false,
    };
    s.done(req.id, req.sent, Instant::now(), waits, outcome);
    match outcome {
        Outcome::Ok(_) => Ok(()),
        o => Err(words(o)),
    }
}

/// Whether a 401 may re-run the login: the mapping has one, this is not it, and the
/// request reads a user variable (its own or a header's).
fn can_login(r: &Run<'_>, req: &Req<'_>) -> bool {
    may_login(&r.driver.mapping, r.due, req.step, req.login)
}

/// [`can_login`] for `step` of `due`'s flow (`login`: whether it belongs to the login).
fn may_login(m: &Mapping, due: &Due, step: &Mapped, login: bool) -> bool {
    m.login.is_some()
        && !login
        && due.kind != m.login.unwrap_or(u16::MAX)
        && (step
            .extras
            .reads
            .iter()
            .any(|v| matches!(v, VarRef::User(_)))
            || (step.request.protocol() == Protocol::Http && !m.common_vars.is_empty()))
}

/// What a flow run in the job itself sends with: the values its request reads and the
/// user's cookie header ([`inline`]).
pub(crate) type Inline = (Vec<(Field, String)>, Option<String>);

/// Whether the flow of `m` can run in the pacer's job, through the same `send_with` as a
/// plain request, and with what: one request naming no entity ([`is_one`]), not polled,
/// that no 401 would send through the login, and whose values are all there now. Its
/// answer then goes to [`finish`]. Anything else (a wait for a value, a login, a
/// withdrawal, later steps) runs boxed ([`one`], [`run`]), as the general case.
///
/// Why: the boxed flow future (2,936 bytes) is allocated and moved per request, past the
/// allocator's small-size cache; inline, a checking and capturing request costs ~1,000
/// instructions less (callgrind, docs/PERFORMANCE.md "Flows").
pub(crate) fn inline(driver: &Driver, due: &Due, m: &Mapped) -> Option<Inline> {
    ready(&driver.mapping, &driver.vars, due, m)
}

/// [`inline`], given the mapping and the run's values.
fn ready(mapping: &Mapping, vars: &Vars, due: &Due, m: &Mapped) -> Option<Inline> {
    if !is_one(m) || m.extras.poll.is_some() || may_login(mapping, due, m, false) {
        return None;
    }
    let user = due.user_id.as_ref();
    let common = &mapping.common_vars;
    // `[headers]`/`[auth]` values are sent when the user has them all (as `values`).
    let with_common: Vec<VarRef>;
    let reads = if m.request.protocol() == Protocol::Http
        && !common.is_empty()
        && matches!(vars.find(user, &[], common), Found::Ready(_))
    {
        with_common = m.extras.reads.iter().chain(common).cloned().collect();
        &with_common
    } else {
        &m.extras.reads
    };
    let values = match reads.is_empty() {
        true => Vec::new(),
        false => match vars.find(user, &[], reads) {
            Found::Ready(v) => v,
            Found::Wait | Found::Never(_) => return None,
        },
    };
    let cookie = mapping
        .cookie_jar
        .then(|| vars.cookie_header(&due.user_id))
        .flatten();
    Some((values, cookie))
}

/// The end of a flow [`inline`] ran: its answer recorded as [`one`] records it.
pub(crate) fn finish(r: &Run<'_>, m: &Mapped, outcome: Outcome, answer: Option<Answer>) {
    // Nothing comes after it: its failure is counted in `record`.
    let _ = record(r, &first(r, m), &[], outcome, answer);
}

/// An outcome in words, for a dependency's description.
fn words(o: Outcome) -> String {
    o.words()
}

/// The values the request reads, the optional ones of `[headers]`/`[auth]` with them;
/// whether it waited for one. A user value missing runs the login first (once).
async fn values(
    r: &Run<'_>,
    req: &Req<'_>,
    keys: &[(String, String)],
) -> Result<(Vec<(Field, String)>, bool), String> {
    let vars = &r.driver.vars;
    let user = r.due.user_id.as_ref();
    let mut reads = req.step.extras.reads.clone();
    let common = &r.driver.mapping.common_vars;
    if req.step.request.protocol() == Protocol::Http && !common.is_empty() {
        let have = matches!(vars.find(user, keys, common), Found::Ready(_));
        if !have && can_login(r, req) {
            login(r, keys).await.ok();
        }
        if matches!(vars.find(user, keys, common), Found::Ready(_)) {
            reads.extend(common.iter().cloned());
        }
    }
    if reads.is_empty() {
        return Ok((Vec::new(), false));
    }
    let first = vars.find(user, keys, &reads);
    let user_reads: Vec<VarRef> = reads
        .iter()
        .filter(|v| matches!(v, VarRef::User(_)))
        .cloned()
        .collect();
    let user_missing = || !matches!(vars.find(user, keys, &user_reads), Found::Ready(_));
    let found = match first {
        // Only a missing user value is the login's to bring (an entity's is not).
        Found::Never(_) if can_login(r, req) && user_missing() => {
            login(r, keys).await.ok();
            vars.find(user, keys, &reads)
        }
        Found::Wait => {
            r.stats.lock().expect("stats lock").chain_waiting(req.id);
            let deadline = Instant::now() + r.driver.mapping.timeout;
            let found = vars.wait(user, keys, &reads, deadline).await;
            r.stats
                .lock()
                .expect("stats lock")
                .chain_left(req.id, Instant::now());
            return match found {
                Found::Ready(v) => Ok((v, true)),
                Found::Never(why) => Err(why),
                Found::Wait => Err(format!(
                    "{}: not captured within the mapping's timeout",
                    reads
                        .iter()
                        .map(VarRef::name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
        }
        other => other,
    };
    match found {
        Found::Ready(v) => Ok((v, false)),
        Found::Never(why) => Err(why),
        Found::Wait => Err("still to come".into()),
    }
}

/// A connection under `--connections`, for an HTTP step.
async fn wire(r: &Run<'_>, req: &Req<'_>) -> Option<tokio::sync::OwnedSemaphorePermit> {
    match (r.wires, req.step.request.protocol()) {
        (Some(w), Protocol::Http) => Arc::clone(w).acquire_owned().await.ok(),
        _ => None,
    }
}

/// Sends the request, again every `poll.every` while its checks fail (or its status is
/// not expected) until they hold or `poll.timeout` passes (a `timeout` error then).
async fn poll(r: &Run<'_>, req: &Req<'_>, vars: &[(Field, String)]) -> (Outcome, Option<Answer>) {
    let cookie = r
        .driver
        .mapping
        .cookie_jar
        .then(|| r.driver.vars.cookie_header(&r.due.user_id))
        .flatten();
    let how = Sending {
        suffix: req.suffix.as_deref(),
        vars,
        cookie,
    };
    let start = Instant::now();
    loop {
        let (o, a) = r.driver.send_with(r.due, req.step, &how).await;
        let Some(p) = req.step.extras.poll else {
            return (o, a);
        };
        let again = matches!(
            o,
            Outcome::Status(_) | Outcome::Failed(ErrorClass::Application)
        );
        if !again {
            return (o, a);
        }
        if start.elapsed() + p.every > p.timeout {
            return (Outcome::Failed(ErrorClass::Timeout), a);
        }
        tokio::time::sleep(p.every).await;
    }
}

/// The answer's captures into their variables; `false` when one found nothing (the
/// answer lacks what the flow needs: an application error).
fn capture(r: &Run<'_>, req: &Req<'_>, keys: &[(String, String)], a: &Answer) -> bool {
    let mut all = true;
    for c in &req.step.extras.captures {
        let value = match &c.from {
            From::Field(path) => a
                .json
                .as_ref()
                .and_then(|j| j.at_known(c.read_as, path))
                .filter(|v| !v.is_null())
                .map(Read::text),
            From::Header(name) => a
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| Cow::Borrowed(v.as_str())),
            From::Broadcast(event, path) => a
                .broadcasts
                .iter()
                .find(|(n, _)| n == event)
                .and_then(|(_, v)| pick(v, path))
                .filter(|v| !v.is_null())
                .map(|v| Read::Value(v).text()),
        };
        match value {
            Some(v) => r.driver.vars.set(&r.due.user_id, keys, &c.into, &v),
            None => all = false,
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use simulate_core::diagnostic::Source;
    use simulate_core::timeline::EVENT_KINDS;

    use super::*;

    fn due(user: &str, event: &str) -> Due {
        let kind = EVENT_KINDS.iter().position(|k| *k == event).unwrap();
        Due {
            t_ms: 0,
            user_id: user.into(),
            seq: 1,
            session: 1,
            kind: kind as u16,
            event: EVENT_KINDS[kind],
            phase: 0,
            line: Bytes::from_static(b"{}"),
            user: None,
            entity: None,
        }
    }

    fn mapping(src: &str) -> Mapping {
        Mapping::from_source(&Source::new("m.toml", src), None).unwrap()
    }

    /// What [`ready`] says of user u1's `event`.
    fn inline_for(m: &Mapping, vars: &Vars, event: &str) -> Option<Inline> {
        let d = due("u1", event);
        let Route::Send(r) = m.route(d.kind) else {
            panic!("{event} is mapped")
        };
        ready(m, vars, &d, r)
    }

    /// A flow runs in the pacer's job (unboxed) only when nothing in it can wait, log in,
    /// poll or come after it; everything else keeps the general, boxed path.
    #[test]
    fn a_flow_runs_in_the_job_only_when_nothing_in_it_waits_logs_in_or_polls() {
        let plain = concat!(
            "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\n",
            "capture = [{ into = \"vars.id\", field = \"id\" }]\n\n",
            "[[request]]\nevent = \"points.earned\"\npath = \"/p/{vars.id}\"\n",
            "check = { field = \"ok\", equals = true }\n\n",
            "[[request]]\nevent = \"goal.completed\"\npath = \"/g\"\n",
            "poll = { every = \"10ms\", timeout = \"1s\" }\ncheck = { field = \"ok\", equals = true }\n\n",
            "[[request]]\nevent = \"gift.created\"\nentity = { gift = \"{user_id}\" }\npath = \"/c\"\n",
            "capture = [{ into = \"entity.gift.id\", field = \"id\" }]\n\n",
            "[[request]]\nevent = \"goal.claimed\"\n\n",
            "[[request.steps]]\npath = \"/one\"\ncapture = [{ into = \"vars.x\", field = \"x\" }]\n\n",
            "[[request.steps]]\npath = \"/two\"\n",
        );
        let (m, vars) = (mapping(plain), Vars::default());
        let run = |event: &str| inline_for(&m, &vars, event);
        // A capture that reads nothing: inline, nothing to send with.
        assert_eq!(run("stat.updated"), Some((Vec::new(), None)));
        // A read of a value the user has not captured yet: the general path (withdrawn
        // there); once it is there, inline with it.
        assert_eq!(run("points.earned"), None);
        vars.set("u1", &[], &VarRef::User("id".into()), "42");
        assert_eq!(
            run("points.earned"),
            Some((vec![(Field::Var("id".into()), "42".into())], None))
        );
        // Polled, about an entity, or several steps: the general path.
        assert_eq!(run("goal.completed"), None);
        assert_eq!(run("gift.created"), None);
        assert_eq!(run("goal.claimed"), None);

        // With a login flow, a request that reads the token could be sent through the
        // login on a 401: the general path, even once the token is there.
        let login = concat!(
            "[auth]\nbearer = \"{vars.token}\"\nlogin = \"user.logged_in\"\n\n",
            "[[request]]\nevent = \"user.logged_in\"\npath = \"/login\"\n",
            "capture = [{ into = \"vars.token\", field = \"token\" }]\n\n",
            "[[request]]\nevent = \"stat.updated\"\npath = \"/s\"\n",
            "capture = [{ into = \"vars.id\", field = \"id\" }]\n",
        );
        let (m, vars) = (mapping(login), Vars::default());
        let run = |event: &str| inline_for(&m, &vars, event);
        assert_eq!(run("stat.updated"), None);
        // The login itself is never re-run for itself: inline, with the header's value
        // once the user has it (as the general path sends it).
        assert_eq!(run("user.logged_in"), Some((Vec::new(), None)));
        vars.set("u1", &[], &VarRef::User("token".into()), "t");
        assert_eq!(run("stat.updated"), None);
        assert_eq!(
            run("user.logged_in"),
            Some((vec![(Field::Var("token".into()), "t".into())], None))
        );
    }
}
