//! `simulate report merge`: the shards' summaries of one sharded replay added into one,
//! its table printed, the summary and HTML report written, the thresholds' exit code.

use std::path::Path;

use simulate_core::diagnostic::Problem;
use simulate_replay::merge::{self, Asked, Input};
use simulate_replay::summary::Summary;

use crate::cli::{MergeArgs, ReportCommand};
use crate::console::replay::table;
use crate::exit;

pub fn report(command: ReportCommand) -> anyhow::Result<i32> {
    match command {
        ReportCommand::Merge(args) => merge_shards(&args),
    }
}

fn merge_shards(args: &MergeArgs) -> anyhow::Result<i32> {
    let inputs = args
        .files
        .iter()
        .map(|f| read(f))
        .collect::<anyhow::Result<Vec<Input>>>()?;
    not_an_input(args)?;
    super::replay::make_summary_folder(args.summary_export.as_deref(), "--summary-export")?;
    super::replay::make_summary_folder(args.report.as_deref(), "--report")?;
    let asked = Asked {
        thresholds: args.judging.thresholds.clone(),
        preset: args.judging.threshold_preset.clone(),
        no_default: args.judging.no_default_threshold,
        allow_partial: args.allow_partial,
    };
    let late: Vec<String> = inputs
        .iter()
        .filter_map(|i| {
            let ms = i.summary.late_start_ms.filter(|ms| *ms > 0.0)?;
            let shard = i
                .summary
                .shard
                .map_or(String::new(), |s| format!("shard {s} "));
            Some(format!("{shard}({}) {:.3} s", i.file, ms / 1000.0))
        })
        .collect();
    let partial: Vec<String> = inputs
        .iter()
        .filter_map(|i| merge::stopped(&i.summary).map(|why| format!("{} was {why}", i.file)))
        .collect();
    let merged = merge::merge(inputs, &asked)?;
    let s = &merged.summary;
    let shards = s.merged.as_ref().map_or(0, |m| m.shards);
    outln!("merged from {shards} shards of {}", s.config.mapping);
    if !partial.is_empty() {
        outln!(
            "partial (--allow-partial): {}; the merged summary is marked interrupted",
            partial.join("; ")
        );
    }
    if !late.is_empty() {
        outln!(
            "late start: {} after --start-at (their events already due then left at once, counted late)",
            late.join(", ")
        );
    }
    out!("{}", table(s, &s.config.target));
    if let Some(m) = &s.merged {
        outln!("inexact (merged.inexact):");
        for line in &m.inexact {
            outln!("  - {line}");
        }
    }
    if let Some(p) = &args.summary_export {
        super::export(p, "the merged summary", s)?;
        outln!("summary: {}", p.display());
    }
    if let Some(p) = &args.report {
        super::write_whole(p, "the report", &crate::report::replay::render(s))?;
        outln!("report: {}", p.display());
    }
    Ok(if merged.failed_thresholds > 0 {
        eprintln!(
            "{} threshold(s) failed over the whole",
            merged.failed_thresholds
        );
        exit::THRESHOLD_FAILED
    } else {
        exit::OK
    })
}

/// Refuses an output path that names one of the inputs, before anything is written.
fn not_an_input(args: &MergeArgs) -> anyhow::Result<()> {
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    for (flag, out) in [
        ("--summary-export", &args.summary_export),
        ("--report", &args.report),
    ] {
        let Some(out) = out else { continue };
        if let Some(input) = args.files.iter().find(|f| same(f, out)) {
            return Err(Problem::new(
                format!(
                    "{flag} {} is one of the shards' summaries being merged: writing it would destroy that input",
                    input.display()
                ),
                format!("give {flag} a new file, e.g. out/all.json"),
            )
            .into());
        }
    }
    Ok(())
}

/// One shard's summary, or what is wrong with the file.
fn read(path: &Path) -> anyhow::Result<Input> {
    let shown = path.display();
    let bytes =
        simulate_core::bounded::read(path, simulate_core::bounded::SUMMARY).map_err(|e| {
            Problem::new(
                format!("{shown}: {e}"),
                "pass the summaries the shards wrote with --summary-export",
            )
        })?;
    let summary: Summary = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::new(
            format!("{shown} is not a replay summary: {e}"),
            "pass files `replay --summary-export` wrote (schema/replay-summary.v1.json)",
        )
    })?;
    Ok(Input {
        file: shown.to_string(),
        summary,
    })
}
