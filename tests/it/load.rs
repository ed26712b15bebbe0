//! Load in the team's terms (`--rate`, `--stages`, `--profile`, `--abort-on-fail`,
//! `--users auto`) against real servers on loopback.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{bin, read_json};
use crate::replay::{Server, even_log, run_log};

/// Kinds the shipped mapping does not send.
const SERVER_SIDE: &[&str] = &["nudge.sent", "goal.completed", "user.churned"];

fn ok(o: &std::process::Output) {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The p99 of |x − median(x)|.
fn spread_p99(mut d: Vec<f64>) -> f64 {
    d.sort_by(f64::total_cmp);
    let median = d[d.len() / 2];
    let mut s: Vec<f64> = d.iter().map(|x| (x - median).abs()).collect();
    s.sort_by(f64::total_cmp);
    s[(s.len() * 99 / 100).min(s.len() - 1)]
}

/// The mapped events of 8h..11h of a `simulate run` log, by id: their simulated instants.
fn mapped_instants(log: &std::path::Path) -> BTreeMap<String, i64> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut t_of: BTreeMap<String, i64> = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let t = v["t_ms"].as_i64().unwrap();
        let kind = v["event"].as_str().unwrap();
        if (8 * 3_600_000..11 * 3_600_000).contains(&t) && !SERVER_SIDE.contains(&kind) {
            t_of.insert(
                format!("{}/{}", v["user_id"].as_str().unwrap(), v["seq"]),
                t,
            );
        }
    }
    t_of
}

#[test]
fn a_rate_holds_its_pace_and_gaps_scale_by_each_seconds_factor() {
    let dir = tempfile::tempdir().unwrap();
    let log = run_log(dir.path(), "300", "1");
    let t_of = mapped_instants(&log);
    let n = t_of.len();
    assert!(n > 300, "a busy enough window: {n}");
    // About 2.5 s of wall time.
    let rate = (n as f64 / 2.5).round();
    let server = Server::start(None);
    let summary = dir.path().join("s.json");
    let o = bin()
        .args(["replay", "--from-log"])
        .arg(&log)
        .args(["--window", "8h..11h", "--rate", &format!("{rate}/s"), "-q"])
        .args(["--target", &server.url(), "--summary-export"])
        .arg(&summary)
        .output()
        .unwrap();
    ok(&o);
    let s = read_json(&summary);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), n, "each mapped event of the window once");

    // The pacer's seconds: each full one sends the rate (the last is what is left).
    let series = s["series"].as_array().unwrap();
    let full = &series[..series.len() - 1];
    assert!(full.len() >= 2, "{} seconds", series.len());
    for sec in full {
        let sent = sec["sent"].as_f64().unwrap();
        assert!(
            (sent - rate).abs() <= rate * 0.1,
            "sent {sent} in a second at {rate}/s"
        );
        assert_eq!(sec["target_per_s"].as_f64(), Some(rate));
    }
    let first = arrivals.iter().map(|a| a.at).min().unwrap();
    let last = arrivals.iter().map(|a| a.at).max().unwrap();
    let took = (last - first).as_secs_f64();
    assert!(
        (took - n as f64 / rate).abs() < 0.6,
        "{n} requests in {took:.2} s at {rate}/s"
    );

    // Each second plays [sim_ms, next sim_ms) linearly: where each event was due.
    let bounds: Vec<i64> = series
        .iter()
        .map(|x| x["sim_ms"].as_i64().unwrap())
        .collect();
    let due_ms = |t: i64| -> (usize, f64) {
        let k = bounds.partition_point(|b| *b <= t) - 1;
        let to = bounds.get(k + 1).copied().unwrap_or_else(|| {
            let f = series[k]["factor"].as_f64().unwrap();
            bounds[k] + (f * 1000.0) as i64
        });
        (
            k,
            k as f64 * 1000.0 + (t - bounds[k]) as f64 / (to - bounds[k]).max(1) as f64 * 1000.0,
        )
    };
    let mut by_time: Vec<(i64, f64, &str)> = arrivals
        .iter()
        .map(|a| {
            (
                t_of[&a.id],
                (a.at - first).as_secs_f64() * 1000.0,
                a.id.as_str(),
            )
        })
        .collect();
    by_time.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let paced: Vec<f64> = by_time.iter().map(|(t, at, _)| at - due_ms(*t).1).collect();
    let p99 = spread_p99(paced);
    assert!(
        p99 < 15.0,
        "arrivals off the paced schedule: p99 {p99:.1} ms"
    );
    // The check has teeth: the same requests re-spaced evenly in their order miss it.
    let even = took * 1000.0 / (n - 1) as f64;
    let uniform: Vec<f64> = by_time
        .iter()
        .enumerate()
        .map(|(i, (t, _, _))| i as f64 * even - due_ms(*t).1)
        .collect();
    let u99 = spread_p99(uniform);
    assert!(
        u99 > 40.0,
        "a uniform re-spacing would pass too: {u99:.1} ms"
    );

    // A user's consecutive events in one second: the wall gap is the simulated gap over
    // that second's factor.
    // One arrival held up by the machine (another test's process on the same two cores)
    // moves one gap, not the rule: one pair in ten may miss it (one at least), where
    // unscaled gaps miss it in nearly all.
    let mut last_of: BTreeMap<&str, (i64, f64)> = BTreeMap::new();
    let mut off = Vec::new();
    let mut pairs = 0;
    for (t, at, id) in &by_time {
        let user = id.split('/').next().unwrap();
        if let Some((t0, at0)) = last_of.insert(user, (*t, *at)) {
            let ((k0, _), (k1, _)) = (due_ms(t0), due_ms(*t));
            let f = series[k1]["factor"].as_f64().unwrap();
            if k0 == k1 && t - t0 > 0 {
                let want = (t - t0) as f64 / f;
                if ((at - at0) - want).abs() >= 12.0 {
                    off.push(format!("{id}: gap {:.1} ms, want {want:.1}", at - at0));
                }
                pairs += 1;
            }
        }
    }
    assert!(pairs >= 5, "only {pairs} same-user pairs in a second");
    assert!(
        off.len() <= (pairs / 10).max(1),
        "{} of {pairs} same-user gaps off their second's factor: {off:?}",
        off.len()
    );
}

