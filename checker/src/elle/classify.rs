//! Cycle shapes and how a cycle is named, after Adya ("Weak Consistency", 1999, §4.4–4.5)
//! and Elle's `cycle-explainer` (`txn.clj`):
//!
//! | shape           | edges allowed      | condition                                   |
//! |-----------------|--------------------|---------------------------------------------|
//! | G0              | ww                 | —                                           |
//! | G1c             | ww, wr             | at least one wr                             |
//! | G-single        | ww, wr, rw         | exactly one rw                              |
//! | G-nonadjacent   | ww, wr, rw         | two or more rw, no two adjacent (cyclically)|
//! | G2-item         | ww, wr, rw         | two or more rw, some two adjacent           |
//!
//! Each has a `-process` variant (process edges allowed, at least one used) and a
//! `-realtime` variant (process and real-time edges allowed, at least one real-time edge
//! used). All our anti-dependencies are on items, so G-single and G-nonadjacent here are
//! Elle's `G-single-item` and `G-nonadjacent-item`.

use super::graph::{PROCESS, REALTIME, RW, WR, WW};

/// One edge of a cycle, with the single kind the cycle uses it for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub from: u32,
    pub to: u32,
    pub kind: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// Any cycle at all (for the fallback search).
    Any,
    G0,
    G1c,
    GSingle,
    GNonadjacent,
    G2Item,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Plain,
    Process,
    Realtime,
}

/// A cycle shape to search for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub kind: &'static str,
    pub base: Base,
    pub variant: Variant,
}

const fn spec(kind: &'static str, base: Base, variant: Variant) -> Spec {
    Spec {
        kind,
        base,
        variant,
    }
}

/// Every shape, in the order Elle searches them: most severe data anomalies first, then
/// the process variants, then the real-time ones.
pub const SPECS: [Spec; 15] = [
    spec("G0", Base::G0, Variant::Plain),
    spec("G1c", Base::G1c, Variant::Plain),
    spec("G-single", Base::GSingle, Variant::Plain),
    spec("G-nonadjacent", Base::GNonadjacent, Variant::Plain),
    spec("G2-item", Base::G2Item, Variant::Plain),
    spec("G0-process", Base::G0, Variant::Process),
    spec("G1c-process", Base::G1c, Variant::Process),
    spec("G-single-process", Base::GSingle, Variant::Process),
    spec(
        "G-nonadjacent-process",
        Base::GNonadjacent,
        Variant::Process,
    ),
    spec("G2-item-process", Base::G2Item, Variant::Process),
    spec("G0-realtime", Base::G0, Variant::Realtime),
    spec("G1c-realtime", Base::G1c, Variant::Realtime),
    spec("G-single-realtime", Base::GSingle, Variant::Realtime),
    spec(
        "G-nonadjacent-realtime",
        Base::GNonadjacent,
        Variant::Realtime,
    ),
    spec("G2-item-realtime", Base::G2Item, Variant::Realtime),
];

pub fn spec_named(kind: &str) -> Option<Spec> {
    SPECS.iter().copied().find(|s| s.kind == kind)
}

/// A search state: which of the bits below a walk has set so far.
pub type State = u16;

const RW_ONE: State = 1;
const RW_MANY: State = 2;
const RW_COUNT: State = RW_ONE | RW_MANY;
const FIRST_RW: State = 4;
const LAST_RW: State = 8;
const ADJACENT: State = 16;
const SEEN_WR: State = 32;
const SEEN_PROCESS: State = 64;
const SEEN_REALTIME: State = 128;
const SEEN_WW: State = 256;

impl Spec {
    /// Edge kinds a cycle of this shape may use.
    pub fn allowed(&self) -> u8 {
        let data = match self.base {
            Base::Any => WW | WR | RW,
            Base::G0 => WW,
            Base::G1c => WW | WR,
            _ => WW | WR | RW,
        };
        data | match self.variant {
            Variant::Plain => 0,
            Variant::Process => PROCESS,
            Variant::Realtime => PROCESS | REALTIME,
        }
    }

    /// An edge kind every cycle of this shape contains, used to pick where searches start.
    pub fn anchor(&self) -> Option<u8> {
        match (self.variant, self.base) {
            (Variant::Realtime, _) => Some(REALTIME),
            (Variant::Process, _) => Some(PROCESS),
            (_, Base::GSingle | Base::GNonadjacent | Base::G2Item) => Some(RW),
            (_, Base::G1c) => Some(WR),
            (_, Base::G0 | Base::Any) => None,
        }
    }

    /// The state bits this shape needs; others are dropped so equal states merge.
    fn relevant(&self) -> State {
        let data = match self.base {
            Base::Any => 0,
            Base::G0 => SEEN_WW,
            Base::G1c => SEEN_WR,
            Base::GSingle => RW_COUNT,
            Base::GNonadjacent => RW_COUNT | FIRST_RW | LAST_RW,
            Base::G2Item => RW_COUNT | FIRST_RW | LAST_RW | ADJACENT,
        };
        data | match self.variant {
            Variant::Plain => 0,
            Variant::Process => SEEN_PROCESS,
            Variant::Realtime => SEEN_REALTIME,
        }
    }

