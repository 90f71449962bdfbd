//! The search: Wing & Gong's algorithm with Lowe's just-in-time linearization and
//! memoisation (as in Porcupine), over one part of a history.
//!
//! Every op contributes a call entry (at its invocation) and a return entry (at its
//! completion) to a doubly linked list in history order. Scanning from the head, a call
//! entry is an op that may take effect now: if the model accepts it from the current state
//! and the (linearized set, state) pair is new, it is *lifted* out of the list (with its
//! return entry) and the scan restarts at the head. Reaching a return entry means that op
//! had to take effect already: backtrack, *unlifting* the last op and trying the entry after
//! it. Indeterminate ops (`info`, or never completed) have their return entries at the very
//! end, so they may be placed any time after their invocation; reaching one means every
//! determinate op is placed, and they may simply never have happened.
//!
//! No allocation in the loop: entries are indices into flat arrays, model states are
//! interned as `u32` ids, and a step of op `o` from state `s` is computed by the model once
//! and then looked up.

use std::sync::atomic::{AtomicBool, Ordering};

use rustc_hash::FxHashMap;

use super::bitset::Bitset;
use super::intern::Interner;
use super::memo::Memo;
use super::model::Model;
use crate::verdict::{Budget, Exhausted};

/// When an op was invoked and when it returned, as positions in the history; `ret: None`
/// for an indeterminate op.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub call: u64,
    pub ret: Option<u64>,
}

/// Where the search got furthest before failing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// Ops (positions in the part) linearized, in order.
    pub prefix: Vec<usize>,
    /// State id after each prefix op.
    pub states: Vec<u32>,
    /// State id after the prefix (the initial state if it is empty).
    pub state: u32,
    /// The op whose completion came before it could be placed.
    pub blocked: usize,
    /// Every op that could have been placed next, and was not legal there (`blocked` among them).
    pub open: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Linearizable,
    Illegal(Stuck),
    GaveUp(Exhausted),
}

const ILLEGAL: u32 = u32::MAX;
/// Iterations between budget checks.
const PACE: u64 = 1 << 14;

/// One part's search, holding the model's interned states.
///
/// With `part_of` (a partitionable model checked unsplit), a search state is a vector of
/// per-part sub-states, interned as a whole, and a step changes only the op's part: the
/// model steps a one-key state, never the whole map.
pub struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [(M::Input, M::Output)],
    subs: Interner<M::State>,
    part_of: Option<&'a [u32]>,
    combos: Interner<Box<[u32]>>,
    /// (sub-state id << 32 | op) -> next sub-state id, or ILLEGAL (composite mode).
    sub_steps: FxHashMap<u64, u32>,
    /// (state id << 32 | op) -> next state id, or ILLEGAL.
    steps: FxHashMap<u64, u32>,
    /// Whether `steps` is kept (it is dropped when it rarely hits), and how it has done.
    memo_steps: bool,
    lookups: u64,
    hits: u64,
    /// Per op: the model says it is read-only.
    read_only: Vec<bool>,
    /// Configurations explored.
    pub explored: u64,
}

impl<'a, M: Model> Search<'a, M> {
    pub fn new(
        model: &'a M,
        ops: &'a [(M::Input, M::Output)],
        part_of: Option<(&'a [u32], usize)>,
    ) -> Search<'a, M> {
        let mut s = Search {
            model,
            ops,
            subs: Interner::new(),
            part_of: part_of.map(|(p, _)| p),
            combos: Interner::new(),
            sub_steps: FxHashMap::default(),
            steps: FxHashMap::default(),
            read_only: ops.iter().map(|(i, o)| model.read_only(i, o)).collect(),
            memo_steps: true,
            lookups: 0,
            hits: 0,
            explored: 0,
        };
        s.subs.intern(model.init());
        if let Some((_, parts)) = part_of {
            s.combos.intern(vec![0u32; parts].into_boxed_slice());
        }
        s
    }

    #[inline]
    fn model_step(&mut self, state: u32, op: u32) -> u32 {
        let (input, output) = &self.ops[op as usize];
        match self.model.step(self.subs.get(state), input, output) {
            // A read-only op's next state is its state: no need to hash and compare it.
            Some(_) if self.read_only[op as usize] => state,
            Some(s) => self.subs.intern(s),
            None => ILLEGAL,
        }
    }

