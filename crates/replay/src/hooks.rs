//! Set-up and teardown: the mapping's `[[setup]]` requests sent before the replay (the
//! 50 gifts a storm needs) and its `[[teardown]]` requests after it (or alone, with
//! `replay --teardown-only`), each in order, its repetitions up to [`AT_ONCE`] at a time.
//! Reported apart from the load: they are not in the totals, groups or thresholds.

use std::collections::BTreeMap;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::drivers::Driver;
use crate::mapping::Hook;
use crate::outcome::Outcome;
use crate::source::{Due, UNKNOWN_KIND};
use crate::summary::HookReport;

/// Repetitions of one request out at once.
const AT_ONCE: usize = 16;

/// Sends `hooks` in order (`which`: `setup` or `teardown`, their `{user_id}` prefix),
/// each one's repetitions `{seq}` 0, 1, … with its `x-sim-event` `<which>-<n>/<seq>`.
pub(crate) async fn run(driver: &Driver, which: &str, hooks: &[Hook]) -> HookReport {
    let started = Instant::now();
    let mut report = HookReport::default();
    for (n, hook) in hooks.iter().enumerate() {
        let user: Box<str> = format!("{which}-{n}").into();
        let sends = (0..hook.repeat).map(|seq| {
            let due = Due {
                t_ms: 0,
                user_id: user.clone(),
                seq,
                session: 0,
                kind: UNKNOWN_KIND,
                phase: 0,
                line: Bytes::from_static(b"{}"),
                user: None,
            };
            async move {
                let ctx = due.ctx(None, None, &[]);
                let how = crate::drivers::Sending::default();
                driver.http.send(&due, &hook.request, &ctx, &how).await.0
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
    format!(
        "{} of {} {which} requests failed ({})",
        r.errors,
        r.requests,
        parts.join(", ")
    )
}
