//! The HTML reports loaded in a real browser: headless Chromium (scripts/ensure-chromium.sh
//! installs Debian's `chromium`; scripts/test.sh exports its path as
//! SIMULATE_TEST_CHROMIUM). Each report must load with no console message (no script,
//! nothing fetched: its Content-Security-Policy turns a fetch into one), list every chart
//! with as many points as its JSON series after the stated downsampling, and print the
//! figures its JSON holds. Screenshots are kept under target/tmp as artifacts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{bin, read_json};

/// The browser: `SIMULATE_TEST_CHROMIUM`, else Debian's path. Missing, the test fails:
/// CI must run it (scripts/test.sh installs the browser first).
fn chromium() -> PathBuf {
    crate::common::required_program(
        "SIMULATE_TEST_CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        "Chromium for the report tests",
        "scripts/ensure-chromium.sh",
    )
}

/// Runs headless Chromium on `page` with `extra` flags; returns stdout and the log.
fn browse(page: &Path, extra: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let log_reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium took over 30 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (reader.join().unwrap(), log_reader.join().unwrap())
}

/// What the browser made of a report: its DOM and the console messages it logged. A
/// screenshot goes to target/tmp/<name>.png.
struct Loaded {
    dom: String,
    console: Vec<String>,
}

fn load(page: &Path, name: &str) -> Loaded {
    let (dom, log) = browse(page, &["--dump-dom".to_string()]);
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    browse(
        page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,3600".to_string(),
            "--hide-scrollbars".to_string(),
        ],
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a screenshot with something drawn: {} bytes",
        png.len()
    );
    Loaded { dom, console }
}

