//! SVG and HTML building blocks: escaping, numbers as the page shows them, axis ticks,
//! the palette, and a linear scale. Coordinates are written with one decimal so the same
//! figures always give the same bytes.

use std::fmt::Write as _;

/// Colours that stay apart for colour-blind readers (Okabe and Ito), in the order series
/// take them.
pub(crate) const PALETTE: [&str; 8] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D31", "#444444",
];

pub(crate) fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Text for HTML content and attribute values: a persona name, a mapping's tag or a
/// threshold expression must never become markup.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate: one decimal.
pub(crate) fn c(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let mut s = String::new();
    let _ = write!(s, "{v:.1}");
    if s == "-0.0" { "0.0".into() } else { s }
}

/// A number for people: thousands separated by a thin space, at most `places` decimals
/// (trailing zeros dropped).
pub(crate) fn num(v: f64, places: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let text = format!("{:.*}", places, v.abs());
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i.to_string(), f.trim_end_matches('0').to_string()),
        None => (text.clone(), String::new()),
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(ch);
    }
    let sign = if v < 0.0 && (int != "0" || !frac.is_empty()) {
        "−"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// A share (0.3124) as a percentage ("31.2 %").
pub(crate) fn pct(v: f64) -> String {
    format!("{} %", num(v * 100.0, 1))
}

/// A compact axis label: 1.2 k, 3 M.
pub(crate) fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{} M", num(v / 1e6, 1))
    } else if a >= 1e4 {
        format!("{} k", num(v / 1e3, 1))
    } else if a >= 10.0 || v == 0.0 {
        num(v, 0)
    } else if a >= 1.0 {
        num(v, 1)
    } else {
        num(v, 3)
    }
}

/// About `n` round tick values (1, 2 or 5 × 10^k apart) covering `lo..=hi`.
pub(crate) fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    let mut out = Vec::new();
    let mut t = first;
    while t <= hi + step * 1e-9 && out.len() < 50 {
        // Snap away floating noise (0.30000000000000004).
        out.push((t / step).round() * step);
        t += step;
    }
    out
}

/// A round upper bound for an axis that starts at zero.
pub(crate) fn nice_max(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let t = ticks(0.0, max, 5);
    let step = if t.len() > 1 { t[1] - t[0] } else { max };
    (max / step).ceil() * step
}

/// Maps a value range onto a pixel range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) px0: f64,
    pub(crate) px1: f64,
}

impl Scale {
    pub(crate) fn at(&self, v: f64) -> f64 {
        let span = if self.hi > self.lo {
            self.hi - self.lo
        } else {
            1.0
        };
        self.px0 + (v - self.lo) / span * (self.px1 - self.px0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(num(1234567.0, 0), "1\u{202f}234\u{202f}567");
        assert_eq!(num(12.50, 2), "12.5");
        assert_eq!(num(-3.0, 0), "−3");
        assert_eq!(pct(0.3124), "31.2 %");
        assert_eq!(short(12_500.0), "12.5 k");
        assert_eq!(c(-0.01), "0.0");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.0, 0.9, 3), vec![0.0, 0.5]);
        assert_eq!(nice_max(93.0), 100.0);
        assert_eq!(nice_max(0.0), 1.0);
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(esc("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
    }
}
