//! The mapping checked against the team's schema before anything is written: every
//! problem at once, each at the mapping's file:line and field, with the fix. Also the
//! order the tables load in: parents before children, by foreign key.

use simulate_core::diagnostic::{Problem, Problems};

use super::catalog::{Catalog, TableInfo, quote};
use super::mapping::{SeedMap, TableMap};

/// A mapped table and what the database says about it, in load order.
pub struct Planned<'m> {
    pub map: &'m TableMap,
    pub info: TableInfo,
}

fn at(map: &SeedMap, line: usize, field: String, message: String, fix: String) -> Problem {
    let mut p = Problem::in_file(&map.file, Some(line), message, fix);
    p.field = field;
    p
}

/// The tables outside the mapping that mapped columns reference by foreign key, each
/// as (name, SQL name): the load needs them already filled, which the backend asks.
pub fn outside_parents(map: &SeedMap, cat: &Catalog) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in &map.tables {
        let Ok(info) = cat.find(&t.name) else {
            continue;
        };
        for fk in &info.foreign {
            if fk.table == t.name || map.table(&fk.table).is_some() {
                continue;
            }
            // Columns the mapping leaves out stay NULL (or their default): no reference.
            if !fk
                .columns
                .iter()
                .any(|col| t.columns.iter().any(|m| &m.name == col))
            {
                continue;
            }
            let sql = match cat.tables.get(&fk.table) {
                Some(p) => p.qualified(&cat.schema),
                None => fk.table.split('.').map(quote).collect::<Vec<_>>().join("."),
            };
            if !out.iter().any(|(n, _)| n == &fk.table) {
                out.push((fk.table.clone(), sql));
            }
        }
    }
    out
}

/// The mapping against the catalog, `empty` being the [`outside_parents`] that hold no
/// row; `Err` holds every problem.
pub fn check<'m>(
    map: &'m SeedMap,
    cat: &Catalog,
    empty: &[String],
) -> Result<Vec<Planned<'m>>, Problems> {
    let mut problems = Vec::new();
    if cat.tables.is_empty() {
        problems.push(at(
            map,
            1,
            "schema".into(),
            format!("schema `{}` holds no table", map.schema),
            "create your tables first (your migrations), or set `schema` to where they are".into(),
        ));
        return Err(Problems(problems));
    }
    let mut planned = Vec::new();
    for t in &map.tables {
        let field = format!("tables.{}", t.name);
        match cat.find(&t.name) {
            Ok(info) => {
                columns(map, t, info, &mut problems);
                planned.push(Planned {
                    map: t,
                    info: info.clone(),
                });
            }
            Err(hint) => problems.push(at(
                map,
                t.line,
                field,
                format!("schema `{}` has no table `{}`", map.schema, t.name),
                match hint {
                    Some(h) => format!(
                        "names are case-sensitive: write [tables.{}] (did you mean `{h}`?)",
                        maybe_quoted(h)
                    ),
                    None => format!(
                        "use one of: {}",
                        cat.tables.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                },
            )),
        }
    }
    for p in &planned {
        foreign_parents(map, p, empty, &mut problems);
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    order(map, planned)
}

fn maybe_quoted(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        name.to_string()
    } else {
        format!("\"{name}\"")
    }
}

/// Unknown or generated columns; NOT NULL columns with neither a value nor a default;
/// a table without a key the manifest could name its rows by.
fn columns(map: &SeedMap, t: &TableMap, info: &TableInfo, problems: &mut Vec<Problem>) {
    for col in &t.columns {
        let field = format!("tables.{}.columns.{}", t.name, col.name);
        match info.column(&col.name) {
            None => {
                let hint = info
                    .columns
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(&col.name))
                    .map(|c| format!(" (names are case-sensitive: `{}`?)", c.name))
                    .unwrap_or_default();
                problems.push(at(
                    map,
                    col.line,
                    field,
                    format!("table `{}` has no column `{}`{hint}", t.name, col.name),
                    format!(
                        "use one of: {}",
                        info.columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            Some(c) if c.generated => problems.push(at(
                map,
                col.line,
                field,
                format!(
                    "`{}`.`{}` is a generated column: the database computes it",
                    t.name, c.name
                ),
                "remove it from the mapping".into(),
            )),
            Some(c) => {
                if let Some(v) = col
                    .template
                    .constant()
                    .and_then(|v| v.as_str().map(String::from))
                    && !c.labels.is_empty()
                    && !c.labels.contains(&v)
                {
                    problems.push(at(
                        map,
                        col.line,
                        field,
                        format!("`{v}` is not a value of the enum `{}`", c.ty),
                        format!("use one of: {}", c.labels.join(", ")),
                    ));
                }
            }
        }
    }
    for c in &info.columns {
        if c.not_null && !c.has_default && !t.columns.iter().any(|m| m.name == c.name) {
            problems.push(at(
                map,
                t.line,
                format!("tables.{}.columns", t.name),
                format!(
                    "column `{}` of `{}` is NOT NULL and has no database default (a Prisma @default(cuid()) or @updatedAt is filled by the client, not the database)",
                    c.name, t.name
                ),
                format!("give it a template, e.g. {} = \"{{uuid(user_id, seq)}}\" or \"{{ts}}\"", maybe_quoted(&c.name)),
            ));
        }
    }
    if info.key.is_empty() {
        problems.push(at(
            map,
            t.line,
            format!("tables.{}", t.name),
            format!(
                "table `{}` has no primary key nor unique NOT NULL key: the seed could not record which rows are its own, so `simulate clean` could not remove them",
                t.name
            ),
            "add a primary key to the table, or leave it out of the mapping".into(),
        ));
    }
}

/// A foreign key to a table the mapping does not fill must point at rows already there.
fn foreign_parents(map: &SeedMap, p: &Planned<'_>, empty: &[String], problems: &mut Vec<Problem>) {
    for fk in &p.info.foreign {
        if !empty.contains(&fk.table)
            || !fk
                .columns
                .iter()
                .any(|col| p.map.columns.iter().any(|m| &m.name == col))
        {
            continue;
        }
        problems.push(at(
            map,
            p.map.line,
            format!("tables.{}", p.map.name),
            format!(
                "`{}` references `{}` ({}), which is empty and not in the mapping: every row would break the foreign key",
                p.map.name,
                fk.table,
                fk.columns.join(", ")
            ),
            format!("add [tables.{}] to the mapping, or fill it before seeding", maybe_quoted(&fk.table)),
        ));
    }
}

/// Parents before children among the mapped tables (a self-reference is no edge).
fn order<'m>(map: &SeedMap, mut left: Vec<Planned<'m>>) -> Result<Vec<Planned<'m>>, Problems> {
    let mut done: Vec<Planned<'m>> = Vec::new();
    while !left.is_empty() {
        let ready = left.iter().position(|p| {
            p.info
                .foreign
                .iter()
                .all(|fk| fk.table == p.map.name || !left.iter().any(|o| o.map.name == fk.table))
        });
        match ready {
            Some(i) => done.push(left.remove(i)),
            None => {
                let names: Vec<&str> = left.iter().map(|p| p.map.name.as_str()).collect();
                return Err(Problems(vec![at(
                    map,
                    left[0].map.line,
                    format!("tables.{}", left[0].map.name),
                    format!(
                        "the foreign keys of {} form a cycle: no table of them can be written first",
                        names.join(", ")
                    ),
                    "make one of the keys DEFERRABLE INITIALLY DEFERRED, or seed one of these tables without its referencing column".into(),
                )]));
            }
        }
    }
    Ok(done)
}
