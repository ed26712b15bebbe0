//! An SQLite file's tables as its pragmas tell them (`table_xinfo`, `foreign_key_list`,
//! `index_list`, `index_info`) and `sqlite_schema` (triggers), in the shape of the
//! PostgreSQL catalog, so the mapping is checked against either the same way.

use rusqlite::Connection;

use super::super::catalog::{Catalog, ColumnInfo, ForeignKey, TableInfo, quote};
use crate::DbError;

fn failed(e: rusqlite::Error) -> DbError {
    DbError::failed("reading the SQLite file's tables", e)
}

/// The file's tables (`main`), and those declared WITHOUT ROWID (the manifest names
/// seeded rows by rowid, so those are refused).
pub fn read(c: &Connection) -> Result<(Catalog, Vec<String>), DbError> {
    let mut tables = std::collections::BTreeMap::new();
    let mut without_rowid = Vec::new();
    let listed: Vec<(String, String)> = c
        .prepare(
            "SELECT name, coalesce(sql, '') FROM main.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .map_err(failed)?;
    for (name, sql) in listed {
        if sql.to_ascii_uppercase().contains("WITHOUT ROWID") {
            without_rowid.push(name.clone());
        }
        let mut t = table(c, &name)?;
        t.triggers = c
            .prepare("SELECT name FROM main.sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 ORDER BY name")
            .and_then(|mut s| s.query_map([&name], |r| r.get(0))?.collect::<Result<_, _>>())
            .map_err(failed)?;
        tables.insert(name, t);
    }
    // A foreign key without columns on the parent's side names the parent's primary key.
    let keys: Vec<(String, Vec<String>)> = tables
        .values()
        .map(|t: &TableInfo| (t.name.clone(), t.key.clone()))
        .collect();
    for t in tables.values_mut() {
        for fk in &mut t.foreign {
            if fk.references.iter().any(String::is_empty)
                && let Some((_, k)) = keys.iter().find(|(n, _)| *n == fk.table)
            {
                fk.references = k.clone();
            }
        }
    }
    Ok((
        Catalog {
            schema: "main".into(),
            tables,
        },
        without_rowid,
    ))
}

/// One table: columns, key, unique keys, foreign keys, unique indexes.
fn table(c: &Connection, name: &str) -> Result<TableInfo, DbError> {
    let q = quote(name);
    let mut t = TableInfo {
        name: name.to_string(),
        ..TableInfo::default()
    };
    let mut pk: Vec<(i64, String, String)> = Vec::new();
    let mut stmt = c
        .prepare(&format!("PRAGMA main.table_xinfo({q})"))
        .map_err(failed)?;
    let cols = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                r.get::<_, i64>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(failed)?;
    for (col, ty, not_null, default, in_pk, hidden) in cols {
        if hidden == 1 {
            continue; // a virtual table's hidden column
        }
        if in_pk > 0 {
            pk.push((in_pk, col.clone(), ty.clone()));
        }
        let generated = hidden == 2 || hidden == 3;
        t.columns.push(ColumnInfo {
            name: col,
            ty,
            not_null: not_null == 1,
            has_default: default.is_some() || generated,
            generated,
            sequence: None,
            labels: Vec::new(),
        });
    }
    pk.sort();
    // INTEGER PRIMARY KEY is the rowid: SQLite numbers it when no value is given.
    if let [(_, col, ty)] = &pk[..]
        && ty.eq_ignore_ascii_case("integer")
        && let Some(c) = t.columns.iter_mut().find(|c| &c.name == col)
    {
        c.has_default = true;
    }
    t.key = pk.into_iter().map(|(_, c, _)| c).collect();
    if t.key.is_empty() {
        t.key = vec!["rowid".into()];
    }
    t.foreign = foreign(c, &q)?;
    unique(c, &q, &mut t)?;
    Ok(t)
}

fn foreign(c: &Connection, q: &str) -> Result<Vec<ForeignKey>, DbError> {
    let mut stmt = c
        .prepare(&format!("PRAGMA main.foreign_key_list({q})"))
        .map_err(failed)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(failed)?;
    let mut out: Vec<(i64, ForeignKey)> = Vec::new();
    for (id, table, from, to) in rows {
        match out.iter_mut().find(|(i, _)| *i == id) {
            Some((_, fk)) => {
                fk.columns.push(from);
                fk.references.push(to);
            }
            None => out.push((
                id,
                ForeignKey {
                    name: format!("foreign key {id}"),
                    columns: vec![from],
                    table,
                    references: vec![to],
                },
            )),
        }
    }
    Ok(out.into_iter().map(|(_, fk)| fk).collect())
}

/// Unique constraints (their columns) and unique indexes created on their own.
fn unique(c: &Connection, q: &str, t: &mut TableInfo) -> Result<(), DbError> {
    let mut stmt = c
        .prepare(&format!("PRAGMA main.index_list({q})"))
        .map_err(failed)?;
    let idx = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(failed)?;
    for (name, unique, origin) in idx {
        if unique == 0 {
            continue;
        }
        match origin.as_str() {
            "u" => {
                let cols: Vec<String> = c
                    .prepare(&format!("PRAGMA main.index_info({})", quote(&name)))
                    .and_then(|mut s| {
                        s.query_map([], |r| r.get::<_, Option<String>>(2))?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(failed)?
                    .into_iter()
                    .flatten()
                    .collect();
                t.uniques.push(cols);
            }
            "c" => t.unique_indexes.push(name),
            _ => {}
        }
    }
    Ok(())
}