/// One start tag of the DOM: its name, attributes, and where its content starts.
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    inner: usize,
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every start tag (Chromium writes attributes double-quoted).
fn elements(dom: &str) -> Vec<El> {
    let b = dom.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = dom[i..].find('<') {
        i += off + 1;
        if i >= b.len() || !b[i].is_ascii_alphabetic() {
            continue;
        }
        let name_end = dom[i..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .map_or(b.len(), |e| i + e);
        let name = dom[i..name_end].to_string();
        let mut attrs = BTreeMap::new();
        let mut j = name_end;
        loop {
            while j < b.len() && (b[j] as char).is_whitespace() {
                j += 1;
            }
            if j >= b.len() || b[j] == b'>' || b[j] == b'/' {
                break;
            }
            let key_end = dom[j..]
                .find(|c: char| c == '=' || c.is_whitespace() || c == '>')
                .map_or(b.len(), |e| j + e);
            let key = dom[j..key_end].to_string();
            j = key_end;
            let mut value = String::new();
            if j < b.len() && b[j] == b'=' && b.get(j + 1) == Some(&b'"') {
                let end = dom[j + 2..].find('"').map_or(b.len(), |e| j + 2 + e);
                value = unescape(&dom[j + 2..end]);
                j = end + 1;
            }
            attrs.insert(key, value);
        }
        let inner = dom[j..].find('>').map_or(b.len(), |e| j + e + 1);
        out.push(El { name, attrs, inner });
        i = inner;
    }
    out
}

/// Each drawn series by `data-series`: its `data-points`, and the points really drawn
/// (the polyline's coordinate pairs, or the `pt` shapes inside its group).
fn series(dom: &str) -> BTreeMap<String, (usize, usize)> {
    let mut out = BTreeMap::new();
    for el in elements(dom) {
        let Some(id) = el.attrs.get("data-series") else {
            continue;
        };
        let stated: usize = el.attrs["data-points"].parse().expect("data-points");
        let drawn = if el.name == "polyline" {
            el.attrs["points"].split_whitespace().count()
        } else {
            let end = dom[el.inner..].find("</g>").expect("closed group") + el.inner;
            dom[el.inner..end].matches("class=\"pt\"").count()
        };
        assert!(
            out.insert(id.clone(), (stated, drawn)).is_none(),
            "series {id} twice"
        );
    }
    out
}

fn charts(dom: &str) -> Vec<String> {
    elements(dom)
        .into_iter()
        .filter_map(|e| e.attrs.get("data-chart").cloned())
        .collect()
}

/// Every headline figure's value equals the JSON's at its path, and its text shows it.
fn figures_match(dom: &str, doc: &Value) -> usize {
    let mut n = 0;
    for el in elements(dom) {
        let Some(id) = el.attrs.get("data-figure") else {
            continue;
        };
        let pointer = format!("/{}", id.replace('.', "/"));
        let want = doc
            .pointer(&pointer)
            .unwrap_or_else(|| panic!("{id} in the JSON"));
        let got: Value = serde_json::from_str(&el.attrs["data-value"]).expect("data-value");
        assert_eq!(&got, want, "figure {id}");
        let text = &dom[el.inner..];
        let text = &text[text.find("class=\"v\">").unwrap() + 10..];
        let text = unescape(&text[..text.find('<').unwrap()]);
        shown_equals(id, &text, want, &el.attrs["data-format"]);
        n += 1;
    }
    n
}

fn shown_equals(id: &str, text: &str, want: &Value, format: &str) {
    let Some(v) = want.as_f64() else {
        assert!(
            text.starts_with("n/a"),
            "{id}: null shows as n/a, not {text}"
        );
        return;
    };
    let digits: String = text
        .replace('\u{202f}', "")
        .replace('−', "-")
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    let shown: f64 = digits.parse().unwrap_or_else(|_| panic!("{id}: {text}"));
    let (value, tolerance) = match format {
        "pct" => (shown / 100.0, 0.0005),
        "money" => (shown * 100.0, 0.5),
        "int" => (shown, 0.0),
        "dec" => (shown, 0.005),
        "ms" => (shown, 0.0005),
        f => panic!("{id}: unknown format {f}"),
    };
    assert!(
        (value - v).abs() <= tolerance + 1e-9,
        "{id}: shows {text}, JSON holds {v}"
    );
}

/// `n` points cut to the cap of 1,000 by runs of ⌈n / 1000⌉ (docs/METRICS.md, "Report").
fn capped(n: usize) -> usize {
    let k = n.div_ceil(1000).max(1);
    n.div_ceil(k)
}

#[test]
fn a_run_report_draws_every_chart_from_metrics_json_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = bin()
        .args([
            "run", "--users", "400", "--span", "3d", "--format", "none", "-q",
        ])
        // 4,320 one-minute buckets: drawn in runs of 5.
        .args(["--resolution", "1m"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("report.html"));
    let doc = read_json(&out.join("metrics.json"));
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "no script in the report");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing to fetch"
    );

    let loaded = load(&page, "report-run");
    assert!(loaded.console.is_empty(), "console: {:?}", loaded.console);
    let charts = charts(&loaded.dom);
    for want in [
        "dau",
        "hourly",
        "retention-cohorts",
        "retention-personas",
        "funnel",
        "persona-mix",
        "revenue",
        "points",
        "activity-series",
        "events-series",
        "retention-curve",
        "persona-payers",
    ] {
        assert!(
            charts.iter().any(|c| c == want),
            "chart {want} in {charts:?}"
        );
    }
    let series = series(&loaded.dom);
    for (id, (stated, drawn)) in &series {
        assert_eq!(stated, drawn, "{id}: data-points against what is drawn");
    }
    let days = doc["engagement"]["days"].as_array().unwrap().len();
    let cohort_cells: usize = doc["retention"]["by_cohort"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["active_share_by_day"].as_array().unwrap().len())
        .sum();
    let personas = doc["personas"].as_object().unwrap();
    let persona_cells: usize = personas
        .values()
        .map(|p| p["retention_curve"].as_array().unwrap().len())
        .sum();
    let buckets = doc["series"]["buckets"].as_array().unwrap().len();
    assert_eq!(buckets, 4320);
    let want = [
        ("dau", capped(days)),
        ("wau", capped(days)),
        ("series-active-users", 864),
        ("series-sessions-open", capped(buckets)),
        ("series-events", capped(buckets)),
        ("points-earned", capped(buckets)),
        ("revenue", capped(buckets)),
        ("series-conversions", capped(buckets)),
        (
            "retention-curve",
            doc["retention"]["curve"].as_array().unwrap().len(),
        ),
        ("persona-payers", personas.len()),
        ("hourly-actual", 24),
        (
            "hourly-configured",
            doc["events"]["hourly_weights"].as_array().unwrap().len(),
        ),
        ("retention-cohorts", cohort_cells),
        ("retention-personas", persona_cells),
        ("funnel", 5),
        ("persona-mix", personas.len()),
    ];
    for (id, n) in want {
        assert_eq!(series.get(id).map(|s| s.0), Some(n), "series {id}");
    }
    assert!(figures_match(&loaded.dom, &doc) >= 10);
    let activity = elements(&loaded.dom)
        .into_iter()
        .find(|e| e.attrs.get("data-chart").map(String::as_str) == Some("activity-series"))
        .unwrap();
    assert_eq!(activity.attrs["data-stride"], "5");
    assert_eq!(activity.attrs["data-source-points"], "4320");
    // The same documents give the same page: nothing from the wall clock.
    let again = dir.path().join("again");
    let o = bin()
        .args([
            "run", "--users", "400", "--span", "3d", "--format", "none", "-q",
        ])
        .args(["--resolution", "1m", "--threads", "1", "--out"])
        .arg(&again)
        .output()
        .expect("runs");
    assert!(o.status.success());
    assert_eq!(
        std::fs::read_to_string(again.join("report.html")).unwrap(),
        html
    );
}

