//! Race and idempotency probes: a mapped HTTP request sent `copies` times at once for its
//! event (the timeline's own request and the copies, `x-sim-event: <user_id>/<seq>/p<k>`),
//! and the answers judged together against the probe's expected result ("exactly one
//! success, the rest 409"). The timeline's own request is counted as every request is;
//! the copies only here, so the delivery figures still say every event went once. This
//! is the test that shows a missing lock or a missing idempotency check.

use simulate_core::world::kinds::KindNames;

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::future::join_all;
use simulate_core::template::Ctx;

use super::{Answer, Sending, http};
use crate::mapping::{Expect, HttpRequest, Probe};
use crate::outcome::{Outcome, Status};
use crate::source::Due;
use crate::summary::{ProbeEvent, ProbeReport, ProbeViolation};

/// Violations listed in the summary (all are counted).
const LISTED: usize = 50;

/// Every probe's tally, per event kind.
#[derive(Debug, Default)]
pub(crate) struct Book(Mutex<Inner>);

#[derive(Debug, Default)]
struct Inner {
    by_event: BTreeMap<u16, Tally>,
    listed: Vec<ProbeViolation>,
}

#[derive(Debug, Default)]
struct Tally {
    copies: u32,
    expected: String,
    /// Groups of copies sent.
    sets: u64,
    violations: u64,
    /// Every answer of the groups (the timeline's own included), by status or class.
    answers: BTreeMap<String, u64>,
}

/// What one copy got: its outcome (the check's verdict included) and the HTTP status it
/// came with (none without an answer).
type Got = (Outcome, Option<u16>);

/// An answer as the probe reads it: its HTTP status, whatever the request's check said
/// of its body (the probe's expectation is about statuses: a correct server's 409 whose
/// body fails a check written for the 200 is still the expected 409), else the
/// failure's class.
fn answer(&(o, status): &Got) -> Result<u16, &'static str> {
    if let Some(s) = status {
        return Ok(s);
    }
    match o {
        Outcome::Ok(Status::Http(s)) | Outcome::Status(Status::Http(s)) => Ok(s),
        Outcome::Ok(_) | Outcome::Status(_) => Err("other"),
        Outcome::Failed(c) => Err(c.name()),
    }
}

/// Whether the answers are what the probe expects: exactly `success` 2xx, every other
/// one a status of `rest`.
fn holds(p: &Probe, outcomes: &[Got]) -> bool {
    let mut ok = 0;
    for o in outcomes {
        match answer(o) {
            Ok(s) if s / 100 == 2 => ok += 1,
            Ok(s) if Expect::accepts(&p.rest, s) => {}
            _ => return false,
        }
    }
    ok == p.success
}

fn name(o: &Got) -> String {
    match answer(o) {
        Ok(s) => s.to_string(),
        Err(c) => c.to_string(),
    }
}

impl Book {
    /// Sends the timeline's request and its copies at once; records their verdict and
    /// returns the timeline request's own outcome (and answer, for a flow that keeps it).
    pub(crate) async fn send(
        &self,
        client: &http::Client,
        (due, req, ctx, how): (&Due, &HttpRequest, &Ctx<'_>, &Sending<'_>),
        p: &Probe,
    ) -> (Outcome, Option<Answer>) {
        let copies = (0..p.copies).map(|k| client.send_copy(due, req, ctx, how, k));
        let mut answers = join_all(copies).await;
        let got: Vec<Got> = answers.iter().map(|(o, _, s)| (*o, *s)).collect();
        self.record(due, p, &got);
        let (outcome, answer, _) = answers.swap_remove(0);
        (outcome, answer)
    }

    fn record(&self, due: &Due, p: &Probe, outcomes: &[Got]) {
        let ok = holds(p, outcomes);
        self.with(|b| {
            let t = b.by_event.entry(due.kind).or_default();
            if t.sets == 0 {
                t.copies = p.copies;
                t.expected = p.expected();
            }
            t.sets += 1;
            for o in outcomes {
                *t.answers.entry(name(o)).or_default() += 1;
            }
            if !ok {
                t.violations += 1;
                if b.listed.len() < LISTED {
                    b.listed.push(ProbeViolation {
                        event_id: due.event_id(),
                        event: due.event_name().to_string(),
                        got: outcomes.iter().map(name).collect(),
                    });
                }
            }
        });
    }

    /// Groups sent and violations, for thresholds.
    pub(crate) fn counts(&self) -> (u64, u64) {
        self.with(|b| {
            b.by_event
                .values()
                .fold((0, 0), |(s, v), t| (s + t.sets, v + t.violations))
        })
    }

    pub(crate) fn report(&self, kinds: &KindNames) -> ProbeReport {
        self.with(|b| {
            let by_event: Vec<ProbeEvent> = b
                .by_event
                .iter()
                .map(|(k, t)| ProbeEvent {
                    event: kinds.name(*k).unwrap_or("unknown").to_string(),
                    copies: t.copies,
                    expected: t.expected.clone(),
                    sets: t.sets,
                    violations: t.violations,
                    copies_sent: t.sets * u64::from(t.copies.saturating_sub(1)),
                    answers: t.answers.clone(),
                })
                .collect();
            ProbeReport {
                sets: by_event.iter().map(|e| e.sets).sum(),
                violations: by_event.iter().map(|e| e.violations).sum(),
                copies_sent: by_event.iter().map(|e| e.copies_sent).sum(),
                by_event,
                listed: b.listed.clone(),
            }
        })
    }
}

impl Book {
    /// The tallies behind their lock (a poisoned lock still holds the counts).
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
