//! Consistency models and anomalies as data: which anomaly implies which, which model
//! implies which, and which anomalies each model forbids directly.
//!
//! The tables follow Elle's `consistency_model.clj` (Kingsbury & Alvaro, "Elle: Inferring
//! Isolation Anomalies from Experimental Observations", VLDB 2020), restricted to the item
//! (non-predicate) anomalies this checker can find, and to the models named in the table of
//! `docs/elle.md`. Sources: Adya, "Weak Consistency" (1999) for G0, G1a–c, G-single,
//! G2-item, PL-1 … PL-3 and PL-SS; Bailis et al., "Highly Available Transactions" (2014) for
//! lost update and the strong variants' lineage; Cerone & Gotsman, "Analysing Snapshot
//! Isolation" (2016) and Daudjee & Salem (2006) for G-nonadjacent under snapshot isolation
//! and for the strong-session models.
//!
//! A model is ruled out when an anomaly it forbids, or an anomaly that *implies* one it
//! forbids, was found; ruling a model out rules out every model that implies it.

use std::collections::BTreeSet;

/// An anomaly and the anomalies its presence implies (Elle's `implied-anomalies`). Item
/// anomalies only: our G-single is Elle's G-single-item, and so on.
pub const IMPLIED: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    ("G-single", &["G-nonadjacent", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    ("G-nonadjacent", &["G2-item", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-item-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-item-realtime"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-process", &["G2-realtime"]),
    // Two committed reads that no single order of appends explains: one of them saw state
    // that was never committed.
    ("incompatible-order", &["G1a"]),
    // Reading your own later write is a trivial wr cycle.
    ("future-read", &["G1c"]),
    // A committed append on top of an aborted one: an aborted write was read, by a write.
    ("dirty-update", &["G1a"]),
    // Adya's H_lu is a G2-item cycle (Bailis et al. 2014).
    ("lost-update", &["G2-item"]),
];

/// A consistency model, the models it implies, and the anomalies it forbids directly.
pub struct ModelDef {
    pub name: &'static str,
    pub implies: &'static [&'static str],
    pub forbids: &'static [&'static str],
    /// Where the definition comes from.
    pub source: &'static str,
}

/// The models this checker can rule out, strongest first.
pub const MODELS: &[ModelDef] = &[
    ModelDef {
        name: "strict-serializable",
        implies: &["strong-session-serializable", "strong-snapshot-isolation"],
        forbids: &["G1", "G1c-realtime", "G2-realtime"],
        source: "Adya PL-SS",
    },
    ModelDef {
        name: "strong-session-serializable",
        implies: &["serializable", "strong-session-snapshot-isolation"],
        forbids: &["G1-process", "G2-process"],
        source: "Daudjee & Salem 2004",
    },
    ModelDef {
        name: "strong-snapshot-isolation",
        implies: &["strong-session-snapshot-isolation", "strong-read-committed"],
        forbids: &["internal", "G1-realtime", "G-nonadjacent-realtime"],
        source: "Daudjee & Salem 2006",
    },
    ModelDef {
        name: "strong-session-snapshot-isolation",
        implies: &["snapshot-isolation", "strong-session-read-committed"],
        forbids: &["internal", "G1-process", "G-nonadjacent-process"],
        source: "Daudjee & Salem 2006; Cerone & Gotsman 2016",
    },
    ModelDef {
        name: "serializable",
        implies: &["repeatable-read", "snapshot-isolation"],
        forbids: &["internal", "G1", "G2"],
        source: "Adya PL-3 (conflict serializability)",
    },
    ModelDef {
        name: "snapshot-isolation",
        implies: &["cursor-stability"],
        forbids: &["internal", "G1", "G-nonadjacent"],
        source: "Adya PL-SI; Cerone & Gotsman 2016",
    },
    ModelDef {
        name: "repeatable-read",
        implies: &["cursor-stability"],
        forbids: &["G1", "G2-item", "lost-update"],
        source: "Adya PL-2.99; Bailis et al. 2014",
    },
    ModelDef {
        name: "cursor-stability",
        implies: &["read-committed"],
        forbids: &["G1", "lost-update"],
        source: "Adya PL-CS; Bailis et al. 2014",
    },
    ModelDef {
        name: "strong-read-committed",
        implies: &["strong-session-read-committed", "strong-read-uncommitted"],
        forbids: &["G1c-realtime"],
        source: "Elle (strong-PL-2)",
    },
    ModelDef {
        name: "strong-session-read-committed",
        implies: &["read-committed", "strong-session-read-uncommitted"],
        forbids: &["G1c-process"],
        source: "Elle (strong-session-PL-2)",
    },
    ModelDef {
        name: "read-committed",
        implies: &["read-uncommitted"],
        forbids: &["G1"],
        source: "Adya PL-2",
    },
    ModelDef {
        name: "strong-read-uncommitted",
        implies: &["strong-session-read-uncommitted"],
        forbids: &["G0-realtime"],
        source: "Elle (strong-PL-1)",
    },
    ModelDef {
        name: "strong-session-read-uncommitted",
        implies: &["read-uncommitted"],
        forbids: &["G0-process"],
        source: "Elle (strong-session-PL-1)",
    },
    ModelDef {
        name: "read-uncommitted",
        implies: &[],
        forbids: &[
            "G0",
            "duplicate-elements",
            "cyclic-versions",
            "garbage-read",
        ],
        source: "Adya PL-1",
    },
];

