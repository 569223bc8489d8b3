//! Charts drawn by the server as inline SVG: a line chart with axes and points, a horizontal
//! bar chart and a sparkline. Colours come from the console's stylesheet by class (`s0`, `s1`…);
//! every point is an element carrying its data (`<circle data-x data-y>`, `<rect data-x
//! data-y>`, a sparkline's `data-points` with one polyline vertex per value), so tests and
//! readers of the page count what was drawn. Every text is escaped.

use std::fmt::Write as _;

use super::html::{esc, number};

/// One series of a line chart: a value per label, NaN for none.
pub struct Line<'a> {
    pub name: &'a str,
    pub values: &'a [f64],
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;

/// A round step giving about `ticks` steps up to `max`: 1, 2 or 5 times a power of ten.
fn nice_step(max: f64, ticks: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / ticks;
    let power = 10f64.powf(raw.log10().floor());
    let unit = raw / power;
    let nice = if unit <= 1.0 {
        1.0
    } else if unit <= 2.0 {
        2.0
    } else if unit <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// The top of the value axis and its step: a multiple of a round step at or above `max`.
fn value_axis(max: f64) -> (f64, f64) {
    let step = nice_step(max, 4.0);
    let top = (max / step).ceil().max(1.0) * step;
    (top, step)
}

/// A coordinate to a tenth, written with integer arithmetic: formatting floats with a fixed
/// precision was most of the metrics page's render time (two per sparkline vertex).
#[derive(Clone, Copy)]
struct Coordinate(f64);

impl std::fmt::Display for Coordinate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0 * 10.0).round();
        if !tenths.is_finite() {
            return f.write_str("0");
        }
        let tenths = tenths as i64;
        let sign = if tenths < 0 { "-" } else { "" };
        let abs = tenths.unsigned_abs();
        write!(f, "{sign}{}.{}", abs / 10, abs % 10)
    }
}

fn coordinate(v: f64) -> Coordinate {
    Coordinate(v)
}

