//! What `seed --into … --plan` prints.

use simulate_db::into::plan::PlanDoc;

pub fn plan(doc: &PlanDoc, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(doc)?);
        return Ok(());
    }
    outln!(
        "plan (nothing written): schema `{}`, tables in load order",
        doc.schema
    );
    for t in &doc.tables {
        let kinds = t
            .kinds
            .as_ref()
            .map(|k| format!(" ({})", k.join(", ")))
            .unwrap_or_default();
        outln!(
            "  {:<28} {:>10} rows  from {}{kinds}",
            t.table,
            t.rows,
            t.from
        );
        if !t.triggers.is_empty() {
            outln!(
                "      triggers (they fire once per row): {}",
                t.triggers.join(", ")
            );
        }
        for n in &t.notes {
            outln!("      note: {n}");
        }
        for (i, s) in t.samples.iter().enumerate() {
            let cells: Vec<String> = t
                .columns
                .iter()
                .zip(s)
                .map(|(c, v)| format!("{}={}", c.name, v.as_deref().unwrap_or("NULL")))
                .collect();
            outln!("      sample {}: {}", i + 1, cells.join("  "));
        }
    }
    if doc.problems.is_empty() {
        outln!("sample rows checked by the server's input functions (rolled back): all fit");
    } else {
        outln!("{} value(s) the columns refuse:", doc.problems.len());
        for p in &doc.problems {
            outln!("  - {p}");
        }
    }
    Ok(())
}
