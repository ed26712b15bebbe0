//! What the replay's figures say against a real axum server on loopback: a request
//! chained behind the same user's slow one shows its wait as chained wait, not as the
//! target's service time; totals per event and per request tag; per-second series per
//! protocol and tag.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::Value;

use crate::common::{read_json, replay_log};

/// Users doing one slow call (`challenge.viewed` → `/slow`, 300 ms) and, 1 ms later, one
/// fast call (`stat.updated` → `/fast`), `gap_ms` apart.
fn slow_then_fast_log(dir: &Path, users: usize, gap_ms: i64) -> std::path::PathBuf {
    let p = dir.join("chain.jsonl");
    let mut text = String::new();
    for i in 0..users {
        let t = i as i64 * gap_ms;
        text.push_str(&format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{t},\"user_id\":\"u{i}\",\"persona\":\"gamer\",\"session_id\":\"s{i}-1\",\"seq\":0,\"event\":\"challenge.viewed\",\"props\":{{\"challenge_id\":\"challenge-1\"}}}}\n"
        ));
        text.push_str(&format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.001Z\",\"t_ms\":{},\"user_id\":\"u{i}\",\"persona\":\"gamer\",\"session_id\":\"s{i}-1\",\"seq\":1,\"event\":\"stat.updated\",\"props\":{{\"statCode\":\"enemy_kills\",\"value\":{i},\"delta\":1}}}}\n",
            t + 1
        ));
    }
    std::fs::write(&p, text).unwrap();
    p
}

const MAPPING: &str = r#"
[[request]]
event = "challenge.viewed"
method = "GET"
path = "/slow"
kind = "ai"

[[request]]
event = "stat.updated"
method = "GET"
path = "/fast"
kind = "read"
"#;

/// The group of figures tagged `kind` in the summary array `list`.
fn by<'a>(list: &'a Value, kind: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|g| g["tags"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {list}"))
}

#[test]
fn a_fast_request_behind_the_same_users_slow_one_shows_chained_wait_not_service_time() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
        .route("/fast", get(|| async { "fast" }));
    rt.spawn(async move { axum::serve(listener, app).await });

    // 6 users, 200 ms apart: 1.3 s of wall time at 1x.
    let log = slow_then_fast_log(dir.path(), 6, 200);
    let mapping = dir.path().join("m.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    let summary = dir.path().join("s.json");
    let o = replay_log(&log, &mapping, &format!("http://{addr}"), "1x")
        .args(["--threshold", "chained_p50{kind:read}>=250ms"])
        .args(["--threshold", "service_p99{kind:read}<100ms"])
        .arg("--summary-export")
        .arg(&summary)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = read_json(&summary);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");

    // Item 9: the fast read waited ≈300 ms for the slow call; the target served it fast.
    let read = by(&s["by_kind"], "read");
    assert_eq!(read["count"], 6);
    assert_eq!(read["chained"], 6, "{read}");
    let (latency, service, chained) = (
        read["latency_ms"]["p50"].as_f64().unwrap(),
        read["service_ms"]["p99"].as_f64().unwrap(),
        read["chained_ms"]["p50"].as_f64().unwrap(),
    );
    assert!((250.0..450.0).contains(&chained), "chained {chained} ms");
    assert!(service < 100.0, "service {service} ms");
    assert!(
        latency >= chained,
        "latency {latency} ms ≥ chained {chained} ms"
    );
    let ai = by(&s["by_kind"], "ai");
    assert_eq!(
        (ai["count"].as_u64(), ai["chained"].as_u64()),
        (Some(6), Some(0))
    );
    assert_eq!(ai["chained_ms"]["max"], 0.0);
    assert!(ai["service_ms"]["p50"].as_f64().unwrap() >= 290.0, "{ai}");
    assert_eq!(s["totals"]["chained"], 6);
    assert!(
        s["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["ok"] == true)
    );

    // Item 10: one total per event and per tag, equal to its groups added.
    let events = s["by_event"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    for e in events {
        let t = &e["tags"];
        let sum: u64 = s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["tags"]["event"] == t["event"] && g["tags"]["kind"] == t["kind"])
            .map(|g| g["count"].as_u64().unwrap())
            .sum();
        assert_eq!(e["count"].as_u64(), Some(sum), "{t}");
    }

    // Item 15: a series per protocol and tag, adding up to what each sent.
    for kind in ["ai", "read"] {
        let series = s["series_by_kind"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["kind"] == kind)
            .unwrap();
        assert_eq!(series["protocol"], "http");
        let sent: u64 = series["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["sent"].as_u64().unwrap())
            .sum();
        assert_eq!(sent, 6, "{kind}: {series}");
    }

    // The table: a column and a legend for the chained wait, a total per tag.
    assert!(stdout.contains("chain p99 ms"), "{stdout}");
    assert!(stdout.contains("chain: waiting for the same user's previous answer"));
    let row = stdout
        .lines()
        .find(|l| l.starts_with("all") && l.contains(" read "))
        .unwrap_or_else(|| panic!("a total row for `read`: {stdout}"));
    let chain_p99: f64 = row.split_whitespace().last().unwrap().parse().unwrap();
    assert!(chain_p99 >= 250.0, "{row}");
}
