//! A dependency cycle as a small graph: transactions on a circle, edges curved outward and
//! labelled with their kind (Adya's ww / wr / rw, plus process and real-time order).

use super::w;
use crate::escape::esc;
use crate::model::CycleView;

fn edge_colour(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "ww" => ("#1565c0", "ww"),
        "wr" => ("#2e7d32", "wr"),
        "rw" => ("#c62828", "rw"),
        "process" => ("#616161", "process"),
        "realtime" => ("#6a1b9a", "realtime"),
        _ => ("#455a64", "other"),
    }
}

pub fn svg(c: &CycleView, id: &str) -> String {
    let n = c.nodes.len().max(1);
    let radius = (30.0 + 22.0 * n as f64).max(70.0);
    let size = 2.0 * radius + 110.0;
    let centre = size / 2.0;
    let node_r = 24.0;
    let pos: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let a = -std::f64::consts::FRAC_PI_2 + i as f64 * std::f64::consts::TAU / n as f64;
            (centre + radius * a.cos(), centre + radius * a.sin())
        })
        .collect();
    let mut s = String::new();
    w!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"cycle\" width=\"{size:.0}\" height=\"{size:.0}\" viewBox=\"0 0 {size:.0} {size:.0}\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"12\"><defs>"
    );
    for kind in ["ww", "wr", "rw", "process", "realtime", "other"] {
        let (colour, name) = edge_colour(kind);
        w!(
            s,
            "<marker id=\"{id}-{name}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{colour}\"/></marker>"
        );
    }
    s.push_str("</defs>");
    let mut labels = String::new();
    for e in &c.edges {
        let (Some(&(ax, ay)), Some(&(bx, by))) = (pos.get(e.from), pos.get(e.to)) else {
            continue;
        };
        let (colour, name) = edge_colour(&e.edge);
        let (dx, dy) = (bx - ax, by - ay);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let (ux, uy) = (dx / len, dy / len);
        // Bow each edge to its left-hand side: with nodes placed clockwise that is outward,
        // and the two edges of a 2-cycle bow apart.
        let (px, py) = (uy, -ux);
        let bow = 0.22 * len + 10.0;
        let (mx, my) = ((ax + bx) / 2.0 + px * bow, (ay + by) / 2.0 + py * bow);
        // Start and end on the node circles, pointing at the control point.
        let toward = |x: f64, y: f64, tx: f64, ty: f64| {
            let (vx, vy) = (tx - x, ty - y);
            let l = (vx * vx + vy * vy).sqrt().max(1.0);
            (x + vx / l * (node_r + 2.0), y + vy / l * (node_r + 2.0))
        };
        let (sx, sy) = toward(ax, ay, mx, my);
        let (ex, ey) = toward(bx, by, mx, my);
        w!(
            s,
            "<path d=\"M{sx:.1},{sy:.1} Q{mx:.1},{my:.1} {ex:.1},{ey:.1}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" marker-end=\"url(#{id}-{name})\"><title>{}</title></path>",
            esc(&e.why)
        );
        // The label sits at the curve's midpoint.
        let (lx, ly) = (
            0.25 * sx + 0.5 * mx + 0.25 * ex,
            0.25 * sy + 0.5 * my + 0.25 * ey,
        );
        let text = esc(&e.edge);
        let wdt = 8.0 + 7.0 * e.edge.chars().count() as f64;
        w!(
            labels,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{wdt:.1}\" height=\"17\" rx=\"8\" fill=\"{colour}\"/><text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#fff\" font-weight=\"700\" font-size=\"11\">{text}</text>",
            lx - wdt / 2.0,
            ly - 9.0,
            ly + 3.5
        );
    }
    s.push_str(&labels);
    for (node, &(x, y)) in c.nodes.iter().zip(&pos) {
        w!(
            s,
            "<a href=\"#op-{}\"><title>{}: {}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{node_r}\" fill=\"#fff\" stroke=\"#1f2328\" stroke-width=\"1.8\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"700\" font-size=\"14\" fill=\"#1f2328\">{}</text></a>",
            node.index,
            esc(&node.name),
            esc(&node.text),
            y + 5.0,
            esc(&node.name)
        );
    }
    s.push_str("</svg>");
    s
}

pub fn side(out: &mut String, c: &CycleView) {
    out.push_str(
        "<div class=\"side\"><b>Transactions</b><ol style=\"list-style:none;padding-left:0\">",
    );
    for node in &c.nodes {
        w!(
            out,
            "<li><b>{}</b> = <a href=\"#op-{}\">op {}</a> <code>{}</code></li>",
            esc(&node.name),
            node.index,
            node.index,
            esc(&node.text)
        );
    }
    out.push_str("</ol><b>Why each edge exists</b><ol style=\"list-style:none;padding-left:0\">");
    for e in &c.edges {
        let (Some(a), Some(b)) = (c.nodes.get(e.from), c.nodes.get(e.to)) else {
            continue;
        };
        let (_, name) = edge_colour(&e.edge);
        w!(
            out,
            "<li>{} → {} <span class=\"edge e-{name}\">{}</span> {}</li>",
            esc(&a.name),
            esc(&b.name),
            esc(&e.edge),
            esc(&e.why)
        );
    }
    out.push_str("</ol><div class=\"legend\"><span><i style=\"background:#1565c0\"></i>ww: write-write</span><span><i style=\"background:#2e7d32\"></i>wr: write-read</span><span><i style=\"background:#c62828\"></i>rw: anti-dependency</span><span><i style=\"background:#616161\"></i>process order</span><span><i style=\"background:#6a1b9a\"></i>real time</span></div></div>");
}
