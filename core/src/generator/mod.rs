//! Generators: pure, seeded sources of operations in *virtual time*, after Jepsen's
//! `jepsen.generator`. A generator is asked for the next op with a [`Ctx`] (the time now, in
//! nanoseconds since the test started, and which worker asks) and the worker's RNG, and
//! answers with an op, "nothing before time t" ([`Next::Pending`]), or [`Next::Done`]. It
//! never reads a clock or sleeps, so schedules are tested by stepping time by hand
//! ([`simulate`]) and the same seed gives the same schedule.
//!
//! ```
//! use faultline_core::generator::*;
//! use faultline_core::client::Invocation;
//! use faultline_core::Value;
//! // 10 ops/s of reads for 1 s of virtual time.
//! let g = time_limit(1_000_000_000, rate(10.0, from_fn(|_, _| Invocation::new("read", Value::Nil))));
//! let ops = simulate(vec![Box::new(g)], 7, 0);
//! assert_eq!(ops.len(), 10);
//! ```

mod combinators;

pub use combinators::*;

use crate::client::Invocation;
use crate::rng::Rng;

/// What a generator is asked with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    /// Nanoseconds since the test started.
    pub time: u64,
    /// The asking worker (0-based); stable for the whole run, unlike its process id.
    pub worker: usize,
    pub workers: usize,
    /// The Jepsen process the worker currently runs as.
    pub process: u64,
}

/// A generator's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    Op(Invocation),
    /// Nothing until this time (ns); ask again then.
    Pending(u64),
    /// Exhausted: this worker is done.
    Done,
}

/// A source of operations. See the module docs.
pub trait Generator: Send {
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next;
}

impl Generator for Box<dyn Generator> {
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next {
        (**self).next(ctx, rng)
    }
}

/// Drives one generator per worker in virtual time, each op taking `latency` ns, and returns
/// `(time, worker, invocation)` in the order they were issued. Stops at 1,000,000 ops, so a
/// generator that never ends cannot hang a test. For tests and for printing a schedule.
pub fn simulate(
    mut gens: Vec<Box<dyn Generator>>,
    seed: u64,
    latency: u64,
) -> Vec<(u64, usize, Invocation)> {
    let workers = gens.len();
    let mut rngs: Vec<Rng> = (0..workers).map(|w| Rng::fork(seed, w as u64)).collect();
    // When each worker is next free; None once it is done.
    let mut free: Vec<Option<u64>> = vec![Some(0); workers];
    let mut out = Vec::new();
    while out.len() < 1_000_000 {
        let Some((w, t)) = free
            .iter()
            .enumerate()
            .filter_map(|(w, t)| t.map(|t| (w, t)))
            .min_by_key(|&(w, t)| (t, w))
        else {
            break;
        };
        let ctx = Ctx {
            time: t,
            worker: w,
            workers,
            process: w as u64,
        };
        match gens[w].next(&ctx, &mut rngs[w]) {
            Next::Op(op) => {
                out.push((t, w, op));
                free[w] = Some(t + latency);
            }
            Next::Pending(at) => free[w] = Some(at.max(t + 1)),
            Next::Done => free[w] = None,
        }
    }
    out
}
