//! The memo of configurations already explored: (linearized set, state) pairs, in an
//! open-addressing table whose keys live in one flat arena.
//!
//! A `FxHashSet<(Box<[u64]>, u32)>` would allocate once per configuration and rehash the
//! whole bitset on every probe; here a configuration costs `words + 3` u64s in two vectors
//! and its hash is the bitset's running hash mixed with the state id.

use super::bitset::Bitset;

/// A free slot in an open-addressing table of entry numbers (here and in `intern`).
pub(super) const EMPTY: u32 = u32::MAX;

/// A slot table of `n` (a power of two) slots holding every entry, placed by its hash with
/// linear probing: what a table becomes when it grows.
pub(super) fn slots_for(hashes: &[u64], n: usize) -> Vec<u32> {
    let mask = n - 1;
    let mut slots = vec![EMPTY; n];
    for (e, &h) in hashes.iter().enumerate() {
        let mut i = (h as usize) & mask;
        while slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        slots[i] = e as u32;
    }
    slots
}

pub struct Memo {
    words: usize,
    /// Entry number per slot, or EMPTY. Length is a power of two.
    slots: Vec<u32>,
    hashes: Vec<u64>,
    states: Vec<u32>,
    /// `words` u64s per entry.
    bits: Vec<u64>,
}

#[inline]
fn mix(bits_hash: u64, state: u32) -> u64 {
    let h = bits_hash ^ (u64::from(state).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

impl Memo {
    pub fn new(words: usize) -> Memo {
        Memo {
            words,
            slots: vec![EMPTY; 1024],
            hashes: Vec::new(),
            states: Vec::new(),
            bits: Vec::new(),
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Approximate bytes held, for the memory budget.
    pub fn bytes(&self) -> u64 {
        (self.slots.capacity() * 4
            + self.hashes.capacity() * 8
            + self.states.capacity() * 4
            + self.bits.capacity() * 8) as u64
    }

    /// Adds the configuration; false if it was already there.
    #[inline]
    pub fn insert(&mut self, set: &Bitset, state: u32) -> bool {
        let hash = mix(set.hash(), state);
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let e = self.slots[i];
            if e == EMPTY {
                break;
            }
            let ei = e as usize;
            if self.hashes[ei] == hash
                && self.states[ei] == state
                && self.bits[ei * self.words..(ei + 1) * self.words] == *set.words()
            {
                return false;
            }
            i = (i + 1) & mask;
        }
        let entry = self.states.len() as u32;
        self.slots[i] = entry;
        self.hashes.push(hash);
        self.states.push(state);
        self.bits.extend_from_slice(set.words());
        if self.states.len() * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    fn grow(&mut self) {
        self.slots = slots_for(&self.hashes, self.slots.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_configurations_across_growth() {
        let mut m = Memo::new(2);
        let mut s = Bitset::new(100);
        for i in 0..100 {
            s.set(i);
            for st in 0..30 {
                assert!(m.insert(&s, st));
            }
        }
        let mut s = Bitset::new(100);
        for i in 0..100 {
            s.set(i);
            assert!(!m.insert(&s, 29));
        }
        assert_eq!(m.len(), 3000);
        s.clear(0);
        assert!(m.insert(&s, 0));
    }
}