/// A line chart of `lines` over equally spaced `labels` (minutes, days): value axis from 0 with
/// round ticks, about six labels along the bottom, a legend, one `<circle>` per value.
pub fn line_chart(title: &str, labels: &[String], lines: &[Line<'_>]) -> String {
    let max = lines
        .iter()
        .flat_map(|l| l.values.iter())
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let (top, step) = value_axis(max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = labels.len();
    let x = |i: usize| {
        if n <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0));
    let mut out = String::with_capacity(1024 + n * lines.len() * 120);
    let _ = write!(
        out,
        "<svg class=\"chart line\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{0}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{0}</title>",
        esc(title)
    );
    // Value grid and ticks.
    let mut tick = 0.0;
    while tick <= top + step / 2.0 {
        let ty = coordinate(y(tick));
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{ty}\" x2=\"{}\" y2=\"{ty}\"/>\
             <text class=\"tick\" x=\"{}\" y=\"{ty}\" text-anchor=\"end\" \
             dominant-baseline=\"middle\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            esc(&number(tick))
        );
        tick += step;
    }
    // Axes.
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{0}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\"/>",
        TOP + plot_h,
        WIDTH - RIGHT
    );
    // About six labels along the bottom, the last one always (end-anchored, it reaches a whole
    // label leftwards: a regular label within three quarters of a spacing of it is left out).
    if n > 0 {
        let every = n.div_ceil(6).max(1);
        for i in (0..n).filter(|i| i % every == 0 || *i == n - 1) {
            if i != n - 1 && (n - 1 - i) * 4 < every * 3 {
                continue;
            }
            // The ends' labels stay inside the drawing.
            let anchor = match i {
                _ if n == 1 => "middle",
                0 => "start",
                _ if i == n - 1 => "end",
                _ => "middle",
            };
            let _ = write!(
                out,
                "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                coordinate(x(i)),
                TOP + plot_h + 16.0,
                esc(&labels[i])
            );
        }
    }
    for (s, line) in lines.iter().enumerate() {
        let _ = write!(
            out,
            "<g class=\"series s{}\" data-series=\"{}\">",
            s % 6,
            esc(line.name)
        );
        let mut path = String::new();
        for (i, v) in line.values.iter().enumerate().take(n) {
            if v.is_finite() {
                let _ = write!(path, "{},{} ", coordinate(x(i)), coordinate(y(*v)));
            }
        }
        if !path.is_empty() {
            let _ = write!(
                out,
                "<polyline fill=\"none\" points=\"{}\"/>",
                path.trim_end()
            );
        }
        for (i, v) in line.values.iter().enumerate().take(n) {
            if v.is_finite() {
                let _ = write!(
                    out,
                    "<circle class=\"pt\" cx=\"{}\" cy=\"{}\" r=\"2.5\" data-x=\"{}\" \
                     data-y=\"{v}\"><title>{}: {} ({})</title></circle>",
                    coordinate(x(i)),
                    coordinate(y(*v)),
                    esc(&labels[i]),
                    esc(line.name),
                    esc(&number(*v)),
                    esc(&labels[i])
                );
            }
        }
        out.push_str("</g>");
    }
    // Legend, under the labels.
    let mut lx = LEFT;
    for (s, line) in lines.iter().enumerate() {
        let _ = write!(
            out,
            "<g class=\"legend s{}\"><rect x=\"{lx}\" y=\"{}\" width=\"10\" height=\"10\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            s % 6,
            HEIGHT - 14.0,
            lx + 14.0,
            HEIGHT - 5.0,
            esc(line.name)
        );
        lx += 24.0 + 7.0 * line.name.chars().count() as f64;
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one group per category and one bar per series in it, with the value at the
/// end of each bar.
pub fn bar_chart(title: &str, categories: &[String], series: &[Line<'_>]) -> String {
    const LABEL_W: f64 = 230.0;
    const BAR_H: f64 = 12.0;
    let per_group = series.len().max(1) as f64 * (BAR_H + 2.0) + 8.0;
    let height = TOP + per_group * categories.len() as f64 + 30.0;
    let max = series
        .iter()
        .flat_map(|l| l.values.iter())
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let (top, _) = value_axis(max);
    let plot_w = WIDTH - LABEL_W - 60.0;
    let mut out = String::with_capacity(512 + categories.len() * series.len() * 200);
    let _ = write!(
        out,
        "<svg class=\"chart bars\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"{0}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{0}</title>",
        esc(title)
    );
    for (c, category) in categories.iter().enumerate() {
        let gy = TOP + per_group * c as f64;
        let _ = write!(
            out,
            "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\" \
             dominant-baseline=\"middle\">{}</text>",
            LABEL_W - 8.0,
            coordinate(gy + (per_group - 8.0) / 2.0),
            esc(category)
        );
        for (s, line) in series.iter().enumerate() {
            let v = line.values.get(c).copied().unwrap_or(f64::NAN);
            if !v.is_finite() {
                continue;
            }
            let w = plot_w * (v / top).clamp(0.0, 1.0);
            let by = gy + s as f64 * (BAR_H + 2.0);
            let _ = write!(
                out,
                "<rect class=\"bar s{}\" x=\"{LABEL_W}\" y=\"{}\" width=\"{}\" height=\"{BAR_H}\" \
                 data-x=\"{}\" data-series=\"{}\" data-y=\"{v}\"><title>{}, {}: {}</title></rect>\
                 <text class=\"value\" x=\"{}\" y=\"{}\" dominant-baseline=\"middle\">{}</text>",
                s % 6,
                coordinate(by),
                coordinate(w.max(1.0)),
                esc(category),
                esc(line.name),
                esc(category),
                esc(line.name),
                esc(&number(v)),
                coordinate(LABEL_W + w.max(1.0) + 4.0),
                coordinate(by + BAR_H / 2.0),
                esc(&number(v))
            );
        }
    }
    let mut lx = LABEL_W;
    let ly = height - 16.0;
    for (s, line) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<g class=\"legend s{}\"><rect x=\"{lx}\" y=\"{ly}\" width=\"10\" height=\"10\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            s % 6,
            lx + 14.0,
            ly + 9.0,
            esc(line.name)
        );
        lx += 24.0 + 7.0 * line.name.chars().count() as f64;
    }
    out.push_str("</svg>");
    out
}

