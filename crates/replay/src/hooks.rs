//! Set-up and teardown: the mapping's `[[setup]]` requests sent before the replay (the
//! 50 gifts a storm needs) and its `[[teardown]]` requests after it (or alone, with
//! `replay --teardown-only`), each in order, its repetitions up to [`AT_ONCE`] at a time.
//! Reported apart from the load: they are not in the totals, groups or thresholds. A
//! teardown with `for_each` is sent once per value the run captured (or the
//! `--captured-ids` file holds): the ids of what the run created.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use simulate_core::template::Field;

use crate::captured::CapturedIds;
use crate::drivers::Driver;
use crate::mapping::{Hook, HookRun};
use crate::outcome::Outcome;
use crate::source::{Due, UNKNOWN_KIND};
use crate::summary::HookReport;

/// Repetitions of one request out at once.
const AT_ONCE: usize = 16;

/// Runs a set-up or teardown step's `sql`: the binary gives it (over simulate-db), since
/// replay never reaches a database itself (docs/ARCHITECTURE.md).
pub trait SqlRunner: Send + Sync {
    /// Runs `sql` in one transaction: the rows it touched, or why it failed in words
    /// (never a password).
    fn run<'a>(
        &'a self,
        sql: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<u64, String>> + Send + 'a>>;
}

/// The failures whose words a report keeps.
const FAILURES_KEPT: usize = 5;

/// Sends `hooks` in order (`which`: `setup` or `teardown`, their `{user_id}` prefix),
/// each one's repetitions `{seq}` 0, 1, … with its `x-sim-event` `<which>-<n>/<seq>`; a
/// `for_each` hook once per value `ids` holds for its variable, reading that value; a
/// SQL step through `sql`.
pub(crate) async fn run(
    driver: &Driver,
    (which, hooks): (&str, &[Hook]),
    ids: &CapturedIds,
    sql: Option<&dyn SqlRunner>,
) -> HookReport {
    let started = Instant::now();
    let mut report = HookReport::default();
    for (n, hook) in hooks.iter().enumerate() {
        let request = match &hook.run {
            HookRun::Http(r) => r,
            HookRun::Sql(text) => {
                let done = match sql {
                    Some(db) => db.run(text).await,
                    None => Err("no database to run it against".to_string()),
                };
                count_sql(&mut report, done);
                continue;
            }
        };
        let user: Box<str> = format!("{which}-{n}").into();
        let values: Vec<Vec<(Field, String)>> = match &hook.for_each {
            None => vec![Vec::new(); hook.repeat as usize],
            Some(v) => {
                let list = ids.values.get(&v.name()).map_or(&[][..], Vec::as_slice);
                *report.for_each.entry(v.name()).or_default() += list.len() as u64;
                list.iter()
                    .map(|c| vec![(v.field(), c.value.clone())])
                    .collect()
            }
        };
        let sends = values.into_iter().enumerate().map(|(seq, vars)| {
            let due = Due {
                t_ms: 0,
                user_id: user.clone(),
                seq: seq as u32,
                session: 0,
                kind: UNKNOWN_KIND,
                event: "unknown",
                phase: 0,
                line: Bytes::from_static(b"{}"),
                user: None,
                entity: None,
            };
            async move {
                let ctx = due.ctx(None, None, &vars);
                let how = crate::drivers::Sending::default();
                driver.http.send(&due, request, &ctx, &how).await.0
            }
        });
        let outcomes: Vec<Outcome> = futures_util::stream::iter(sends)
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        for o in outcomes {
            count(&mut report, o);
        }
    }
    report.wall_ms = (started.elapsed().as_secs_f64() * 1e4).round() / 10.0;
    report
}

/// A SQL step: `committed` with the rows it touched, or an error of class `sql` whose
/// words the report keeps.
fn count_sql(report: &mut HookReport, done: Result<u64, String>) {
    report.requests += 1;
    match done {
        Ok(rows) => {
            report.ok += 1;
            report.rows += rows;
            *report.statuses.entry("committed".into()).or_default() += 1;
        }
        Err(why) => {
            report.errors += 1;
            *report.error_classes.entry("sql".into()).or_default() += 1;
            if report.failures.len() < FAILURES_KEPT {
                report.failures.push(why);
            }
        }
    }
}

/// The values the mapping's teardown repeats over, as the run captured them.
pub(crate) fn captured(driver: &Driver) -> CapturedIds {
    let m = &driver.mapping;
    let mut ids = CapturedIds::new(&m.name);
    for v in m.teardown.iter().filter_map(|h| h.for_each.as_ref()) {
        ids.values.insert(v.name(), driver.vars.values_of(v));
    }
    ids
}

fn count(report: &mut HookReport, o: Outcome) {
    report.requests += 1;
    match o {
        Outcome::Ok(s) => {
            report.ok += 1;
            *report.statuses.entry(s.name()).or_default() += 1;
        }
        Outcome::Status(s) => {
            report.errors += 1;
            *report.statuses.entry(s.name()).or_default() += 1;
        }
        Outcome::Failed(c) => {
            report.errors += 1;
            *report
                .error_classes
                .entry(c.name().to_string())
                .or_default() += 1;
        }
    }
}

/// `what failed` in words: `3 of 50 set-up requests failed (503 ×2, refused ×1)`.
pub(crate) fn failure(which: &str, r: &HookReport) -> String {
    let mut why: BTreeMap<&str, u64> = BTreeMap::new();
    for (k, v) in &r.error_classes {
        why.insert(k, *v);
    }
    let mut parts: Vec<String> = why.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    let statuses: Vec<String> = r
        .statuses
        .iter()
        .filter(|(k, _)| !k.starts_with('2'))
        .map(|(k, v)| format!("{k} ×{v}"))
        .collect();
    parts.extend(statuses);
    let words: String = r.failures.iter().map(|w| format!(": {w}")).collect();
    format!(
        "{} of {} {which} requests failed ({}){words}",
        r.errors,
        r.requests,
        parts.join(", ")
    )
}
