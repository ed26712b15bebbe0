//! The team's own data files a scenario names (`[ids] user = { file = … }`, `[pools.*]
//! file`, `[catalog] file`): CSV with a header row, JSON, or one value per line, read with
//! a size limit, paths relative to the scenario file.
//!
//! The CSV reader is RFC 4180's subset every spreadsheet and `COPY … CSV HEADER` writes:
//! comma-separated, fields optionally in double quotes, `""` for a quote inside one,
//! CRLF or LF line ends. Hand-written (40 lines) rather than a dependency for that.

use std::path::{Path, PathBuf};

use crate::bounded;

/// A data file's records: each a list of (column, value) in column order.
pub(crate) type Records = Vec<Vec<(String, String)>>;

/// Where a file named in a scenario is: relative to the scenario file's folder.
pub(crate) fn resolve(scenario: &str, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    Path::new(scenario)
        .parent()
        .map_or_else(|| p.to_path_buf(), |d| d.join(p))
}

/// The file's text, or why it cannot be read, in words.
pub(crate) fn read(path: &Path) -> Result<String, String> {
    bounded::read_to_string(path, bounded::DATA_FILE)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// One CSV file's rows, the header's names as keys.
pub(crate) fn csv(text: &str) -> Result<Records, String> {
    let mut rows = parse_csv(text)?.into_iter();
    let header = rows
        .next()
        .ok_or("the file is empty: a header row is needed")?;
    let mut out = Vec::new();
    for (i, row) in rows.enumerate() {
        if row.len() == 1 && row[0].is_empty() {
            continue;
        }
        if row.len() != header.len() {
            return Err(format!(
                "row {} has {} fields and the header {}",
                i + 2,
                row.len(),
                header.len()
            ));
        }
        out.push(header.iter().cloned().zip(row).collect());
    }
    Ok(out)
}

fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field never closes (a `\"` is missing)".into());
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// The values of one column: a CSV column (`column`, else the first), a JSON array of
/// strings or numbers (or of objects, `column` their key), or one value per line.
pub(crate) fn column(path: &Path, text: &str, column: Option<&str>) -> Result<Vec<String>, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let values = match ext.as_str() {
        "csv" => csv_column(text, column)?,
        "json" => json_column(text, column)?,
        _ => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    };
    if values.is_empty() {
        return Err(format!("{} holds no ids", path.display()));
    }
    Ok(values)
}

fn csv_column(text: &str, column: Option<&str>) -> Result<Vec<String>, String> {
    let rows = csv(text)?;
    let names: Vec<String> = parse_csv(text)?.into_iter().next().unwrap_or_default();
    let name = column.or(names.first().map(String::as_str)).unwrap_or("");
    if !names.iter().any(|n| n == name) {
        return Err(format!(
            "no column `{name}`; the header has: {}",
            names.join(", ")
        ));
    }
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().find(|(k, _)| k == name).map(|(_, v)| v))
        .filter(|v| !v.trim().is_empty())
        .collect())
}

fn json_column(text: &str, column: Option<&str>) -> Result<Vec<String>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let items = v
        .as_array()
        .ok_or("the JSON is not an array: write [\"c-1\", \"c-2\"] or [{\"id\": \"c-1\"}]")?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let item = match (item, column) {
                (serde_json::Value::Object(o), Some(c)) => o
                    .get(c)
                    .ok_or_else(|| format!("item {i} has no key `{c}`"))?,
                (serde_json::Value::Object(_), None) => {
                    return Err(format!(
                        "item {i} is an object: name its key with column = \"id\""
                    ));
                }
                (v, _) => v,
            };
            match item {
                serde_json::Value::String(s) => Ok(s.clone()),
                serde_json::Value::Number(n) => Ok(n.to_string()),
                other => Err(format!("item {i} is {other}, not a string or a number")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_columns() {
        let text = "id,name\r\nc-1,\"Doe, Jane\"\nc-2,\"say \"\"hi\"\"\"\n\n";
        let rows = csv(text).unwrap();
        assert_eq!(rows[0][1].1, "Doe, Jane");
        assert_eq!(rows[1][1].1, "say \"hi\"");
        let p = Path::new("users.csv");
        assert_eq!(column(p, text, Some("id")).unwrap(), ["c-1", "c-2"]);
        assert_eq!(column(p, text, None).unwrap(), ["c-1", "c-2"]);
        let e = column(p, text, Some("uid")).unwrap_err();
        assert!(
            e.contains("no column `uid`") && e.contains("id, name"),
            "{e}"
        );
        assert!(csv("a,b\n1\n").unwrap_err().contains("row 2"));
        assert!(csv("a\n\"x\n").unwrap_err().contains("never closes"));
    }

    #[test]
    fn json_and_lines() {
        let j = Path::new("t.json");
        assert_eq!(column(j, r#"["t-1", 2]"#, None).unwrap(), ["t-1", "2"]);
        assert_eq!(
            column(j, r#"[{"id":"t-1"},{"id":"t-2"}]"#, Some("id")).unwrap(),
            ["t-1", "t-2"]
        );
        assert!(column(j, r#"[{"id":"t-1"}]"#, None).is_err());
        assert!(column(j, r#"{"id":1}"#, None).is_err());
        let l = Path::new("t.txt");
        assert_eq!(column(l, "a\n\n b \n", None).unwrap(), ["a", "b"]);
        assert!(column(l, "\n", None).unwrap_err().contains("no ids"));
        assert_eq!(
            resolve("examples/x/scenario.toml", "users.csv"),
            Path::new("examples/x/users.csv")
        );
    }
}
