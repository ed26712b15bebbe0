//! The report's three kinds of chart as SVG inside a `<figure>`: values over time (lines
//! and columns on one axis), horizontal bars (a funnel, a mix), and a heatmap (retention).
//! Each figure says what it shows in its title and caption, labels both axes with their
//! units, and marks every drawn series with `data-series` and `data-points`.

use std::fmt::Write as _;

use super::MAX_POINTS;
use super::downsample::{Agg, downsample, stride};
use super::svg::{Scale, c, colour, esc, nice_max, num, pct, short, ticks};

const W: f64 = 560.0;
const H: f64 = 270.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;
/// Lines with at most this many points also show a dot at each point.
const DOTS_UP_TO: usize = 48;

/// How a series is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mark {
    Line,
    /// A reference curve (what was configured, what was scheduled).
    Dashed,
    /// One column per point, `width` x-units wide from its x (times the stride when the
    /// series was downsampled).
    Columns {
        width: f64,
    },
}

pub(crate) struct Series {
    /// `data-series`: unique in the page.
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) points: Vec<(f64, Option<f64>)>,
    pub(crate) agg: Agg,
    pub(crate) mark: Mark,
}

impl Series {
    pub(crate) fn new(id: &str, label: &str, points: Vec<(f64, Option<f64>)>) -> Series {
        Series {
            id: id.into(),
            label: label.into(),
            points,
            agg: Agg::Mean,
            mark: Mark::Line,
        }
    }

    pub(crate) fn mark(mut self, mark: Mark) -> Series {
        self.mark = mark;
        self
    }

    pub(crate) fn agg(mut self, agg: Agg) -> Series {
        self.agg = agg;
        self
    }
}

/// The horizontal axis of a chart over time (or over hours of the day).
pub(crate) struct XAxis {
    /// With its unit: "seconds since the first request", "hour of day (UTC)".
    pub(crate) label: String,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    /// Ticks on multiples of this (doubled until at most 12 fit): 1 for days, 3 for
    /// hours; `None` for round numbers.
    pub(crate) every: Option<f64>,
    pub(crate) fmt: Box<dyn Fn(f64) -> String>,
}

impl XAxis {
    fn ticks(&self) -> Vec<f64> {
        let Some(mut e) = self.every.filter(|e| *e > 0.0) else {
            return ticks(self.lo, self.hi, 6);
        };
        while (self.hi - self.lo) / e > 12.0 {
            e *= 2.0;
        }
        let mut out = Vec::new();
        let mut t = (self.lo / e).ceil() * e;
        while t <= self.hi + 1e-9 {
            out.push(t);
            t += e;
        }
        out
    }
}

/// Values over time: every series on one vertical axis that starts at zero.
pub(crate) struct TimeChart {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) caption: String,
    pub(crate) x: XAxis,
    /// With its unit: "requests / s", "users".
    pub(crate) y_label: String,
    pub(crate) y_fmt: fn(f64) -> String,
    pub(crate) series: Vec<Series>,
}

/// The `<figure>` around a chart: title, caption, what the downsampling did.
fn figure(id: &str, title: &str, caption: &str, attrs: &str, body: &str, legend: &str) -> String {
    format!(
        "<figure class=\"chart\" data-chart=\"{}\"{attrs}>\n<figcaption><h3>{}</h3><p>{}</p></figcaption>\n{body}{legend}</figure>\n",
        esc(id),
        esc(title),
        esc(caption)
    )
}

fn legend(items: &[(String, usize, Mark)]) -> String {
    if items.len() < 2 {
        return String::new();
    }
    let mut s = String::from("<ul class=\"legend\">");
    for (label, i, mark) in items {
        let class = match mark {
            Mark::Dashed => "key dashed",
            Mark::Columns { .. } => "key block",
            Mark::Line => "key",
        };
        let _ = write!(
            s,
            "<li><span class=\"{class}\" style=\"--c:{}\"></span>{}</li>",
            colour(*i),
            esc(label)
        );
    }
    s.push_str("</ul>\n");
    s
}