/// A target that answers every tenth request 503 and reads in about 20 ms.
fn flaky_target() -> (tokio::runtime::Runtime, String) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (rt, listener) = crate::common::server_runtime(2, "127.0.0.1:0");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let n = count.fetch_add(1, Ordering::Relaxed);
        async move {
            if uri.path().starts_with("/v1/challenges") {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if n % 10 == 9 {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            } else {
                axum::http::StatusCode::OK
            }
        }
    });
    rt.spawn(async move { axum::serve(listener, app).await });
    (rt, url)
}

/// Reads (`challenge.viewed`) and writes (the rest) under two request tags.
const MAPPING: &str = r#"
timeout = "2s"
server_side = ["nudge.sent", "goal.completed", "user.churned"]

[[request]]
events = ["challenge.viewed"]
method = "GET"
path = "/v1/challenges/{user_id}"
kind = "read"

[[request]]
events = [
  "user.signed_up", "session.started", "session.ended", "user.logged_in",
  "nudge.opened", "points.earned", "points.redeemed", "stat.updated", "goal.claimed",
  "gift.created", "gift.claimed", "checkin.created", "purchase.completed",
  "profile.updated", "user.invited",
]
method = "POST"
path = "/v1/events/{event}"
body = "{line}"
headers = { content-type = "application/json" }
kind = "write"
"#;

/// Series the replay report draws, by `data-series`, and how many points each must have.
fn replay_expectations(s: &Value) -> Vec<(String, usize)> {
    let seconds = s["series"].as_array().unwrap().len();
    let detail = s["over_time"]["seconds"].as_array().unwrap();
    let lags = capped_present(detail.iter().map(|d| !d["lag_p99_ms"].is_null()));
    let mut want = vec![
        ("rate-scheduled".to_string(), capped(seconds)),
        ("rate-sent".into(), capped(seconds)),
        ("rate-completed".into(), capped(seconds)),
        ("errors-total".into(), capped(seconds)),
        ("in-flight".into(), capped(detail.len())),
        (
            "sessions-open".into(),
            capped_present(
                s["series"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| !x["sessions_open"].is_null()),
            ),
        ),
        ("lag-p99".into(), lags),
    ];
    for track in s["over_time"]["latency"].as_array().unwrap() {
        let id = format!(
            "latency-{}-{}",
            track["protocol"].as_str().unwrap(),
            track["tag"].as_str().unwrap()
        );
        let n = capped(track["points"].as_array().unwrap().len());
        for p in ["p50", "p95", "p99"] {
            want.push((format!("{id}-{p}"), n));
        }
    }
    want
}

/// Points left of a series with gaps: runs of ⌈n / 1000⌉ with at least one value.
fn capped_present(present: impl Iterator<Item = bool>) -> usize {
    let v: Vec<bool> = present.collect();
    let k = v.len().div_ceil(1000).max(1);
    v.chunks(k).filter(|run| run.iter().any(|p| *p)).count()
}

fn assert_replay_report(page: &Path, s: &Value, name: &str) -> Loaded {
    let loaded = load(page, name);
    assert!(loaded.console.is_empty(), "console: {:?}", loaded.console);
    let charts = charts(&loaded.dom);
    for want in ["rate", "errors", "in-flight", "sessions", "lag"] {
        assert!(
            charts.iter().any(|c| c == want),
            "chart {want} in {charts:?}"
        );
    }
    let series = series(&loaded.dom);
    for (id, (stated, drawn)) in &series {
        assert_eq!(stated, drawn, "{id}: data-points against what is drawn");
    }
    for (id, n) in replay_expectations(s) {
        assert_eq!(series.get(&id).map(|s| s.0), Some(n), "series {id}");
    }
    assert!(figures_match(&loaded.dom, s) >= 10);
    loaded
}

