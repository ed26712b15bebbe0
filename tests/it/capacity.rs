//! `simulate capacity` against servers whose limit is known by construction.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use tokio::sync::Semaphore;

use crate::common::{bin, read_json};
use crate::replay::even_log;

/// Serves at most `n` requests at once, each for `service`; up to `queue` more wait,
/// the rest are shed with 503 at once. Its limit is n / service.
struct Limited {
    addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

type St = (Arc<Semaphore>, Arc<AtomicUsize>, Duration, usize);

async fn limited_handler(State((slots, waiting, service, queue)): State<St>) -> StatusCode {
    let _slot = match Arc::clone(&slots).try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            if waiting.fetch_add(1, Ordering::SeqCst) >= queue {
                waiting.fetch_sub(1, Ordering::SeqCst);
                return StatusCode::SERVICE_UNAVAILABLE;
            }
            let p = Arc::clone(&slots).acquire_owned().await.unwrap();
            waiting.fetch_sub(1, Ordering::SeqCst);
            p
        }
    };
    tokio::time::sleep(service).await;
    StatusCode::OK
}

fn limited(n: usize, service: Duration, queue: usize) -> Limited {
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let state: St = (Arc::new(Semaphore::new(n)), Arc::default(), service, queue);
    let app = Router::new().fallback(limited_handler).with_state(state);
    rt.spawn(async move { axum::serve(listener, app).await });
    Limited { addr, _rt: rt }
}

/// `capacity` from 100/s by doubling, 1 s of warm-up and 2 s measured per level; the
/// thresholds near the service time (20 ms): p95 under twice it, errors under 1 %.
fn capacity(log: &std::path::Path, target: &str, out: &std::path::Path) -> std::process::Output {
    bin()
        .args(["capacity", "--from-log"])
        .arg(log)
        .args(["--target", target, "-q", "--from", "100/s", "--step", "2x"])
        .args([
            "--step-duration",
            "2s",
            "--warmup",
            "1s",
            "--max-rate",
            "1000/s",
        ])
        .args(["--threshold", "p95<40ms", "--threshold", "errors<1%"])
        .arg("--summary-export")
        .arg(out)
        .output()
        .unwrap()
}

/// The report a capacity run that exited 0 exported, checked against its schema.
fn report_of(o: &std::process::Output, out: &std::path::Path) -> serde_json::Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let r = read_json(out);
    crate::common::conforms::<simulate_replay::capacity::CapacityReport>(&r, "capacity.v1.json");
    r
}

#[test]
fn capacity_finds_two_known_limits_within_ten_percent() {
    let dir = tempfile::tempdir().unwrap();
    let log = even_log(dir.path(), 3000, 10);
    // 4 at once × 20 ms: 200/s; 12 at once × 20 ms: 600/s.
    let cases = [(4, 200.0), (12, 600.0)];
    let started = Instant::now();
    let runs: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, (n, limit))| {
            let server = limited(*n, Duration::from_millis(20), 2 * *n);
            let out = dir.path().join(format!("c{i}.json"));
            let log = log.clone();
            let limit = *limit;
            std::thread::spawn(move || {
                let o = capacity(&log, &format!("http://{}", server.addr), &out);
                drop(server);
                (o, out, limit)
            })
        })
        .collect();
    for run in runs {
        let (o, out, limit) = run.join().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        let r = report_of(&o, &out);
        let held = r["highest_held"].as_f64().unwrap();
        let failed = r["first_failed"].as_f64().unwrap();
        assert!(
            (held - limit).abs() <= limit * 0.1,
            "limit {limit}/s, found {held}/s (failed at {failed}/s):\n{stdout}"
        );
        assert!(failed > held && failed <= held * 1.1, "{held} {failed}");
        let causes = r["causes"].as_array().unwrap();
        assert!(
            causes.iter().any(|c| c == "latency" || c == "errors"),
            "the target, not the generator, failed: {causes:?}\n{stdout}"
        );
        for l in r["levels"].as_array().unwrap() {
            assert!(
                l["rate"].as_f64().unwrap() <= 1000.0,
                "never above --max-rate"
            );
        }
        assert!(stdout.contains("verdict: holds"), "{stdout}");
    }
    eprintln!("capacity of two servers: {:?}", started.elapsed());
}

#[test]
fn capacity_stops_at_once_on_a_dead_target() {
    let dir = tempfile::tempdir().unwrap();
    let log = even_log(dir.path(), 500, 10);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = dir.path().join("c.json");
    let started = Instant::now();
    let o = capacity(&log, &format!("http://127.0.0.1:{port}"), &out);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let r = read_json(&out);
    crate::common::conforms::<simulate_replay::capacity::CapacityReport>(&r, "capacity.v1.json");
    assert_eq!(r["levels"].as_array().unwrap().len(), 1);
    assert!(
        r["verdict"].as_str().unwrap().contains("down"),
        "{}",
        r["verdict"]
    );
}

