//! The timeline as positioned HTML: rows and lanes are CSS variables (`--r`, `--h`, `--l`),
//! so zooming is one variable change and a 10,000-op timeline stays a few megabytes.

use super::{thousands, w};
use crate::escape::esc;
use crate::model::Timeline;

pub fn render(out: &mut String, t: &Timeline) {
    if t.total_ops == 0 && t.faults.is_empty() {
        out.push_str("<p class=\"muted\">The history has no client ops.</p>");
        return;
    }
    w!(
        out,
        "<div class=\"tl-controls\"><span>Zoom <button data-zoom=\"-\" title=\"zoom out\">−</button>\
         <button data-zoom=\"+\" title=\"zoom in\">+</button><button data-zoom=\"reset\">reset</button></span>\
         <span class=\"chip\"><i style=\"background:#c8f0cf;border-color:#6cc47f\"></i>ok</span>\
         <span class=\"chip\"><i style=\"background:#fbd3d0;border-color:#e88b83\"></i>fail</span>\
         <span class=\"chip\"><i style=\"background:#fff0b3;border-color:#e2c04f\"></i>info</span>\
         <span class=\"chip\"><i style=\"background:#fffbe8;border-color:#e2c04f;border-style:dashed\"></i>never completed</span>\
         <span class=\"chip\"><i style=\"background:#eadcf7;border-color:#b28fd8\"></i>fault</span>\
         <span class=\"chip\"><i style=\"background:#fff;border-color:#d93025;border-width:2px\"></i>named by an anomaly</span>\
         <span class=\"muted\">One lane per process; each bar runs from invocation to completion. \
         Rows are events in history order, not equal time. {} of {} ops shown.</span></div>",
        thousands(t.shown_ops),
        thousands(t.total_ops)
    );
    if t.capped {
        w!(
            out,
            "<div class=\"note\">This timeline is capped: it shows the {} client ops nearest the \
             anomalies out of {}. Striped rows mark omitted stretches.</div>",
            thousands(t.shown_ops),
            thousands(t.total_ops)
        );
    }
    let flanes = if t.faults.is_empty() {
        0
    } else {
        t.fault_lanes.max(1)
    };
    // Lanes share the page's width: wide when there are few, never narrower than 96 px.
    let lw = (1180usize.saturating_sub(92 * flanes) / t.lanes.len().max(1)).clamp(96, 180);
    w!(
        out,
        "<div class=\"tl-scroll\"><div class=\"tl\" style=\"--lanes:{};--flanes:{flanes};--rows:{};--lw:{lw}px\">",
        t.lanes.len(),
        t.rows
    );
    out.push_str("<div class=\"tl-head\"><div style=\"left:0;width:var(--tw)\">time</div>");
    if flanes > 0 {
        out.push_str(
            "<div style=\"left:var(--tw);width:calc(var(--flanes)*var(--fw))\">nemesis</div>",
        );
    }
    for (i, lane) in t.lanes.iter().enumerate() {
        w!(
            out,
            "<div style=\"left:calc(var(--tw) + var(--flanes)*var(--fw) + {i}*var(--lw));width:var(--lw)\">process {}</div>",
            esc(&lane.label)
        );
    }
    out.push_str("</div><div class=\"tl-body\">");
    for f in &t.faults {
        w!(
            out,
            "<div class=\"tl-band\" style=\"--r:{};--h:{}\"></div>",
            f.row0,
            f.row1 - f.row0 + 1
        );
    }
    for (row, label) in &t.times {
        w!(out, "<div class=\"tl-t\" style=\"--r:{row}\">{label}</div>");
    }
    for g in &t.gaps {
        w!(
            out,
            "<div class=\"tl-gap\" style=\"--r:{}\">… {} events omitted …</div>",
            g.row,
            thousands(g.omitted_events as usize)
        );
    }
    // One window's closing event can close several (`heal`) or open the next: each id once.
    let mut ids = std::collections::HashSet::new();
    for f in &t.faults {
        let id = if ids.insert(f.index) {
            format!(" id=\"op-{}\"", f.index)
        } else {
            String::new()
        };
        w!(
            out,
            "<div class=\"tl-f\"{id} style=\"--r:{};--h:{};--l:{}\" title=\"{}\">",
            f.row0,
            f.row1 - f.row0 + 1,
            f.lane,
            esc(&f.title)
        );
        if let Some(e) = f.end_index.filter(|&e| ids.insert(e)) {
            w!(out, "<a id=\"op-{e}\"></a>");
        }
        w!(out, "{}</div>", esc(&f.fault));
    }
    for op in &t.ops {
        w!(
            out,
            "<div class=\"op {}{}\" id=\"op-{}\" style=\"--r:{};--h:{};--l:{}\" title=\"{}\">",
            op.outcome.as_str(),
            if op.flagged { " hit" } else { "" },
            op.index,
            op.row0,
            op.row1 - op.row0 + 1,
            op.lane,
            esc(&op.title)
        );
        if let Some(c) = op.completion {
            w!(out, "<a id=\"op-{c}\"></a>");
        }
        w!(out, "{}</div>", esc(&op.label));
    }
    out.push_str("</div></div></div>");
}