impl TimeChart {
    pub(crate) fn render(&self) -> String {
        let drawn: Vec<Vec<(f64, f64)>> = self
            .series
            .iter()
            .map(|s| downsample(&s.points, MAX_POINTS, s.agg))
            .collect();
        let longest = self
            .series
            .iter()
            .map(|s| s.points.len())
            .max()
            .unwrap_or(0);
        let k = stride(longest, MAX_POINTS);
        let y_max = nice_max(drawn.iter().flatten().map(|p| p.1).fold(0.0, f64::max));
        let xs = Scale {
            lo: self.x.lo,
            hi: self.x.hi,
            px0: LEFT,
            px1: W - RIGHT,
        };
        let ys = Scale {
            lo: 0.0,
            hi: y_max,
            px0: H - BOTTOM,
            px1: TOP,
        };
        let mut svg = self.axes(&xs, &ys);
        for (i, (s, pts)) in self.series.iter().zip(&drawn).enumerate() {
            let k_s = stride(s.points.len(), MAX_POINTS) as f64;
            svg.push_str(&draw_series(
                s,
                pts,
                i,
                k_s,
                &xs,
                &ys,
                &*self.x.fmt,
                self.y_fmt,
            ));
        }
        svg.push_str("</svg>\n");
        let mut caption = self.caption.clone();
        if k > 1 {
            let _ = write!(
                caption,
                " Downsampled to at most {MAX_POINTS} points per series: each point is the {} of {k} consecutive points ({longest} in metrics).",
                self.series.first().map_or("mean", |s| s.agg.word()),
            );
        }
        let attrs = format!(
            " data-cap=\"{MAX_POINTS}\" data-stride=\"{k}\" data-source-points=\"{longest}\""
        );
        let items: Vec<(String, usize, Mark)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.label.clone(), i, s.mark))
            .collect();
        figure(
            &self.id,
            &self.title,
            &caption,
            &attrs,
            &svg,
            &legend(&items),
        )
    }

    /// The frame: grid lines, tick labels and both axis titles.
    fn axes(&self, xs: &Scale, ys: &Scale) -> String {
        let mut s = format!(
            "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">\n",
            esc(&self.title)
        );
        for t in ticks(ys.lo, ys.hi, 5) {
            let y = c(ys.at(t));
            let _ = writeln!(
                s,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"/><text class=\"tick\" x=\"{}\" y=\"{y}\" text-anchor=\"end\" dy=\"0.32em\">{}</text>",
                W - RIGHT,
                LEFT - 6.0,
                esc(&(self.y_fmt)(t))
            );
        }
        for t in self.x.ticks() {
            let x = c(xs.at(t));
            let _ = writeln!(
                s,
                "<line class=\"axis\" x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\"/><text class=\"tick\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                H - BOTTOM,
                H - BOTTOM + 4.0,
                H - BOTTOM + 16.0,
                esc(&(self.x.fmt)(t))
            );
        }
        let _ = write!(
            s,
            "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{b}\" y2=\"{b}\"/>\n<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n<text class=\"label\" transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
            W - RIGHT,
            c((LEFT + W - RIGHT) / 2.0),
            H - 8.0,
            esc(&self.x.label),
            c((TOP + H - BOTTOM) / 2.0),
            esc(&self.y_label),
            b = H - BOTTOM,
        );
        s
    }
}