pub fn model(name: &str) -> Option<&'static ModelDef> {
    MODELS.iter().find(|m| m.name == name)
}

/// Every anomaly `kinds` imply, including themselves.
pub fn implied_anomalies<'a>(kinds: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'a str> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&str> = kinds.into_iter().collect();
    while let Some(k) = stack.pop() {
        if seen.insert(k) {
            if let Some((_, next)) = IMPLIED.iter().find(|(a, _)| *a == k) {
                stack.extend(next.iter().copied());
            }
        }
    }
    seen
}

/// Every model `name` implies, including itself.
pub fn implied_models(name: &str) -> BTreeSet<&'static str> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&'static str> = model(name).map(|m| vec![m.name]).unwrap_or_default();
    while let Some(m) = stack.pop() {
        if seen.insert(m) {
            if let Some(def) = model(m) {
                stack.extend(def.implies.iter().copied());
            }
        }
    }
    seen
}

/// The anomalies that cannot be present if `name` holds: those it or any weaker model it
/// implies forbids directly, and every anomaly that implies one of those.
pub fn forbidden_by(name: &str) -> BTreeSet<&'static str> {
    let direct: BTreeSet<&'static str> = implied_models(name)
        .into_iter()
        .filter_map(model)
        .flat_map(|m| m.forbids.iter().copied())
        .collect();
    all_anomalies()
        .into_iter()
        .filter(|a| implied_anomalies([*a]).iter().any(|i| direct.contains(i)))
        .collect()
}

/// Every anomaly name the tables mention.
pub fn all_anomalies() -> BTreeSet<&'static str> {
    let mut all: BTreeSet<&'static str> = BTreeSet::new();
    for (a, next) in IMPLIED {
        all.insert(a);
        all.extend(next.iter().copied());
    }
    for m in MODELS {
        all.extend(m.forbids.iter().copied());
    }
    all
}

/// The models the given anomalies rule out, strongest first (the order of [`MODELS`]).
pub fn ruled_out<'a>(found: impl IntoIterator<Item = &'a str>) -> Vec<&'static str> {
    let implied = implied_anomalies(found);
    MODELS
        .iter()
        .filter(|m| forbidden_by(m.name).iter().any(|a| implied.contains(a)))
        .map(|m| m.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_in_the_tables_is_defined() {
        for m in MODELS {
            for i in m.implies {
                assert!(model(i).is_some(), "{} implies unknown {i}", m.name);
            }
        }
    }

    #[test]
    fn write_skew_rules_out_serializability_but_not_snapshot_isolation() {
        let out = ruled_out(["G2-item"]);
        assert!(out.contains(&"serializable"));
        assert!(out.contains(&"strict-serializable"));
        assert!(out.contains(&"repeatable-read"));
        assert!(!out.contains(&"snapshot-isolation"));
        assert!(!out.contains(&"read-committed"));
    }

    #[test]
    fn g_single_rules_out_snapshot_isolation_and_repeatable_read() {
        let out = ruled_out(["G-single"]);
        assert!(out.contains(&"snapshot-isolation"));
        assert!(out.contains(&"repeatable-read"));
        assert!(!out.contains(&"read-committed"));
    }

    #[test]
    fn an_aborted_read_rules_out_read_committed_but_not_read_uncommitted() {
        let out = ruled_out(["G1a"]);
        assert!(out.contains(&"read-committed"));
        assert!(!out.contains(&"read-uncommitted"));
        assert!(out.contains(&"strict-serializable"));
    }

    #[test]
    fn realtime_anomalies_rule_out_only_the_strong_models() {
        let out = ruled_out(["G2-item-realtime"]);
        assert_eq!(out, vec!["strict-serializable"]);
        let out = ruled_out(["G0-process"]);
        assert!(out.contains(&"strong-session-read-uncommitted"));
        assert!(!out.contains(&"read-uncommitted"));
        assert!(!out.contains(&"serializable"));
    }

    #[test]
    fn snapshot_isolation_forbids_lost_updates_through_cursor_stability() {
        assert!(forbidden_by("snapshot-isolation").contains("lost-update"));
        assert!(forbidden_by("read-committed").contains("G1c"));
        assert!(!forbidden_by("read-committed").contains("G2-item"));
    }
}
