//! `simulate personas list | show | validate | graph`.

use std::fmt::Write;

use crate::cli::{GraphFormat, PersonasCommand};
use simulate_core::persona::dist::Dist;
use simulate_core::persona::{self, Persona, Transition, graph};
use simulate_core::units::SimDuration;

use simulate_core::diagnostic::Problem;

fn find<'a>(all: &'a [Persona], name: &str) -> Result<&'a Persona, Problem> {
    all.iter().find(|p| p.name == name).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        Problem::new(
            format!("no persona is called `{name}`"),
            format!("use one of: {}", names.join(", ")),
        )
    })
}

fn dist_text(d: &Dist, duration: bool) -> String {
    let v = |x: f64| {
        if duration {
            SimDuration(x.round() as i64).to_string()
        } else {
            format!("{}", (x * 100.0).round() / 100.0)
        }
    };
    match d {
        Dist::Constant(x) => v(*x),
        Dist::Uniform { min, max } => format!("uniform {}..{}", v(*min), v(*max)),
        Dist::Normal { mean, .. } => format!("normal, mean {}", v(*mean)),
        Dist::LogNormal { median, sigma, .. } => {
            format!("lognormal, median {} (sigma {sigma})", v(*median))
        }
        Dist::Exponential { mean, .. } => format!("exponential, mean {}", v(*mean)),
        Dist::Poisson { mean, .. } => format!("poisson, mean {}", v(*mean)),
        Dist::Weighted { labels, .. } => format!("weighted over {}", labels.join(", ")),
    }
}

pub(crate) fn show(p: &Persona) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} ({}) — {}", p.title, p.name, p.source);
    let _ = writeln!(s, "  {}", p.description);
    let _ = writeln!(s, "  share        {:.0} %", p.share * 100.0);
    for a in &p.attributes {
        let _ = writeln!(
            s,
            "  attribute    {} = {}",
            a.name,
            dist_text(&a.dist, false)
        );
    }
    let _ = writeln!(
        s,
        "  session gap  {} (at least {})",
        dist_text(&p.session_gap, true),
        SimDuration(p.min_gap_ms)
    );
    let _ = writeln!(s, "  max session  {}", SimDuration(p.max_session_ms));
    let h = &p.habit;
    let _ = writeln!(
        s,
        "  habit        starts {:.2}, halves every {}, investment +{:.2}×{:.1}, reward +{:.2}",
        h.initial,
        SimDuration(h.half_life_ms as i64),
        h.investment_gain,
        h.investment_payoff,
        h.reward_gain
    );
    let _ = writeln!(
        s,
        "  churn        {:.2} per day away × (1 − habit)^{:.1}, checked at each habit trigger",
        h.churn_hazard, h.churn_curve
    );
    let _ = writeln!(
        s,
        "  external     nudge {:.2}, broadcast {:.2} (scaled by habit)",
        h.nudge_response, h.broadcast_response
    );
    let _ = writeln!(s, "  states (start: {}):", p.states[p.start as usize].name);
    for st in &p.states {
        let chance = if st.chance < 1.0 {
            format!(", succeeds {:.0} %", st.chance * 100.0)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "    {:<14} {} [{}]{chance}",
            st.name,
            &*st.action_name,
            st.hook.name()
        );
        let edges: Vec<String> = match &st.transition {
            Transition::Direct(e) => vec![format!(
                "→ {} after {}",
                p.state_name(e.to),
                dist_text(&e.delay, true)
            )],
            Transition::Weighted { edges, probs, .. } => edges
                .iter()
                .zip(probs)
                .map(|(e, pr)| {
                    format!(
                        "{:>3.0} % → {} after {}",
                        pr * 100.0,
                        p.state_name(e.to),
                        dist_text(&e.delay, true)
                    )
                })
                .collect(),
            Transition::Conditional { cases, otherwise } => cases
                .iter()
                .map(|(c, e)| format!("if {c} → {}", p.state_name(e.to)))
                .chain([format!("otherwise → {}", p.state_name(otherwise.to))])
                .collect(),
        };
        for e in edges {
            let _ = writeln!(s, "        {e}");
        }
    }
    if !p.notes.is_empty() {
        let _ = writeln!(s, "  notes:");
        for (field, note) in &p.notes {
            let _ = writeln!(s, "    {field}: {note}");
        }
    }
    s
}

pub(crate) fn personas(cmd: PersonasCommand) -> anyhow::Result<i32> {
    match cmd {
        PersonasCommand::List { personas } => {
            let all = persona::load_unmixed(personas.as_deref())?;
            outln!(
                "{:<14} {:<16} {:>6} {:>7}  source",
                "name",
                "title",
                "share",
                "states"
            );
            for p in &all {
                outln!(
                    "{:<14} {:<16} {:>5.0}% {:>7}  {}",
                    p.name,
                    p.title,
                    p.share * 100.0,
                    p.states.len(),
                    p.source
                );
            }
        }
        PersonasCommand::Show { name, personas } => {
            let all = persona::load_unmixed(personas.as_deref())?;
            out!("{}", show(find(&all, &name)?));
        }
        PersonasCommand::Validate { dir } => {
            let all = persona::load_dir(&dir)?;
            let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
            outln!(
                "ok: {} personas valid in {} ({})",
                all.len(),
                dir.display(),
                names.join(", ")
            );
            // Pools are the scenario's: named here, checked when a scenario reads them.
            let pools = all
                .first()
                .map(|p| p.declared.team_reads())
                .unwrap_or_default();
            if !pools.is_empty() {
                let names: Vec<String> = pools.iter().map(|n| format!("user.{n}")).collect();
                outln!(
                    "note: world.toml's props read {}: the scenario must declare each as a pool ([pools.<name>], docs/SCENARIOS.md)",
                    names.join(", ")
                );
            }
            // Not an error: a scenario's [mix] may replace the shares.
            let sum: f64 = all.iter().map(|p| p.share).sum();
            if persona::shares_problem(&all).is_some() {
                outln!(
                    "note: their shares add up to {sum:.3}, not 1: a scenario using them needs a [mix] (docs/SCENARIOS.md)"
                );
            }
        }
        PersonasCommand::Graph {
            name,
            format,
            personas,
        } => {
            let all = persona::load_unmixed(personas.as_deref())?;
            let p = find(&all, &name)?;
            out!(
                "{}",
                if format == GraphFormat::Dot {
                    graph::dot(p)
                } else {
                    graph::mermaid(p)
                }
            );
        }
    }
    Ok(0)
}
