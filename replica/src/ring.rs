//! Consistent hashing with virtual nodes: each node owns many points on a 64-bit ring; a key's
//! replicas are the first distinct nodes clockwise from the key's hash.

/// FNV-1a: stable across processes and builds (unlike std's hasher), so every node computes the
/// same ring.
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // FNV mixes the last bytes weakly; finish with a splitmix step so vnode names spread out.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

pub struct Ring {
    points: Vec<(u64, usize)>,
    nodes: Vec<String>,
}

impl Ring {
    pub fn new(nodes: Vec<String>, vnodes: usize) -> Ring {
        let mut points: Vec<(u64, usize)> = nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| (0..vnodes).map(move |v| (fnv1a(&format!("{n}#{v}")), i)))
            .collect();
        points.sort_unstable();
        Ring { points, nodes }
    }

    /// Every node, in ring order starting at the key: the first N are its preference list, the
    /// rest are sloppy-quorum fallbacks.
    pub fn walk(&self, key: &str) -> Vec<String> {
        let h = fnv1a(key);
        let start = self.points.partition_point(|p| p.0 < h);
        let mut out: Vec<String> = Vec::with_capacity(self.nodes.len());
        for k in 0..self.points.len() {
            let n = &self.nodes[self.points[(start + k) % self.points.len()].1];
            if !out.contains(n) {
                out.push(n.clone());
                if out.len() == self.nodes.len() {
                    break;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_visit_every_node_once_and_spread_keys() {
        let r = Ring::new(
            vec![
                "n1".into(),
                "n2".into(),
                "n3".into(),
                "n4".into(),
                "n5".into(),
            ],
            64,
        );
        let mut first = std::collections::HashMap::new();
        for i in 0..1000 {
            let w = r.walk(&format!("k{i}"));
            assert_eq!(w.len(), 5);
            *first.entry(w[0].clone()).or_insert(0) += 1;
        }
        assert!(first.values().all(|&c| c > 100), "{first:?}");
    }
}