    /// The search state after taking an edge of `kind` (one bit) from `state`, or None if
    /// no cycle of this shape can continue that way.
    pub fn step(&self, state: State, kind: u8, first: bool) -> Option<State> {
        let mut s = state;
        if kind == RW {
            let count = s & RW_COUNT;
            if self.base == Base::GSingle && count != 0 {
                return None;
            }
            if s & LAST_RW != 0 {
                if self.base == Base::GNonadjacent {
                    return None;
                }
                s |= ADJACENT;
            }
            s = (s & !RW_COUNT) | if count == 0 { RW_ONE } else { RW_MANY };
            s |= LAST_RW;
            if first {
                s |= FIRST_RW;
            }
        } else {
            s &= !LAST_RW;
        }
        match kind {
            WW => s |= SEEN_WW,
            WR => s |= SEEN_WR,
            PROCESS => s |= SEEN_PROCESS,
            REALTIME => s |= SEEN_REALTIME,
            _ => {}
        }
        Some(s & self.relevant())
    }

    /// `state` packed into the few bits this shape uses (at most 7), for visited sets.
    pub fn dense(&self, state: State) -> u8 {
        let relevant = self.relevant();
        let (mut out, mut bit) = (0u8, 0);
        for i in 0..16 {
            if relevant & (1 << i) != 0 {
                if state & (1 << i) != 0 {
                    out |= 1 << bit;
                }
                bit += 1;
            }
        }
        out
    }

    /// Whether a closed walk ending in `state` has this shape.
    pub fn accepts(&self, state: State) -> bool {
        let count = state & RW_COUNT;
        let wrap = state & FIRST_RW != 0 && state & LAST_RW != 0;
        let data = match self.base {
            Base::Any => true,
            Base::G0 => state & SEEN_WW != 0,
            Base::G1c => state & SEEN_WR != 0,
            Base::GSingle => count == RW_ONE,
            Base::GNonadjacent => count == RW_MANY && !wrap,
            Base::G2Item => count == RW_MANY && (state & ADJACENT != 0 || wrap),
        };
        data && match self.variant {
            Variant::Plain => true,
            Variant::Process => state & SEEN_PROCESS != 0,
            Variant::Realtime => state & SEEN_REALTIME != 0,
        }
    }
}

/// Names a cycle by its steps' kinds, or None if it has no data edge (which real-time and
/// process order alone cannot produce).
pub fn classify(steps: &[Step]) -> Option<&'static str> {
    let count = |k: u8| steps.iter().filter(|s| s.kind == k).count();
    let (ww, wr, rw) = (count(WW), count(WR), count(RW));
    let adjacent = steps
        .iter()
        .zip(steps.iter().cycle().skip(1))
        .any(|(a, b)| a.kind == RW && b.kind == RW);
    let base = match rw {
        1 => Base::GSingle,
        n if n >= 2 && adjacent => Base::G2Item,
        n if n >= 2 => Base::GNonadjacent,
        _ if wr > 0 => Base::G1c,
        _ if ww > 0 => Base::G0,
        _ => return None,
    };
    let variant = if count(REALTIME) > 0 {
        Variant::Realtime
    } else if count(PROCESS) > 0 {
        Variant::Process
    } else {
        Variant::Plain
    };
    SPECS
        .iter()
        .find(|s| s.base == base && s.variant == variant)
        .map(|s| s.kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(kinds: &[u8]) -> Vec<Step> {
        let n = kinds.len() as u32;
        kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| Step {
                from: i as u32,
                to: (i as u32 + 1) % n,
                kind,
            })
            .collect()
    }

    /// Runs a spec's automaton over a whole cycle.
    fn walk(spec: &Spec, kinds: &[u8]) -> bool {
        let mut s = 0;
        for (i, &k) in kinds.iter().enumerate() {
            if spec.allowed() & k == 0 {
                return false;
            }
            match spec.step(s, k, i == 0) {
                Some(next) => s = next,
                None => return false,
            }
        }
        spec.accepts(s)
    }

    #[test]
    fn names_cycles_as_elle_does() {
        assert_eq!(classify(&cycle(&[WW, WW])), Some("G0"));
        assert_eq!(classify(&cycle(&[WW, WR])), Some("G1c"));
        assert_eq!(classify(&cycle(&[WR, RW])), Some("G-single"));
        assert_eq!(classify(&cycle(&[RW, WR, RW, WW])), Some("G-nonadjacent"));
        assert_eq!(classify(&cycle(&[RW, RW])), Some("G2-item"));
        // The last and first rw are adjacent around the cycle.
        assert_eq!(classify(&cycle(&[RW, WW, RW])), Some("G2-item"));
        assert_eq!(classify(&cycle(&[WW, PROCESS])), Some("G0-process"));
        assert_eq!(
            classify(&cycle(&[RW, PROCESS, REALTIME])),
            Some("G-single-realtime")
        );
        assert_eq!(classify(&cycle(&[PROCESS, REALTIME])), None);
    }

    #[test]
    fn each_automaton_accepts_exactly_its_own_shape() {
        let kinds = [WW, WR, RW, PROCESS, REALTIME];
        // Every cycle of up to four edges over all kinds.
        for len in 2..=4u32 {
            for code in 0..5u32.pow(len) {
                let ks: Vec<u8> = (0..len)
                    .map(|i| kinds[(code / 5u32.pow(i) % 5) as usize])
                    .collect();
                let name = classify(&cycle(&ks));
                for spec in SPECS {
                    let allowed = ks.iter().all(|k| spec.allowed() & k != 0);
                    let expect = allowed && name == Some(spec.kind);
                    assert_eq!(
                        walk(&spec, &ks),
                        expect,
                        "{} on {ks:?} ({name:?})",
                        spec.kind
                    );
                }
            }
        }
    }
}
