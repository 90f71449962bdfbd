//! Interning: every distinct value gets a dense `u32` id, so the search compares, hashes
//! and stores model states as plain integers. Values are stored once (no second copy as a
//! map key) in an open-addressing table of ids.

use std::hash::{BuildHasher, Hash};

use rustc_hash::FxBuildHasher;

use super::memo::{slots_for, EMPTY};

pub struct Interner<T> {
    values: Vec<T>,
    hashes: Vec<u64>,
    slots: Vec<u32>,
}

impl<T: Hash + Eq> Interner<T> {
    pub fn new() -> Interner<T> {
        Interner {
            values: Vec::new(),
            hashes: Vec::new(),
            slots: vec![EMPTY; 64],
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    #[inline]
    pub fn get(&self, id: u32) -> &T {
        &self.values[id as usize]
    }

    /// The id of `value`, adding it if new.
    pub fn intern(&mut self, value: T) -> u32 {
        let hash = FxBuildHasher.hash_one(&value);
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let e = self.slots[i];
            if e == EMPTY {
                break;
            }
            if self.hashes[e as usize] == hash && self.values[e as usize] == value {
                return e;
            }
            i = (i + 1) & mask;
        }
        let id = self.values.len() as u32;
        self.slots[i] = id;
        self.values.push(value);
        self.hashes.push(hash);
        if self.values.len() * 2 > self.slots.len() {
            self.slots = slots_for(&self.hashes, self.slots.len() * 2);
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_an_id() {
        let mut i = Interner::new();
        let ids: Vec<u32> = (0..1000)
            .map(|n| i.intern(format!("s{}", n % 300)))
            .collect();
        assert_eq!(i.len(), 300);
        assert_eq!(ids[0], ids[300]);
        assert_eq!(i.get(ids[299]), "s299");
    }
}