    #[inline]
    fn step(&mut self, state: u32, op: u32) -> u32 {
        let key = (u64::from(state) << 32) | u64::from(op);
        if self.memo_steps {
            self.lookups += 1;
            if let Some(&next) = self.steps.get(&key) {
                self.hits += 1;
                return next;
            }
            // Where nearly every state is new (kv: every order of appends is another
            // string), the table costs more than the steps it saves: stop keeping it.
            if self.lookups == 1 << 16 && self.hits * 8 < self.lookups {
                self.memo_steps = false;
                self.steps = FxHashMap::default();
            }
        }
        let next = match self.part_of {
            None => self.model_step(state, op),
            Some(part_of) => {
                let k = part_of[op as usize] as usize;
                let sub = self.combos.get(state)[k];
                let sub_key = (u64::from(sub) << 32) | u64::from(op);
                let sub2 = match self.sub_steps.get(&sub_key) {
                    Some(&n) => n,
                    None => {
                        let n = self.model_step(sub, op);
                        self.sub_steps.insert(sub_key, n);
                        n
                    }
                };
                if sub2 == ILLEGAL {
                    ILLEGAL
                } else {
                    let mut combo = self.combos.get(state).clone();
                    combo[k] = sub2;
                    self.combos.intern(combo)
                }
            }
        };
        if self.memo_steps {
            self.steps.insert(key, next);
        }
        next
    }

    /// The model state behind a state id from a [`Stuck`], as far as op `op` sees it (its
    /// part's sub-state, in composite mode).
    pub fn state_for(&self, id: u32, op: usize) -> &M::State {
        match self.part_of {
            None => self.subs.get(id),
            Some(part_of) => self.subs.get(self.combos.get(id)[part_of[op] as usize]),
        }
    }

    fn bytes(&self, memo: &Memo) -> u64 {
        memo.bytes()
            + ((self.steps.capacity() + self.sub_steps.capacity()) * 16) as u64
            + (self.subs.len() * (12 + std::mem::size_of::<M::State>())) as u64
            + (self.combos.len() * 40) as u64
    }

