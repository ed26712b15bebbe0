//! deploy/: the Kubernetes manifests validated against the Kubernetes schemas
//! (`kubernetes-validate --strict`, which ships them offline; scripts/test.sh installs it
//! with scripts/ensure-kubernetes-validate.sh and exports SIMULATE_TEST_KUBERNETES_VALIDATE),
//! the kustomization against the files, the shards' arguments run by the real binary with
//! the ConfigMap's files and the Secret's variables, and the Dockerfile against the tree.
//! No cluster and no container engine run here: docs/KUBERNETES.md says what that leaves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser as _;
use serde_json::Value;

use crate::common::bin;
use crate::replay::Server;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn kube_dir() -> PathBuf {
    root().join("deploy/kubernetes")
}

/// `kubernetes-validate`: SIMULATE_TEST_KUBERNETES_VALIDATE, else the venv the ensure
/// script makes. Missing, the test fails (CI must run it); without python at all it is
/// skipped, loudly.
fn validator() -> Option<PathBuf> {
    let venv = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("simulate/kubernetes-validate/bin/kubernetes-validate"));
    let found = [
        std::env::var_os("SIMULATE_TEST_KUBERNETES_VALIDATE").map(PathBuf::from),
        venv,
    ]
    .into_iter()
    .flatten()
    .find(|p| p.is_file());
    if found.is_some() {
        return found;
    }
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!(
            "\n!!!!! SKIPPED: no python3, so deploy/kubernetes/ is NOT validated against the \
             Kubernetes schemas: install python3 and run scripts/ensure-kubernetes-validate.sh !!!!!\n"
        );
        return None;
    }
    panic!(
        "no kubernetes-validate for the manifest tests: run `bash scripts/ensure-kubernetes-validate.sh` \
         (scripts/test.sh does) or set SIMULATE_TEST_KUBERNETES_VALIDATE to it"
    )
}

/// The YAML documents of `path` as JSON, read by the validator's own Python (PyYAML is
/// one of its dependencies): no YAML crate in our tree for tests alone.
fn yaml_docs(python: &Path, path: &Path) -> Vec<Value> {
    let script = "import sys, json, yaml\nprint(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))";
    let o = Command::new(python)
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("json")
}

fn python_of(validator: &Path) -> PathBuf {
    validator.with_file_name("python")
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(kube_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn validate(validator: &Path, files: &[PathBuf]) {
    let o = Command::new(validator)
        .args(["--strict", "--quiet"])
        .args(files)
        .output()
        .expect("kubernetes-validate");
    assert!(
        o.status.success(),
        "kubernetes-validate --strict failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_manifest_and_the_kustomized_whole_pass_the_kubernetes_schemas_strictly() {
    let Some(v) = validator() else { return };
    let resources: Vec<PathBuf> = manifests()
        .into_iter()
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    assert!(resources.len() >= 4, "{resources:?}");
    validate(&v, &resources);
    // The whole as `kubectl apply -k` sends it (generated ConfigMaps, copied counts).
    let Ok(o) = Command::new("kubectl")
        .args(["kustomize"])
        .arg(kube_dir())
        .output()
    else {
        eprintln!(
            "\n!!!!! kubectl is not installed: the kustomized whole is NOT validated !!!!!\n"
        );
        return;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("rendered.yaml");
    std::fs::write(&rendered, &o.stdout).unwrap();
    validate(&v, std::slice::from_ref(&rendered));
    let docs = yaml_docs(&python_of(&v), &rendered);
    let kinds: BTreeSet<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["ConfigMap", "Job", "PersistentVolumeClaim"])
    );
    let shards = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "simulate-shards")
        .unwrap();
    let n = &shards["spec"]["completions"];
    assert_eq!(
        &shards["spec"]["parallelism"], n,
        "parallelism copied from completions"
    );
    let count = |d: &Value, init: bool| -> Value {
        let list = if init { "initContainers" } else { "containers" };
        let env = &d["spec"]["template"]["spec"][list][0]["env"];
        let e = env
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "SHARD_COUNT");
        e.unwrap()["value"].clone()
    };
    let merge = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "simulate-merge")
        .unwrap();
    let n_text = Value::String(n.to_string());
    assert_eq!(count(shards, false), n_text);
    assert_eq!(count(merge, true), n_text);
    // No secret value in a ConfigMap: the token is only ever a reference.
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains("replace-me") && text.contains("secretKeyRef"));
}

