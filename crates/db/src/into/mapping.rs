//! The seed mapping file (`seed.toml`, docs/SEEDING.md): which timeline entity fills each
//! of the team's tables, and a template per column. Read with serde, then compiled: every
//! problem of every table and column at once, each at its file:line and field.

use std::collections::BTreeMap;

use serde::Deserialize;
use simulate_core::diagnostic::{FieldPath, Problem, Problems, Source};
use simulate_core::template::Template;
use simulate_core::world::kinds::KindTable;

use super::aggregate::{self, Aggregate, RawAggregate};
use super::entity::{Entity, SeedWorld};

const DOC: &str = "docs/SEEDING.md";

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawMap {
    #[serde(default = "public")]
    schema: String,
    #[serde(default)]
    tables: BTreeMap<String, RawTable>,
    #[serde(default)]
    invariants: Vec<RawInvariant>,
}

fn public() -> String {
    "public".into()
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawTable {
    from: String,
    kinds: Option<Vec<String>>,
    limit: Option<u64>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    /// Props computed over events per row (`{props.<name>}`): sum, count, first, last.
    #[serde(default)]
    aggregates: BTreeMap<String, RawAggregate>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawInvariant {
    name: String,
    sql: String,
    /// The text the query's one value must equal; without it the query must return no row.
    value: Option<String>,
    /// The same rule in SQLite's SQL, when `sql` is PostgreSQL's own (`::int`, `jsonb_*`).
    sqlite: Option<String>,
}

/// A compiled mapping.
#[derive(Debug)]
pub struct SeedMap {
    /// The file's name, for messages.
    pub file: String,
    pub schema: String,
    /// In the file's order of names; the load orders them by foreign key.
    pub tables: Vec<TableMap>,
    pub invariants: Vec<Invariant>,
    /// The world's ids, pools and entities' ids, for `user.<name>`, `lookup(…)`,
    /// `{session_id}` and `{props.gift_id}` (set by the seed from its scenario and run).
    pub world: SeedWorld,
}

/// One of the team's tables and what fills it.
#[derive(Debug)]
pub struct TableMap {
    pub name: String,
    pub line: usize,
    pub entity: Entity,
    /// Event kinds (events only); none: every kind.
    pub kinds: Option<Vec<String>>,
    pub limit: Option<u64>,
    pub columns: Vec<ColumnMap>,
    pub aggregates: Vec<Aggregate>,
    /// The `user.<name>` names its templates read.
    pub user_reads: Vec<String>,
}

#[derive(Debug)]
pub struct ColumnMap {
    pub name: String,
    pub line: usize,
    pub template: Template,
}

/// A rule the team's data keeps, as SQL: no row back (the rows that break it), or one value.
#[derive(Debug, Clone)]
pub struct Invariant {
    pub name: String,
    pub sql: String,
    pub value: Option<String>,
    /// SQLite's spelling of the query, if it differs.
    pub sqlite: Option<String>,
    pub line: usize,
}

impl SeedMap {
    /// Reads and compiles a mapping; `kinds` are the world's event kinds (custom ones too).
    pub fn load(src: &Source, kinds: &KindTable) -> Result<SeedMap, Problems> {
        let raw: RawMap = src.parse_documented(DOC)?;
        let mut problems = Vec::new();
        let root = FieldPath::root();
        if raw.schema.trim().is_empty() {
            problems.push(src.problem(
                &root.key("schema"),
                "is empty",
                "name the schema that holds your tables (default public)",
            ));
        }
        if raw.tables.is_empty() {
            problems.push(src.problem(
                &root,
                "maps no table",
                format!("add a [tables.<name>] with `from` and its columns (see {DOC})"),
            ));
        }
        let mut tables = Vec::new();
        for (name, t) in &raw.tables {
            if let Some(t) = compile_table(src, kinds, name, t, &mut problems) {
                tables.push(t);
            }
        }
        let invariants = raw
            .invariants
            .iter()
            .enumerate()
            .map(|(i, inv)| {
                let at = root.key("invariants").index(i);
                if inv.sql.trim().is_empty() {
                    problems.push(src.problem(
                        &at.key("sql"),
                        "is empty",
                        "write a query returning the rows that break the rule",
                    ));
                }
                Invariant {
                    name: inv.name.clone(),
                    sql: inv.sql.clone(),
                    value: inv.value.clone(),
                    sqlite: inv.sqlite.clone(),
                    line: src.problem(&at, "", "").line.unwrap_or(1),
                }
            })
            .collect();
        if !problems.is_empty() {
            return Err(Problems(problems));
        }
        Ok(SeedMap {
            file: src.name.clone(),
            schema: raw.schema,
            tables,
            invariants,
            world: SeedWorld::default(),
        })
    }

    pub fn table(&self, name: &str) -> Option<&TableMap> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Whether a table aggregates events (the seed then spools the events too).
    pub fn aggregates(&self) -> bool {
        self.tables.iter().any(|t| !t.aggregates.is_empty())
    }

    /// Every `user.<name>` a template reads must be one of the world's `known` names (its
    /// `[ids] user` and `[pools.<name>]`), and every `lookup(pool, id, field)` must name
    /// its `pools` (the field may also be `id`): one problem each, at the column's line,
    /// with "did you mean".
    pub fn check_world(&self, known: &[String], pools: &[String]) -> Result<(), Problems> {
        let list = known
            .iter()
            .map(|n| format!("user.{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut problems = Vec::new();
        for t in &self.tables {
            for c in &t.columns {
                let at = |message: String, fix: String| {
                    let mut p = Problem::in_file(&self.file, Some(c.line), message, fix);
                    p.field = format!("tables.{}.columns.{}", t.name, c.name);
                    p
                };
                for n in c.template.user_fields() {
                    if !known.contains(&n) {
                        problems.push(at(
                            format!("`user.{n}` is not a field of this world's users"),
                            format!(
                                "use one of: {list} (ids and pools come from the scenario's [ids] and [pools.<name>], docs/SCENARIOS.md)"
                            ),
                        ));
                    }
                }
                for (pool, field) in c.template.lookups() {
                    problems.extend(unknown_pool(&pool, "pool", pools).map(|(m, f)| at(m, f)));
                    problems.extend(unknown_pool(&field, "field", pools).map(|(m, f)| at(m, f)));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(problems))
        }
    }
}

/// A `lookup`'s pool (or field) the world does not have: the message and the fix.
fn unknown_pool(name: &str, what: &str, pools: &[String]) -> Option<(String, String)> {
    let names: Vec<&str> = pools.iter().map(String::as_str).collect();
    if names.contains(&name) || (what == "field" && name == "id") {
        return None;
    }
    let hint = simulate_core::template::did_you_mean(name, &names)
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    let fix = if names.is_empty() {
        "declare the pools in the scenario's [pools.<name>] (docs/SCENARIOS.md)".to_string()
    } else {
        let id = if what == "field" { ", id" } else { "" };
        format!("use one of: {}{id}", names.join(", "))
    };
    Some((
        format!("`lookup`'s {what} `{name}` is not a pool of this world{hint}"),
        fix,
    ))
}

/// One `[tables.<name>]`, or None after pushing its problems.
fn compile_table(
    src: &Source,
    kinds: &KindTable,
    name: &str,
    t: &RawTable,
    problems: &mut Vec<Problem>,
) -> Option<TableMap> {
    let at = FieldPath::root().key("tables").key(name);
    let before = problems.len();
    let entity = Entity::named(&t.from);
    if entity.is_none() {
        problems.push(src.problem(
            &at.key("from"),
            format!("`{}` is not an entity of the timeline", t.from),
            format!("use one of: {}", Entity::names().join(", ")),
        ));
    }
    if let Some(ks) = &t.kinds {
        if entity != Some(Entity::Events) {
            problems.push(src.problem(
                &at.key("kinds"),
                "only a table filled `from = \"events\"` picks kinds",
                "remove `kinds`, or fill the table from events",
            ));
        }
        for k in ks {
            if kinds.id(k).is_none() {
                problems.push(src.problem(
                    &at.key("kinds"),
                    format!("`{k}` is not an event kind of this world"),
                    format!("use one of: {}", kinds.names().join(", ")),
                ));
            }
        }
    }
    if t.limit == Some(0) {
        problems.push(src.problem(
            &at.key("limit"),
            "is 0: the table would get no row",
            "remove `limit`, or give a positive number",
        ));
    }
    if t.columns.is_empty() {
        problems.push(src.problem(
            &at,
            "maps no column",
            format!("add [tables.{name}.columns] with a template per column"),
        ));
    }
    let entity = entity?;
    let aggregates: Vec<Aggregate> = t
        .aggregates
        .iter()
        .filter_map(|(n, a)| {
            let at = at.key("aggregates").key(n);
            aggregate::compile(src, &at, entity, n, a, kinds, problems)
        })
        .collect();
    let extra: Vec<_> = aggregates.iter().map(|a| (a.name.clone(), a.ty)).collect();
    let fields = entity.fields(kinds, t.kinds.as_deref(), &extra);
    let mut columns = Vec::new();
    for (col, text) in &t.columns {
        let cat = at.key("columns").key(col);
        match Template::compile_in(text, &fields) {
            Ok(template) => columns.push(ColumnMap {
                name: col.clone(),
                line: src.problem(&cat, "", "").line.unwrap_or(1),
                template,
            }),
            Err(errs) => problems.extend(
                errs.into_iter()
                    .map(|e| src.problem(&cat, e.message, e.fix)),
            ),
        }
    }
    let mut user_reads: Vec<String> = Vec::new();
    for c in &columns {
        for n in c.template.user_fields() {
            if !user_reads.contains(&n) {
                user_reads.push(n);
            }
        }
    }
    (problems.len() == before).then(|| TableMap {
        name: name.to_string(),
        line: src.problem(&at, "", "").line.unwrap_or(1),
        entity,
        kinds: t.kinds.clone(),
        limit: t.limit,
        columns,
        aggregates,
        user_reads,
    })
}
