//! What `replay` concludes (issue 18: rates, the upper-limit preset, thresholds, the
//! default threshold), against real axum servers on loopback.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{bin, read_json};
use crate::replay::{Server, Stall};

/// A log of `n` stat updates `gap_ms` apart (one user each), with a server-side
/// `nudge.sent` after every `every`-th: events that are no requests.
fn log_with_skipped(dir: &Path, n: usize, gap_ms: i64, every: usize) -> PathBuf {
    let p = dir.join("mixed.jsonl");
    let mut text = String::new();
    let line = |t: i64, user: usize, kind: &str| {
        format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{t},\"user_id\":\"u{user}\",\"persona\":\"gamer\",\"session_id\":\"s{user}-1\",\"seq\":0,\"event\":\"{kind}\",\"props\":{{}}}}\n"
        )
    };
    for i in 0..n {
        let t = i as i64 * gap_ms;
        text.push_str(&line(t, i, "stat.updated"));
        if i % every == 0 {
            text.push_str(&line(t, n + i, "nudge.sent"));
        }
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// A stall by the time since the first request arrived (not since the server started:
/// the replay's own start takes a while on a busy machine).
fn stall_from_first(f: impl Fn(Duration) -> Option<Duration> + Send + Sync + 'static) -> Stall {
    let first = std::sync::OnceLock::new();
    Arc::new(move |since: Duration| f(since.saturating_sub(*first.get_or_init(|| since))))
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn rates_count_requests_over_the_schedule_not_skipped_events_nor_the_drain() {
    let dir = tempfile::tempdir().unwrap();
    // 1,000 requests due over one second (1,000/s planned) and 500 server-side events
    // among them; the last answers take 600 ms, so wall time runs well past the schedule.
    let log = log_with_skipped(dir.path(), 1000, 1, 2);
    let stall = stall_from_first(|since| {
        (since >= Duration::from_millis(950)).then_some(Duration::from_millis(600))
    });
    let server = Server::start(Some(stall));
    let summary = dir.path().join("s.json");
    let o = bin()
        .args(["replay", "--from-log"])
        .arg(&log)
        .args(["--target", &server.url(), "-q", "--max-in-flight", "2000"])
        .args([
            "--threshold",
            "rps>300",
            "--threshold",
            "rps{kind:event}>=5000",
        ])
        .arg("--summary-export")
        .arg(&summary)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(99), "rps>=5000 fails: {}", stderr(&o));
    let s = read_json(&summary);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
    let t = &s["totals"];
    assert_eq!(t["scheduled"].as_u64(), Some(1500), "{t}");
    assert_eq!(t["scheduled_requests"].as_u64(), Some(1000), "{t}");
    assert_eq!(t["server_side"].as_u64(), Some(500), "{t}");
    // 1,000 instants 1 ms apart: exactly 1,000/s over one second, whatever the machine.
    assert_eq!(t["scheduled_per_s"].as_f64(), Some(1000.0), "{t}");
    assert_eq!(t["schedule_seconds"].as_f64(), Some(1.0), "{t}");
    let achieved = t["achieved_per_s"].as_f64().unwrap();
    let wall = s["wall_seconds"].as_f64().unwrap();
    eprintln!("planned 1000/s: achieved {achieved}/s, wall {wall} s");
    assert!(wall > 1.5, "the drain is in the wall time: {wall}");
    assert!(
        achieved > 1000.0 / wall * 1.2 && achieved <= 1000.0,
        "achieved over the schedule, not the wall time: {achieved}"
    );
    let per_second: u64 = s["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["scheduled"].as_u64().unwrap())
        .sum();
    assert_eq!(per_second, 1000, "the series counts requests");
    let v = &s["thresholds"];
    assert_eq!(v[0]["ok"], true, "{v}");
    assert_eq!(v[1]["ok"], false, "{v}");
    assert_eq!(v[1]["applied_to"], "1000 requests: stat.updated", "{v}");
    let out = stdout(&o);
    assert!(out.contains("1000 requests scheduled"), "{out}");
    assert!(out.contains("500 events skipped (500 server-side"), "{out}");
    assert!(out.contains("1000.0 req/s scheduled"), "{out}");
}

/// A mapping of stat updates (events) and challenge views (API calls), with `extra`
/// appended.
fn classed_mapping(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("classes.toml");
    std::fs::write(
        &p,
        format!(
            "[[request]]\nevent = \"stat.updated\"\npath = \"/e\"\nkind = \"events\"\nclass = \"event\"\n\n[[request]]\nevent = \"challenge.viewed\"\nmethod = \"GET\"\npath = \"/c\"\nkind = \"read\"\nclass = \"api\"\n{extra}"
        ),
    )
    .unwrap();
    p
}

#[test]
fn the_upper_limit_preset_judges_what_was_sent_by_each_requests_class() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::replay::even_log(dir.path(), 40, 5);
    // Event answers take 600 ms: over the event limit, well under the API one. A tag
    // named `events` does not make them API calls: the class does.
    let stall: Stall = Arc::new(|_| Some(Duration::from_millis(600)));
    let server = Server::start(Some(stall));
    let summary = dir.path().join("s.json");
    let mapping = classed_mapping(dir.path(), "");
    let o = crate::common::replay_log(&log, &mapping, &server.url(), "1x")
        .args(["--threshold-preset", "upper-limit", "--summary-export"])
        .arg(&summary)
        .output()
        .unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(99), "{out}{}", stderr(&o));
    let v = read_json(&summary)["thresholds"].clone();
    assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v[1]["threshold"], "p95{class:event}<=500ms");
    assert_eq!(v[1]["ok"], false, "{v}");
    assert_eq!(v[1]["applied_to"], "40 requests: stat.updated", "{v}");
    // Only events were sent: the API limit does not apply, and does not fail.
    assert_eq!(v[2]["threshold"], "p95{class:api}<=2s");
    assert_eq!(
        (&v[2]["ok"], &v[2]["applicable"]),
        (&true.into(), &false.into())
    );
    assert!(out.contains("over 40 requests: stat.updated"), "{out}");
    assert!(
        out.contains("- p95{class:api}<=2s  (not applicable: this run sent no request this limit of upper-limit covers)"),
        "{out}"
    );
    let sent = server.arrivals().len();
    assert_eq!(sent, 40);

    // A request without a class is refused with its place, before any traffic.
    let unclassified = classed_mapping(
        dir.path(),
        "\n[[request]]\nevent = \"points.earned\"\npath = \"/p\"\n",
    );
    let o = crate::common::replay_log(&log, &unclassified, &server.url(), "1x")
        .args(["--threshold-preset", "upper-limit"])
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("classes.toml:14: field `request[2]`")
            && err.contains("the request for points.earned has no `class`")
            && err.contains("class = \"event\""),
        "{err}"
    );
    assert_eq!(server.arrivals().len(), sent, "nothing sent on bad input");
}

