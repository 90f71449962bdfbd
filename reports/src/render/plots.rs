//! The four plots, drawn with plotters to SVG: latency over time (shape by `f`, colour by
//! outcome), latency quantiles, ok throughput, and availability (ok / fail / info stacked).
//! Every fault window is a shaded, labelled band on each.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{guarded, num};
use crate::model::{FaultView, Outcome, Series};

const W: u32 = 640;
const H: u32 = 300;
const OK: RGBColor = RGBColor(46, 158, 74);
const FAIL: RGBColor = RGBColor(217, 48, 37);
const INFO: RGBColor = RGBColor(224, 168, 0);
const GRID: RGBColor = RGBColor(236, 239, 242);
const AXIS: RGBColor = RGBColor(89, 99, 110);
/// Fault bands, by order of first appearance of each fault name.
const FAULT_COLOURS: [RGBColor; 5] = [
    RGBColor(142, 84, 204),
    RGBColor(0, 131, 143),
    RGBColor(191, 54, 12),
    RGBColor(55, 71, 79),
    RGBColor(173, 20, 87),
];
/// `f`s with their own marker in the latency legend; the rest share one.
const MAX_FS: usize = 5;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Every plot with its caption; a plot that fails is an `Err` with the reason.
pub fn all(s: &Series, faults: &[FaultView]) -> Vec<(&'static str, Result<String, String>)> {
    vec![
        (
            "Latency over time, by f and outcome",
            guarded("latency plot", || latency(s, faults)),
        ),
        (
            "Latency quantiles over time",
            guarded("quantile plot", || quantiles(s, faults)),
        ),
        (
            "Throughput: ok ops per second",
            guarded("throughput plot", || throughput(s, faults)),
        ),
        (
            "Availability: ok / fail / info per bucket",
            guarded("availability plot", || availability(s, faults)),
        ),
    ]
}

fn svg(draw: impl for<'a> FnOnce(Area<'a>) -> Result<(), String>) -> Result<String, String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(root)?;
    }
    Ok(buf)
}

fn empty(what: &str) -> Result<String, String> {
    Ok(format!("<p class=\"muted\">No {what} to plot.</p>"))
}

/// Axis unit for time: milliseconds for runs shorter than two seconds.
fn time_unit(s: &Series) -> (f64, &'static str) {
    if s.t1_s - s.t0_s < 2.0 {
        (1e3, "time (ms)")
    } else {
        (1.0, "time (s)")
    }
}

fn x_range(s: &Series) -> std::ops::Range<f64> {
    let end = if s.t1_s > s.t0_s {
        s.t1_s
    } else {
        s.t0_s + 1e-3
    };
    s.t0_s..end
}

/// Shades and labels each fault window over `[y0, y1]` of a chart.
fn shade<'a, Y>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
    faults: &[FaultView],
    xr: &std::ops::Range<f64>,
    y0: f64,
    y1: f64,
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64>,
{
    let mut names: Vec<&str> = Vec::new();
    for f in faults {
        let i = match names.iter().position(|n| *n == f.fault) {
            Some(i) => i,
            None => {
                names.push(&f.fault);
                names.len() - 1
            }
        };
        let c = FAULT_COLOURS[i % FAULT_COLOURS.len()];
        let (a, b) = (
            f.start_s.max(xr.start),
            f.end_s.unwrap_or(xr.end).min(xr.end),
        );
        if b < a {
            continue;
        }
        let b = b.max(a + (xr.end - xr.start) * 0.002);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(a, y0), (b, y1)],
                c.mix(0.13).filled(),
            )))
            .map_err(|e| e.to_string())?;
        let label: String = f.fault.chars().take(24).collect();
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (a, y1),
                ("sans-serif", 11).into_font().color(&c),
            )))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn latency(s: &Series, faults: &[FaultView]) -> Result<String, String> {
    if s.latency.is_empty() {
        return empty("completed ops");
    }
    let lo = s
        .latency
        .iter()
        .map(|p| p.ms)
        .filter(|&m| m > 0.0)
        .fold(f64::INFINITY, f64::min);
    let lo = if lo.is_finite() { lo } else { 0.001 };
    let hi = s.latency.iter().map(|p| p.ms).fold(lo, f64::max);
    // A log axis only when latencies span orders of magnitude; otherwise it has one tick.
    if hi / lo > 20.0 {
        let (y0, y1) = (lo * 0.7, hi * 1.6);
        svg(|root| latency_chart(&root, s, faults, (y0..y1).log_scale(), y0, y1))
    } else {
        let y1 = hi * 1.25;
        svg(|root| latency_chart(&root, s, faults, 0.0..y1, 0.0, y1))
    }
}

