//! The generator combinators: sources (`from_fn`, `once`), shaping (`mix`, `rate`,
//! `stagger`, `limit`), time (`time_limit`, `sleep`), sequencing (`phases`) and per-worker
//! generators (`each_process`).

use std::collections::{HashMap, VecDeque};

use super::{Ctx, Generator, Next};
use crate::client::Invocation;
use crate::rng::Rng;

/// An endless source: calls `f` for every op.
pub struct FromFn<F>(F);

pub fn from_fn<F>(f: F) -> FromFn<F>
where
    F: FnMut(&Ctx, &mut Rng) -> Invocation + Send,
{
    FromFn(f)
}

impl<F> Generator for FromFn<F>
where
    F: FnMut(&Ctx, &mut Rng) -> Invocation + Send,
{
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next {
        Next::Op((self.0)(ctx, rng))
    }
}

/// Exactly one op, then done.
pub struct Once(Option<Invocation>);

pub fn once(op: Invocation) -> Once {
    Once(Some(op))
}

impl Generator for Once {
    fn next(&mut self, _: &Ctx, _: &mut Rng) -> Next {
        self.0.take().map_or(Next::Done, Next::Op)
    }
}

/// A random choice among generators for every op, weighted; a child that is done is dropped.
pub struct Mix {
    gens: Vec<(u32, Box<dyn Generator>)>,
}

/// Equal weights.
pub fn mix(gens: Vec<Box<dyn Generator>>) -> Mix {
    Mix {
        gens: gens.into_iter().map(|g| (1, g)).collect(),
    }
}

/// Weighted: `(weight, generator)`.
pub fn mix_weighted(gens: Vec<(u32, Box<dyn Generator>)>) -> Mix {
    Mix { gens }
}

impl Generator for Mix {
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next {
        loop {
            let total: u64 = self.gens.iter().map(|(w, _)| *w as u64).sum();
            if total == 0 {
                return Next::Done;
            }
            let mut x = rng.below(total);
            let i = self
                .gens
                .iter()
                .position(|(w, _)| {
                    if x < *w as u64 {
                        true
                    } else {
                        x -= *w as u64;
                        false
                    }
                })
                .unwrap_or(0);
            match self.gens[i].1.next(ctx, rng) {
                Next::Done => {
                    self.gens.remove(i);
                }
                other => return other,
            }
        }
    }
}

/// At most `hz` ops per second from this generator (evenly spaced). Use one per worker with
/// `hz / workers` for a total rate.
pub struct Rate<G> {
    interval: u64,
    next_at: Option<u64>,
    inner: G,
}

pub fn rate<G: Generator>(hz: f64, inner: G) -> Rate<G> {
    let interval = if hz > 0.0 { (1e9 / hz) as u64 } else { 0 };
    Rate {
        interval,
        next_at: None,
        inner,
    }
}

impl<G: Generator> Generator for Rate<G> {
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next {
        if let Some(at) = self.next_at {
            if ctx.time < at {
                return Next::Pending(at);
            }
        }
        let n = self.inner.next(ctx, rng);
        if matches!(n, Next::Op(_)) {
            // Slots follow the schedule, not the (possibly late) asking time, so a slow
            // moment does not lower the rate afterwards; but never bank more than one slot.
            let slot = self.next_at.unwrap_or(ctx.time);
            self.next_at = Some((slot + self.interval).max(ctx.time));
        }
        n
    }
}

/// Random spacing between ops, uniform in `[0, 2 * mean)` ns: Jepsen's `stagger`.
pub struct Stagger<G> {
    mean: u64,
    next_at: u64,
    inner: G,
}

pub fn stagger<G: Generator>(mean_ns: u64, inner: G) -> Stagger<G> {
    Stagger {
        mean: mean_ns,
        next_at: 0,
        inner,
    }
}

impl<G: Generator> Generator for Stagger<G> {
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next {
        if ctx.time < self.next_at {
            return Next::Pending(self.next_at);
        }
        let n = self.inner.next(ctx, rng);
        if matches!(n, Next::Op(_)) {
            self.next_at = ctx.time + rng.below(2 * self.mean.max(1));
        }
        n
    }
}

