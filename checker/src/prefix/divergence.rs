//! List-append reads as a trie per key: a consistent key is a single path; every branching
//! node is a point where two reads stop being prefixes of each other.

use faultline_core::Value;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{Found, Prepared};
use crate::operation::{key_name, list_values, secs, show_list, MopKind, Pace};
use crate::{Anomaly, Exhausted};

struct Node<'h> {
    /// Children in the order first read.
    children: Vec<(&'h Value, u32)>,
    /// The first read (op) whose list passes through this node.
    reader: usize,
    depth: u32,
}

/// One key's reads.
struct Trie<'h> {
    nodes: Vec<Node<'h>>,
}

impl<'h> Trie<'h> {
    fn new() -> Trie<'h> {
        Trie {
            nodes: vec![Node {
                children: Vec::new(),
                reader: usize::MAX,
                depth: 0,
            }],
        }
    }

    fn insert(&mut self, list: &'h [Value], reader: usize) {
        let mut at = 0usize;
        for e in list {
            let found = self.nodes[at].children.iter().find(|(c, _)| *c == e);
            at = match found {
                Some(&(_, n)) => n as usize,
                None => {
                    let n = self.nodes.len();
                    let depth = self.nodes[at].depth + 1;
                    self.nodes[at].children.push((e, n as u32));
                    self.nodes.push(Node {
                        children: Vec::new(),
                        reader,
                        depth,
                    });
                    n
                }
            };
        }
    }
}

/// The list op `r` read from `key`.
fn list_of<'h>(p: &Prepared<'h>, r: usize, key: &Value) -> &'h [Value] {
    p.mops[r]
        .iter()
        .find(|m| m.kind == MopKind::Read && m.key == key)
        .and_then(|m| m.value.as_list())
        .unwrap_or(&[])
}

fn read_at(p: &Prepared<'_>, r: usize, key: &Value) -> String {
    format!(
        "{} read {} at {}",
        p.ops[r].who(),
        key_name(key),
        secs(p.ops[r].invoke_time())
    )
}

/// Finds divergent and duplicated reads; returns the number of keys read.
pub(super) fn check(
    p: &Prepared<'_>,
    found: &mut Found,
    pace: &mut Pace<'_>,
) -> Result<usize, Exhausted> {
    let mut tries: FxHashMap<&Value, Trie<'_>> = FxHashMap::default();
    let mut keys_in_order: Vec<&Value> = Vec::new();
    for &r in &p.by_completion {
        for m in p.mops[r].iter().filter(|m| m.kind == MopKind::Read) {
            pace.tick()?;
            let list: &[Value] = match m.value {
                Value::Nil => &[],
                v => match v.as_list() {
                    Some(l) => l,
                    None => continue,
                },
            };
            let mut seen = FxHashSet::default();
            let dups: Vec<&Value> = list.iter().filter(|e| !seen.insert(*e)).collect();
            if !dups.is_empty() {
                found.add("duplicate-elements", || {
                    Anomaly::new(
                        "duplicate-elements",
                        vec![p.ops[r].cite()],
                        format!(
                            "{} and saw {}, which lists {} more than once; an order of unique \
                             appends lists each once.",
                            read_at(p, r, m.key),
                            show_list(list),
                            list_values(&dups, 5)
                        ),
                    )
                    .with_key(m.key.clone())
                });
            }
            tries
                .entry(m.key)
                .or_insert_with(|| {
                    keys_in_order.push(m.key);
                    Trie::new()
                })
                .insert(list, r);
        }
    }
    for key in &keys_in_order {
        let trie = &tries[key];
        for node in &trie.nodes {
            let Some(((e0, c0), rest)) = node.children.split_first() else {
                continue;
            };
            for (ei, ci) in rest {
                pace.tick()?;
                let (ra, rb) = (
                    trie.nodes[*c0 as usize].reader,
                    trie.nodes[*ci as usize].reader,
                );
                found.add("divergent-reads", || {
                    let la = list_of(p, ra, key);
                    let common = &la[..node.depth as usize];
                    let (first, second) = if p.ops[ra].cite() <= p.ops[rb].cite() {
                        (ra, rb)
                    } else {
                        (rb, ra)
                    };
                    let split = if common.is_empty() {
                        format!("they begin with different elements ({e0} and {ei})")
                    } else {
                        format!(
                            "after {} one has {e0} where the other has {ei}",
                            show_list(common)
                        )
                    };
                    Anomaly::new(
                        "divergent-reads",
                        vec![p.ops[first].cite(), p.ops[second].cite()],
                        format!(
                            "{} and saw {}; {} and saw {}; {split}, so no single order of {}'s \
                             appends has both as prefixes.",
                            read_at(p, first, key),
                            show_list(list_of(p, first, key)),
                            read_at(p, second, key),
                            show_list(list_of(p, second, key)),
                            key_name(key),
                        ),
                    )
                    .with_key((*key).clone())
                });
            }
        }
    }
    Ok(keys_in_order.len())
}
