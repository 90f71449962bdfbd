//! The set of linearized ops: a fixed-size bitset that keeps its own hash.
//!
//! The hash is Zobrist-style (the XOR of a fixed random word per member), so setting or
//! clearing a bit updates it in O(1) and the memo never rehashes the whole set, which
//! matters for the unsplit kv histories where the set is 27 words long.

/// A bitset over `0..n` with an incrementally maintained hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitset {
    words: Vec<u64>,
    hash: u64,
}

/// A well-mixed 64-bit word for member `i` (splitmix64).
#[inline]
pub fn member_key(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Bitset {
    pub fn new(n: usize) -> Bitset {
        Bitset {
            words: vec![0; n.div_ceil(64).max(1)],
            hash: 0,
        }
    }

    #[inline]
    pub fn set(&mut self, i: usize) {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        if self.words[w] & b == 0 {
            self.words[w] |= b;
            self.hash ^= member_key(i);
        }
    }

    #[inline]
    pub fn clear(&mut self, i: usize) {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        if self.words[w] & b != 0 {
            self.words[w] &= !b;
            self.hash ^= member_key(i);
        }
    }

    #[cfg(test)]
    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1u64 << (i % 64)) != 0
    }

    #[cfg(test)]
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// The XOR of the members' keys: equal sets have equal hashes.
    #[inline]
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_only_on_the_members() {
        let mut a = Bitset::new(130);
        let mut b = Bitset::new(130);
        for i in [3, 64, 129, 7] {
            a.set(i);
        }
        for i in [129, 7, 3, 64, 5] {
            b.set(i);
        }
        b.clear(5);
        b.set(3); // already there: no change
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.count(), 4);
        assert!(a.contains(64) && !a.contains(65));
        a.clear(64);
        assert_ne!(a.hash(), b.hash());
    }
}
