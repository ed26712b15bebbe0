//! Thresholds judged over the merged summary: the statistics they read rebuilt from its
//! figures (groups with their histograms, lag, fan-out, probes, outcomes, the schedule's
//! span), with the names the shards recorded (`config.names`), so no mapping is needed.

use std::collections::BTreeMap;

use simulate_core::diagnostic::{Problem, Problems};
use simulate_core::timeline::EVENT_KINDS;
use simulate_core::world::kinds::KindNames;

use crate::error::ReplayError;
use crate::mapping::{Protocol, RequestClass};
use crate::stats::{Group, Key, Span, Stats, decode};
use crate::summary::{GroupFigures, Summary, ThresholdNames};
use crate::thresholds::{DEFAULT_THRESHOLD, Names, Threshold};

/// The thresholds asked of the merge; none: the ones the shards recorded.
#[derive(Clone, Debug, Default)]
pub struct Asked {
    pub thresholds: Vec<String>,
    pub preset: Option<String>,
    pub no_default: bool,
    /// `--allow-partial`: merge shards that were interrupted or aborted anyway; the
    /// result is marked interrupted.
    pub allow_partial: bool,
}

/// Judges the thresholds over `s` (the merged summary), records them, and returns how
/// many failed.
pub(super) fn thresholds(
    s: &mut Summary,
    all: &[&Summary],
    asked: &Asked,
) -> Result<usize, ReplayError> {
    if asked.thresholds.is_empty() && asked.preset.is_none() && asked.no_default {
        s.thresholds.clear();
        (s.config.thresholds, s.config.default_threshold) = (Vec::new(), false);
        return Ok(0);
    }
    let names = s.config.names.clone().ok_or_else(|| {
        bad(
            "the shards' summaries record no threshold names (written by a simulate older than `report merge`)".into(),
            "rerun the shards with this version of simulate",
        )
    })?;
    let kinds = Kinds::of(all);
    let classes: Vec<(RequestClass, Vec<u16>)> = RequestClass::ALL
        .into_iter()
        .map(|c| {
            let events = names.classes.get(c.name()).map_or(&[][..], |v| &v[..]);
            (c, events.iter().map(|e| kinds.index(e)).collect())
        })
        .collect();
    let events = kinds.names();
    let n = Names {
        events: events.all(),
        tags: &names.tags,
        phases: &names.phases,
        listens: &names.listens,
        classes: &classes,
        stages: &names.stages,
        probes: names.probes,
        outcomes: names.outcomes,
    };
    let (texts, compiled, default) = compile(all, asked, &n, &names)?;
    let by_phase = stats(s, &names, &kinds, false)?;
    let by_stage = stats(s, &names, &kinds, true)?;
    s.thresholds = compiled
        .iter()
        .map(|t| {
            t.verdict(if t.names_stages() {
                &by_stage
            } else {
                &by_phase
            })
        })
        .collect();
    s.config.thresholds = texts;
    s.config.default_threshold = default;
    Ok(s.thresholds.iter().filter(|v| !v.ok).count())
}

/// A shard's recorded thresholds for a message; an empty set is named.
fn listed(thresholds: &[String]) -> String {
    if thresholds.is_empty() {
        "none (--no-default-threshold)".into()
    } else {
        thresholds.join(", ")
    }
}

fn bad(message: String, fix: &str) -> ReplayError {
    ReplayError::BadInput(Problem::new(message, fix))
}

/// The thresholds' texts, compiled, and whether they are the default one.
fn compile(
    all: &[&Summary],
    asked: &Asked,
    n: &Names<'_>,
    names: &ThresholdNames,
) -> Result<(Vec<String>, Vec<Threshold>, bool), ReplayError> {
    // (`--no-default-threshold` alone was handled by the caller: nothing to judge.)
    if asked.thresholds.is_empty() && asked.preset.is_none() {
        let c = &all[0].config;
        if let Some(other) = all.iter().find(|s| s.config.thresholds != c.thresholds) {
            return Err(bad(
                format!(
                    "the shards recorded different thresholds ({} and {}): there is no one set to judge",
                    listed(&c.thresholds),
                    listed(&other.config.thresholds)
                ),
                "give the thresholds to judge with --threshold or --threshold-preset",
            ));
        }
        if c.default_threshold {
            let t = Threshold::parse(DEFAULT_THRESHOLD, n)?.as_default();
            return Ok((vec![DEFAULT_THRESHOLD.into()], vec![t], true));
        }
        let compiled = Threshold::parse_all(&c.thresholds, n).map_err(problems)?;
        return Ok((c.thresholds.clone(), compiled, false));
    }
    let mut texts = asked.thresholds.clone();
    let mut compiled = Threshold::parse_all(&asked.thresholds, n).map_err(problems)?;
    if let Some(name) = &asked.preset {
        let preset = preset(name, names)?;
        let more = Threshold::parse_all(&preset, n).map_err(problems)?;
        compiled.extend(more.into_iter().map(|t| t.from_preset(name)));
        texts.extend(preset);
    }
    Ok((texts, compiled, false))
}

fn problems(p: Problems) -> ReplayError {
    let mut p = p.0;
    match p.len() {
        1 => ReplayError::BadInput(p.remove(0)),
        _ => bad(
            p.iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
            "write each threshold as METRIC{TAG:VALUE}OP LIMIT (docs/REPLAY.md)",
        ),
    }
}