    /// Searches for a linearization of the ops whose spans are `spans` (one per op).
    pub fn run(&mut self, spans: &[Span], budget: &Budget, stop: &AtomicBool) -> Outcome {
        let n = self.ops.len();
        debug_assert_eq!(spans.len(), n);
        if n == 0 {
            return Outcome::Linearizable;
        }
        // Entries in history order; node 0 is the head of a circular list.
        let mut events: Vec<(u64, bool, u32)> = Vec::with_capacity(2 * n);
        for (i, s) in spans.iter().enumerate() {
            events.push((s.call, false, i as u32));
            events.push((s.ret.unwrap_or(u64::MAX), true, i as u32));
        }
        // Calls before returns at equal positions: ties count as concurrent.
        events.sort_unstable();
        let m = events.len() + 1;
        let mut next: Vec<u32> = (1..=m as u32).collect();
        next[m - 1] = 0;
        let mut prev: Vec<u32> = (0..m as u32).map(|i| i.wrapping_sub(1)).collect();
        prev[0] = m as u32 - 1;
        let mut op_of = vec![0u32; m];
        // 0: call, 1: determinate return, 2: indeterminate return.
        let mut kind = vec![0u8; m];
        let mut mate = vec![0u32; m];
        let mut call_node = vec![0u32; n];
        for (k, &(_, is_ret, op)) in events.iter().enumerate() {
            let node = k + 1;
            op_of[node] = op;
            if is_ret {
                kind[node] = if spans[op as usize].ret.is_some() {
                    1
                } else {
                    2
                };
                let c = call_node[op as usize];
                mate[c as usize] = node as u32;
                mate[node] = c;
            } else {
                call_node[op as usize] = node as u32;
            }
        }

        let read_only = self.read_only.clone();
        let mut memo = Memo::new(n.div_ceil(64).max(1));
        let mut linearized = Bitset::new(n);
        let mut state = 0u32; // the initial state is interned first
        memo.insert(&linearized, state);
        let mut stack: Vec<Frame> = Vec::with_capacity(n);
        let mut best: Option<Stuck> = None;
        let mut iterations = 0u64;
        let mut spent = 0u64;
        let mut e = next[0];
        // At a configuration reached for the first time: look for a legal read-only op.
        let mut fresh = true;
        loop {
            iterations += 1;
            if iterations % PACE == 1 {
                let r = budget
                    .spend(self.explored - spent)
                    .and_then(|_| budget.check_memory(self.bytes(&memo)))
                    .and_then(|_| {
                        if stop.load(Ordering::Relaxed) {
                            Err(Exhausted::Cancelled)
                        } else {
                            Ok(())
                        }
                    });
                spent = self.explored;
                if let Err(why) = r {
                    return Outcome::GaveUp(why);
                }
            }
            if e == 0 || kind[e as usize] == 2 {
                let _ = budget.spend(self.explored - spent);
                return Outcome::Linearizable;
            }
            // Whether this configuration has failed and the search must back up.
            let mut backtrack = false;
            if fresh {
                fresh = false;
                // A read-only op legal here may be moved to the front of any linearization
                // from here (it is already invoked, every op not yet placed returns after
                // that, and wherever it was it changed nothing). So it is placed without
                // alternatives, and if the search fails after it, it fails here too.
                let mut x = e;
                while x != 0 && kind[x as usize] == 0 {
                    let op = op_of[x as usize];
                    if read_only[op as usize] && self.step(state, op) != ILLEGAL {
                        break;
                    }
                    x = next[x as usize];
                }
                if x != 0 && kind[x as usize] == 0 {
                    let node = x as usize;
                    let op = op_of[node] as usize;
                    linearized.set(op);
                    if memo.insert(&linearized, state) {
                        self.explored += 1;
                        stack.push(Frame {
                            node: x,
                            state,
                            forced: true,
                        });
                        lift(&mut next, &mut prev, node, mate[node] as usize);
                        e = next[0];
                        fresh = true;
                        continue;
                    }
                    linearized.clear(op);
                    backtrack = true;
                }
            }
            let node = e as usize;
            if !backtrack && kind[node] == 0 {
                let op = op_of[node];
                // Read-only ops were all found illegal when this configuration was new.
                if !read_only[op as usize] {
                    let s2 = self.step(state, op);
                    if s2 != ILLEGAL {
                        linearized.set(op as usize);
                        if memo.insert(&linearized, s2) {
                            self.explored += 1;
                            stack.push(Frame {
                                node: e,
                                state,
                                forced: false,
                            });
                            state = s2;
                            lift(&mut next, &mut prev, node, mate[node] as usize);
                            e = next[0];
                            fresh = true;
                            continue;
                        }
                        linearized.clear(op as usize);
                    }
                }
                e = next[node];
                continue;
            }
            if !backtrack && best.as_ref().is_none_or(|b| stack.len() > b.prefix.len()) {
                // A completion before its op was placed: this order fails here.
                best = Some(stuck(&stack, state, e, &next, &kind, &op_of));
            }
            loop {
                let Some(f) = stack.pop() else {
                    let _ = budget.spend(self.explored - spent);
                    return Outcome::Illegal(
                        best.unwrap_or_else(|| stuck(&stack, state, e, &next, &kind, &op_of)),
                    );
                };
                state = f.state;
                let c = f.node as usize;
                linearized.clear(op_of[c] as usize);
                unlift(&mut next, &mut prev, c, mate[c] as usize);
                e = next[c];
                if !f.forced {
                    break;
                }
            }
        }
    }
}

/// Takes call entry `c` and its return entry `r` out of the list.
#[inline]
fn lift(next: &mut [u32], prev: &mut [u32], c: usize, r: usize) {
    next[prev[c] as usize] = next[c];
    prev[next[c] as usize] = prev[c];
    next[prev[r] as usize] = next[r];
    prev[next[r] as usize] = prev[r];
}

/// Puts back what [`lift`] took out (in the reverse order, so the links are as they were).
#[inline]
fn unlift(next: &mut [u32], prev: &mut [u32], c: usize, r: usize) {
    next[prev[r] as usize] = r as u32;
    prev[next[r] as usize] = r as u32;
    next[prev[c] as usize] = c as u32;
    prev[next[c] as usize] = c as u32;
}

/// One placed op on the search stack.
#[derive(Clone, Copy)]
struct Frame {
    /// Its call entry.
    node: u32,
    /// The state before it.
    state: u32,
    /// It left the state unchanged, so it was placed without alternatives.
    forced: bool,
}

/// The configuration where the search is stuck at return entry `at`.
fn stuck(stack: &[Frame], state: u32, at: u32, next: &[u32], kind: &[u8], op_of: &[u32]) -> Stuck {
    let prefix = stack
        .iter()
        .map(|f| op_of[f.node as usize] as usize)
        .collect();
    let states = (0..stack.len())
        .map(|k| stack.get(k + 1).map_or(state, |f| f.state))
        .collect();
    let mut open = Vec::new();
    let mut e = next[0];
    while e != at && e != 0 {
        if kind[e as usize] == 0 {
            open.push(op_of[e as usize] as usize);
        }
        e = next[e as usize];
    }
    Stuck {
        prefix,
        states,
        state,
        blocked: op_of[at as usize] as usize,
        open,
    }
}
