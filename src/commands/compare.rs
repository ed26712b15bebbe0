//! `simulate compare A B`: reads two run folders (a single run's metrics.json, or the
//! summary.json of `--replicates`), compares them (simulate_core::compare) and exits 99
//! when a `--fail-if` rule holds.

use std::path::{Path, PathBuf};

use simulate_core::compare::{self, Side, rules};
use simulate_core::diagnostic::Problem;
use simulate_core::replicates::{CONFIDENCE, Folder, Node, ReplicatesDoc};

use crate::cli::CompareArgs;
use crate::console::compare as show;
use crate::exit;

/// Run documents grow with long series: far above any real one, below a mistake.
const RUN_DOCUMENT: u64 = 512 << 20;

pub(crate) fn compare(args: CompareArgs) -> anyhow::Result<i32> {
    // The rules first: a typo fails before any file is read.
    let rules = rules::parse(&args.fail_if)?;
    let a = load(&args.a)?;
    let b = load(&args.b)?;
    let doc = compare::compare((a.0, &a.1), (b.0, &b.1), &rules)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        out!("{}", show::table(&doc));
    }
    Ok(if doc.failed {
        exit::THRESHOLD_FAILED
    } else {
        exit::OK
    })
}

/// A run folder (or one of its documents) as a side and its folded figures.
fn load(given: &Path) -> anyhow::Result<(Side, Node)> {
    let dir = if given.is_file() {
        given
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        given.to_path_buf()
    };
    let named = |f: &str| given.is_file() && given.file_name().is_some_and(|n| n == f);
    let summary = dir.join("summary.json");
    let wants_metrics = named("metrics.json");
    if !wants_metrics && summary.is_file() {
        let doc: ReplicatesDoc = read(&summary)?;
        let side = Side {
            dir: given.display().to_string(),
            runs: doc.folded_seeds.len() as u64,
            seeds: doc.folded_seeds,
        };
        return Ok((side, doc.metrics));
    }
    let metrics = dir.join("metrics.json");
    if !metrics.is_file() {
        return Err(Problem::new(
            format!(
                "{} holds neither summary.json nor metrics.json",
                given.display()
            ),
            "name a folder `simulate run` wrote (output/<run>), or its metrics.json or summary.json",
        )
        .into());
    }
    let value: serde_json::Value = read(&metrics)?;
    // The seed from run.json when it is there; a lone metrics.json has none to say.
    let seeds = read::<serde_json::Value>(&dir.join("run.json"))
        .ok()
        .and_then(|r| r["config"]["seed"].as_u64())
        .into_iter()
        .collect();
    let side = Side {
        dir: given.display().to_string(),
        runs: 1,
        seeds,
    };
    Ok((side, Folder::new(CONFIDENCE).fold(&[value])))
}

/// A JSON document, or a refusal naming the file and what is wrong with it.
fn read<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let bytes = simulate_core::bounded::read(path, RUN_DOCUMENT).map_err(|e| {
        Problem::new(
            format!("{}: {e}", path.display()),
            "name a folder `simulate run` wrote",
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Problem::in_file(
            path.display().to_string(),
            Some(e.line()),
            format!("not a document `simulate run` writes: {e}"),
            "name a folder `simulate run` wrote, or run it again to rewrite the file",
        )
        .into()
    })
}
