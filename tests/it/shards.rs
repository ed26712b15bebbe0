//! `replay --shard I/N` and `report merge`: three shards run as child processes with the
//! environment a Kubernetes Indexed Job's pod gets, against a real axum server, add up to
//! one process; the merge judges thresholds over the whole and refuses what is not one
//! run's shards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use serde_json::Value;

use crate::common::{bin, read_json as json};

/// A server that records every `x-sim-event` and fails the requests of users whose number
/// is a multiple of 7 (about 14 % of the users, on every shard).
struct Server {
    url: String,
    ids: Arc<Mutex<Vec<String>>>,
    _rt: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Server {
        let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
        let ids: Arc<Mutex<Vec<String>>> = Arc::default();
        async fn answer(State(ids): State<Arc<Mutex<Vec<String>>>>, h: HeaderMap) -> StatusCode {
            let id = h
                .get("x-sim-event")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let user: u64 = id
                .trim_start_matches('u')
                .split('/')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            ids.lock().unwrap().push(id);
            if user.is_multiple_of(7) {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new().fallback(answer).with_state(Arc::clone(&ids));
        rt.spawn(async move { axum::serve(listener, app).await });
        Server { url, ids, _rt: rt }
    }

    /// The ids received since the last call, sorted.
    fn take(&self) -> Vec<String> {
        let mut v = std::mem::take(&mut *self.ids.lock().unwrap());
        v.sort();
        v
    }
}

/// The world and pace every run here shares: 400 users, 4 h of a day in 2 s.
fn replay(url: &str, summary: &Path) -> std::process::Command {
    let mut c = bin();
    c.args([
        "replay", "--users", "400", "--days", "1", "--window", "8h..12h",
    ])
    .args([
        "--compress",
        "4h:2s",
        "-q",
        "--target",
        url,
        "--summary-export",
    ])
    .arg(summary)
    .env_remove("SIMULATE_SHARD")
    .env_remove("JOB_COMPLETION_INDEX");
    c
}

/// An RFC 3339 instant `secs` from now.
fn in_secs(secs: i64) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    jiff::Timestamp::from_second(now + secs)
        .unwrap()
        .to_string()
}

fn merge(files: &[&Path], more: &[&str]) -> std::process::Output {
    bin()
        .args(["report", "merge"])
        .args(files)
        .args(more)
        .output()
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn three_shards_send_what_one_process_sends_and_merge_judges_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let one = dir.path().join("one.json");
    let o = replay(&server.url, &one)
        .arg("--no-default-threshold")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let whole = server.take();
    assert!(whole.len() > 300, "a busy enough window: {}", whole.len());
    let total = whole.len();

    // Three pods of an Indexed Job: the same flags, JOB_COMPLETION_INDEX 0..2, one start.
    let start = in_secs(2);
    let files: Vec<PathBuf> = (1..=3)
        .map(|i| dir.path().join(format!("shard-{i}.json")))
        .collect();
    let children: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            replay(&server.url, f)
                .args(["--shard-count", "3", "--start-at", &start])
                .args(["--threshold", &format!("requests>={total}")])
                .env("JOB_COMPLETION_INDEX", i.to_string())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        // Each shard alone sends a third of the requests: the count fails on each.
        assert_eq!(o.status.code(), Some(99), "shard {}: {}", i + 1, text(&o));
    }
    let sharded = server.take();
    assert_eq!(
        sharded, whole,
        "the shards sent each request of one process once"
    );

    let shards: Vec<Value> = files.iter().map(|f| json(f)).collect();
    for s in &shards {
        let sent = s["totals"]["sent"].as_u64().unwrap();
        assert!(
            sent > total as u64 / 6 && sent < total as u64 / 2,
            "balanced: {sent} of {total}"
        );
        assert!(
            s["late_start_ms"].as_f64().unwrap() < 1500.0,
            "started together"
        );
        crate::common::conforms::<simulate_replay::summary::Summary>(s, "replay-summary.v1.json");
    }