fn latency_chart<'a, YR>(
    root: &Area<'a>,
    s: &Series,
    faults: &[FaultView],
    yr: YR,
    y0: f64,
    y1: f64,
) -> Result<(), String>
where
    YR: AsRangedCoord<Value = f64>,
    YR::CoordDescType: ValueFormatter<f64>,
{
    let xr = x_range(s);
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(xr.clone(), yr)
        .map_err(|e| e.to_string())?;
    mesh(&mut chart, time_unit(s), "latency (ms)")?;
    shade(&mut chart, faults, &xr, y0, y1)?;
    let nf = s.fs.len().min(MAX_FS + 1);
    for f in 0..nf {
        for outcome in [Outcome::Ok, Outcome::Fail, Outcome::Info] {
            let pts: Vec<(f64, f64)> = s
                .latency
                .iter()
                .filter(|p| p.f.min(MAX_FS) == f && p.outcome == outcome)
                .map(|p| (p.t_s, p.ms.max(y0)))
                .collect();
            if pts.is_empty() {
                continue;
            }
            let colour = match outcome {
                Outcome::Ok => OK,
                Outcome::Fail => FAIL,
                _ => INFO,
            };
            let name = if f < MAX_FS {
                s.fs[f].as_str()
            } else {
                "other"
            };
            let label = format!("{name} {}", outcome.as_str());
            let style = colour.mix(0.75).filled();
            match f % 3 {
                0 => chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 2, style)))
                    .map_err(|e| e.to_string())?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x, y), 3, style)),
                1 => chart
                    .draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 3, style)))
                    .map_err(|e| e.to_string())?
                    .label(label)
                    .legend(move |(x, y)| TriangleMarker::new((x, y), 4, style)),
                _ => chart
                    .draw_series(
                        pts.iter()
                            .map(|&p| Cross::new(p, 3, colour.stroke_width(1))),
                    )
                    .map_err(|e| e.to_string())?
                    .label(label)
                    .legend(move |(x, y)| Cross::new((x, y), 3, colour.stroke_width(1))),
            };
        }
    }
    legend(&mut chart)?;
    root.present().map_err(|e| e.to_string())
}

type Quantile = (
    &'static str,
    RGBColor,
    fn(&crate::model::Bucket) -> Option<f64>,
);
const QUANTILES: [Quantile; 4] = [
    ("p50", RGBColor(100, 181, 246), |b| b.p50),
    ("p95", RGBColor(30, 136, 229), |b| b.p95),
    ("p99", RGBColor(13, 71, 161), |b| b.p99),
    ("max", RGBColor(123, 31, 162), |b| b.max),
];

fn quantiles(s: &Series, faults: &[FaultView]) -> Result<String, String> {
    let vals: Vec<f64> = s
        .buckets
        .iter()
        .flat_map(|b| [b.p50, b.max])
        .flatten()
        .filter(|&v| v > 0.0)
        .collect();
    if vals.is_empty() {
        return empty("latencies");
    }
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(lo, f64::max);
    if hi / lo > 20.0 {
        let (y0, y1) = (lo * 0.7, hi * 1.6);
        svg(|root| quantile_chart(&root, s, faults, (y0..y1).log_scale(), y0, y1))
    } else {
        let y1 = hi * 1.25;
        svg(|root| quantile_chart(&root, s, faults, 0.0..y1, 0.0, y1))
    }
}

