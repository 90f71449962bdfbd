//! A linearizability failure drawn the way Porcupine draws it: one row per process, each op
//! an interval from invocation to completion; the longest linearizable prefix in green and
//! numbered in order, joined through a consistent choice of linearization points; the op that
//! cannot be placed next in red.

use super::w;
use crate::escape::esc;
use crate::model::{LinView, Outcome};

const LEFT: f64 = 96.0;
const WIDTH: f64 = 860.0;
const ROW: f64 = 34.0;
const TOP: f64 = 30.0;

pub fn svg(l: &LinView, id: &str) -> String {
    let height = TOP + ROW * l.processes.len() as f64 + 16.0;
    let span = (l.t1_s - l.t0_s).max(1e-9);
    // A little room on the right for ops that never completed.
    let x = |t: f64| LEFT + 8.0 + (t - l.t0_s) / span * (WIDTH - LEFT - 60.0);
    let right = WIDTH - 10.0;
    let mut s = String::new();
    w!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lin\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"11\">"
    );
    // Axis: five ticks in seconds since the test started, with as many decimals as the
    // window's width needs.
    let decimals = ((-(span / 4.0).log10()).ceil() as i64 + 1).clamp(0, 6) as usize;
    for i in 0..=4 {
        let t = l.t0_s + span * i as f64 / 4.0;
        let xi = x(t);
        w!(
            s,
            "<line x1=\"{xi:.1}\" y1=\"{}\" x2=\"{xi:.1}\" y2=\"{:.1}\" stroke=\"#e3e7eb\"/><text x=\"{xi:.1}\" y=\"14\" text-anchor=\"middle\" fill=\"#59636e\">{t:.decimals$} s</text>",
            TOP - 8.0,
            height - 8.0
        );
    }
    for (r, p) in l.processes.iter().enumerate() {
        let y = TOP + ROW * r as f64;
        w!(
            s,
            "<text x=\"8\" y=\"{:.1}\" fill=\"#1f2328\" font-weight=\"600\">{}</text><line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{right}\" y2=\"{:.1}\" stroke=\"#f0f3f6\"/>",
            y + ROW / 2.0 + 4.0,
            esc(p),
            y + ROW - 1.0,
            y + ROW - 1.0
        );
    }
    for o in &l.ops {
        let y = TOP + ROW * o.row as f64 + 5.0;
        let x0 = x(o.start_s);
        let x1 = o.end_s.map_or(right, x).max(x0 + 6.0);
        let (fill, stroke, sw, dash) = if o.unplaceable {
            ("#f9c9c5", "#c62828", 2.5, "")
        } else if o.order.is_some() {
            ("#c8f0cf", "#2e7d32", 1.2, "")
        } else if o.outcome == Outcome::Open || o.outcome == Outcome::Info {
            ("#fff6cc", "#c9a227", 1.2, " stroke-dasharray=\"4 3\"")
        } else {
            ("#eceff1", "#90a4ae", 1.0, "")
        };
        let text = match o.order {
            Some(n) => format!("{n}. {}", o.label),
            None if o.unplaceable => format!("✗ {}", o.label),
            None => o.label.clone(),
        };
        w!(
            s,
            "<a href=\"#op-{}\"><title>{}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{sw}\"{dash}/>",
            o.index,
            esc(&o.title),
            x1 - x0,
            ROW - 10.0
        );
        // The label goes in its bar when it fits, else just after it up to the next op of
        // the same process; either way clipped, so neighbours stay legible.
        let next = l
            .ops
            .iter()
            .filter(|n| n.row == o.row && n.start_s > o.start_s)
            .map(|n| x(n.start_s))
            .fold(right, f64::min);
        let prev = l
            .ops
            .iter()
            .filter(|n| n.row == o.row && n.start_s < o.start_s)
            .map(|n| n.end_s.map_or(right, x))
            .fold(LEFT, f64::max);
        let text_w = 6.6 * text.chars().count() as f64 + 8.0;
        // (x of the text, anchor, clip rectangle's x and width)
        let (tx, anchor, cx, cw) =
            if text_w <= x1 - x0 || (next - x1 < text_w && x0 - prev < text_w) {
                (x0 + 4.0, "start", x0, x1 - x0 - 4.0)
            } else if next - x1 >= text_w || next - x1 >= x0 - prev {
                (x1 + 4.0, "start", x1, next - x1 - 8.0)
            } else {
                (x0 - 4.0, "end", prev + 4.0, x0 - prev - 8.0)
            };
        let clip = format!("{id}-c{}", o.index);
        w!(
            s,
            "<clipPath id=\"{clip}\"><rect x=\"{cx:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\"/></clipPath><text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" clip-path=\"url(#{clip})\" fill=\"{}\"{}>{}</text></a>",
            cw.max(1.0),
            ROW - 10.0,
            y + (ROW - 10.0) / 2.0 + 4.0,
            if o.unplaceable { "#b71c1c" } else { "#1f2328" },
            if o.unplaceable { " font-weight=\"700\"" } else { "" },
            esc(&text)
        );
    }
    // The linearization points, joined in prefix order.
    let mut pts: Vec<(usize, f64, f64)> = l
        .ops
        .iter()
        .filter_map(|o| {
            let y = TOP + ROW * o.row as f64 + ROW / 2.0;
            Some((o.order?, x(o.point_s?), y))
        })
        .collect();
    pts.sort_by_key(|p| p.0);
    if pts.len() > 1 {
        let path: Vec<String> = pts
            .iter()
            .map(|(_, x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        w!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#2e7d32\" stroke-width=\"1.2\" stroke-dasharray=\"3 3\" opacity=\"0.8\"/>",
            path.join(" ")
        );
    }
    for (_, px, py) in &pts {
        w!(
            s,
            "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"#1b5e20\"/>"
        );
    }
    s.push_str("</svg>");
    s
}

pub fn side(out: &mut String, l: &LinView) {
    out.push_str("<div class=\"side\">");
    w!(
        out,
        "<p><b>Longest linearizable prefix:</b> {} ops (green, numbered in order; dots mark one \
         consistent choice of linearization points). <b>State after it:</b> <code>{}</code></p>",
        l.prefix_len,
        esc(&l.state)
    );
    out.push_str(
        "<p><b>Red:</b> the op that cannot be placed next: no order of the ops consistent with \
         real time lets it return what it returned. Grey: ops in the window not in the prefix; \
         dashed: indeterminate (info or never completed).</p>",
    );
    let mut steps: Vec<&crate::model::LinOp> = l
        .ops
        .iter()
        .filter(|o| o.order.is_some() && o.state_after.is_some())
        .collect();
    if !steps.is_empty() {
        steps.sort_by_key(|o| o.order);
        out.push_str("<p><b>The prefix, step by step:</b></p><ol>");
        for o in steps.iter().take(40) {
            w!(
                out,
                "<li><a href=\"#op-{}\">{}</a> → state <code>{}</code></li>",
                o.index,
                esc(&o.label),
                esc(o.state_after.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</ol>");
    }
    if let Some(n) = &l.note {
        w!(out, "<p class=\"muted\">{}</p>", esc(n));
    }
    out.push_str("</div>");
}
