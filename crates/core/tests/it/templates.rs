//! docs/TEMPLATES.md is executed: every example row renders what the doc says it does,
//! and every error row fails with the message the doc shows.

use serde_json::Value;
use simulate_core::template::{Ctx, Template};
use simulate_core::world::ids::{IdFormat, IdSource};
use simulate_core::world::pools::{Pool, Pools, Team, UserIds};

const DOC: &str = include_str!("../../../../docs/TEMPLATES.md");

/// The cells of a Markdown table row, `\|` read as a pipe inside a cell.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.iter().map(|c| c.trim().to_string()).collect()
}

fn unquote(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or(cell)
}

/// The rows of every table whose header is `| a | b |`.
fn rows(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in DOC.lines() {
        if line.trim() == header {
            inside = true;
            continue;
        }
        if !line.trim_start().starts_with('|') {
            inside = false;
            continue;
        }
        if inside && !line.contains("| --- |") {
            let c = cells(line);
            assert_eq!(c.len(), 2, "a row of two cells: {line}");
            out.push((unquote(&c[0]).to_string(), c[1].clone()));
        }
    }
    out
}

/// The JSON line under "## The example event".
fn example_event() -> String {
    let after = DOC
        .split("## The example event")
        .nth(1)
        .expect("the section");
    let block = after.split("```json").nth(1).expect("a json block");
    block.split("```").next().unwrap().trim().to_string()
}

#[test]
fn docs_templates_examples_hold() {
    let line = example_event();
    let json: Value = serde_json::from_str(&line).expect("the example event is JSON");
    // The user's `user.signed_up` props in a world with `[ids]` and two pools.
    let user = serde_json::json!({"id": "c-0013", "team": "t-1", "business": "b-1", "tz": "Asia/Ho_Chi_Minh"});
    // 2,000 clients `c-0001` …, 25 a team (`t-1` …), 4 teams a business (`b-1` …).
    let format = |t: &str| IdSource::Format(IdFormat::parse(t).unwrap());
    let team = Team {
        seed: 42,
        users: 2000,
        pools: Pools {
            users: Some(UserIds::Format(IdFormat::parse("c-{pad(n, 4)}").unwrap())),
            pools: vec![
                Pool {
                    name: "business".into(),
                    ids: format("b-{n}"),
                    per: 4,
                    of: Some(1),
                },
                Pool {
                    name: "team".into(),
                    ids: format("t-{n}"),
                    per: 25,
                    of: None,
                },
            ],
            sessions: None,
            entities: Vec::new(),
        },
    };
    let ctx = Ctx {
        team: Some(&team),
        user: user.as_object(),
        user_id: json["user_id"].as_str().unwrap(),
        seq: json["seq"].as_u64().unwrap() as u32,
        session: 1,
        t_ms: json["t_ms"].as_i64().unwrap(),
        event: json["event"].as_str().unwrap(),
        line: line.as_bytes(),
        json: Some(&json),
        token: Some("tok-12"),
        vars: &[],
        entity: None,
    };
    let examples = rows("| template | renders |");
    assert!(examples.len() >= 45, "{} examples", examples.len());
    for (template, want) in &examples {
        let t = Template::compile(template)
            .unwrap_or_else(|e| panic!("docs/TEMPLATES.md: `{template}` does not compile: {e:?}"));
        assert_eq!(
            &t.render(&ctx),
            unquote(want),
            "docs/TEMPLATES.md: `{template}`"
        );
    }
    let errors = rows("| template | error |");
    assert!(errors.len() >= 8, "{} error rows", errors.len());
    for (template, want) in &errors {
        match Template::compile(template) {
            Ok(_) => panic!("docs/TEMPLATES.md: `{template}` compiles, the doc says it fails"),
            Err(e) => assert_eq!(&e[0].message, want, "docs/TEMPLATES.md: `{template}`"),
        }
    }
}