/// A small line without axes for a table cell: one vertex per finite value, scaled between the
/// smallest and largest, the last value marked.
pub fn sparkline(title: &str, values: &[f64]) -> String {
    const W: f64 = 160.0;
    const H: f64 = 28.0;
    const PAD: f64 = 3.0;
    let finite: Vec<(usize, f64)> = values
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let n = values.len();
    let x = |i: usize| {
        if n <= 1 {
            W / 2.0
        } else {
            PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| {
        if hi > lo {
            PAD + (H - 2.0 * PAD) * (1.0 - (v - lo) / (hi - lo))
        } else {
            H / 2.0
        }
    };
    let mut out = String::with_capacity(128 + finite.len() * 12);
    let _ = write!(
        out,
        "<svg class=\"spark\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{0}\" \
         data-points=\"{1}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{0}</title>",
        esc(title),
        finite.len()
    );
    if !finite.is_empty() {
        out.push_str("<polyline fill=\"none\" points=\"");
        for (k, (i, v)) in finite.iter().enumerate() {
            if k > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{},{}", coordinate(x(*i)), coordinate(y(*v)));
        }
        out.push_str("\"/>");
        if let Some((i, v)) = finite.last() {
            let _ = write!(
                out,
                "<circle class=\"last\" cx=\"{}\" cy=\"{}\" r=\"2\"/>",
                coordinate(x(*i)),
                coordinate(y(*v))
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn a_line_chart_has_one_circle_per_finite_value_with_its_data() {
        let labels: Vec<String> = (0..5).map(|i| format!("d{i}")).collect();
        let svg = line_chart(
            "Per day",
            &labels,
            &[
                Line {
                    name: "active",
                    values: &[1.0, 2.0, 3.0, 4.0, 5.0],
                },
                Line {
                    name: "submitted",
                    values: &[0.0, f64::NAN, 2.0, 2.0, 3.0],
                },
            ],
        );
        assert_eq!(count(&svg, "<circle class=\"pt\""), 9);
        assert!(svg.contains("data-x=\"d2\" data-y=\"3\""));
        assert_eq!(count(&svg, "<polyline"), 2);
        assert!(svg.starts_with("<svg class=\"chart line\""));
        assert!(svg.ends_with("</svg>"));
        // Round ticks from 0 up to at least the largest value.
        assert!(svg.contains(">0</text>"));
        assert!(svg.contains(">5</text>") || svg.contains(">6</text>"));
    }

    #[test]
    fn chart_texts_are_escaped() {
        let labels = vec!["<b>".to_string()];
        let svg = line_chart(
            "<script>alert(1)</script>",
            &labels,
            &[Line {
                name: "\"><script>",
                values: &[1.0],
            }],
        );
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let bars = bar_chart(
            "t",
            &["<i>".to_string()],
            &[Line {
                name: "<x>",
                values: &[3.0],
            }],
        );
        assert!(!bars.contains("<i>") && !bars.contains("<x>"));
        let spark = sparkline("<s>", &[1.0]);
        assert!(!spark.contains("<s>"));
    }

    #[test]
    fn bars_are_one_rect_per_category_and_series() {
        let cats = vec!["/api/a".to_string(), "/api/b".to_string()];
        let svg = bar_chart(
            "Requests",
            &cats,
            &[
                Line {
                    name: "requests",
                    values: &[10.0, 4.0],
                },
                Line {
                    name: "errors",
                    values: &[1.0, 0.0],
                },
            ],
        );
        assert_eq!(count(&svg, "<rect class=\"bar"), 4);
        assert!(svg.contains("data-x=\"/api/a\" data-series=\"requests\" data-y=\"10\""));
        assert!(svg.contains("data-x=\"/api/b\" data-series=\"errors\" data-y=\"0\""));
    }

    #[test]
    fn a_sparkline_has_one_vertex_per_finite_value() {
        let svg = sparkline("x", &[1.0, f64::NAN, 3.0, 2.0]);
        assert!(svg.contains("data-points=\"3\""));
        let points = svg
            .split("points=\"")
            .nth(2)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(points.split(' ').count(), 3);
        let flat = sparkline("flat", &[2.0, 2.0]);
        assert!(flat.contains("data-points=\"2\""));
        let empty = sparkline("none", &[]);
        assert!(empty.contains("data-points=\"0\"") && !empty.contains("<polyline"));
    }

    #[test]
    fn coordinates_are_written_to_a_tenth() {
        for (v, text) in [
            (0.0, "0.0"),
            (12.34, "12.3"),
            (12.35, "12.4"),
            (-0.04, "0.0"),
            (-3.26, "-3.3"),
            (720.0, "720.0"),
            (f64::NAN, "0"),
        ] {
            assert_eq!(coordinate(v).to_string(), text, "{v}");
        }
    }

    #[test]
    fn value_axes_end_on_round_numbers() {
        assert_eq!(value_axis(0.0), (1.0, 1.0));
        assert_eq!(value_axis(9.0), (10.0, 5.0));
        assert_eq!(value_axis(1234.0), (1500.0, 500.0));
        let (top, step) = value_axis(0.3);
        assert!((top - 0.3).abs() < 1e-9 && (step - 0.1).abs() < 1e-9);
    }
}