/// One series: a polyline (its `points` attribute holds `data-points` pairs) or a group
/// of `data-points` columns.
#[allow(clippy::too_many_arguments)]
fn draw_series(
    s: &Series,
    pts: &[(f64, f64)],
    i: usize,
    k: f64,
    xs: &Scale,
    ys: &Scale,
    x_fmt: &dyn Fn(f64) -> String,
    y_fmt: fn(f64) -> String,
) -> String {
    let col = colour(i);
    let mut out = String::new();
    match s.mark {
        Mark::Columns { width } => {
            let _ = writeln!(
                out,
                "<g class=\"cols\" data-series=\"{}\" data-points=\"{}\" fill=\"{col}\">",
                esc(&s.id),
                pts.len()
            );
            for (x, y) in pts {
                let x0 = xs.at(*x);
                let w = (xs.at(x + width * k) - x0 - 1.0).max(0.5);
                let y0 = ys.at(*y);
                let _ = writeln!(
                    out,
                    "<rect class=\"pt\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}: {} at {}</title></rect>",
                    c(x0 + 0.5),
                    c(y0),
                    c(w),
                    c(ys.at(0.0) - y0),
                    esc(&s.label),
                    esc(&y_fmt(*y)),
                    esc(&x_fmt(*x))
                );
            }
            out.push_str("</g>\n");
        }
        Mark::Line | Mark::Dashed => {
            let coords: Vec<String> = pts
                .iter()
                .map(|(x, y)| format!("{},{}", c(xs.at(*x)), c(ys.at(*y))))
                .collect();
            let dash = if matches!(s.mark, Mark::Dashed) {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<polyline class=\"line\" data-series=\"{}\" data-points=\"{}\" stroke=\"{col}\"{dash} points=\"{}\"><title>{}</title></polyline>",
                esc(&s.id),
                pts.len(),
                coords.join(" "),
                esc(&s.label)
            );
            if pts.len() <= DOTS_UP_TO {
                let _ = write!(out, "<g class=\"dots\" fill=\"{col}\">");
                for (x, y) in pts {
                    let _ = write!(
                        out,
                        "<circle cx=\"{}\" cy=\"{}\" r=\"2.6\"><title>{}: {} at {}</title></circle>",
                        c(xs.at(*x)),
                        c(ys.at(*y)),
                        esc(&s.label),
                        esc(&y_fmt(*y)),
                        esc(&x_fmt(*x))
                    );
                }
                out.push_str("</g>\n");
            }
        }
    }
    out
}

/// One horizontal bar.
pub(crate) struct Bar {
    pub(crate) label: String,
    pub(crate) value: f64,
    /// What is printed after the bar ("412 · 41.2 %").
    pub(crate) text: String,
}

/// Categories side by side: a funnel, a mix.
pub(crate) struct Bars {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) caption: String,
    /// With its unit: "users".
    pub(crate) x_label: String,
    pub(crate) bars: Vec<Bar>,
}

impl Bars {
    pub(crate) fn render(&self) -> String {
        const ROW: f64 = 30.0;
        const LABEL: f64 = 130.0;
        // Room for the longest value text after its bar (about 6.6 px a character).
        let longest = self.bars.iter().map(|b| b.text.chars().count()).max();
        let value = (longest.unwrap_or(0) as f64 * 6.6 + 16.0).clamp(60.0, 250.0);
        let h = TOP + ROW * self.bars.len().max(1) as f64 + 30.0;
        let max = self.bars.iter().map(|b| b.value).fold(0.0, f64::max);
        let xs = Scale {
            lo: 0.0,
            hi: if max > 0.0 { max } else { 1.0 },
            px0: LABEL,
            px1: W - value,
        };
        let mut s = format!(
            "<svg viewBox=\"0 0 {W} {}\" role=\"img\" aria-label=\"{}\">\n<g class=\"bars\" data-series=\"{}\" data-points=\"{}\">\n",
            c(h),
            esc(&self.title),
            esc(&self.id),
            self.bars.len()
        );
        for (i, b) in self.bars.iter().enumerate() {
            let y = TOP + ROW * i as f64;
            let w = (xs.at(b.value) - LABEL).max(if b.value > 0.0 { 1.0 } else { 0.0 });
            let _ = writeln!(
                s,
                "<text class=\"cat\" x=\"{}\" y=\"{}\" text-anchor=\"end\" dy=\"0.32em\">{}</text><rect class=\"pt\" x=\"{LABEL}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect><text class=\"value\" x=\"{}\" y=\"{}\" dy=\"0.32em\">{}</text>",
                LABEL - 8.0,
                c(y + ROW / 2.0),
                esc(&b.label),
                c(y + 4.0),
                c(w),
                c(ROW - 8.0),
                colour(0),
                esc(&b.label),
                esc(&b.text),
                c(LABEL + w + 6.0),
                c(y + ROW / 2.0),
                esc(&b.text)
            );
        }
        let _ = write!(
            s,
            "</g>\n<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n</svg>\n",
            c((LABEL + W - value) / 2.0),
            c(h - 8.0),
            esc(&self.x_label)
        );
        figure(&self.id, &self.title, &self.caption, "", &s, "")
    }
}

