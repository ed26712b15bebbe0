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

/// A column's type affinity, by SQLite's rules for a declared type (datatype3.html
/// §3.1): the first that matches of INT, CHAR/CLOB/TEXT, BLOB or none, REAL/FLOA/DOUB,
/// else NUMERIC.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Affinity {
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

pub fn affinity(declared: &str) -> Affinity {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        Affinity::Integer
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|k| t.contains(k)) {
        Affinity::Text
    } else if t.contains("BLOB") || t.trim().is_empty() {
        Affinity::Blob
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|k| t.contains(k)) {
        Affinity::Real
    } else {
        Affinity::Numeric
    }
}

/// Why a column of this declared type would not take `value` as the app means it, as
/// PostgreSQL's input functions would refuse it: a number column (INTEGER or REAL
/// affinity, or declared NUMERIC or DECIMAL) given text that is no number, which SQLite
/// silently keeps as text. Dates, booleans and other NUMERIC-affinity names are left
/// alone: apps store their text there on purpose.
pub fn refuses(declared: &str, value: &str) -> Option<String> {
    let numeric_name = {
        let t = declared.to_ascii_uppercase();
        t.starts_with("NUMERIC") || t.starts_with("DECIMAL")
    };
    let wants_number = match affinity(declared) {
        Affinity::Integer | Affinity::Real => true,
        Affinity::Numeric => numeric_name,
        Affinity::Text | Affinity::Blob => false,
    };
    let v = value.trim();
    let number = v.parse::<i64>().is_ok() || v.parse::<f64>().is_ok_and(f64::is_finite);
    (wants_number && !number).then(|| {
        format!(
            "column type `{declared}` has {} affinity and `{value}` is no number: SQLite would keep it as text",
            match affinity(declared) {
                Affinity::Integer => "INTEGER",
                Affinity::Real => "REAL",
                _ => "NUMERIC",
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_follows_sqlites_rules() {
        assert_eq!(affinity("INTEGER"), Affinity::Integer);
        assert_eq!(affinity("BIGINT"), Affinity::Integer);
        assert_eq!(affinity("VARCHAR(20)"), Affinity::Text);
        assert_eq!(affinity("blob"), Affinity::Blob);
        assert_eq!(affinity(""), Affinity::Blob);
        assert_eq!(affinity("DOUBLE PRECISION"), Affinity::Real);
        assert_eq!(affinity("DATETIME"), Affinity::Numeric);
        // "POINT" holds INT: SQLite's own example of the first rule winning.
        assert_eq!(affinity("FLOATING POINT"), Affinity::Integer);
    }

    #[test]
    fn number_columns_refuse_text_that_is_no_number() {
        assert!(refuses("INTEGER", "12").is_none());
        assert!(refuses("INTEGER", " 12 ").is_none());
        assert!(refuses("REAL", "1.5e3").is_none());
        assert!(refuses("INTEGER", "challenge-3").is_some_and(|w| w.contains("INTEGER")));
        assert!(refuses("DECIMAL(10,2)", "abc").is_some());
        assert!(refuses("REAL", "inf").is_some());
        assert!(refuses("DATETIME", "2026-01-05T01:19:25Z").is_none());
        assert!(refuses("BOOLEAN", "true").is_none());
        assert!(refuses("TEXT", "anything").is_none());
    }
}
