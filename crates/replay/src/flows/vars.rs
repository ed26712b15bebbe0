//! Captured values while a replay runs: each user's (`{vars.NAME}`, and their cookie
//! jar) and each timeline entity's (`{entity.gift.id}`), with the state a request that
//! reads one needs to know: there, still to come (its writer is in flight: wait), or
//! never coming (its writer failed: the request is skipped, naming why).
//!
//! A writer announces the entity values it will capture when the pacer hands its event
//! out (in timeline order), so a reader handed out later knows to wait, whichever task
//! runs first.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use simulate_core::template::Field;
use tokio::sync::Notify;

use crate::mapping::flow::VarRef;

/// What a reader finds.
#[derive(Debug, PartialEq)]
pub(crate) enum Found {
    /// Every value, as the template fields read them.
    Ready(Vec<(Field, String)>),
    /// Some value is still to come (its writer is in flight).
    Wait,
    /// Some value will not come: which, and why.
    Never(String),
}

/// Every user's values. A user's variables sit in slots by the variable's number, the
/// names numbered once here (a mapping names a handful): a user's first capture costs
/// one small vector, not a map node and a copy of the name per user
/// (docs/PERFORMANCE.md, "Flows").
#[derive(Default)]
struct Users {
    /// The variables' names, by slot.
    names: Vec<Box<str>>,
    by_id: HashMap<Box<str>, User, IdState>,
}

impl Users {
    fn slot(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| **n == *name)
    }

    fn slot_or_new(&mut self, name: &str) -> usize {
        self.slot(name).unwrap_or_else(|| {
            self.names.push(name.into());
            self.names.len() - 1
        })
    }

    /// The user's values, made on first use (looked up before `entry`, which would
    /// copy the id on every call, not only the first).
    fn user(&mut self, id: &str) -> &mut User {
        if self.by_id.contains_key(id) {
            return self.by_id.get_mut(id).expect("just found");
        }
        self.by_id.entry(id.into()).or_default()
    }
}

#[derive(Default)]
struct User {
    /// By slot ([`Users::names`]).
    values: Vec<Option<String>>,
    /// Why a value did not come, by slot (the last failed writer's word).
    failed: Vec<Option<String>>,
    cookies: BTreeMap<String, String>,
}

impl User {
    fn value(&self, slot: usize) -> Option<&String> {
        self.values.get(slot)?.as_ref()
    }

    fn why(&self, slot: usize) -> Option<&String> {
        self.failed.get(slot)?.as_ref()
    }
}

/// `slots[slot]`, the vector grown to reach it.
fn at(slots: &mut Vec<Option<String>>, slot: usize) -> &mut Option<String> {
    if slots.len() <= slot {
        slots.resize(slot + 1, None);
    }
    &mut slots[slot]
}

/// Users' ids hashed with foldhash (hashbrown's own default, fixed seed) rather than
/// SipHash: the ids come from the run's own timeline, so SipHash's guard against chosen
/// keys buys nothing, and a first capture hashes the id twice (docs/PERFORMANCE.md,
/// "Flows"). Nothing iterates the map into output.
type IdState = foldhash::fast::FixedState;

#[derive(Default)]
struct Entity {
    values: BTreeMap<String, String>,
    /// Values a writer in flight will capture.
    pending: BTreeMap<String, u32>,
    failed: BTreeMap<String, String>,
}

/// Every captured value of the run.
pub(crate) struct Vars {
    users: Mutex<Users>,
    /// By (entity, key): ("gift", "g5186-1").
    entities: Mutex<HashMap<(String, String), Entity>>,
    /// Woken whenever a value comes or fails.
    changed: Notify,
    /// Ids of later steps' requests, apart from the pacer's.
    next_id: AtomicU64,
}

impl Default for Vars {
    fn default() -> Vars {
        Vars {
            users: Mutex::default(),
            entities: Mutex::default(),
            changed: Notify::new(),
            next_id: AtomicU64::new(1 << 48),
        }
    }
}

impl Vars {
    /// An id for a request the pacer did not hand out (a later step, a login).
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A writer of these entity values is on its way (called in timeline order).
    pub(crate) fn announce(&self, writes: &[((String, String), String)]) {
        let mut e = self.entities.lock().expect("entities lock");
        for (entity, name) in writes {
            *e.entry(entity.clone())
                .or_default()
                .pending
                .entry(name.clone())
                .or_default() += 1;
        }
    }

    /// The announced writer is done: each value it did not capture fails with `why`.
    pub(crate) fn settle(&self, writes: &[((String, String), String)], why: &str) {
        let mut e = self.entities.lock().expect("entities lock");
        for (entity, name) in writes {
            let ent = e.entry(entity.clone()).or_default();
            if let Some(n) = ent.pending.get_mut(name) {
                *n -= 1;
                if *n == 0 {
                    ent.pending.remove(name);
                }
            }
            if !ent.values.contains_key(name) && !ent.pending.contains_key(name) {
                ent.failed.insert(name.clone(), why.to_string());
            }
        }
        drop(e);
        self.changed.notify_waiters();
    }