fn quantile_chart<'a, YR>(
    root: &Area<'a>,
    s: &Series,
    faults: &[FaultView],
    yr: YR,
    y0: f64,
    y1: f64,
) -> Result<(), String>
where
    YR: AsRangedCoord<Value = f64>,
    YR::CoordDescType: ValueFormatter<f64>,
{
    let xr = x_range(s);
    let half = s.bucket_s / 2.0;
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(xr.clone(), yr)
        .map_err(|e| e.to_string())?;
    mesh(&mut chart, time_unit(s), "latency (ms)")?;
    shade(&mut chart, faults, &xr, y0, y1)?;
    for (name, colour, get) in QUANTILES {
        let pts: Vec<(f64, f64)> = s
            .buckets
            .iter()
            .filter_map(|b| Some(((b.t_s + half).min(xr.end), get(b)?.max(y0))))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x - 6, y), (x + 6, y)], colour.stroke_width(2))
            });
    }
    legend(&mut chart)?;
    root.present().map_err(|e| e.to_string())
}

fn throughput(s: &Series, faults: &[FaultView]) -> Result<String, String> {
    if s.buckets.is_empty() {
        return empty("ops");
    }
    let hi = s.buckets.iter().map(|b| b.ok_per_s).fold(0.0, f64::max);
    let y1 = if hi > 0.0 { hi * 1.2 } else { 1.0 };
    let xr = x_range(s);
    let half = s.bucket_s / 2.0;
    svg(|root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .build_cartesian_2d(xr.clone(), 0.0..y1)
            .map_err(|e| e.to_string())?;
        mesh(&mut chart, time_unit(s), "ok ops / s")?;
        shade(&mut chart, faults, &xr, 0.0, y1)?;
        let pts: Vec<(f64, f64)> = s
            .buckets
            .iter()
            .map(|b| ((b.t_s + half).min(xr.end), b.ok_per_s))
            .collect();
        chart
            .draw_series(AreaSeries::new(pts, 0.0, OK.mix(0.18)).border_style(OK.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())
    })
}

fn availability(s: &Series, faults: &[FaultView]) -> Result<String, String> {
    if s.buckets.is_empty() {
        return empty("ops");
    }
    let hi = s
        .buckets
        .iter()
        .map(|b| b.ok + b.fail + b.info)
        .max()
        .unwrap_or(0) as f64;
    let y1 = if hi > 0.0 { hi * 1.15 } else { 1.0 };
    let xr = x_range(s);
    let w = s.bucket_s;
    svg(|root| {
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(34)
            .y_label_area_size(56)
            .build_cartesian_2d(xr.clone(), 0.0..y1)
            .map_err(|e| e.to_string())?;
        let y_desc = format!("ops per {}", super::duration(w));
        mesh(&mut chart, time_unit(s), &y_desc)?;
        shade(&mut chart, faults, &xr, 0.0, y1)?;
        for (i, (name, colour)) in [("ok", OK), ("fail", FAIL), ("info", INFO)]
            .into_iter()
            .enumerate()
        {
            let rects: Vec<Rectangle<(f64, f64)>> = s
                .buckets
                .iter()
                .filter_map(|b| {
                    let parts = [b.ok as f64, b.fail as f64, b.info as f64];
                    let base: f64 = parts[..i].iter().sum();
                    let top = base + parts[i];
                    (parts[i] > 0.0).then(|| {
                        let x0 = b.t_s.max(xr.start);
                        let x1 = (b.t_s + w * 0.92).min(xr.end).max(x0);
                        Rectangle::new([(x0, base), (x1, top)], colour.mix(0.85).filled())
                    })
                })
                .collect();
            chart
                .draw_series(rects)
                .map_err(|e| e.to_string())?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x - 5, y - 4), (x + 5, y + 4)], colour.filled())
                });
        }
        legend(&mut chart)?;
        root.present().map_err(|e| e.to_string())
    })
}

fn mesh<'a, Y>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
    (scale, x): (f64, &str),
    y: &str,
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_desc(x)
        .y_desc(y)
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|v| num(*v * scale))
        .y_label_formatter(&|v| num(*v))
        .label_style(("sans-serif", 12).into_font().color(&AXIS))
        .draw()
        .map_err(|e| e.to_string())
}

fn legend<'a, Y>(
    chart: &mut ChartContext<
        'a,
        SVGBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
) -> Result<(), String>
where
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(GRID)
        .label_font(("sans-serif", 11))
        .draw()
        .map_err(|e| e.to_string())
}