/// Answers 200 to its first `good` requests, then 500 to every one.
fn failing_after(good: usize) -> Limited {
    let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = Router::new().fallback(move || {
        let seen = Arc::clone(&seen);
        async move {
            match seen.fetch_add(1, Ordering::SeqCst) < good {
                true => StatusCode::OK,
                false => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }
    });
    rt.spawn(async move { axum::serve(listener, app).await });
    Limited { addr, _rt: rt }
}

#[test]
fn a_level_stopped_early_reports_its_rate_over_the_time_it_ran() {
    // 100/s: 1 s of warm-up, 4 s planned; the server fails from its 250th request (1.5 s
    // into the measured stage), errors<1% stops the level soon after. Its achieved rate
    // is over the ~2 s it ran (about 100/s), not over the 4 s planned (about 50/s).
    let dir = tempfile::tempdir().unwrap();
    let log = even_log(dir.path(), 3000, 10);
    let server = failing_after(250);
    let out = dir.path().join("c.json");
    let o = bin()
        .args(["capacity", "--from-log"])
        .arg(&log)
        .args(["--target", &format!("http://{}", server.addr), "-q"])
        .args(["--from", "100/s", "--step-duration", "4s", "--warmup", "1s"])
        .args(["--threshold", "errors<1%", "--summary-export"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let r = read_json(&out);
    let l = &r["levels"][0];
    assert_eq!(l["held"], false, "{stdout}");
    let requests = l["requests"].as_f64().unwrap();
    let achieved = l["achieved_per_s"].as_f64().unwrap();
    assert!(requests < 4.0 * 100.0 * 0.8, "it stopped early: {l}");
    assert!(
        (75.0..=110.0).contains(&achieved),
        "achieved {achieved}/s over the time it ran, not {}/s over 4 s: {l}",
        requests / 4.0
    );
    // The table shows the same figure.
    assert!(stdout.contains(&format!("{achieved:.1}")), "{stdout}");
}

/// `--from class:api=…`: the levels count the API requests alone, as `replay --rate
/// class:api=…` does; the events the same users send follow at the factor that sets, and
/// a level's figures are the API requests'.
#[test]
fn a_class_led_capacity_counts_that_classs_requests_alone() {
    let dir = tempfile::tempdir().unwrap();
    // One API request for every three events, 10 ms apart.
    let mut text = String::new();
    for i in 0..4000 {
        let event = if i % 4 == 0 {
            "goal.claimed"
        } else {
            "stat.updated"
        };
        text.push_str(&format!(
            "{{\"v\":1,\"ts\":\"2026-01-05T00:00:00.000Z\",\"t_ms\":{},\"user_id\":\"u{i}\",\"persona\":\"gamer\",\"session_id\":\"s{i}-1\",\"seq\":0,\"event\":\"{event}\",\"props\":{{}}}}\n",
            i * 10
        ));
    }
    let log = dir.path().join("mixed.jsonl");
    std::fs::write(&log, text).unwrap();
    let mapping = dir.path().join("m.toml");
    std::fs::write(
        &mapping,
        "[[request]]\nevent = \"goal.claimed\"\npath = \"/claim\"\nclass = \"api\"\n\n[[request]]\nevent = \"stat.updated\"\npath = \"/events\"\nclass = \"event\"\n",
    )
    .unwrap();
    let server = limited(64, Duration::from_millis(1), 128);
    let out = dir.path().join("c.json");
    let o = bin()
        .args(["capacity", "--from-log"])
        .arg(&log)
        .arg("--mapping")
        .arg(&mapping)
        .args(["--target", &format!("http://{}", server.addr), "-q"])
        .args([
            "--from",
            "class:api=50/s",
            "--max-rate",
            "100/s",
            "--step",
            "2x",
        ])
        .args(["--step-duration", "2s", "--warmup", "1s"])
        .args(["--threshold", "errors<1%"])
        .arg("--summary-export")
        .arg(&out)
        .output()
        .unwrap();
    let r = report_of(&o, &out);
    assert_eq!(r["counted"], "requests of class api");
    assert_eq!(r["highest_held"].as_f64(), Some(100.0));
    assert!(
        r["verdict"]
            .as_str()
            .unwrap()
            .contains("holds 100/s of requests of class api"),
        "{r}"
    );
    let levels = r["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2, "{r}");
    for l in levels {
        // 2 s measured at the level's rate of API requests: the events are not counted.
        let (rate, n) = (l["rate"].as_f64().unwrap(), l["requests"].as_f64().unwrap());
        assert!((n - 2.0 * rate).abs() <= 0.15 * 2.0 * rate, "{l}");
    }
    // A class no request has is refused before any level, naming the ones there are.
    let o = bin()
        .args(["capacity", "--from-log"])
        .arg(&log)
        .arg("--mapping")
        .arg(&mapping)
        .args([
            "--target",
            "http://127.0.0.1:9",
            "-q",
            "--from",
            "class:apis=50/s",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a request class"));
}
