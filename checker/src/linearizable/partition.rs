//! P-compositionality: a history is linearizable iff each independent part is, so the
//! checker splits by key (Jepsen `[key value]` tuples with `--independent`, or a model's
//! own [`partition`](super::Model::partition)) and checks the parts apart and in parallel.

use faultline_core::Value;
use rustc_hash::FxHashMap;

/// Positions grouped by key, keys in order of first appearance.
pub fn group_by<'a>(keys: impl Iterator<Item = &'a Value>) -> Vec<(Value, Vec<usize>)> {
    let mut at: FxHashMap<&'a Value, usize> = FxHashMap::default();
    let mut groups: Vec<(Value, Vec<usize>)> = Vec::new();
    for (i, k) in keys.enumerate() {
        let g = *at.entry(k).or_insert_with(|| {
            groups.push((k.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    groups
}

/// A Jepsen independent tuple's key and value.
pub fn split_tuple(v: &Value) -> Option<(&Value, &Value)> {
    super::models::pair(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_first_appearance_order() {
        let keys = [Value::from("b"), Value::from("a"), Value::from("b")];
        let g = group_by(keys.iter());
        assert_eq!(
            g,
            vec![(Value::from("b"), vec![0, 2]), (Value::from("a"), vec![1])]
        );
    }
}