/// The kustomization: every manifest listed (secret.example.yaml on purpose not), every
/// generator file present, every file under config/ in a generator.
#[test]
fn the_kustomization_lists_every_manifest_and_every_generator_file_exists() {
    let Some(v) = validator() else { return };
    let k = &yaml_docs(&python_of(&v), &kube_dir().join("kustomization.yaml"))[0];
    let listed: BTreeSet<String> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let present: BTreeSet<String> = manifests()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "kustomization.yaml" && n != "secret.example.yaml")
        .collect();
    assert_eq!(
        listed, present,
        "resources: against the .yaml files present"
    );
    let mut generated = BTreeSet::new();
    for g in k["configMapGenerator"].as_array().unwrap() {
        for key in ["files", "envs"] {
            for f in g[key].as_array().into_iter().flatten() {
                let f = f.as_str().unwrap();
                assert!(
                    kube_dir().join(f).is_file(),
                    "{} lists {f}: missing",
                    g["name"]
                );
                generated.insert(f.to_string());
            }
        }
    }
    let mut on_disk = BTreeSet::new();
    walk(&kube_dir().join("config"), &mut on_disk);
    for f in on_disk {
        let rel = f
            .strip_prefix(kube_dir())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            generated.contains(&rel),
            "{rel} is in no configMapGenerator"
        );
    }
}

fn walk(dir: &Path, out: &mut BTreeSet<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.insert(p);
        }
    }
}

/// A container of a Job manifest: its args, image and env names.
fn container(python: &Path, file: &str, init: bool) -> Value {
    let doc = &yaml_docs(python, &kube_dir().join(file))[0];
    let list = if init { "initContainers" } else { "containers" };
    doc["spec"]["template"]["spec"][list][0].clone()
}

