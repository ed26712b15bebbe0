//! What the examples' tests share: an example's files and commands (validate, run,
//! schema, replay), a recording HTTP server, and the measures of a timeline and a summary.

pub(super) use std::collections::{BTreeMap, BTreeSet};
pub(super) use std::path::{Path, PathBuf};
pub(super) use std::sync::{Arc, Mutex};

pub(super) use axum::Router;
pub(super) use axum::body::Bytes;
pub(super) use axum::extract::State;
pub(super) use axum::http::{HeaderMap, Method, Uri};
pub(super) use serde_json::{Value, json};

use crate::common::{bin, read_json};

/// One example's files.
pub(super) struct Example {
    pub(super) name: &'static str,
    pub(super) personas: PathBuf,
    pub(super) scenario: PathBuf,
    pub(super) mapping: PathBuf,
}

pub(super) fn example(name: &'static str) -> Example {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    Example {
        name,
        personas: dir.join("personas"),
        scenario: dir.join("scenario.toml"),
        mapping: dir.join("mapping.toml"),
    }
}

impl Example {
    /// `simulate personas validate` passes on the example's personas.
    pub(super) fn validates(&self) {
        let o = bin()
            .args(["personas", "validate"])
            .arg(&self.personas)
            .output()
            .expect("runs");
        assert!(
            o.status.success(),
            "{}: {}",
            self.name,
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// `simulate <command> --personas … --scenario …` with `args`.
    pub(super) fn command(&self, command: &str, args: &[&str]) -> std::process::Command {
        let mut c = bin();
        c.arg(command)
            .arg("--personas")
            .arg(&self.personas)
            .arg("--scenario")
            .arg(&self.scenario)
            .args(args);
        c
    }

    /// The example's world (its scenario, `args` overriding it) as event lines.
    pub(super) fn run(&self, dir: &Path, args: &[&str]) -> Vec<Value> {
        let out = dir.join(format!("run-{}", self.name));
        let o = self
            .command("run", args)
            .arg("--out")
            .arg(&out)
            .args(["-q", "--threads", "2"])
            .output()
            .expect("runs");
        assert!(
            o.status.success(),
            "{}: {}",
            self.name,
            String::from_utf8_lossy(&o.stderr)
        );
        std::fs::read_to_string(out.join("events.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The timeline's JSON Schema for this world (`simulate schema`).
    pub(super) fn schema(&self) -> Value {
        let o = self.command("schema", &[]).output().expect("runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Every kind the mapping names (`event`, `events`, `server_side`, a listen's `origin`)
    /// is a kind the world declares, and every event line fits the world's schema.
    pub(super) fn declares_what_it_maps(&self, events: &[Value]) {
        let schema = self.schema();
        let declared: BTreeSet<&str> = schema["properties"]["event"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        for kind in mapped_kinds(&self.mapping) {
            assert!(
                declared.contains(kind.as_str()),
                "{}: `{kind}` is mapped but not declared",
                self.name
            );
        }
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        for e in events {
            let errors: Vec<String> = validator.iter_errors(e).map(|x| x.to_string()).collect();
            assert!(errors.is_empty(), "{}: {e}: {errors:?}", self.name);
        }
    }

    /// `simulate replay` of the example with its mapping, `args` giving the world, the
    /// window and the pace, `envs` the mapping's environment; the summary.
    pub(super) fn replay(
        &self,
        dir: &Path,
        target: &str,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Value {
        let summary = dir.join(format!("summary-{}.json", self.name));
        let o = self
            .command("replay", args)
            .envs(envs.iter().copied())
            .arg("--mapping")
            .arg(&self.mapping)
            .args(["--target", target, "-q", "--summary-export"])
            .arg(&summary)
            .output()
            .expect("runs");
        assert!(
            o.status.success(),
            "{}: {}\n{}",
            self.name,
            String::from_utf8_lossy(&o.stderr),
            std::fs::read_to_string(&summary).unwrap_or_default()
        );
        read_json(&summary)
    }
}

/// The kinds a mapping file names.
pub(super) fn mapped_kinds(mapping: &Path) -> BTreeSet<String> {
    let doc: toml::Value = toml::from_str(&std::fs::read_to_string(mapping).unwrap()).unwrap();
    let mut kinds = BTreeSet::new();
    let mut add = |v: Option<&toml::Value>| {
        match v {
            Some(toml::Value::String(s)) => {
                kinds.insert(s.clone());
            }
            Some(toml::Value::Array(a)) => {
                kinds.extend(a.iter().filter_map(|k| k.as_str().map(String::from)));
            }
            _ => {}
        };
    };
    add(doc.get("server_side"));
    for r in doc.get("request").and_then(|r| r.as_array()).unwrap() {
        add(r.get("event"));
        add(r.get("events"));
    }
    if let Some(listens) = doc
        .get("socketio")
        .and_then(|s| s.get("listen"))
        .and_then(|l| l.as_array())
    {
        for l in listens {
            add(l.get("origin"));
        }
    }
    kinds
}

/// Requests per statistics tag (the mapping's `kind`) in a replay summary.
pub(super) fn per_tag(summary: &Value) -> BTreeMap<String, u64> {
    let mut tags = BTreeMap::new();
    for g in summary["groups"].as_array().unwrap() {
        *tags
            .entry(g["tags"]["kind"].as_str().unwrap().to_string())
            .or_default() += g["count"].as_u64().unwrap();
    }
    tags
}

/// Each tag's share of the requests in percent, checked within 2 points of `expected`.
pub(super) fn mix_within_two_points(summary: &Value, expected: &[(&str, f64)]) {
    let tags = per_tag(summary);
    let total: u64 = expected
        .iter()
        .map(|(t, _)| tags.get(*t).copied().unwrap_or(0))
        .sum();
    assert!(total >= 1000, "too few requests to judge a mix: {tags:?}");
    for (tag, pct) in expected {
        let got = 100.0 * tags.get(*tag).copied().unwrap_or(0) as f64 / total as f64;
        assert!(
            (got - pct).abs() <= 2.0,
            "`{tag}` is {got:.1} % of the requests, not {pct} ± 2: {tags:?}"
        );
    }
}

/// Sessions open at once inside `[from, to)` of a timeline, at its busiest instant.
pub(super) fn peak_open(events: &[Value], from: i64, to: i64) -> u64 {
    let (mut open, mut peak) = (0i64, 0i64);
    for e in events {
        let t = e["t_ms"].as_i64().unwrap();
        if t >= to {
            break;
        }
        match e["event"].as_str().unwrap() {
            "session.started" => open += 1,
            "session.ended" => open -= 1,
            _ => continue,
        }
        if t >= from {
            peak = peak.max(open);
        }
    }
    peak as u64
}

/// Each user's `user.signed_up` props, by timeline user id.
pub(super) fn signups(events: &[Value]) -> BTreeMap<String, Value> {
    events
        .iter()
        .filter(|e| e["event"] == "user.signed_up")
        .map(|e| {
            (
                e["user_id"].as_str().unwrap().to_string(),
                e["props"].clone(),
            )
        })
        .collect()
}

/// A timeline user id's number: `u41` → 41.
pub(super) fn user_number(id: &str) -> u64 {
    id[1..].parse().unwrap()
}

pub(super) const HOUR: i64 = 3_600_000;
pub(super) const DAY: i64 = 24 * HOUR;

/// One HTTP request as the team's server would see it.
#[derive(Clone, Debug)]
pub(super) struct Request {
    pub(super) method: Method,
    pub(super) uri: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Value,
}

/// An axum server on loopback answering every request `200 {"ok": true}` and recording it.
pub(super) struct Recorder {
    pub(super) url: String,
    pub(super) seen: Arc<Mutex<Vec<Request>>>,
    pub(super) _rt: tokio::runtime::Runtime,
}

impl Recorder {
    pub(super) fn start() -> Recorder {
        let (rt, listener) = crate::common::server_runtime(1, "127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        type Seen = Arc<Mutex<Vec<Request>>>;
        async fn record(
            State(seen): State<Seen>,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> axum::Json<Value> {
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            seen.lock().unwrap().push(Request {
                method,
                uri: uri.to_string(),
                headers,
                body,
            });
            axum::Json(json!({"ok": true}))
        }
        let app = Router::new().fallback(record).with_state(Arc::clone(&seen));
        rt.spawn(async move { axum::serve(listener, app).await });
        Recorder { url, seen, _rt: rt }
    }

    pub(super) fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

/// No request failed and none was left unsent for want of a mapping's input.
pub(super) fn all_answered(summary: &Value) {
    let errors: u64 = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["errors"].as_u64().unwrap())
        .sum();
    assert_eq!(errors, 0, "{}", summary["groups"]);
}