#[test]
fn every_bad_threshold_is_reported_at_once_and_on_time_leaves_out_the_targets_waits() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::replay::even_log(dir.path(), 200, 5);
    // From 0.3 s to 0.6 s the server takes 300 ms per request; at most 5 out: the pacer
    // waits for slots (the target's doing) and those requests leave late.
    let stall = stall_from_first(|since| {
        (since >= Duration::from_millis(300) && since < Duration::from_millis(600))
            .then_some(Duration::from_millis(300))
    });
    let server = Server::start(Some(stall));
    let run = |extra: &[&str]| {
        bin()
            .args(["replay", "--from-log"])
            .arg(&log)
            .args(["--target", &server.url(), "-q", "--max-in-flight", "5"])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[
        "--threshold",
        "p95{kind:raed}<1s",
        "--threshold",
        "errors<1%",
        "--threshold",
        "on_time{within:fast}>=99%",
        "--threshold-preset",
        "upper-limt",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("3 problems"), "{err}");
    assert!(err.contains("known kind values: event"), "{err}");
    assert!(err.contains("`fast` is not a duration"), "{err}");
    assert!(err.contains("`upper-limt` is not a preset"), "{err}");
    assert!(server.arrivals().is_empty(), "nothing sent on bad input");

    let summary = dir.path().join("s.json");
    let o = run(&[
        "--threshold",
        "on_time{within:100ms}>=90%",
        "--threshold",
        "lag_p99>200ms",
        "--summary-export",
        summary.to_str().unwrap(),
    ]);
    let s = read_json(&summary);
    assert!(o.status.success(), "{}{}", stdout(&o), s["thresholds"]);
    let late = s["totals"]["late"].as_u64().unwrap();
    assert!(late > 20, "slot waits happened: {}", s["totals"]);
    let applied = s["thresholds"][0]["applied_to"].as_str().unwrap();
    assert!(
        applied.starts_with(&format!("{} requests", 200 - late)),
        "{applied}"
    );
    // The summary's own figure, at the default bound, leaves out the same requests.
    let on_time = &s["on_time"];
    assert_eq!(on_time["held_for_slot"].as_u64(), Some(late), "{on_time}");
    assert_eq!(on_time["requests"].as_u64(), Some(200 - late), "{on_time}");
    assert_eq!(on_time["within_ms"].as_f64(), Some(2.0), "{on_time}");
    assert!(stdout(&o).contains(&format!("of {} requests left within 2 ms", 200 - late)));
}

#[test]
fn a_run_whose_requests_all_fail_fails_by_the_default_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::replay::even_log(dir.path(), 20, 1);
    // A free port nobody listens on: every request is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("http://127.0.0.1:{port}");
    let run = |extra: &[&str]| {
        bin()
            .args(["replay", "--from-log"])
            .arg(&log)
            .args(["--target", &target, "-q"])
            .args(extra)
            .output()
            .unwrap()
    };
    let summary = dir.path().join("s.json");
    let o = run(&["--summary-export", summary.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(99), "{out}");
    assert!(
        out.contains("✗ errors<5%  (observed 100.000 % over all 20 requests)"),
        "{out}"
    );
    assert!(out.contains("the default threshold"), "{out}");
    let s = read_json(&summary);
    assert_eq!(s["config"]["default_threshold"], true);
    assert_eq!(s["config"]["thresholds"][0], "errors<5%");
    assert_eq!(s["totals"]["errors"].as_u64(), Some(20));

    let o = run(&["--no-default-threshold"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(!stdout(&o).contains("errors<5%"));
    // A threshold given replaces the default.
    let o = run(&["--threshold", "errors<=100%"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(!stdout(&o).contains("default"), "{}", stdout(&o));
}