    /// A captured value: the user's, or the entity's under `keys` (the request's
    /// entities: name → key).
    pub(crate) fn set(&self, user: &str, keys: &[(String, String)], var: &VarRef, value: &str) {
        match var {
            VarRef::User(n) => {
                let mut users = self.users.lock().expect("users lock");
                let slot = users.slot_or_new(n);
                let u = users.user(user);
                if let Some(why) = u.failed.get_mut(slot) {
                    *why = None;
                }
                // Written over the value before it, in its buffer: a user who captures
                // on every event allocates once, not per capture.
                match at(&mut u.values, slot) {
                    Some(old) => {
                        old.clear();
                        old.push_str(value);
                    }
                    none => *none = Some(value.to_owned()),
                }
                // No waiter to wake: only an entity's value is ever awaited (a user's
                // is there or never comes, `one`), and waking took a lock per capture.
                return;
            }
            VarRef::Entity(e, n) => {
                let Some((_, key)) = keys.iter().find(|(name, _)| name == e) else {
                    return;
                };
                let mut m = self.entities.lock().expect("entities lock");
                let ent = m.entry((e.clone(), key.clone())).or_default();
                ent.failed.remove(n);
                ent.values.insert(n.clone(), value.to_owned());
            }
        }
        self.changed.notify_waiters();
    }

    /// A user value its writer failed to capture.
    pub(crate) fn fail_user(&self, user: &str, name: &str, why: &str) {
        let mut users = self.users.lock().expect("users lock");
        let slot = users.slot_or_new(name);
        let u = users.user(user);
        if u.value(slot).is_none() {
            *at(&mut u.failed, slot) = Some(why.to_string());
        }
    }

    /// The values `reads` names, for `user` and the request's entities.
    pub(crate) fn find(&self, user: &str, keys: &[(String, String)], reads: &[VarRef]) -> Found {
        let mut out = Vec::with_capacity(reads.len());
        let mut wait = false;
        for r in reads {
            match self.one(user, keys, r) {
                Found::Ready(mut v) => out.append(&mut v),
                Found::Wait => wait = true,
                never @ Found::Never(_) => return never,
            }
        }
        if wait { Found::Wait } else { Found::Ready(out) }
    }

    fn one(&self, user: &str, keys: &[(String, String)], r: &VarRef) -> Found {
        match r {
            VarRef::User(n) => {
                let users = self.users.lock().expect("users lock");
                let slot = users.slot(n);
                let u = users.by_id.get(user).zip(slot);
                match u.and_then(|(u, s)| u.value(s)) {
                    Some(v) => Found::Ready(vec![(r.field(), v.clone())]),
                    None => Found::Never(match u.and_then(|(u, s)| u.why(s)) {
                        Some(why) => format!("vars.{n}: {why}"),
                        None => format!("vars.{n}: not captured for this user"),
                    }),
                }
            }
            VarRef::Entity(e, n) => {
                let Some((_, key)) = keys.iter().find(|(name, _)| name == e) else {
                    return Found::Never(format!("entity.{e}.{n}: no {e} named"));
                };
                let m = self.entities.lock().expect("entities lock");
                let ent = m.get(&(e.clone(), key.clone()));
                if let Some(v) = ent.and_then(|x| x.values.get(n)) {
                    return Found::Ready(vec![(r.field(), v.clone())]);
                }
                if ent.is_some_and(|x| x.pending.contains_key(n)) {
                    return Found::Wait;
                }
                Found::Never(match ent.and_then(|x| x.failed.get(n)) {
                    Some(why) => format!("entity.{e}.{n} of {key}: {why}"),
                    None => format!("entity.{e}.{n} of {key}: never captured in this replay"),
                })
            }
        }
    }