#[test]
fn stages_ramp_over_grpc_and_get_their_own_rows() {
    let dir = tempfile::tempdir().unwrap();
    let log = even_log(dir.path(), 700, 10);
    let server = crate::grpc::start(Duration::ZERO);
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/grpc-events.toml");
    let out = dir.path().join("s.json");
    let o = bin()
        .args(["replay", "--from-log"])
        .arg(&log)
        .arg("--mapping")
        .arg(&mapping)
        .args(["--target", "http://127.0.0.1:9", "-q"])
        .args(["--grpc-target", &format!("http://{}", server.addr)])
        .args(["--stages", "hold=1s:100/s, ramp=2s:100..300/s"])
        .args(["--threshold", "p99{stage:ramp}<1s", "--summary-export"])
        .arg(&out)
        .output()
        .unwrap();
    ok(&o);
    // 100 in the first second, then a ramp: 150, 250. The run ends with the last stage.
    let calls = server.seen.calls.lock().unwrap().len();
    assert_eq!(
        calls, 500,
        "the stages' events exactly, the rest of the log unsent"
    );
    let s = read_json(&out);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
    let sent: Vec<i64> = s["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["sent"].as_i64().unwrap())
        .collect();
    for (got, want) in sent.iter().zip([100, 150, 250]) {
        assert!((got - want).abs() <= 5, "{sent:?}");
    }
    let stages: BTreeMap<String, u64> = s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["stage"].as_str().unwrap().to_string(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stages,
        BTreeMap::from([("hold".into(), 100), ("ramp".into(), 400)])
    );
    assert_eq!(s["thresholds"][0]["ok"], true);
    assert!(
        s["config"]["pace"]
            .as_str()
            .unwrap()
            .starts_with("--stages")
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("ramp"),
        "the table has stage rows"
    );
}

#[test]
fn bad_rates_and_stages_are_refused_before_traffic_with_the_grammar() {
    let dir = tempfile::tempdir().unwrap();
    let log = even_log(dir.path(), 10, 10);
    let cases: &[(&[&str], &str)] = &[
        (&["--rate", "fast"], "1000/s"),
        (&["--stages", "2m:.."], "DURATION:FROM..TO"),
        (&["--stages", "1m:0..-50/s"], "negative"),
        (&["--rate", "10/s", "--stages", "1m:5/s"], "one per run"),
        (&["--compress", "2x", "--rate", "10/s"], "one per run"),
        (&["--rate", "points.eraned=5/s"], "known kinds"),
        (&["--rate", "0/s"], "a rate of 0 sends nothing"),
        (
            &["--rate", "points.earned=0/m"],
            "a rate of 0 sends nothing",
        ),
        (
            &["--rate", "5/s", "--max-duration", "soon"],
            "--max-duration",
        ),
    ];
    for (flags, says) in cases {
        let o = bin()
            .args(["replay", "--from-log"])
            .arg(&log)
            .args(["--target", "http://127.0.0.1:9", "-q"])
            .args(*flags)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?} should say `{says}`: {err}");
        assert!(
            err.contains("e.g.") || err.contains("like"),
            "{flags:?} shows an example: {err}"
        );
    }
    // A world too small for its stages is refused, naming the users it would take.
    let o = bin()
        .args(["replay", "--users", "20", "--span", "2h", "-q"])
        .args(["--target", "http://127.0.0.1:9", "--stages", "10s:500/s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("need 5000") && err.contains("--users "),
        "{err}"
    );
    let o = bin()
        .args([
            "replay",
            "--users",
            "auto",
            "-q",
            "--target",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--users auto sizes the world"));
}

#[test]
fn users_auto_sizes_the_world_and_a_profile_tags_its_stage() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        "name = \"profiled\"\nspan = \"1d\"\n[profiles.smoke]\nstages = \"2s:40/s\"\n",
    )
    .unwrap();
    let server = Server::start(None);
    let out = dir.path().join("s.json");
    let o = bin()
        .args(["replay", "--users", "auto", "--scenario"])
        .arg(&scenario)
        .args(["--profile", "smoke", "--target", &server.url(), "-q"])
        .args(["--threshold", "errors{stage:smoke}<1%", "--summary-export"])
        .arg(&out)
        .output()
        .unwrap();
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--users auto: "),
        "it says the world it picked: {err}"
    );
    let s = read_json(&out);
    let users = s["config"]["world"]["users"].as_u64().unwrap();
    assert!(
        err.contains(&format!("--users auto: {users} users")),
        "{err}"
    );
    let n = server.arrivals().len();
    assert!((78..=82).contains(&n), "2 s at 40/s: {n}");
    assert_eq!(s["stages"][0]["stage"], "smoke");
    assert_eq!(s["thresholds"][0]["ok"], true);
    // An unknown profile lists the known ones.
    let o = bin()
        .args(["replay", "--scenario"])
        .arg(&scenario)
        .args(["--profile", "stres", "--target", &server.url(), "-q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("use one of: smoke"));
}

#[test]
fn abort_on_fail_stops_at_a_threshold_that_cannot_recover_and_writes_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let log = even_log(dir.path(), 2000, 10);
    let stall: crate::replay::Stall = std::sync::Arc::new(|_| Some(Duration::from_millis(150)));
    let server = Server::start(Some(stall));
    let out = dir.path().join("s.json");
    let started = std::time::Instant::now();
    let o = bin()
        .args(["replay", "--from-log"])
        .arg(&log)
        .args(["--target", &server.url(), "-q", "--stages", "8s:50/s"])
        .args([
            "--threshold",
            "p95<100ms",
            "--abort-on-fail",
            "--summary-export",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped early: {:?}",
        started.elapsed()
    );
    let s = read_json(&out);
    assert!(
        s["aborted"].as_str().unwrap().contains("p95<100ms"),
        "{}",
        s["aborted"]
    );
    assert_eq!(s["interrupted"], false);
    assert!(String::from_utf8_lossy(&o.stderr).contains("aborted"));
}
