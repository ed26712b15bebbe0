//! `replay --shard I/N`, `--shard-count N` and `--start-at`: which shard this process is,
//! when its clock starts, and what its summary records so `report merge` can refuse
//! shards of different runs (the world's and the mapping's fingerprints, the names
//! thresholds may use).

use std::time::SystemTime;

use sha2::{Digest, Sha256};
use simulate_core::diagnostic::Problem;
use simulate_replay::mapping::Mapping;
use simulate_replay::shard::Shard;
use simulate_replay::summary::{ReplayConfig, ThresholdNames};

use crate::cli::ReplayArgs;

/// The shard this process is, from `--shard` (or `SIMULATE_SHARD`) or `--shard-count`
/// with `JOB_COMPLETION_INDEX`; `None` for one process.
pub(crate) fn of_args(args: &ReplayArgs) -> anyhow::Result<Option<Shard>> {
    let shard = match (&args.shard, args.shard_count) {
        (Some(text), _) => Shard::parse(text).map_err(|m| {
            Problem::new(
                format!("--shard (or SIMULATE_SHARD) {m}"),
                "write it as I/N, 1-based: --shard 2/8 sends the second of eight shares of the users",
            )
        })?,
        (None, Some(count)) => {
            let index = std::env::var("JOB_COMPLETION_INDEX").ok();
            Shard::of_completion_index(index.as_deref(), count).map_err(|m| {
                Problem::new(
                    format!("--shard-count {count}: {m}"),
                    "run it in a Kubernetes Indexed Job (completionMode: Indexed), or give --shard I/N",
                )
            })?
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(shard))
}

/// Refuses a mapping whose requests read values captured from other users' answers:
/// on a shard, the user who captured one may be on another shard.
pub(crate) fn check_mapping(mapping: &Mapping, shard: Option<Shard>) -> anyhow::Result<()> {
    let Some(shard) = shard else { return Ok(()) };
    let shared = mapping.shared_reads();
    let Some((event, var)) = shared.first() else {
        return Ok(());
    };
    let more = match shared.len() {
        1 => String::new(),
        n => format!(" (and {} more)", n - 1),
    };
    Err(Problem::new(
        format!(
            "--shard {shard}: {}'s {event} request reads {{{var}}}{more}, a value captured from another user's answer; that user may be on another shard, which this one cannot hear from",
            mapping.name
        ),
        "render the id with a template instead (the scenario's [ids], e.g. {props.gift_id}, docs/REPLAY.md \"Shards\"), or replay this mapping in one process",
    )
    .into())
}

/// `--start-at`: the wall instant, and the text as given.
pub(crate) fn start_at(args: &ReplayArgs) -> anyhow::Result<Option<SystemTime>> {
    let Some(text) = &args.start_at else {
        return Ok(None);
    };
    let ts: jiff::Timestamp = text.trim().parse().map_err(|e| {
        Problem::new(
            format!("--start-at `{text}` is not an RFC 3339 instant: {e}"),
            "write it like 2026-12-06T09:00:00Z (UTC) or 2026-12-06T10:00:00+01:00",
        )
    })?;
    Ok(Some(SystemTime::from(ts)))
}

/// What the summary records for a merge: the fingerprints and the shard's start.
pub(crate) fn record(config: &mut ReplayConfig, args: &ReplayArgs) {
    config.start_at = args.start_at.clone();
    let world = serde_json::to_string(&(
        &config.world,
        &config.window,
        &config.pace,
        &config.compress,
    ))
    .unwrap_or_default();
    config.world_fingerprint = Some(sha256(world.as_bytes()));
    let path = args.mapping.as_ref().or(args.targets.as_ref());
    let text = path.and_then(|p| std::fs::read(p).ok());
    config.mapping_fingerprint = Some(sha256(text.as_deref().unwrap_or(config.mapping.as_bytes())));
}

/// The names the run's thresholds could use, recorded for `report merge`.
pub(crate) fn names(
    names: &simulate_replay::thresholds::Names<'_>,
    kinds: &simulate_core::world::kinds::KindNames,
) -> ThresholdNames {
    let kind = |k: &u16| kinds.name(*k).unwrap_or("unknown").to_string();
    ThresholdNames {
        tags: names.tags.to_vec(),
        phases: names.phases.to_vec(),
        listens: names.listens.to_vec(),
        classes: names
            .classes
            .iter()
            .filter(|(_, k)| !k.is_empty())
            .map(|(c, k)| (c.name().to_string(), k.iter().map(kind).collect()))
            .collect(),
        stages: names.stages.to_vec(),
        probes: names.probes,
        outcomes: names.outcomes,
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The lines that say which shard this is and when its clock starts.
pub(crate) fn announce(shard: Option<Shard>, text: Option<&str>, at: Option<SystemTime>) {
    if let Some(s) = shard {
        eprintln!(
            "shard {s}: sending the requests of this shard's users; the pace is the whole timeline's"
        );
    }
    if let (Some(text), Some(at)) = (text, at) {
        match at.duration_since(SystemTime::now()) {
            Ok(wait) => eprintln!(
                "waiting for --start-at {text}: the clock starts in {:.1} s",
                wait.as_secs_f64()
            ),
            Err(e) => eprintln!(
                "--start-at {text} passed {:.1} s ago: what is already due leaves at once, counted late",
                e.duration().as_secs_f64()
            ),
        }
    }
}

/// After the run: how late the clock started, when it did.
pub(crate) fn late_note(s: &simulate_replay::summary::Summary) {
    if let Some(ms) = s.late_start_ms.filter(|ms| *ms > 0.0) {
        eprintln!(
            "note: this process started {:.3} s after --start-at; the events already due then were sent at once and count as late",
            ms / 1000.0
        );
    }
}
