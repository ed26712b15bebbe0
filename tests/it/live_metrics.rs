//! `--metrics-addr`: a real Prometheus (Debian's `prometheus`; scripts/ensure-prometheus.sh
//! installs it and scripts/test.sh exports SIMULATE_TEST_PROMETHEUS) scrapes a replay
//! every second and is asked through its HTTP API what it stored; the Grafana dashboard
//! and docs/METRICS.md name only families the exporter serves; `run` serves its progress.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{bin, read_json};
use crate::replay::Server;

/// Prometheus: `SIMULATE_TEST_PROMETHEUS`, else Debian's path; missing, the test fails.
fn prometheus() -> PathBuf {
    crate::common::required_program(
        "SIMULATE_TEST_PROMETHEUS",
        &["/usr/bin/prometheus"],
        "Prometheus for the metrics tests",
        "scripts/ensure-prometheus.sh",
    )
}

/// A loopback port free now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `GET path` on `127.0.0.1:port`: the body of a 200, else `None`.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// Kills the child (a server this test started) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Prometheus on a free port scraping `127.0.0.1:target` every second.
fn start_prometheus(dir: &Path, target: u16) -> (Killed, u16) {
    let port = free_port();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: simulate\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(prometheus())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus starts");
    let child = Killed(child);
    // Ready, and it has tried the target once (found down: nothing listens yet), so
    // scrapes go every second from now (Prometheus applies new targets up to 5 s late).
    let t0 = Instant::now();
    let tried = |page: String| page.contains("\"health\":\"down\"");
    while !get(port, "/api/v1/targets").is_some_and(tried) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "Prometheus not scraping"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, port)
}

/// One number from Prometheus' query API.
fn query(port: u16, promql: &str) -> f64 {
    let q: String = url::form_urlencoded::byte_serialize(promql.as_bytes()).collect();
    let body = get(port, &format!("/api/v1/query?query={q}")).expect("query answered");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "success", "{body}");
    let result = &v["data"]["result"][0]["value"][1];
    result
        .as_str()
        .unwrap_or_else(|| panic!("{promql}: no value in {body}"))
        .parse()
        .unwrap()
}

/// A short staged replay to `server` serving metrics on `port`, lingering `linger`.
fn replay(server: &Server, port: u16, linger: &str, summary: &Path) -> Command {
    let mut c = bin();
    c.args(["replay", "--users", "auto", "-q", "--target", &server.url()])
        .args(["--stages", "hold=2s:150/s, ramp=2s:150..50/s"])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .args(["--metrics-linger", linger, "--summary-export"])
        .arg(summary);
    c
}

#[test]
fn prometheus_scraping_a_replay_stores_the_summarys_counts() {
    let dir = tempfile::tempdir().unwrap();
    let target = free_port();
    let (_prom, prom) = start_prometheus(dir.path(), target);
    let server = Server::start(None);
    let summary = dir.path().join("s.json");
    let o = replay(&server, target, "3s", &summary).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = read_json(&summary);
    let ended = s["totals"]["ok"].as_u64().unwrap() + s["totals"]["errors"].as_u64().unwrap();
    assert!(ended > 200, "{ended}");
    // The target is gone now: its series are stale, so the last value of the window.
    let stored = |metric: &str| query(prom, &format!("sum(max_over_time({metric}[5m]))"));
    assert_eq!(stored("simulate_replay_requests_total"), ended as f64);
    assert_eq!(
        stored("simulate_replay_latency_seconds_count"),
        ended as f64
    );
    assert_eq!(
        stored("simulate_replay_service_seconds_count"),
        ended as f64
    );
    let sent = s["totals"]["sent"].as_u64().unwrap() as f64;
    assert_eq!(stored("simulate_replay_sent_total"), sent);
    let errors = "sum(max_over_time(simulate_replay_errors_total[5m])) or vector(0)";
    assert_eq!(query(prom, errors), 0.0);
    // The stages were seen by name while they played.
    for stage in ["hold", "ramp"] {
        let seen =
            format!("count(count_over_time(simulate_replay_stage{{stage=\"{stage}\"}}[5m]))");
        assert_eq!(query(prom, &seen), 1.0, "{stage}");
    }
}

/// Every metric name in `text` (a PromQL expression): `simulate_…` identifiers.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("simulate_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// The families a page serves (`# TYPE name type`), histograms' series names added.
fn served(page: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for l in page.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.insert(name.to_string());
            if kind == "histogram" {
                for s in ["_bucket", "_sum", "_count"] {
                    out.insert(format!("{name}{s}"));
                }
            }
        }
    }
    out
}

/// Polls `/metrics` on `port` until `child` exits; the last page read (the linger keeps
/// it up after the end, so that page holds the final counts).
fn last_page(mut child: Child, port: u16) -> (String, std::process::ExitStatus) {
    let mut last = String::new();
    loop {
        if let Some(page) = get(port, "/metrics") {
            last = page;
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (last, status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_dashboard_and_the_docs_name_only_metrics_the_replay_serves() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(None);
    let port = free_port();
    let summary = dir.path().join("s.json");
    let child = replay(&server, port, "1s", &summary).spawn().unwrap();
    let (page, status) = last_page(child, port);
    assert!(status.success());
    let served = served(&page);
    assert!(served.contains("simulate_replay_in_flight"), "{page}");

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let board: Value = read_json(&root.join("deploy/grafana/simulate-replay.json"));
    let mut exprs = Vec::new();
    collect_exprs(&board, &mut exprs);
    assert!(exprs.len() >= 8, "{} queries", exprs.len());
    let used: BTreeSet<String> = exprs.iter().flat_map(|e| names_in(e)).collect();
    let unknown: Vec<&String> = used.difference(&served).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries {unknown:?}, not served"
    );

    let doc = std::fs::read_to_string(root.join("docs/METRICS.md")).unwrap();
    let documented = names_in(&doc);
    let families = served
        .iter()
        .filter(|n| !n.ends_with("_bucket") && !n.ends_with("_sum"));
    for f in families.filter(|n| !n.ends_with("_count") || n.ends_with("_total")) {
        assert!(
            documented.contains(f),
            "{f} is served but not in docs/METRICS.md"
        );
    }
}

/// Every `expr` string in a dashboard.
fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

#[test]
fn run_serves_its_events_and_progress_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = dir.path().join("run");
    let child = bin()
        .args([
            "run", "--users", "2000", "--days", "3", "-q", "--format", "none",
        ])
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .args(["--metrics-linger", "1s", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (page, status) = last_page(child, port);
    assert!(status.success());
    let record = read_json(&out.join("run.json"));
    let value = |name: &str| -> f64 {
        let line = page.lines().find(|l| l.starts_with(&format!("{name} ")));
        line.unwrap_or_else(|| panic!("{name} not in\n{page}"))
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        value("simulate_run_events_total"),
        record["counts"]["events"].as_f64().unwrap()
    );
    assert_eq!(value("simulate_run_progress_ratio"), 1.0);
    let users = value("simulate_run_users");
    assert!(users >= 2000.0, "{users}");
    // Over the run, not over the run and the linger after it (read during the linger, a
    // rate still falling with the wall clock was a tenth of the run's).
    let rate = value("simulate_run_events_per_second");
    let recorded = record["events_per_second"].as_f64().unwrap();
    assert!(
        rate >= 0.3 * recorded && rate <= 1.05 * recorded,
        "{rate} against run.json's {recorded}"
    );
}