    // The recorded count threshold passes over the whole.
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let all = dir.path().join("out/all.json");
    let report = dir.path().join("out/all.html");
    let o = merge(
        &refs,
        &[
            "--summary-export",
            all.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let m = json(&all);
    let single = json(&one);
    crate::common::conforms::<simulate_replay::summary::Summary>(&m, "replay-summary.v1.json");
    for k in [
        "scheduled",
        "sent",
        "ok",
        "errors",
        "scheduled_requests",
        "server_side",
    ] {
        assert_eq!(m["totals"][k], single["totals"][k], "totals.{k}");
    }
    assert_eq!(m["skipped"], single["skipped"]);
    merged_rates_are_one_processs(&refs, (&m, &single), &o);
    assert_eq!(m["merged"]["shards"], 3);
    assert!(m.get("shard").is_none());
    assert_eq!(m["thresholds"][0]["ok"], true, "{}", m["thresholds"]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg"));
    assert!(
        html.contains("merged from 3 shards"),
        "the report says it is a merge"
    );
    assert!(html.contains("merged.inexact"));
    let groups = |s: &Value| -> BTreeMap<String, u64> {
        s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["tags"].to_string(), g["count"].as_u64().unwrap()))
            .collect()
    };
    assert_eq!(groups(&m), groups(&single), "every group's count adds up");
    merged_percentiles_are_those_of_all_samples(&shards, &m);

    errors_fail_over_the_whole_only(&shards, &m, &refs);
    refusals(dir.path(), &files, &one);
}

/// About 14 % of the users fail on every shard: a count that no shard reaches alone, and
/// a rate, fail over the whole only.
fn errors_fail_over_the_whole_only(shards: &[Value], m: &Value, refs: &[&Path]) {
    let most = shards
        .iter()
        .map(|s| s["totals"]["errors"].as_u64().unwrap())
        .max()
        .unwrap();
    let errors = m["totals"]["errors"].as_u64().unwrap();
    assert!(errors > most, "errors on more than one shard");
    let count = format!("errors<{}", most + 1);
    let o = merge(refs, &["--threshold", &count, "--threshold", "errors<5%"]);
    assert_eq!(o.status.code(), Some(99), "{}", text(&o));
    assert!(text(&o).contains("2 threshold(s) failed"), "{}", text(&o));
}

/// The rates are over the union of the shards' spans on the shared clock: those of one
/// process, within the jitter of two runs' last sends; `rps` judges them so; the merge's
/// output says it is a merge and what is inexact.
fn merged_rates_are_one_processs(
    refs: &[&Path],
    (m, single): (&Value, &Value),
    o: &std::process::Output,
) {
    for k in ["scheduled_per_s", "achieved_per_s"] {
        let (got, want) = (
            m["totals"][k].as_f64().unwrap(),
            single["totals"][k].as_f64().unwrap(),
        );
        assert!(
            (got - want).abs() <= want * 0.05,
            "totals.{k}: merged {got}, one process {want}"
        );
    }
    assert!(
        m["totals"]["achieved_per_s"].as_f64() <= m["totals"]["scheduled_per_s"].as_f64(),
        "{}",
        m["totals"]
    );
    // `rps` judges the whole's rate as one process's: passes just under, fails just over.
    let rps = single["totals"]["achieved_per_s"].as_f64().unwrap();
    let (under, over) = (
        format!("rps>{:.1}", rps * 0.93),
        format!("rps>{:.1}", rps * 1.07),
    );
    let judged = merge(refs, &["--threshold", &under]);
    assert_eq!(judged.status.code(), Some(0), "{}", text(&judged));
    let judged = merge(refs, &["--threshold", &over]);
    assert_eq!(judged.status.code(), Some(99), "{}", text(&judged));
    let merged_out = text(o);
    assert!(merged_out.contains("merged from 3 shards"), "{merged_out}");
    assert!(merged_out.contains("merged.inexact"), "{merged_out}");
}

/// The merged histogram is the histogram of every shard's samples: its percentiles are
/// those of one histogram recorded from all of them, within HDR precision.
fn merged_percentiles_are_those_of_all_samples(shards: &[Value], merged: &Value) {
    let decode = |s: &Value| -> Histogram<u64> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.as_str().unwrap())
            .unwrap();
        Deserializer::new().deserialize(&mut &bytes[..]).unwrap()
    };
    let mut all = Histogram::<u64>::new(3).unwrap();
    for s in shards {
        for v in decode(&s["overall"]["histograms"]["latency"]).iter_recorded() {
            all.record_n(v.value_iterated_to(), v.count_at_value())
                .unwrap();
        }
    }
    let m = &merged["overall"];
    assert_eq!(decode(&m["histograms"]["latency"]).len(), all.len());
    assert_eq!(m["count"].as_u64(), Some(all.len()));
    for (q, key) in [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")] {
        let want = all.value_at_quantile(q) as f64 / 1000.0;
        let got = m["latency_ms"][key].as_f64().unwrap();
        assert!(
            (got - want).abs() <= want * 0.002 + 0.002,
            "{key}: {got} vs {want}"
        );
    }
}