/// Done `limit` ns after the first time it is asked.
pub struct TimeLimit<G> {
    limit: u64,
    deadline: Option<u64>,
    inner: G,
}

pub fn time_limit<G: Generator>(limit_ns: u64, inner: G) -> TimeLimit<G> {
    TimeLimit {
        limit: limit_ns,
        deadline: None,
        inner,
    }
}

impl<G: Generator> Generator for TimeLimit<G> {
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next {
        let deadline = *self.deadline.get_or_insert(ctx.time + self.limit);
        if ctx.time >= deadline {
            return Next::Done;
        }
        match self.inner.next(ctx, rng) {
            // Wake at the deadline at the latest, to say done.
            Next::Pending(at) => Next::Pending(at.min(deadline)),
            other => other,
        }
    }
}

/// At most `n` ops.
pub struct Limit<G> {
    left: u64,
    inner: G,
}

pub fn limit<G: Generator>(n: u64, inner: G) -> Limit<G> {
    Limit { left: n, inner }
}

impl<G: Generator> Generator for Limit<G> {
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next {
        if self.left == 0 {
            return Next::Done;
        }
        let n = self.inner.next(ctx, rng);
        if matches!(n, Next::Op(_)) {
            self.left -= 1;
        }
        n
    }
}

/// No ops for `ns` after the first time it is asked, then done: a pause between phases.
pub struct Sleep {
    ns: u64,
    until: Option<u64>,
}

pub fn sleep(ns: u64) -> Sleep {
    Sleep { ns, until: None }
}

impl Generator for Sleep {
    fn next(&mut self, ctx: &Ctx, _: &mut Rng) -> Next {
        let until = *self.until.get_or_insert(ctx.time + self.ns);
        if ctx.time >= until {
            Next::Done
        } else {
            Next::Pending(until)
        }
    }
}

/// One generator after another: each runs until done.
pub struct Phases {
    gens: VecDeque<Box<dyn Generator>>,
}

pub fn phases(gens: Vec<Box<dyn Generator>>) -> Phases {
    Phases { gens: gens.into() }
}

impl Generator for Phases {
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next {
        while let Some(g) = self.gens.front_mut() {
            match g.next(ctx, rng) {
                Next::Done => {
                    self.gens.pop_front();
                }
                other => return other,
            }
        }
        Next::Done
    }
}

/// A separate generator per worker, made on first use: Jepsen's `each-thread`. (Each
/// worker's ops then depend only on the seed and its own progress.)
pub struct EachProcess<F> {
    make: F,
    gens: HashMap<usize, Box<dyn Generator>>,
}

pub fn each_process<F>(make: F) -> EachProcess<F>
where
    F: FnMut(usize) -> Box<dyn Generator> + Send,
{
    EachProcess {
        make,
        gens: HashMap::new(),
    }
}

