//! The hour-of-day chart as a standalone SVG a manager can open in a browser: stacked bars
//! (inbound, outbound, missed) per working hour, a y axis with ticks, a legend, and a
//! tooltip (`<title>`) per bar. Hand-written, so no drawing library is needed; every text
//! is XML-escaped.
//!
//! Kept on purpose: the chart is a few dozen rectangles and labels whose coordinates we
//! compute anyway. `plotters` is a drawing stack with font handling and backends for what is
//! text output here, and the `svg` crate only builds the element tree, leaving every
//! coordinate and escape to us as now.

use super::report::{CallReport, HourRow};

const WIDTH: u32 = 760;
const HEIGHT: u32 = 420;
const LEFT: u32 = 60;
const RIGHT: u32 = 20;
const TOP: u32 = 70;
const BOTTOM: u32 = 50;
const COLORS: [(&str, &str); 3] = [
    ("inbound", "#2e7d32"),
    ("outbound", "#1565c0"),
    ("missed", "#c62828"),
];

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A tick step giving at most about six ticks.
fn tick_step(max: u64) -> u64 {
    let mut step = 1;
    for s in [
        1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000,
    ] {
        step = s;
        if max / s <= 6 {
            break;
        }
    }
    step
}

/// Renders the report's hour distribution.
pub fn render(r: &CallReport) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max = r.hours.iter().map(HourRow::total).max().unwrap_or(0);
    let step = tick_step(max.max(1));
    // The scale ends above the tallest bar, so its value label stays below the legend.
    let top = (max.max(1) + 1).div_ceil(step) * step;
    let y = |n: u64| TOP as f64 + plot_h as f64 * (1.0 - n as f64 / top as f64);
    let slots = r.hours.len().max(1) as f64;
    let slot_w = plot_w as f64 / slots;
    let bar_w = (slot_w * 0.7).max(1.0);
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n"
    ));
    let title = format!(
        "Calls per hour, last {} day(s), {:02}:00–{:02}:00 {}",
        r.days,
        r.working_hours[0],
        r.working_hours[1],
        r.zone_label()
    );
    s.push_str(&format!("<title>{}</title>\n", escape(&title)));
    s.push_str(&format!(
        "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\n"
    ));
    s.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
        escape(&title)
    ));
    let t = &r.totals;
    let summary = format!(
        "inbound {} · outbound {} · missed {} · outside working hours {}",
        t.inbound.count, t.outbound.count, t.missed.count, r.outside_working_hours
    );
    s.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"44\" fill=\"#555555\">{}</text>\n",
        escape(&summary)
    ));
    // Legend.
    for (i, (name, color)) in COLORS.iter().enumerate() {
        let x = WIDTH - RIGHT - 270 + i as u32 * 90;
        s.push_str(&format!(
            "<rect x=\"{x}\" y=\"52\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{}\" y=\"62\">{name}</text>\n",
            x + 16
        ));
    }
    // Grid and y axis.
    let mut v = 0;
    while v <= top {
        let yy = y(v);
        s.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{}\" y2=\"{yy:.1}\" stroke=\"#e0e0e0\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>\n",
            WIDTH - RIGHT,
            LEFT - 6,
            yy + 4.0
        ));
        v += step;
    }
    s.push_str(&format!(
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{}\" stroke=\"#333333\"/>\n<line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333333\"/>\n",
        TOP + plot_h,
        TOP + plot_h,
        WIDTH - RIGHT,
        TOP + plot_h
    ));
    // Bars, stacked bottom-up: inbound, outbound, missed.
    for (i, h) in r.hours.iter().enumerate() {
        let x = LEFT as f64 + slot_w * i as f64 + (slot_w - bar_w) / 2.0;
        let mut base = 0;
        for (n, (name, color)) in [h.inbound, h.outbound, h.missed].into_iter().zip(COLORS) {
            if n == 0 {
                continue;
            }
            let (y1, y0) = (y(base + n), y(base));
            s.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{}</title></rect>\n",
                (y0 - y1).max(0.0),
                escape(&format!("{:02}:00–{:02}:59: {n} {name}", h.hour, h.hour))
            ));
            base += n;
        }
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{:02}</text>\n",
            x + bar_w / 2.0,
            TOP + plot_h + 16,
            h.hour
        ));
        if h.total() > 0 {
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333333\">{}</text>\n",
                x + bar_w / 2.0,
                y(h.total()) - 4.0,
                h.total()
            ));
        }
    }
    s.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555555\">hour of the day</text>\n",
        LEFT + plot_w / 2,
        HEIGHT - 12
    ));
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_ticks() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(tick_step(5), 1);
        assert_eq!(tick_step(13), 2);
        assert_eq!(tick_step(120), 20);
    }

    #[test]
    fn the_tallest_bars_label_stays_below_the_legend() {
        let svg = render(&CallReport {
            working_hours: [9, 18],
            utc_offset: "+03:00".into(),
            hours: vec![HourRow {
                hour: 9,
                inbound: 5,
                outbound: 0,
                missed: 0,
            }],
            ..Default::default()
        });
        let label = svg
            .lines()
            .find(|l| l.contains("fill=\"#333333\">5</text>"))
            .expect("the bar's value label");
        let y: f64 = label
            .split("y=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        // The legend's text sits on y = 62 (12 px high); the label needs its own line.
        assert!(y >= TOP as f64 + 12.0, "label at y = {y}");
    }

    #[test]
    fn empty_report_still_renders_a_closed_document() {
        let svg = render(&CallReport {
            working_hours: [9, 18],
            utc_offset: "+03:00".into(),
            ..Default::default()
        });
        assert!(svg.starts_with("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
