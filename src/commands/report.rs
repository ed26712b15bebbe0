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
    super::replay::make_summary_folder(args.summary_export.as_deref(), "--summary-export")?;
    super::replay::make_summary_folder(args.report.as_deref(), "--report")?;
    let asked = Asked {
        thresholds: args.thresholds.clone(),
        preset: args.threshold_preset.clone(),
        no_default: args.no_default_threshold,
    };
    let merged = merge::merge(inputs, &asked)?;
    let s = &merged.summary;
    let shards = s.merged.as_ref().map_or(0, |m| m.shards);
    outln!("merged {shards} shards of {}", s.config.mapping);
    out!("{}", table(s, &s.config.target));
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