/// `params.env` as a map.
fn params() -> BTreeMap<String, String> {
    std::fs::read_to_string(kube_dir().join("params.env"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// `args` with `$(NAME)` replaced from `values` (as Kubernetes expands them) and the
/// pending flags left out.
fn expand(args: &[Value], values: &BTreeMap<&str, String>) -> Vec<String> {
    args.iter()
        .map(|a| {
            let mut a = a.as_str().unwrap().to_string();
            for (k, v) in values {
                a = a.replace(&format!("$({k})"), v);
            }
            assert!(!a.contains("$("), "{a}: a variable no env defines");
            a
        })
        .collect()
}

/// The shards' arguments, as Kubernetes expands them from the manifest's env, parse with
/// the binary's own command line; then run for real (paths mapped to the repo's config/
/// folder, a short stage, a loopback server as the Secret's target): the ConfigMap's
/// personas, scenario and mapping load, and the Secret's token reaches every request.
#[test]
fn the_shards_arguments_parse_and_run_with_the_configmap_and_the_secret() {
    let Some(v) = validator() else { return };
    let c = container(&python_of(&v), "shards-job.yaml", false);
    let names: BTreeSet<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    let p = params();
    let mut values: BTreeMap<&str, String> = BTreeMap::from([
        ("SHARD_INDEX", "0".to_string()),
        ("SHARD_COUNT", "4".to_string()),
        ("START_AT", p["START_AT"].clone()),
        ("STAGES", p["STAGES"].clone()),
        ("TARGET_URL", "https://staging.example.com".to_string()),
        ("TARGET_TOKEN", "unused".to_string()),
    ]);
    assert_eq!(
        names,
        values.keys().copied().collect(),
        "the env the args read"
    );
    simulate_core::units::load::Stages::parse(&p["STAGES"]).expect("params.env STAGES");
    let args = expand(c["args"].as_array().unwrap(), &values);
    let parsed = simulate::cli::Cli::try_parse_from(std::iter::once("simulate".into()).chain(args))
        .unwrap_or_else(|e| panic!("the shards' args do not parse: {e}"));
    assert!(matches!(parsed.command, simulate::cli::Command::Replay(_)));

    // Run it: the same args, on this machine.
    let server = Server::start(None);
    let dir = tempfile::tempdir().unwrap();
    values.insert("TARGET_URL", server.url());
    values.insert("STAGES", "1s:40/s".into());
    // A shared instant a second ahead (params.env's is the team's, hours away maybe).
    let soon = Command::new("date")
        .args(["-u", "-d", "+1 sec", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("date");
    values.insert(
        "START_AT",
        String::from_utf8(soon.stdout).unwrap().trim().to_string(),
    );
    let config = kube_dir().join("config");
    let local: Vec<String> = expand(c["args"].as_array().unwrap(), &values)
        .into_iter()
        .map(|a| {
            a.replace("/config/world", &config.to_string_lossy())
                .replace(
                    "/config/personas",
                    &config.join("personas").to_string_lossy(),
                )
                .replace("/results", &dir.path().to_string_lossy())
                .replace("0.0.0.0:9464", "127.0.0.1:0")
        })
        .map(|a| match a.split_once('=') {
            Some(("--metrics-linger", _)) => "--metrics-linger=0s".into(),
            _ => a,
        })
        .collect();
    let o = bin()
        .args(&local)
        .env("TARGET_TOKEN", "t0ken-from-the-secret")
        .env("JOB_COMPLETION_INDEX", "0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = crate::common::read_json(&dir.path().join("shard-0.json"));
    let arrivals = server.arrivals();
    assert!(!arrivals.is_empty());
    assert_eq!(
        summary["totals"]["sent"].as_u64(),
        Some(arrivals.len() as u64)
    );
    for a in &arrivals {
        assert_eq!(
            a.header("authorization").as_deref(),
            Some("Bearer t0ken-from-the-secret")
        );
    }
}

/// The merge Job's command: `simulate report merge` on the shards' files, run by the
/// image's binary.
#[test]
fn the_merge_job_runs_the_binary_on_every_shards_summary() {
    let Some(v) = validator() else { return };
    let c = container(&python_of(&v), "merge-job.yaml", false);
    let script = c["args"][0].as_str().unwrap();
    let words: Vec<&str> = script.split_whitespace().collect();
    assert_eq!(words[..2], ["exec", bin_name().as_str()]);
    assert!(words.contains(&"/results/shard-*.json"), "{script}");
    let args = words[2..]
        .iter()
        .map(|w| w.replace("shard-*.json", "shard-0.json"));
    simulate::cli::Cli::try_parse_from(std::iter::once("simulate".to_string()).chain(args))
        .unwrap_or_else(|e| panic!("the merge's args do not parse: {e}"));
}

/// `[[bin]] name` in Cargo.toml.
fn bin_name() -> String {
    let cargo: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    cargo["bin"][0]["name"].as_str().unwrap().to_string()
}

/// What can be checked of the image without building it: every COPY source exists and is
/// not ignored, every folder the binary embeds a file from is copied, the entrypoint is
/// Cargo's binary, and the manifests run that image.
#[test]
fn the_dockerfile_copies_what_the_build_reads_and_runs_the_binary() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let ignored: Vec<String> = std::fs::read_to_string(root().join(".dockerignore"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    let mut copied = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        for src in &words[1..words.len() - 1] {
            assert!(root().join(src).exists(), "COPY {src}: not in the tree");
            assert!(
                !ignored.iter().any(|i| i == src),
                "COPY {src}: .dockerignore drops it"
            );
            copied.insert(src.to_string());
        }
    }
    for dir in embedded_dirs() {
        assert!(
            copied.contains(&dir),
            "the binary embeds files from {dir}/: COPY it"
        );
    }
    for i in ["target", "output"] {
        assert!(
            ignored.iter().any(|x| x == i),
            ".dockerignore must leave {i}/ out"
        );
    }
    let entry = format!("ENTRYPOINT [\"{}\"]", bin_name());
    assert!(text.lines().any(|l| l == entry), "{entry}");
    assert!(text.contains("FROM rust:1.95") && text.contains("FROM debian:bookworm-slim"));
    assert!(text.contains("\nUSER 10001"), "runs as a non-root user");

    // Every container of the manifests runs one image, and the shards start a replay.
    let jobs = ["shards-job.yaml", "merge-job.yaml"]
        .map(|f| std::fs::read_to_string(kube_dir().join(f)).unwrap());
    let images: BTreeSet<&str> = jobs
        .iter()
        .flat_map(|j| j.lines())
        .filter_map(|l| l.trim().strip_prefix("image: "))
        .collect();
    assert_eq!(images.len(), 1, "{images:?}");
    assert!(jobs[0].contains("args:\n            - replay\n"));
}

/// The repo's top folders the binary's sources embed files from (`include_str!`),
/// test-only folders aside.
fn embedded_dirs() -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    walk(&root().join("src"), &mut files);
    walk(&root().join("crates"), &mut files);
    let mut dirs = BTreeSet::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        if f.components().any(|c| c.as_os_str() == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for part in text
            .split("include_str!(\"")
            .skip(1)
            .chain(text.split("include_bytes!(\"").skip(1))
        {
            let rel = part.split('"').next().unwrap();
            let Ok(at) = f.parent().unwrap().join(rel).canonicalize() else {
                continue;
            };
            let Ok(inside) = at.strip_prefix(root().canonicalize().unwrap()) else {
                continue;
            };
            let top = inside
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy();
            if top != "tests" && top != "crates" && top != "src" {
                dirs.insert(top.into_owned());
            }
        }
    }
    dirs
}
