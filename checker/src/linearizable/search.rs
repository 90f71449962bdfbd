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
pub struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [(M::Input, M::Output)],
    states: Vec<M::State>,
    ids: FxHashMap<M::State, u32>,
    /// (state id << 32 | op) -> next state id, or ILLEGAL.
    steps: FxHashMap<u64, u32>,
    /// Configurations explored.
    pub explored: u64,
}

impl<'a, M: Model> Search<'a, M> {
    pub fn new(model: &'a M, ops: &'a [(M::Input, M::Output)]) -> Search<'a, M> {
        let mut s = Search {
            model,
            ops,
            states: Vec::new(),
            ids: FxHashMap::default(),
            steps: FxHashMap::default(),
            explored: 0,
        };
        s.intern(model.init());
        s
    }

    fn intern(&mut self, state: M::State) -> u32 {
        if let Some(&id) = self.ids.get(&state) {
            return id;
        }
        let id = self.states.len() as u32;
        self.states.push(state.clone());
        self.ids.insert(state, id);
        id
    }

    #[inline]
    fn step(&mut self, state: u32, op: u32) -> u32 {
        let key = (u64::from(state) << 32) | u64::from(op);
        if let Some(&next) = self.steps.get(&key) {
            return next;
        }
        let (input, output) = &self.ops[op as usize];
        let next = match self.model.step(&self.states[state as usize], input, output) {
            Some(s) => self.intern(s),
            None => ILLEGAL,
        };
        self.steps.insert(key, next);
        next
    }

    /// The state behind an id from a [`Stuck`].
    pub fn state(&self, id: u32) -> &M::State {
        &self.states[id as usize]
    }

    fn bytes(&self, memo: &Memo) -> u64 {
        memo.bytes()
            + (self.steps.capacity() * 16) as u64
            + (self.states.len() * 2 * std::mem::size_of::<M::State>()) as u64
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

        let mut memo = Memo::new(n.div_ceil(64).max(1));
        let mut linearized = Bitset::new(n);
        let mut state = 0u32; // the initial state is interned first
        memo.insert(&linearized, state);
        let mut stack: Vec<(u32, u32)> = Vec::with_capacity(n);
        let mut best: Option<Stuck> = None;
        let mut iterations = 0u64;
        let mut spent = 0u64;
        let mut e = next[0];
        loop {
            iterations += 1;
            if iterations % PACE == 0 {
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
            let node = e as usize;
            if kind[node] == 0 {
                let op = op_of[node];
                let s2 = self.step(state, op);
                if s2 != ILLEGAL {
                    linearized.set(op as usize);
                    if memo.insert(&linearized, s2) {
                        self.explored += 1;
                        stack.push((e, state));
                        state = s2;
                        // Lift the call and its return out of the list.
                        let r = mate[node] as usize;
                        next[prev[node] as usize] = next[node];
                        prev[next[node] as usize] = prev[node];
                        next[prev[r] as usize] = next[r];
                        prev[next[r] as usize] = prev[r];
                        e = next[0];
                        continue;
                    }
                    linearized.clear(op as usize);
                }
                e = next[node];
            } else {
                // A completion before its op was placed: this order fails here.
                if best.as_ref().is_none_or(|b| stack.len() > b.prefix.len()) {
                    best = Some(stuck(&stack, state, e, &next, &kind, &op_of));
                }
                let Some((c, s)) = stack.pop() else {
                    let _ = budget.spend(self.explored - spent);
                    return Outcome::Illegal(best.expect("recorded when stuck"));
                };
                state = s;
                let c = c as usize;
                linearized.clear(op_of[c] as usize);
                // Unlift, in the reverse order of the lift.
                let r = mate[c] as usize;
                next[prev[r] as usize] = r as u32;
                prev[next[r] as usize] = r as u32;
                next[prev[c] as usize] = c as u32;
                prev[next[c] as usize] = c as u32;
                e = next[c];
            }
        }
    }
}

/// The configuration where the search is stuck at return entry `at`.
fn stuck(
    stack: &[(u32, u32)],
    state: u32,
    at: u32,
    next: &[u32],
    kind: &[u8],
    op_of: &[u32],
) -> Stuck {
    let prefix = stack
        .iter()
        .map(|&(c, _)| op_of[c as usize] as usize)
        .collect();
    let states = (0..stack.len())
        .map(|k| stack.get(k + 1).map_or(state, |&(_, s)| s))
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
