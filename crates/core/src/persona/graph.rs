//! Renders a persona's state machine as Mermaid or Graphviz DOT, for reviews and docs.

use std::fmt::Write;

use super::dist::Dist;
use super::model::{Persona, Transition};
use crate::units::SimDuration;

fn delay_label(d: &Dist) -> String {
    match d {
        Dist::Constant(v) if *v == 0.0 => String::new(),
        _ => format!("~{}", SimDuration(d.mean().round() as i64)),
    }
}

fn edges(p: &Persona) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for s in &p.states {
        let t = &s.transition;
        match t {
            Transition::Direct(e) => out.push((
                s.name.clone(),
                p.state_name(e.to).to_string(),
                delay_label(&e.delay),
            )),
            Transition::Weighted { edges, probs, .. } => {
                for (e, pr) in edges.iter().zip(probs) {
                    let d = delay_label(&e.delay);
                    out.push((
                        s.name.clone(),
                        p.state_name(e.to).to_string(),
                        format!(
                            "{:.0}%{}{d}",
                            pr * 100.0,
                            if d.is_empty() { "" } else { " " }
                        ),
                    ));
                }
            }
            Transition::Conditional { cases, otherwise } => {
                for (c, e) in cases {
                    out.push((
                        s.name.clone(),
                        p.state_name(e.to).to_string(),
                        format!("if {c}"),
                    ));
                }
                out.push((
                    s.name.clone(),
                    p.state_name(otherwise.to).to_string(),
                    "otherwise".into(),
                ));
            }
        }
    }
    out
}

pub fn mermaid(p: &Persona) -> String {
    let mut s = String::from("stateDiagram-v2\n");
    let _ = writeln!(
        s,
        "    [*] --> {}: trigger",
        p.states[p.start as usize].name
    );
    for st in &p.states {
        let _ = writeln!(
            s,
            "    {}: {} ({}, {})",
            st.name,
            st.name,
            &*st.action_name,
            st.hook.name()
        );
    }
    for (from, to, label) in edges(p) {
        let to = if to == "end" || to == "abandon" {
            "[*]".to_string()
        } else {
            to
        };
        let label = label.replace(':', " ").replace('"', "'");
        if label.is_empty() {
            let _ = writeln!(s, "    {from} --> {to}");
        } else {
            let _ = writeln!(s, "    {from} --> {to}: {label}");
        }
    }
    s
}

pub fn dot(p: &Persona) -> String {
    let mut s = format!(
        "digraph \"{}\" {{\n    rankdir=LR;\n    node [shape=box, style=rounded];\n",
        p.name
    );
    let _ = writeln!(
        s,
        "    trigger [shape=circle, label=\"trigger\"];\n    end [shape=doublecircle];\n    abandon [shape=doublecircle, color=red];"
    );
    let _ = writeln!(s, "    trigger -> \"{}\";", p.states[p.start as usize].name);
    for st in &p.states {
        let _ = writeln!(
            s,
            "    \"{}\" [label=\"{}\\n{} · {}\"];",
            st.name,
            st.name,
            &*st.action_name,
            st.hook.name()
        );
    }
    for (from, to, label) in edges(p) {
        let _ = writeln!(
            s,
            "    \"{from}\" -> \"{to}\" [label=\"{}\"];",
            label.replace('"', "'")
        );
    }
    s.push_str("}\n");
    s
}