/// A preset's thresholds from the recorded names, as `thresholds::preset` gives them
/// from the mapping.
fn preset(name: &str, names: &ThresholdNames) -> Result<Vec<String>, ReplayError> {
    let sent = |c: RequestClass| names.classes.get(c.name()).is_some_and(|k| !k.is_empty());
    crate::thresholds::preset_texts(name, &sent, names.probes).map_err(ReplayError::BadInput)
}

/// Event kinds by name: the built-in ones at their index, any other (a world's own kinds)
/// after them in the order the shards give them.
struct Kinds(Vec<String>);

impl Kinds {
    fn of(all: &[&Summary]) -> Kinds {
        let mut own = Vec::new();
        for s in all {
            let events = s.groups.iter().map(|g| &g.tags.event);
            let classes = s
                .config
                .names
                .iter()
                .flat_map(|n| n.classes.values().flatten());
            for e in events.chain(classes) {
                if !EVENT_KINDS.contains(&e.as_str()) && !own.contains(e) {
                    own.push(e.clone());
                }
            }
        }
        Kinds(own)
    }

    /// The built-in kinds, then the shards' own, in the order [`Kinds::index`] numbers them.
    fn names(&self) -> KindNames {
        KindNames::with_custom(self.0.iter().map(String::as_str))
    }

    fn index(&self, name: &str) -> u16 {
        let i = EVENT_KINDS.iter().position(|k| *k == name).or_else(|| {
            self.0
                .iter()
                .position(|k| k == name)
                .map(|i| EVENT_KINDS.len() + i)
        });
        i.unwrap_or(u16::MAX as usize) as u16
    }
}

/// The statistics thresholds read, from the merged summary: by phase (its `groups`), or
/// by stage (its `stages`) for thresholds that name stages.
fn stats(
    s: &Summary,
    names: &ThresholdNames,
    kinds: &Kinds,
    by_stage: bool,
) -> Result<Stats, ReplayError> {
    let tag = |t: &str| {
        names
            .tags
            .iter()
            .position(|x| x == t)
            .map_or(u16::MAX, |i| i as u16)
    };
    let protocol = |p: &str| {
        Protocol::ALL
            .into_iter()
            .find(|x| x.name() == p)
            .unwrap_or(Protocol::Http)
    };
    let phase = |p: &str| {
        names
            .phases
            .iter()
            .position(|x| x == p)
            .map_or(0, |i| (i + 1).min(255) as u8)
    };
    let stage = |st: &str| {
        names
            .stages
            .iter()
            .position(|x| x == st)
            .map_or(0, |i| (i + 1).min(255) as u8)
    };
    let rows: Vec<(Key, &GroupFigures)> = if by_stage {
        s.stages
            .iter()
            .map(|g| {
                (
                    Key {
                        protocol: protocol(&g.protocol),
                        event: kinds.index(&g.event),
                        tag: tag(&g.kind),
                        phase: 0,
                        stage: stage(&g.stage),
                    },
                    &g.figures,
                )
            })
            .collect()
    } else {
        s.groups
            .iter()
            .map(|g| {
                (
                    Key {
                        protocol: protocol(&g.tags.protocol),
                        event: kinds.index(&g.tags.event),
                        tag: tag(&g.tags.kind),
                        phase: phase(&g.tags.phase),
                        stage: 0,
                    },
                    &g.figures,
                )
            })
            .collect()
    };
    let damaged = |e: String| {
        bad(
            format!("a merged histogram is damaged: {e}"),
            "merge the files simulate wrote, unedited",
        )
    };
    let mut groups: BTreeMap<Key, Group> = BTreeMap::new();
    for (k, f) in rows {
        let g = Group::from_figures(f).map_err(damaged)?;
        groups.entry(k).or_default().add(&g);
    }
    let lags = match &s.lag_histograms {
        Some(h) => (
            decode(&h.lag).map_err(damaged)?,
            decode(&h.own).map_err(damaged)?,
        ),
        None => (crate::stats::hist(), crate::stats::hist()),
    };
    let t = &s.totals;
    let span = (t.schedule_seconds > 0.0).then(|| Span {
        scheduled: t.schedule_seconds,
        achieved: if t.achieved_per_s > 0.0 {
            (t.completed as f64 / t.achieved_per_s).max(t.schedule_seconds)
        } else {
            t.schedule_seconds
        },
    });
    let mut stats = Stats::rebuilt(groups, lags, (t.scheduled_requests, t.sent), span)
        .with_kinds(kinds.names());
    if let Some(io) = &s.socketio {
        stats.fanout = names
            .listens
            .iter()
            .map(|l| {
                let text = io
                    .listen
                    .iter()
                    .find(|x| &x.event == l)
                    .and_then(|x| x.fanout_histogram.as_deref());
                text.map_or_else(|| Ok(crate::stats::hist()), decode)
                    .map_err(damaged)
            })
            .collect::<Result<_, _>>()?;
    }
    stats.probes = s.probes.as_ref().map(|p| (p.sets, p.violations));
    for o in &s.outcomes {
        stats.flows.outcomes.insert(
            (kinds.index(&o.event), tag(&o.kind)),
            (o.field.clone(), o.counts.clone()),
        );
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_empty_set_of_thresholds_is_named() {
        assert_eq!(super::listed(&[]), "none (--no-default-threshold)");
        assert_eq!(
            super::listed(&["errors<5%".into(), "p95<300".into()]),
            "errors<5%, p95<300"
        );
    }
}
