//! The numbers behind the plots: one latency point per completed op (sampled evenly when
//! there are too many to draw), and per time bucket the ok / fail / info counts, ok
//! throughput and latency quantiles. Quantiles are nearest-rank, as in `checker::stats`.

use faultline_checker::stats::quantile;
use faultline_core::History;
use serde::Serialize;

use super::{secs, Outcome};
use crate::escape::truncate;

/// Buckets at most; a longer run gets wider buckets.
const MAX_BUCKETS: u64 = 600;
/// Below this many seconds a run is cut into this many buckets instead of seconds.
const MIN_BUCKETS: u64 = 20;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Series {
    pub latency: Vec<LatencyPoint>,
    /// Completed ops in all (the scatter may show a sample).
    pub latency_total: usize,
    /// The distinct `f`s, in order of first appearance (the scatter's legend).
    pub fs: Vec<String>,
    /// Width of one bucket, in seconds.
    pub bucket_s: f64,
    pub buckets: Vec<Bucket>,
    /// Time of the first and last event, in seconds.
    pub t0_s: f64,
    pub t1_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LatencyPoint {
    /// Invocation time, seconds since the test started.
    pub t_s: f64,
    pub ms: f64,
    /// Index into `Series::fs`.
    pub f: usize,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Bucket {
    /// Start of the bucket, seconds.
    pub t_s: f64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    pub ok_per_s: f64,
    /// Latency quantiles (ms) of ops invoked in the bucket, all outcomes with a completion.
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl Series {
    pub fn build(history: &History, max_points: usize) -> Series {
        let ops = history.ops();
        let (Some(first), Some(last)) = (ops.first(), ops.last()) else {
            return Series::default();
        };
        let (t0, t1) = (first.time, last.time.max(first.time));
        let span = (t1 - t0).max(1);
        let width = if span >= MIN_BUCKETS * 1_000_000_000 {
            span.div_ceil(MAX_BUCKETS).div_ceil(1_000_000_000) * 1_000_000_000
        } else {
            span.div_ceil(MIN_BUCKETS).max(1)
        };
        let n = (span / width + 1) as usize;
        let mut buckets: Vec<Bucket> = (0..n)
            .map(|i| Bucket {
                t_s: secs(t0 + i as u64 * width),
                ..Bucket::default()
            })
            .collect();
        let mut lat: Vec<Vec<u64>> = vec![Vec::new(); n];
        let bucket = |t: u64| ((t.saturating_sub(t0) / width) as usize).min(n - 1);

        let mut fs: Vec<String> = Vec::new();
        let mut all = Vec::new();
        for (inv, done) in history.client_pairs() {
            let outcome = Outcome::of(done);
            // Counted when the outcome was known; an op that never completed, at its invocation.
            let at = done.map_or(inv.time, |d| d.time);
            let b = &mut buckets[bucket(at)];
            match outcome {
                Outcome::Ok => b.ok += 1,
                Outcome::Fail => b.fail += 1,
                _ => b.info += 1,
            }
            if let Some(d) = done {
                let l = d.time.saturating_sub(inv.time);
                lat[bucket(inv.time)].push(l);
                let f = match fs.iter().position(|x| *x == inv.f) {
                    Some(i) => i,
                    None => {
                        fs.push(inv.f.clone());
                        fs.len() - 1
                    }
                };
                all.push(LatencyPoint {
                    t_s: secs(inv.time),
                    ms: l as f64 / 1e6,
                    f,
                    outcome,
                });
            }
        }
        let w_s = secs(width);
        for (b, l) in buckets.iter_mut().zip(lat.iter_mut()) {
            b.ok_per_s = b.ok as f64 / w_s;
            l.sort_unstable();
            let q = |q: f64| quantile(l, q).map(|v| v as f64 / 1e6);
            b.p50 = q(0.5);
            b.p95 = q(0.95);
            b.p99 = q(0.99);
            b.max = q(1.0);
        }
        let latency_total = all.len();
        let latency = if all.len() > max_points && max_points > 0 {
            let stride = all.len().div_ceil(max_points);
            all.into_iter().step_by(stride).collect()
        } else {
            all
        };
        Series {
            latency,
            latency_total,
            fs: fs.iter().map(|f| truncate(f, 40)).collect(),
            bucket_s: w_s,
            buckets,
            t0_s: secs(t0),
            t1_s: secs(t1),
        }
    }
}
