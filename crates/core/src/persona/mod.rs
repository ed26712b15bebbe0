//! Personas: data files that describe how a kind of user behaves, validated into state machines.

pub mod condition;
pub mod dist;
pub mod graph;
pub mod model;
pub mod raw;
pub mod validate;

use std::path::Path;

pub use model::*;

use crate::diagnostic::{Problem, Problems, Source};

/// The personas built into the binary, so `simulate` works from any directory.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "personas/checkin.toml",
        include_str!("../../../../personas/checkin.toml"),
    ),
    (
        "personas/gamer.toml",
        include_str!("../../../../personas/gamer.toml"),
    ),
    (
        "personas/gift_claimer.toml",
        include_str!("../../../../personas/gift_claimer.toml"),
    ),
    (
        "personas/hunter.toml",
        include_str!("../../../../personas/hunter.toml"),
    ),
    (
        "personas/saver.toml",
        include_str!("../../../../personas/saver.toml"),
    ),
];

fn load_sources(sources: Vec<Source>) -> Result<Vec<Persona>, Problems> {
    let mut personas = Vec::new();
    let mut problems = Vec::new();
    for src in &sources {
        match src
            .parse::<raw::RawPersona>()
            .and_then(|r| validate::validate(&r, src))
        {
            Ok(p) => personas.push(p),
            Err(Problems(ps)) => problems.extend(ps),
        }
    }
    personas.sort_by(|a, b| a.name.cmp(&b.name));
    for w in personas.windows(2) {
        if w[0].name == w[1].name {
            problems.push(Problem {
                file: w[1].source.clone(),
                line: Some(1),
                field: "name".into(),
                message: format!("persona `{}` is also defined in {}", w[1].name, w[0].source),
                fix: "give each persona its own name".into(),
            });
        }
    }
    if problems.is_empty() && personas.is_empty() {
        problems.push(Problem {
            file: sources.first().map(|s| s.name.clone()).unwrap_or_else(|| "(personas)".into()),
            line: None,
            field: String::new(),
            message: "no persona files (*.toml) found".into(),
            fix: "point --personas at a folder of persona .toml files (see personas/ in the repository)".into(),
        });
    }
    if problems.is_empty() {
        let sum: f64 = personas.iter().map(|p| p.share).sum();
        if (sum - 1.0).abs() > 0.01 {
            let list: Vec<String> = personas
                .iter()
                .map(|p| format!("{} {:.3}", p.name, p.share))
                .collect();
            problems.push(Problem {
                file: personas[0].source.clone(),
                line: None,
                field: "share".into(),
                message: format!(
                    "the personas' shares add up to {sum:.3} ({})",
                    list.join(", ")
                ),
                fix: "make the shares add up to 1, or set a persona mix in the scenario".into(),
            });
        }
    }
    if problems.is_empty() {
        Ok(personas)
    } else {
        Err(Problems(problems))
    }
}

/// The shipped personas.
pub(crate) fn shipped() -> Result<Vec<Persona>, Problems> {
    load_sources(SHIPPED.iter().map(|(n, t)| Source::new(*n, *t)).collect())
}

/// Every `*.toml` in a folder, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Persona>, Problems> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Problems(vec![Problem {
            file: dir.display().to_string(),
            line: None,
            field: String::new(),
            message: format!("cannot read the folder: {e}"),
            fix: "pass --personas a folder that holds persona .toml files".into(),
        }])
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut sources = Vec::new();
    for p in paths {
        sources.push(Source::read(&p)?);
    }
    if sources.is_empty() {
        return Err(Problems(vec![Problem {
            file: dir.display().to_string(),
            line: None,
            field: String::new(),
            message: "no persona files (*.toml) in this folder".into(),
            fix: "point --personas at a folder of persona .toml files (see personas/ in the repository)".into(),
        }]));
    }
    load_sources(sources)
}

/// Personas from `--personas DIR`, or the shipped set.
pub fn load(dir: Option<&Path>) -> Result<Vec<Persona>, Problems> {
    match dir {
        Some(d) => load_dir(d),
        None => shipped(),
    }
}
