//! The team's schema as PostgreSQL's catalog tells it: tables, columns with their types,
//! enums, NOT NULL, defaults, identity and serial columns, keys, foreign keys, triggers.
//! The mapping is checked against this before anything is written.

use std::collections::BTreeMap;

use sqlx::{PgConnection, Row};

use crate::DbError;

/// One of the team's tables.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TableInfo {
    pub name: String,
    pub columns: Vec<ColumnInfo>,
    /// The primary key, else the first unique key whose columns are all NOT NULL: how
    /// the manifest names the rows a seed wrote.
    pub key: Vec<String>,
    pub uniques: Vec<Vec<String>>,
    pub foreign: Vec<ForeignKey>,
    pub triggers: Vec<String>,
    /// Unique indexes that are not constraints (partial ones among them), by name.
    pub unique_indexes: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnInfo {
    pub name: String,
    /// As `format_type` spells it (`timestamp(3) without time zone`, `"Role"`).
    pub ty: String,
    pub not_null: bool,
    /// A default, an identity or a generated value: the database fills it.
    pub has_default: bool,
    pub generated: bool,
    /// The sequence behind a serial or identity column.
    pub sequence: Option<String>,
    /// An enum's labels.
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    /// The referenced table (in the same schema; `schema.table` elsewhere).
    pub table: String,
    pub references: Vec<String>,
}

/// The tables of one schema, by name.
#[derive(Debug, Default)]
pub struct Catalog {
    pub schema: String,
    pub tables: BTreeMap<String, TableInfo>,
}

impl Catalog {
    pub async fn read(c: &mut PgConnection, schema: &str) -> Result<Catalog, DbError> {
        let failed = |e| DbError::failed("reading the catalog", e);
        let mut tables: BTreeMap<String, TableInfo> = BTreeMap::new();
        for r in sqlx::query(COLUMNS)
            .bind(schema)
            .fetch_all(&mut *c)
            .await
            .map_err(failed)?
        {
            let table: String = r.get(0);
            let t = tables.entry(table.clone()).or_insert_with(|| TableInfo {
                name: table,
                ..TableInfo::default()
            });
            t.columns.push(ColumnInfo {
                name: r.get(1),
                ty: r.get(2),
                not_null: r.get(3),
                has_default: r.get(4),
                generated: r.get(5),
                sequence: r.get(6),
                labels: r.get(7),
            });
        }
        for r in sqlx::query(CONSTRAINTS)
            .bind(schema)
            .fetch_all(&mut *c)
            .await
            .map_err(failed)?
        {
            let (kind, name, table): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            let Some(t) = tables.get_mut(&table) else {
                continue;
            };
            let cols: Vec<String> = r.get(5);
            match kind.as_str() {
                "p" => t.key = cols,
                "u" => t.uniques.push(cols),
                _ => {
                    let (fschema, ftable): (String, String) = (r.get(3), r.get(4));
                    t.foreign.push(ForeignKey {
                        name,
                        columns: cols,
                        table: if fschema == schema {
                            ftable
                        } else {
                            format!("{fschema}.{ftable}")
                        },
                        references: r.get(6),
                    });
                }
            }
        }
        for r in sqlx::query(EXTRAS)
            .bind(schema)
            .fetch_all(&mut *c)
            .await
            .map_err(failed)?
        {
            let (what, table, name): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            if let Some(t) = tables.get_mut(&table) {
                match what.as_str() {
                    "trigger" => t.triggers.push(name),
                    _ => t.unique_indexes.push(name),
                }
            }
        }
        for t in tables.values_mut() {
            if t.key.is_empty() {
                let not_null = |c: &String| t.columns.iter().any(|x| &x.name == c && x.not_null);
                if let Some(u) = t.uniques.iter().find(|u| u.iter().all(not_null)) {
                    t.key = u.clone();
                }
            }
        }
        Ok(Catalog {
            schema: schema.to_string(),
            tables,
        })
    }

    /// A table by its exact name, or a hint at the one meant (`user` for `User`).
    pub fn find(&self, name: &str) -> Result<&TableInfo, Option<&str>> {
        self.tables.get(name).ok_or_else(|| {
            self.tables
                .keys()
                .find(|k| k.eq_ignore_ascii_case(name))
                .map(String::as_str)
        })
    }
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// `schema.table`, both quoted.
    pub fn qualified(&self, schema: &str) -> String {
        format!("{}.{}", quote(schema), quote(&self.name))
    }
}

/// An identifier quoted for SQL: `"User"`, `"createdAt"`, `"a""b"`.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Columns of a list, quoted and joined.
pub fn quote_all(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote(n))
        .collect::<Vec<_>>()
        .join(", ")
}

const COLUMNS: &str = "
SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
       a.attnotnull,
       (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''),
       a.attgenerated <> '',
       pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname),
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = a.atttypid
             ORDER BY e.enumsortorder)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname, a.attnum";

const CONSTRAINTS: &str = "
SELECT con.contype::text, con.conname::text, cl.relname::text,
       coalesce(fn.nspname::text, ''), coalesce(fcl.relname::text, ''),
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       ARRAY(SELECT a.attname::text FROM unnest(coalesce(con.confkey, '{}')) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
LEFT JOIN pg_class fcl ON fcl.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fcl.relnamespace
WHERE n.nspname = $1 AND con.contype IN ('p', 'u', 'f') AND con.conparentid = 0
ORDER BY cl.relname, con.conname";

const EXTRAS: &str = "
SELECT 'trigger', c.relname::text, t.tgname::text
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND NOT t.tgisinternal
UNION ALL
SELECT 'unique index', c.relname::text, ic.relname::text
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND i.indisunique
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY 1, 2, 3";
