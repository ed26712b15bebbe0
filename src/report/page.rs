//! The page around the charts: a head that forbids fetching anything, a title, the
//! headline figures (each with its JSON value in `data-value`), sections of charts and
//! tables, and one stylesheet inline.

use std::fmt::Write as _;

use super::svg::{esc, num, pct};

/// Nothing is loaded from anywhere: no script, no font, no image but inline data. A
/// chart that tried would show as a console error in the browser test.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = r#"
:root { --ink:#1a1a1a; --muted:#5a5f66; --line:#d9dde2; --card:#ffffff; --bg:#f4f6f8; --ok:#1b7f3b; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
main { max-width:1180px; margin:0 auto; padding:24px 20px 48px; }
header h1 { font-size:24px; margin:0 0 4px; }
header p { margin:2px 0; color:var(--muted); }
h2 { font-size:18px; margin:28px 0 4px; }
section > p.intro { margin:0 0 12px; color:var(--muted); }
.figures { display:grid; grid-template-columns:repeat(auto-fill, minmax(165px, 1fr)); gap:10px; margin:18px 0 6px; }
.fig { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.fig .v { display:block; font-size:20px; font-weight:600; font-variant-numeric:tabular-nums; }
.fig .k { display:block; color:var(--muted); font-size:12px; }
.grid { display:grid; grid-template-columns:repeat(2, minmax(0, 1fr)); gap:14px; }
@media (max-width: 900px) { .grid { grid-template-columns:minmax(0, 1fr); } }
figure.chart { background:var(--card); border:1px solid var(--line); border-radius:8px; margin:0; padding:12px 14px 10px; }
figcaption h3 { font-size:15px; margin:0 0 2px; }
figcaption p { margin:0 0 6px; color:var(--muted); font-size:12.5px; }
svg { width:100%; height:auto; display:block; font-family:inherit; }
svg .grid { stroke:#e7eaee; stroke-width:1; }
svg .axis { stroke:#9aa1a9; stroke-width:1; }
svg .tick { fill:var(--muted); font-size:11px; }
svg .label { fill:var(--ink); font-size:12px; }
svg .cat { fill:var(--ink); font-size:12px; }
svg .value { fill:var(--ink); font-size:12px; font-variant-numeric:tabular-nums; }
svg .cell { font-size:10.5px; font-variant-numeric:tabular-nums; }
svg .none { fill:#f0f1f3; }
svg .line { fill:none; stroke-width:1.8; stroke-linejoin:round; }
ul.legend { list-style:none; margin:6px 0 0; padding:0; display:flex; flex-wrap:wrap; gap:4px 16px; font-size:12px; color:var(--muted); }
ul.legend .key { display:inline-block; width:18px; height:0; border-top:2.5px solid var(--c); margin-right:6px; vertical-align:middle; }
ul.legend .key.dashed { border-top-style:dashed; }
ul.legend .key.block { height:10px; border:0; background:var(--c); }
table { border-collapse:collapse; background:var(--card); border:1px solid var(--line); border-radius:8px; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); }
th { font-size:12px; color:var(--muted); font-weight:600; }
td.n { text-align:right; }
.verdict { font-weight:700; }
tr.pass .verdict { color:var(--ok); }
tr.fail .verdict { color:var(--bad); }
tr.na .verdict { color:var(--muted); }
footer { margin-top:28px; color:var(--muted); font-size:12px; }
"#;

/// One headline figure: what people read, and the JSON value it came from.
pub(crate) struct Figure {
    /// `data-figure`: the figure's path in the JSON document (`retention.overall.d1`).
    pub(crate) id: String,
    pub(crate) label: String,
    /// The value as the JSON document holds it.
    pub(crate) value: serde_json::Value,
    /// As shown: "31.2 %", "1 204".
    pub(crate) text: String,
    /// How the value is shown (`data-format`), so a reader can check the text against
    /// the value.
    pub(crate) format: Format,
}

/// How a figure's JSON value becomes its text.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Format {
    /// A count: 1 204.
    Int,
    /// A number with up to two decimals: 7.25.
    Dec,
    /// A share as a percentage with one decimal: 0.3124 → 31.2 %.
    Pct,
    /// Minor units (cents) as currency units with two decimals: 12345 → 123.45.
    Money,
    /// Milliseconds with up to three decimals: 12.5 ms.
    Ms,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Int => "int",
            Format::Dec => "dec",
            Format::Pct => "pct",
            Format::Money => "money",
            Format::Ms => "ms",
        }
    }

    fn text(self, v: f64) -> String {
        match self {
            Format::Int => num(v, 0),
            Format::Dec => num(v, 2),
            Format::Pct => pct(v),
            Format::Money => num(v / 100.0, 2),
            Format::Ms => format!("{} ms", num(v, 3)),
        }
    }
}

impl Figure {
    /// `value` as the document holds it; `None` shows as "n/a" with `why`.
    pub(crate) fn new(
        id: &str,
        label: &str,
        value: Option<f64>,
        format: Format,
        why: &str,
    ) -> Figure {
        let (text, label) = match value {
            Some(v) => (format.text(v), label.to_string()),
            None if why.is_empty() => ("n/a".to_string(), label.to_string()),
            None => ("n/a".to_string(), format!("{label} {why}")),
        };
        Figure {
            id: id.into(),
            label,
            value: serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
            text,
            format,
        }
    }

    /// A count.
    pub(crate) fn count(id: &str, label: &str, value: u64) -> Figure {
        Figure {
            value: serde_json::Value::from(value),
            ..Figure::new(id, label, Some(value as f64), Format::Int, "")
        }
    }
}

pub(crate) struct Section {
    pub(crate) title: String,
    pub(crate) intro: String,
    /// Charts (laid out two abreast) and tables, as HTML.
    pub(crate) charts: Vec<String>,
    pub(crate) tables: Vec<String>,
}

impl Section {
    pub(crate) fn new(title: &str, intro: &str) -> Section {
        Section {
            title: title.into(),
            intro: intro.into(),
            charts: Vec::new(),
            tables: Vec::new(),
        }
    }
}

pub(crate) struct Page {
    pub(crate) title: String,
    /// Lines under the title: what was run, with what.
    pub(crate) about: Vec<String>,
    pub(crate) figures: Vec<Figure>,
    pub(crate) sections: Vec<Section>,
    pub(crate) footer: String,
}

impl Page {
    pub(crate) fn render(&self) -> String {
        let mut s = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<header>\n<h1>{}</h1>\n",
            esc(&self.title),
            esc(&self.title)
        );
        for line in &self.about {
            let _ = writeln!(s, "<p>{}</p>", esc(line));
        }
        s.push_str("</header>\n<div class=\"figures\">\n");
        for f in &self.figures {
            let _ = writeln!(
                s,
                "<div class=\"fig\" data-figure=\"{}\" data-value=\"{}\" data-format=\"{}\"><span class=\"v\">{}</span><span class=\"k\">{}</span></div>",
                esc(&f.id),
                esc(&f.value.to_string()),
                f.format.name(),
                esc(&f.text),
                esc(&f.label)
            );
        }
        s.push_str("</div>\n");
        for sec in &self.sections {
            let _ = writeln!(
                s,
                "<section>\n<h2>{}</h2>\n<p class=\"intro\">{}</p>",
                esc(&sec.title),
                esc(&sec.intro)
            );
            if !sec.charts.is_empty() {
                s.push_str("<div class=\"grid\">\n");
                for chart in &sec.charts {
                    s.push_str(chart);
                }
                s.push_str("</div>\n");
            }
            for table in &sec.tables {
                s.push_str(table);
            }
            s.push_str("</section>\n");
        }
        let _ = write!(
            s,
            "<footer>{}</footer>\n</main>\n</body>\n</html>\n",
            esc(&self.footer)
        );
        s
    }
}

/// A table; `rows` hold (class of the row, cells already escaped, right-aligned flags).
pub(crate) fn table(id: &str, headers: &[&str], rows: &[(String, Vec<(String, bool)>)]) -> String {
    let mut s = format!("<table data-table=\"{}\">\n<thead><tr>", esc(id));
    for h in headers {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (class, cells) in rows {
        let _ = write!(s, "<tr class=\"{}\">", esc(class));
        for (cell, right) in cells {
            if *right {
                let _ = write!(s, "<td class=\"n\">{cell}</td>");
            } else {
                let _ = write!(s, "<td>{cell}</td>");
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}