#[test]
fn a_replay_report_draws_rates_latency_failures_and_verdicts_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let (_rt, url) = flaky_target();
    let mapping = dir.path().join("m.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    let (summary, page) = (
        dir.path().join("s.json"),
        dir.path().join("out/replay.html"),
    );
    // 8h..11h of a 300-user day in 3 s of wall time.
    let o = bin()
        .args([
            "replay", "--users", "300", "--days", "1", "--window", "8h..11h",
        ])
        .args(["--compress", "3h:3s", "-q", "--target", &url, "--mapping"])
        .arg(&mapping)
        .args([
            "--threshold",
            "errors<50%",
            "--threshold",
            "p95{kind:read}<1ms",
        ])
        .arg("--summary-export")
        .arg(&summary)
        .arg("--report")
        .arg(&page)
        .output()
        .expect("runs");
    assert_eq!(
        o.status.code(),
        Some(99),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("report: "));
    let s = read_json(&summary);
    crate::common::conforms::<simulate_replay::summary::Summary>(&s, "replay-summary.v1.json");
    let tracks = s["over_time"]["latency"].as_array().unwrap();
    let tags: Vec<&str> = tracks.iter().map(|t| t["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["read", "write"], "one latency track per tag");
    let failed: u64 = s["over_time"]["seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["errors"]["status 503"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        failed,
        s["totals"]["errors"].as_u64().unwrap(),
        "errors by class add up"
    );
    assert!(failed > 0);

    let loaded = assert_replay_report(&page, &s, "report-replay");
    let charts = charts(&loaded.dom);
    assert!(charts.iter().any(|c| c == "latency-http-read"));
    assert!(charts.iter().any(|c| c == "latency-http-write"));
    let series = series(&loaded.dom);
    assert!(
        series.contains_key("errors-status 503"),
        "{:?}",
        series.keys()
    );
    // Both verdicts, as the summary has them.
    let rows: Vec<String> = elements(&loaded.dom)
        .into_iter()
        .filter(|e| e.name == "tr")
        .filter_map(|e| e.attrs.get("class").cloned())
        .filter(|c| c == "pass" || c == "fail")
        .collect();
    assert_eq!(rows, ["pass", "fail"]);
}

/// A long replay (2,500 s) as a summary: its series cut to the cap in the browser.
#[test]
fn long_series_are_downsampled_to_the_stated_cap_in_chromium() {
    use simulate_replay::summary::{LatencyPoint, LatencyTrack, Second, SecondDetail, Summary};
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/replay-summary.json");
    let mut s: Summary = serde_json::from_value(read_json(&template)).expect("a summary");
    let n = 2500u64;
    s.series = (0..n)
        .map(|t| Second {
            t_s: t,
            scheduled: 100 + (t % 60) as u32,
            skipped: 3,
            sent: 100,
            completed: 99,
            errors: (t % 7 == 0) as u32,
            p95_ms: Some(12.0),
            sim_ms: None,
            factor: None,
            target_per_s: None,
            sessions_open: Some(40 + t % 5),
        })
        .collect();
    s.over_time.seconds = (0..n)
        .map(|t| SecondDetail {
            t_s: t,
            in_flight_peak: (t % 50) as u32,
            sockets_open: None,
            lag_p99_ms: (t % 2 == 0).then_some(0.4),
            lag_max_ms: (t % 2 == 0).then_some(0.9),
            errors: [("timeout".to_string(), (t % 7 == 0) as u32)].into(),
        })
        .collect();
    s.over_time.latency = vec![LatencyTrack {
        protocol: "http".into(),
        tag: "event".into(),
        points: (0..n)
            .map(|t| LatencyPoint {
                t_s: t,
                count: 99,
                p50_ms: 3.0,
                p95_ms: 9.0 + (t % 10) as f64,
                p99_ms: 20.0,
            })
            .collect(),
    }];
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("long.html");
    std::fs::write(&page, simulate::report::replay::render(&s)).unwrap();
    let doc = serde_json::to_value(&s).unwrap();
    let loaded = assert_replay_report(&page, &doc, "report-long");
    let series = series(&loaded.dom);
    assert_eq!(series["rate-sent"].0, 834, "2,500 points in runs of 3");
    // Lag exists every other second: the last run (second 2499 alone) has none.
    assert_eq!(series["lag-p99"].0, 833);
    let rate = elements(&loaded.dom)
        .into_iter()
        .find(|e| e.attrs.get("data-chart").map(String::as_str) == Some("rate"))
        .unwrap();
    assert_eq!(rate.attrs["data-cap"], "1000");
    assert_eq!(rate.attrs["data-stride"], "3");
    assert_eq!(rate.attrs["data-source-points"], "2500");
    assert!(
        loaded
            .dom
            .contains("Downsampled to at most 1000 points per series")
    );
}

#[test]
fn a_report_path_that_is_a_folder_is_refused_before_any_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["replay", "--users", "20", "--span", "2h", "-q"])
        .args(["--target", "http://127.0.0.1:9", "--report"])
        .arg(dir.path())
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is a folder; nothing was sent") && err.contains("replay.html"),
        "{err}"
    );
}