/// Shares (0..1) in a grid: rows by cohort or persona, columns by day since sign-up.
pub(crate) struct Heatmap {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) caption: String,
    pub(crate) row_label: String,
    pub(crate) col_label: String,
    pub(crate) rows: Vec<String>,
    pub(crate) cols: Vec<String>,
    pub(crate) cells: Vec<Vec<Option<f64>>>,
}

/// White to the palette's blue: how dark a share is.
fn shade(v: f64) -> String {
    let v = v.clamp(0.0, 1.0).sqrt();
    let mix = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(247.0, 0.0),
        mix(251.0, 0x4a as f64),
        mix(255.0, 0x8f as f64)
    )
}

impl Heatmap {
    pub(crate) fn render(&self) -> String {
        const LEFT_H: f64 = 130.0;
        let ncols = self.cols.len().max(1) as f64;
        let cw = ((W - LEFT_H - RIGHT) / ncols).min(60.0);
        let rh = if self.rows.len() > 20 { 16.0 } else { 24.0 };
        let top = 30.0;
        let h = top + rh * self.rows.len() as f64 + 34.0;
        let filled = self.cells.iter().flatten().filter(|v| v.is_some()).count();
        let mut s = format!(
            "<svg viewBox=\"0 0 {W} {}\" role=\"img\" aria-label=\"{}\">\n",
            c(h),
            esc(&self.title)
        );
        let every = (28.0 / cw).ceil().max(1.0) as usize;
        for (j, col) in self.cols.iter().enumerate().filter(|(j, _)| j % every == 0) {
            let _ = write!(
                s,
                "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                c(LEFT_H + cw * (j as f64 + 0.5)),
                c(top - 8.0),
                esc(col)
            );
        }
        let _ = writeln!(
            s,
            "\n<g class=\"cells\" data-series=\"{}\" data-points=\"{filled}\">",
            esc(&self.id)
        );
        for (i, (row, cells)) in self.rows.iter().zip(&self.cells).enumerate() {
            let y = top + rh * i as f64;
            let _ = write!(
                s,
                "<text class=\"cat\" x=\"{}\" y=\"{}\" text-anchor=\"end\" dy=\"0.32em\">{}</text>",
                LEFT_H - 8.0,
                c(y + rh / 2.0),
                esc(row)
            );
            for (j, v) in cells.iter().enumerate() {
                let x = LEFT_H + cw * j as f64;
                let Some(v) = v else {
                    let _ = write!(
                        s,
                        "<rect class=\"none\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
                        c(x + 0.5),
                        c(y + 0.5),
                        c(cw - 1.0),
                        c(rh - 1.0)
                    );
                    continue;
                };
                let _ = write!(
                    s,
                    "<rect class=\"pt\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{} {}, {} {}: {}</title></rect>",
                    c(x + 0.5),
                    c(y + 0.5),
                    c(cw - 1.0),
                    c(rh - 1.0),
                    shade(*v),
                    esc(&self.row_label),
                    esc(row),
                    esc(&self.col_label),
                    esc(&self.cols[j]),
                    pct(*v)
                );
                if cw >= 30.0 {
                    let ink = if *v > 0.35 { "#ffffff" } else { "#1a1a1a" };
                    let _ = write!(
                        s,
                        "<text class=\"cell\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" dy=\"0.32em\" fill=\"{ink}\">{}</text>",
                        c(x + cw / 2.0),
                        c(y + rh / 2.0),
                        num(v * 100.0, 0)
                    );
                }
            }
            s.push('\n');
        }
        let _ = write!(
            s,
            "</g>\n<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} (cells: % of the row's users active)</text>\n<text class=\"label\" x=\"8\" y=\"{}\">{}</text>\n</svg>\n",
            c(LEFT_H + cw * ncols / 2.0),
            c(h - 8.0),
            esc(&self.col_label),
            c(top - 8.0),
            esc(&self.row_label)
        );
        figure(&self.id, &self.title, &self.caption, "", &s, "")
    }
}

/// A y-axis formatter for counts and rates.
pub(crate) fn y_short(v: f64) -> String {
    short(v)
}

/// A y-axis formatter for shares.
pub(crate) fn y_pct(v: f64) -> String {
    format!("{} %", num(v * 100.0, 0))
}