impl<F> Generator for EachProcess<F>
where
    F: FnMut(usize) -> Box<dyn Generator> + Send,
{
    fn next(&mut self, ctx: &Ctx, rng: &mut Rng) -> Next {
        let make = &mut self.make;
        self.gens
            .entry(ctx.worker)
            .or_insert_with(|| make(ctx.worker))
            .next(ctx, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::simulate;
    use super::*;
    use crate::value::Value;

    const S: u64 = 1_000_000_000;

    fn reads() -> FromFn<impl FnMut(&Ctx, &mut Rng) -> Invocation + Send> {
        from_fn(|_: &Ctx, _: &mut Rng| Invocation::new("read", Value::Nil))
    }

    fn writes() -> FromFn<impl FnMut(&Ctx, &mut Rng) -> Invocation + Send> {
        let mut n = 0;
        from_fn(move |_: &Ctx, _: &mut Rng| {
            n += 1;
            Invocation::new("write", Value::Int(n))
        })
    }

    #[test]
    fn rate_spaces_ops_evenly_and_time_limit_ends_them() {
        let g = time_limit(2 * S, rate(100.0, reads()));
        let ops = simulate(vec![Box::new(g)], 1, 0);
        assert_eq!(ops.len(), 200);
        assert_eq!(ops[1].0 - ops[0].0, S / 100);
        assert!(ops.iter().all(|(t, _, _)| *t < 2 * S));
    }

    #[test]
    fn rate_is_an_upper_bound_when_ops_are_slow() {
        // Each op takes 50 ms: 10 ops/s asked, at most 10 happen per second, and a slow op
        // does not let a burst follow.
        let g = time_limit(S, rate(10.0, reads()));
        let ops = simulate(vec![Box::new(g)], 1, 50_000_000);
        assert_eq!(ops.len(), 10);
        let g = time_limit(S, rate(10.0, reads()));
        let ops = simulate(vec![Box::new(g)], 1, 250_000_000);
        assert_eq!(ops.len(), 4);
    }

    #[test]
    fn mix_draws_from_every_child_by_seed() {
        let make = || -> Box<dyn Generator> {
            Box::new(limit(
                1000,
                mix(vec![Box::new(reads()), Box::new(writes())]),
            ))
        };
        let a = simulate(vec![make()], 9, 1);
        let b = simulate(vec![make()], 9, 1);
        assert_eq!(a, b, "same seed, same schedule");
        let c = simulate(vec![make()], 10, 1);
        assert_ne!(a, c);
        let w = a.iter().filter(|(_, _, op)| op.f == "write").count();
        assert!((350..650).contains(&w), "{w} writes of 1000");
    }

    #[test]
    fn mix_weights_and_drops_exhausted_children() {
        let g = mix_weighted(vec![
            (3, Box::new(once(Invocation::new("a", Value::Nil)))),
            (1, Box::new(limit(5, reads()))),
        ]);
        let ops = simulate(vec![Box::new(g)], 3, 1);
        assert_eq!(ops.len(), 6);
        assert_eq!(ops.iter().filter(|(_, _, o)| o.f == "a").count(), 1);
    }

    #[test]
    fn stagger_spaces_ops_randomly_around_the_mean() {
        let g = time_limit(10 * S, stagger(S / 100, reads()));
        let ops = simulate(vec![Box::new(g)], 5, 0);
        // Mean gap 10 ms over 10 s: about 1000 ops.
        assert!((800..1200).contains(&ops.len()), "{}", ops.len());
        let gaps: Vec<u64> = ops.windows(2).map(|w| w[1].0 - w[0].0).collect();
        assert!(gaps.iter().all(|&g| g < 2 * S / 100));
        assert!(gaps.iter().any(|&g| g < S / 200) && gaps.iter().any(|&g| g > S / 100 * 3 / 2));
    }

    #[test]
    fn phases_run_in_order_with_a_sleep_between() {
        let g = phases(vec![
            Box::new(limit(2, writes())),
            Box::new(sleep(S)),
            Box::new(once(Invocation::new("final-read", Value::Nil))),
        ]);
        let ops = simulate(vec![Box::new(g)], 1, 10);
        let fs: Vec<&str> = ops.iter().map(|(_, _, o)| o.f.as_str()).collect();
        assert_eq!(fs, ["write", "write", "final-read"]);
        assert!(ops[2].0 >= S);
    }

    #[test]
    fn each_process_gives_every_worker_its_own_generator() {
        let g = each_process(|w| -> Box<dyn Generator> {
            Box::new(limit(
                3,
                from_fn(move |_: &Ctx, _: &mut Rng| Invocation::new("write", Value::Int(w as i64))),
            ))
        });
        // One shared generator asked by 2 workers (as a single-generator loop would).
        let mut g = g;
        let mut rng = Rng::new(1);
        let mut seen = vec![];
        for i in 0..8 {
            let ctx = Ctx {
                time: i,
                worker: (i % 2) as usize,
                workers: 2,
                process: 0,
            };
            if let Next::Op(op) = g.next(&ctx, &mut rng) {
                seen.push(op.value.as_int().unwrap_or(-1));
            }
        }
        assert_eq!(seen, [0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn concurrent_workers_share_virtual_time() {
        let mk = || -> Box<dyn Generator> { Box::new(time_limit(S, rate(10.0, reads()))) };
        let ops = simulate(vec![mk(), mk(), mk()], 2, 0);
        assert_eq!(ops.len(), 30);
        assert_eq!(ops.iter().filter(|(_, w, _)| *w == 2).count(), 10);
    }
}
