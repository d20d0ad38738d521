//! Small server-rendered SVG charts: bars of spend per day and of router cost per model. Sized by
//! `viewBox` so they scale to the page; every bar has a `<title>` and the figure an accessible name
//! and a text summary beside it, so nothing depends on seeing the chart.

use crate::fmt::{escape, micro_usd, usd};

const W: i64 = 600;
const H: i64 = 160;
const PAD_BOTTOM: i64 = 22;
const PAD_TOP: i64 = 12;

/// One bar: its label (a date, a model) and its value.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: i64,
}

/// Vertical bars of cents per day. Labels the first, middle and last day under the axis.
pub fn daily_bars(title: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let n = i64::try_from(bars.len()).unwrap_or(1).max(1);
    let slot = W / n;
    let plot = H - PAD_BOTTOM - PAD_TOP;
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title)
    );
    out.push_str(&format!(
        "<line x1=\"0\" y1=\"{y}\" x2=\"{W}\" y2=\"{y}\" class=\"axis\"/>",
        y = H - PAD_BOTTOM
    ));
    out.push_str(&format!(
        "<text x=\"0\" y=\"10\" class=\"tick\">max {}</text>",
        escape(&usd(max))
    ));
    for (i, bar) in bars.iter().enumerate() {
        let i = i64::try_from(i).unwrap_or(0);
        let h = if bar.value > 0 {
            (bar.value * plot / max).max(2)
        } else {
            0
        };
        let x = i * slot + 2;
        let y = H - PAD_BOTTOM - h;
        out.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" class=\"bar\"><title>{}: {}</title></rect>",
            escape(&bar.label),
            escape(&usd(bar.value)),
            w = (slot - 4).max(1),
        ));
        if i == 0 || i == n - 1 || i == n / 2 {
            let anchor = if i == 0 {
                "start"
            } else if i == n - 1 {
                "end"
            } else {
                "middle"
            };
            let tx = if i == n - 1 { W } else { x };
            out.push_str(&format!(
                "<text x=\"{tx}\" y=\"{H}\" text-anchor=\"{anchor}\" class=\"tick\">{}</text>",
                escape(&bar.label)
            ));
        }
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars of micro-dollars per label (router cost per model), largest first.
pub fn horizontal_bars(title: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let row = 28;
    let label_w = 200;
    let n = i64::try_from(bars.len()).unwrap_or(0);
    let height = (n * row).max(row);
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {height}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(title)
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = i64::try_from(i).unwrap_or(0) * row;
        let w = if bar.value > 0 {
            (bar.value * (W - label_w - 110) / max).max(2)
        } else {
            0
        };
        out.push_str(&format!(
            "<text x=\"0\" y=\"{ty}\" class=\"tick\">{label}</text><rect x=\"{label_w}\" y=\"{ry}\" width=\"{w}\" height=\"18\" class=\"bar\"><title>{label}: {value}</title></rect><text x=\"{vx}\" y=\"{ty}\" class=\"tick\">{value}</text>",
            ty = y + 18,
            ry = y + 4,
            vx = label_w + w + 6,
            label = escape(&bar.label),
            value = escape(&micro_usd(bar.value)),
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_chart_has_a_bar_per_day_and_escapes_labels() {
        let bars: Vec<Bar> = (0..30)
            .map(|i| Bar {
                label: format!("d{i}<"),
                value: i * 100,
            })
            .collect();
        let svg = daily_bars("Spend <30 days>", &bars);
        assert_eq!(svg.matches("<rect").count(), 30);
        assert!(svg.contains("Spend &lt;30 days&gt;"));
        assert!(!svg.contains("d1<"));
    }

    #[test]
    fn model_chart_scales_the_largest_bar_to_the_width() {
        let bars = vec![
            Bar {
                label: "sandbox/echo".to_owned(),
                value: 2_000,
            },
            Bar {
                label: "other".to_owned(),
                value: 1_000,
            },
        ];
        let svg = horizontal_bars("Cost per model", &bars);
        assert!(svg.contains("width=\"290\""));
        assert!(svg.contains("width=\"145\""));
    }
}