    /// Waits until the values are there, will never come, or `deadline` passes
    /// (`Found::Wait` then).
    pub(crate) async fn wait(
        &self,
        user: &str,
        keys: &[(String, String)],
        reads: &[VarRef],
        deadline: Instant,
    ) -> Found {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.find(user, keys, reads) {
                Found::Wait => {}
                done => return done,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, changed).await.is_err() {
                return self.find(user, keys, reads);
            }
        }
    }

    /// Every entity's value of `entity.ENTITY.NAME`, by the entity's key (a teardown's
    /// `for_each`); none for a user's variable.
    pub(crate) fn values_of(&self, var: &VarRef) -> Vec<crate::captured::CapturedValue> {
        let VarRef::Entity(e, n) = var else {
            return Vec::new();
        };
        let m = self.entities.lock().expect("entities lock");
        let mut out: Vec<crate::captured::CapturedValue> = m
            .iter()
            .filter(|((name, _), _)| name == e)
            .filter_map(|((_, key), ent)| {
                ent.values
                    .get(n)
                    .map(|value| crate::captured::CapturedValue {
                        key: key.clone(),
                        value: value.clone(),
                    })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// The user's cookies as a `cookie` header value, if they have any.
    pub(crate) fn cookie_header(&self, user: &str) -> Option<String> {
        let u = self.users.lock().expect("users lock");
        let c = &u.by_id.get(user)?.cookies;
        (!c.is_empty()).then(|| {
            c.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// The `set-cookie` headers of an answer into the user's jar: `name=value` before
    /// the first `;`; an empty value or `max-age=0` removes the cookie.
    pub(crate) fn take_cookies(&self, user: &str, headers: &[(String, String)]) {
        let set: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect();
        if set.is_empty() {
            return;
        }
        let mut u = self.users.lock().expect("users lock");
        let jar = &mut u.user(user).cookies;
        for c in set {
            let mut parts = c.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            let expired = parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if value.is_empty() || expired {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gift() -> Vec<(String, String)> {
        vec![("gift".into(), "g1".into())]
    }

    #[test]
    fn an_entity_value_is_awaited_while_announced_and_never_after_its_writer_failed() {
        let v = Vars::default();
        let id = VarRef::Entity("gift".into(), "id".into());
        let w = vec![(("gift".to_string(), "g1".to_string()), "id".to_string())];
        assert!(matches!(
            v.find("u2", &gift(), std::slice::from_ref(&id)),
            Found::Never(_)
        ));
        v.announce(&w);
        assert_eq!(
            v.find("u2", &gift(), std::slice::from_ref(&id)),
            Found::Wait
        );
        v.settle(&w, "gift.created u1/3: status 500");
        match v.find("u2", &gift(), std::slice::from_ref(&id)) {
            Found::Never(why) => assert!(why.contains("status 500"), "{why}"),
            other => panic!("{other:?}"),
        }
        v.announce(&w);
        v.set("u1", &gift(), &id, "42");
        v.settle(&w, "unused");
        assert_eq!(
            v.find("u2", &gift(), &[id]),
            Found::Ready(vec![(
                Field::Entity("gift".into(), "id".into()),
                "42".into()
            )])
        );
    }

    #[test]
    fn each_users_values_are_their_own_and_a_capture_clears_an_earlier_failure() {
        let v = Vars::default();
        let (a, b) = (VarRef::User("a".into()), VarRef::User("b".into()));
        let ready = |user: &str, r: &VarRef| match v.find(user, &[], std::slice::from_ref(r)) {
            Found::Ready(mut x) => Some(x.remove(0).1),
            _ => None,
        };
        v.set("u1", &[], &b, "b1");
        v.set("u2", &[], &a, "a2");
        v.set("u1", &[], &a, "a1");
        v.set("u1", &[], &a, "a1 again");
        assert_eq!(ready("u1", &a).as_deref(), Some("a1 again"));
        assert_eq!(ready("u1", &b).as_deref(), Some("b1"));
        assert_eq!(ready("u2", &a).as_deref(), Some("a2"));
        assert_eq!(ready("u2", &b), None);
        v.fail_user("u3", "a", "login u3/1: status 500");
        match v.find("u3", &[], std::slice::from_ref(&a)) {
            Found::Never(why) => assert!(why.contains("status 500"), "{why}"),
            other => panic!("{other:?}"),
        }
        // A failure after a value keeps the value.
        v.fail_user("u1", "a", "later failure");
        assert_eq!(ready("u1", &a).as_deref(), Some("a1 again"));
        v.set("u3", &[], &a, "a3");
        assert_eq!(ready("u3", &a).as_deref(), Some("a3"));
        // Many users alike (`u0`…`u9999`) each find their own.
        for i in 0..10_000 {
            v.set(&format!("u{i}"), &[], &b, &format!("v{i}"));
        }
        assert_eq!(ready("u4242", &b).as_deref(), Some("v4242"));
        assert_eq!(ready("u1", &b).as_deref(), Some("v1"));
    }

    #[test]
    fn the_cookie_jar_keeps_sets_and_drops_expired_ones() {
        let v = Vars::default();
        let h = |s: &str| vec![("set-cookie".to_string(), s.to_string())];
        v.take_cookies("u1", &h("sid=abc; Path=/; HttpOnly"));
        v.take_cookies("u1", &h("theme=dark"));
        assert_eq!(
            v.cookie_header("u1").as_deref(),
            Some("sid=abc; theme=dark")
        );
        v.take_cookies("u1", &h("theme=x; Max-Age=0"));
        assert_eq!(v.cookie_header("u1").as_deref(), Some("sid=abc"));
        assert_eq!(v.cookie_header("u2"), None);
    }
}
