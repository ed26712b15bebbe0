//! Personas: data files that describe how a kind of user behaves, validated into state machines.

pub mod condition;
pub mod declared;
pub mod dist;
pub mod graph;
pub mod model;
pub mod raw;
pub mod validate;

use std::path::Path;

pub use model::*;

use crate::diagnostic::{FieldPath, Problem, Problems, Source};

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

/// Personas from files' texts: each parsed and validated, then checked together (names).
/// Their shares are checked by [`shares_problem`]: a scenario's `[mix]` may replace them.
/// A source named `world.toml` is the folder's declared kinds and custom actions
/// ([`declared`]), not a persona.
pub fn from_sources(sources: Vec<Source>) -> Result<Vec<Persona>, Problems> {
    let mut personas = Vec::new();
    let mut problems = Vec::new();
    let is_world = |s: &Source| {
        Path::new(&s.name)
            .file_name()
            .is_some_and(|n| n == declared::FILE)
    };
    let world_src = sources.iter().find(|s| is_world(s));
    let mut world = match world_src.map(declared::read) {
        None => declared::Declared::default(),
        Some(Ok(d)) => d,
        Some(Err(ps)) => {
            problems.extend(ps);
            declared::Declared::default()
        }
    };
    for src in sources.iter().filter(|s| !is_world(s)) {
        match src
            .parse::<raw::RawPersona>()
            .and_then(|r| validate::validate(&r, src, &world))
        {
            Ok(p) => personas.push(p),
            Err(Problems(ps)) => problems.extend(ps),
        }
    }
    // Templates read the personas' attributes: compiled once every file is sound.
    if problems.is_empty() {
        problems.extend(declared::compile_props(
            &mut world, world_src, &personas, &sources,
        ));
    }
    let world = std::sync::Arc::new(world);
    for p in &mut personas {
        p.declared = world.clone();
    }
    personas.sort_by(|a, b| a.name.cmp(&b.name));
    // The line a top-level field of a persona's file is written on.
    let line_of = |p: &Persona, field: &str| {
        sources
            .iter()
            .find(|s| s.name == p.source)
            .and_then(|s| s.locate(&FieldPath::root().key(field)))
            .unwrap_or(1)
    };
    for w in personas.windows(2) {
        if w[0].name == w[1].name {
            problems.push(Problem {
                file: w[1].source.clone(),
                line: Some(line_of(&w[1], "name")),
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
        Ok(personas)
    } else {
        Err(Problems(problems))
    }
}

/// Attributes every `user.signed_up` line carries under their own names.
pub const LINE_ATTRIBUTES: &[&str] = &["platform", "locale"];

/// One attribute `user.signed_up` carries beside platform and locale (`tz`).
#[derive(Clone, Debug, PartialEq)]
pub struct SignedUpAttr {
    pub name: String,
    /// A category (its label is written), else a number.
    pub category: bool,
    /// Every persona has it (else the prop is optional).
    pub everyone: bool,
}

/// The personas' own attributes `user.signed_up` carries (any but platform and locale),
/// in name order: only in a world with a `world.toml`, so the default world's lines stay
/// as they were. Replay's `{user.tz}` reads them there.
pub fn signed_up_attributes(personas: &[Persona]) -> Vec<SignedUpAttr> {
    if !personas.iter().any(|p| p.declared.source.is_some()) {
        return Vec::new();
    }
    let mut out: Vec<SignedUpAttr> = Vec::new();
    for p in personas {
        for a in &p.attributes {
            if LINE_ATTRIBUTES.contains(&a.name.as_str()) || out.iter().any(|o| o.name == a.name) {
                continue;
            }
            out.push(SignedUpAttr {
                name: a.name.clone(),
                category: !a.dist.labels().is_empty(),
                everyone: personas
                    .iter()
                    .all(|q| q.attribute_index(&a.name).is_some()),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The props `user.signed_up` has of its own: an attribute of that name would write the
/// key twice. `id` and `existing` come with the scenario's `[ids]`, pools by their names.
const SIGNED_UP_OWN: &[&str] = &["source", "invited_by", "room", "id", "existing"];

/// Each attribute `user.signed_up` would carry under a name the line already uses (one of
/// its own props, or a pool of the scenario): one problem per persona file and name.
pub fn attribute_clashes(personas: &[Persona], pools: &[&str]) -> Vec<Problem> {
    let carried = signed_up_attributes(personas);
    let mut problems = Vec::new();
    for p in personas {
        for a in &p.attributes {
            let own = SIGNED_UP_OWN.contains(&a.name.as_str());
            let pool = pools.contains(&a.name.as_str());
            if !(own || pool) || !carried.iter().any(|c| c.name == a.name) {
                continue;
            }
            let what = if pool {
                "the scenario's pool of that name"
            } else {
                "user.signed_up's own prop of that name"
            };
            problems.push(
                Problem::in_file(
                    p.source.clone(),
                    None,
                    format!(
                        "attribute `{}` would be written twice into user.signed_up: it clashes with {what}",
                        a.name
                    ),
                    format!(
                        "rename the attribute (e.g. `{}_attr`) and the templates that read it; the names user.signed_up uses are: {}",
                        a.name,
                        SIGNED_UP_OWN.iter().copied().chain(pools.iter().copied()).collect::<Vec<_>>().join(", ")
                    ),
                )
                .at_field(format!("attributes.{}", a.name)),
            );
        }
    }
    problems
}

/// When the personas' shares do not add up to 1 (and the scenario gives no `[mix]` to
/// replace them): the problem, naming every file and its share, for no one file is wrong.
pub fn shares_problem(personas: &[Persona]) -> Option<Problem> {
    let sum: f64 = personas.iter().map(|p| p.share).sum();
    if personas.is_empty() || (sum - 1.0).abs() <= 0.01 {
        return None;
    }
    let list: Vec<String> = personas
        .iter()
        .map(|p| {
            format!(
                "\n      {}:{}: {} {:.3}",
                p.source, p.share_line, p.name, p.share
            )
        })
        .collect();
    let folder = Path::new(&personas[0].source)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| ".".to_string(), |d| d.display().to_string());
    Some(Problem {
        file: folder,
        line: None,
        field: "share".into(),
        message: format!(
            "the personas' shares add up to {sum:.3}, not 1:{}",
            list.concat()
        ),
        fix: format!(
            "make them add up to 1 (dividing each by {sum:.3} keeps their proportions), or give the scenario a [mix] of these personas' shares (docs/SCENARIOS.md)"
        ),
    })
}

/// [`load_unmixed`], with the shares checked: for the `personas` commands, which have
/// no scenario to give a mix.
pub fn load(dir: Option<&Path>) -> Result<Vec<Persona>, Problems> {
    let personas = load_unmixed(dir)?;
    match shares_problem(&personas) {
        Some(p) => Err(Problems(vec![p])),
        None => Ok(personas),
    }
}

/// The shipped personas.
pub fn shipped() -> Result<Vec<Persona>, Problems> {
    from_sources(SHIPPED.iter().map(|(n, t)| Source::new(*n, *t)).collect())
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
    from_sources(sources)
}

/// Personas from `--personas DIR`, or the shipped set, their shares not yet checked: the
/// scenario checks them, or replaces them with its `[mix]` (`Scenario::validate`).
pub fn load_unmixed(dir: Option<&Path>) -> Result<Vec<Persona>, Problems> {
    match dir {
        Some(d) => load_dir(d),
        None => shipped(),
    }
}
