//! Charts as SVG drawn on the server (no chart library reaches the browser): horizontal bars
//! (funnels, RSVP counts, answers), lines over time, and an event's journey on a time line.
//! Each chart is a `<svg role="img">` with a title naming what it shows; the figures are in a
//! table next to it for whoever does not see it.

use std::fmt::Write as _;

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Colours with at least 3:1 contrast on white, told apart also by position and label.
const PALETTE: &[&str] = &[
    "#0b57d0", "#116329", "#7d4e00", "#b3261e", "#6639ba", "#1b7c83",
];

/// Horizontal bars, one per (label, value), with the value (and its share of the first bar,
/// for a funnel) written after each.
pub fn bars(title: &str, rows: &[(String, u64)], funnel: bool) -> String {
    let width = 640.0;
    let label_w = 170.0;
    let bar_h = 26.0;
    let gap = 10.0;
    let height = rows.len() as f64 * (bar_h + gap) + gap;
    let max = rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let first = rows.first().map_or(0, |(_, v)| *v) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-labelledby="{id}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title id="{id}">{title}</title>"#,
        id = chart_id(title),
        title = esc(title),
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = gap + i as f64 * (bar_h + gap);
        let w = ((width - label_w - 140.0) * (*value as f64) / max).max(if *value > 0 {
            2.0
        } else {
            0.0
        });
        let share = if funnel && first > 0.0 && i > 0 {
            format!(" ({:.1}%)", *value as f64 * 100.0 / first)
        } else {
            String::new()
        };
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" text-anchor="end">{label}</text><rect x="{label_w}" y="{y}" width="{w:.1}" height="{bar_h}" rx="3" fill="{fill}"/><text x="{vx:.1}" y="{ty}">{value}{share}</text>"#,
            lx = label_w - 8.0,
            ty = y + bar_h * 0.68,
            label = esc(label),
            fill = PALETTE[i % PALETTE.len()],
            vx = label_w + w + 6.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Lines over time: `series` are (name, one value per x label).
pub fn lines(title: &str, x_labels: &[String], series: &[(String, Vec<u64>)]) -> String {
    let (width, height) = (640.0, 240.0);
    let (left, right, top, bottom) = (48.0, 16.0, 16.0, 48.0);
    let n = x_labels.len().max(2);
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |i: usize| left + (width - left - right) * i as f64 / (n - 1) as f64;
    let y = |v: u64| top + (height - top - bottom) * (1.0 - v as f64 / max);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" role="img" aria-labelledby="{id}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title id="{id}">{title}</title>"#,
        id = chart_id(title),
        title = esc(title),
    );
    // Axes and the top value.
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#57606a\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"#57606a\"/><text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{max}</text><text x=\"{tx}\" y=\"{b}\" text-anchor=\"end\">0</text>",
        b = height - bottom,
        r = width - right,
        tx = left - 4.0,
        ty = top + 4.0,
        max = max as u64,
    );
    let step = (x_labels.len() / 6).max(1);
    for (i, label) in x_labels.iter().enumerate().step_by(step) {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(i),
            height - bottom + 16.0,
            esc(label)
        );
    }
    for (k, (name, values)) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        // The legend, below the axis.
        let lx = left + k as f64 * 130.0;
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour}"/><text x="{tx}" y="{ty}">{}</text>"#,
            esc(name),
            ly = height - 20.0,
            tx = lx + 16.0,
            ty = height - 10.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A point of a journey's time line: its label, its offset from the event's start in hours,
/// and whether it is the event itself.
pub struct Mark {
    pub label: String,
    pub hours: f64,
    pub event: bool,
}

/// The journey around the event date: a horizontal axis from the earliest to the latest mark,
/// the event's start and end in red, each step a dot with its label (alternating above and
/// below so neighbours do not overlap).
pub fn time_line(title: &str, marks: &[Mark]) -> String {
    let (width, height) = (720.0, 200.0);
    let (left, right) = (40.0, 40.0);
    let min = marks.iter().map(|m| m.hours).fold(0.0_f64, f64::min);
    let max = marks.iter().map(|m| m.hours).fold(0.0_f64, f64::max);
    let span = (max - min).max(1.0);
    let x = |h: f64| left + (width - left - right) * (h - min) / span;
    let axis = height / 2.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"{id}\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}\">{title}</title><line x1=\"{left}\" y1=\"{axis}\" x2=\"{r}\" y2=\"{axis}\" stroke=\"#57606a\" stroke-width=\"2\"/>",
        id = chart_id(title),
        title = esc(title),
        r = width - right,
    );
    for (i, m) in marks.iter().enumerate() {
        let cx = x(m.hours);
        let above = i % 2 == 0;
        let ty = if above { axis - 22.0 } else { axis + 32.0 };
        let (fill, r) = if m.event {
            ("#b3261e", 8.0)
        } else {
            ("#0b57d0", 6.0)
        };
        let anchor = if cx < 120.0 {
            "start"
        } else if cx > width - 120.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            svg,
            r#"<circle cx="{cx:.1}" cy="{axis}" r="{r}" fill="{fill}"/><text x="{cx:.1}" y="{ty}" text-anchor="{anchor}">{}</text>"#,
            esc(&m.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// An id for a chart's title element, from its text.
fn chart_id(title: &str) -> String {
    let slug: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("chart-{}", slug.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_titled_escaped_svg() {
        let svg = bars(
            "Funnel <email>",
            &[("sent".into(), 10), ("delivered".into(), 9)],
            true,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(
            svg.contains("<title id=\"chart-funnel--email\">Funnel &lt;email&gt;</title>"),
            "{svg}"
        );
        assert!(svg.contains("9 (90.0%)"), "{svg}");
        let svg = lines(
            "Sent",
            &["a".into(), "b".into()],
            &[("email".into(), vec![1, 3])],
        );
        assert!(svg.contains("<polyline"), "{svg}");
        let svg = time_line(
            "Journey",
            &[
                Mark {
                    label: "Invite".into(),
                    hours: -24.0,
                    event: false,
                },
                Mark {
                    label: "Event".into(),
                    hours: 0.0,
                    event: true,
                },
            ],
        );
        assert_eq!(svg.matches("<circle").count(), 2);
    }

    #[test]
    fn empty_data_draws_an_empty_chart() {
        assert!(bars("None", &[], false).contains("</svg>"));
        assert!(lines("None", &[], &[]).contains("</svg>"));
        assert!(time_line("None", &[]).contains("</svg>"));
    }
}