/// `report merge` refuses summaries of other runs, a missing and a duplicated shard, and
/// one process's summary; `--shard` itself refuses nonsense before any traffic.
fn refusals(dir: &Path, files: &[PathBuf], one: &Path) {
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let o = merge(&refs[..2], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("shard 3/3 missing"), "{}", text(&o));
    let o = merge(&[refs[0], refs[1], refs[1], refs[2]], &[]);
    assert!(
        text(&o).contains("shard 2/3 is given twice"),
        "{}",
        text(&o)
    );
    let o = merge(&[refs[0], one], &[]);
    assert!(text(&o).contains("not a shard's summary"), "{}", text(&o));
    // An output naming an input is refused before anything is written.
    let before = std::fs::read(&files[1]).unwrap();
    let o = merge(&refs, &["--report", refs[1].to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("would destroy that input"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(&files[1]).unwrap(), before);
    // A shard stopped by Ctrl-C is refused, or merged as interrupted when asked.
    let mut stopped = json(files[2].as_path());
    stopped["interrupted"] = true.into();
    let stopped_file = dir.join("stopped.json");
    std::fs::write(&stopped_file, stopped.to_string()).unwrap();
    let o = merge(
        &[refs[0], refs[1], &stopped_file],
        &["--no-default-threshold"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("was interrupted (Ctrl-C)"),
        "{}",
        text(&o)
    );
    let partial = dir.join("partial.json");
    let o = merge(
        &[refs[0], refs[1], &stopped_file],
        &[
            "--no-default-threshold",
            "--allow-partial",
            "--summary-export",
            partial.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("marked interrupted"), "{}", text(&o));
    assert_eq!(json(&partial)["interrupted"], true);
    // Another run's clock.
    let mut other_start = json(files[2].as_path());
    other_start["config"]["start_at"] = "2026-01-01T00:00:00Z".into();
    let other_start_file = dir.join("other-start.json");
    std::fs::write(&other_start_file, other_start.to_string()).unwrap();
    let o = merge(&[refs[0], refs[1], &other_start_file], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("config.start_at (--start-at) differs"),
        "{}",
        text(&o)
    );
    let mut other = json(files[2].as_path());
    other["config"]["world_fingerprint"] = "0".into();
    let other_file = dir.join("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    let o = merge(&[refs[0], refs[1], &other_file], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("different worlds"), "{}", text(&o));

    let o = replay("http://127.0.0.1:9", &dir.join("x.json"))
        .args(["--shard", "4/3"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("the index must be 1 to 3"),
        "{}",
        text(&o)
    );
    let o = replay("http://127.0.0.1:9", &dir.join("x.json"))
        .args(["--shard-count", "3"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("JOB_COMPLETION_INDEX is not set"),
        "{}",
        text(&o)
    );
    let o = replay("http://127.0.0.1:9", &dir.join("x.json"))
        .args(["--shard-count", "3"])
        .env("JOB_COMPLETION_INDEX", "3")
        .output()
        .unwrap();
    assert!(text(&o).contains("out of range"), "{}", text(&o));
    let o = replay("http://127.0.0.1:9", &dir.join("x.json"))
        .args(["--shard-count", "0"])
        .env("JOB_COMPLETION_INDEX", "0")
        .output()
        .unwrap();
    assert!(text(&o).contains("the count must be 1 to"), "{}", text(&o));
}

/// A mapping whose requests read a value another user's answer gave is refused on a
/// shard, naming the value and the fix.
#[test]
fn a_shard_refuses_values_captured_from_other_users() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("gifts.toml");
    std::fs::write(
        &mapping,
        r#"[[request]]
event = "gift.created"
entity = { gift = "{props.gift_id}" }
path = "/gifts"
capture = [{ into = "entity.gift.id", field = "id" }]
kind = "create"
class = "api"

[[request]]
event = "gift.claimed"
entity = { gift = "{props.gift_id}" }
path = "/gifts/{entity.gift.id}/claim"
kind = "claim"
class = "api"
"#,
    )
    .unwrap();
    let o = replay("http://127.0.0.1:9", &dir.path().join("x.json"))
        .arg("--mapping")
        .arg(&mapping)
        .args(["--shard", "1/2", "--max-duration", "2s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("{entity.gift.id}") && t.contains("another shard"),
        "{t}"
    );
}

/// A process that starts after `--start-at` says so and counts what was already due as
/// late (sent, not dropped).
#[test]
fn a_late_start_counts_what_was_due_as_late() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let summary = dir.path().join("late.json");
    let o = replay(&server.url, &summary)
        .args(["--start-at", &in_secs(-1), "--no-default-threshold"])
        .args(["--shard", "1/1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = json(&summary);
    assert!(
        s["late_start_ms"].as_f64().unwrap() >= 1000.0,
        "{}",
        s["late_start_ms"]
    );
    let (late, sent) = (
        s["totals"]["late"].as_u64().unwrap(),
        s["totals"]["sent"].as_u64().unwrap(),
    );
    assert_eq!(sent as usize, server.take().len(), "nothing dropped");
    assert!(
        late > sent / 5,
        "what was due before the start is late: {late} of {sent}"
    );
    assert!(text(&o).contains("after --start-at"), "{}", text(&o));
    // What `on time` leaves out is the late start's backlog, not the target's doing.
    assert!(text(&o).contains("the backlog of a start"), "{}", text(&o));
    assert!(!text(&o).contains("the target's doing"), "{}", text(&o));
    // The merge names the late shard and by how much.
    let o = merge(&[&summary], &["--no-default-threshold"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("late start: shard 1/1 ("), "{}", text(&o));
}

/// With `--stages`, every shard paces the whole timeline and sends its share: the shards'
/// requests add up to one process's, and each holds about a third of the target.
#[test]
fn with_stages_the_shards_share_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let paced = |summary: &Path| {
        let mut c = bin();
        c.args([
            "replay", "--users", "400", "--days", "1", "--window", "8h..24h",
        ])
        .args(["--stages", "2s:300/s", "-q", "--no-default-threshold"])
        .args(["--target", &server.url, "--summary-export"])
        .arg(summary)
        .env_remove("SIMULATE_SHARD");
        c
    };
    let one = dir.path().join("one.json");
    let o = paced(&one).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let whole = server.take();
    let start = in_secs(2);
    let children: Vec<_> = (1..=3)
        .map(|i| {
            paced(&dir.path().join(format!("s{i}.json")))
                .args(["--shard", &format!("{i}/3"), "--start-at", &start])
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    assert_eq!(server.take(), whole, "the same requests, each once");
    let sent = json(&one)["totals"]["sent"].as_u64().unwrap();
    assert!(
        (550..=650).contains(&sent),
        "one process holds the target: {sent}"
    );
    for i in 1..=3 {
        let s = json(&dir.path().join(format!("s{i}.json")));
        let share = s["totals"]["sent"].as_u64().unwrap();
        assert!(
            share > sent / 5 && share < sent / 2,
            "shard {i}: {share} of {sent}"
        );
        assert_eq!(
            s["series"][0]["target_per_s"], 300.0,
            "the whole target's schedule"
        );
    }
}
