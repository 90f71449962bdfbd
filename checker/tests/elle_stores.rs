//! Elle's testing approach: small simulated stores with known isolation levels produce
//! histories, and the checker must find exactly the anomalies each level allows, on the
//! transactions that show them.

use std::collections::BTreeSet;

use faultline_checker::elle::simulate::{generate, Isolation, Sim};
use faultline_checker::elle::txns::Workload;
use faultline_checker::elle::{ListAppend, RwRegister};
use faultline_checker::{Anomaly, Budget, Checker, Evidence, Validity, Verdict};
use faultline_core::{History, OpType};

fn sim(workload: Workload, isolation: Isolation, seed: u64) -> Sim {
    Sim {
        workload,
        isolation,
        txns: 400,
        concurrency: 6,
        active_keys: 3,
        max_writes_per_key: 16,
        info_rate: 0.05,
        seed,
        ..Sim::default()
    }
}

fn check(workload: Workload, h: &History) -> Verdict {
    match workload {
        Workload::ListAppend => ListAppend::default().check(h, &Budget::unlimited()),
        Workload::RwRegister => RwRegister::default().check(h, &Budget::unlimited()),
    }
}

fn kinds(v: &Verdict) -> BTreeSet<&str> {
    v.kinds().into_iter().collect()
}

/// The ops of a cycle anomaly are the completions its evidence steps leave from, and none
/// is a failed transaction's (an indeterminate one can be on a cycle once it is observed).
fn assert_cycle_ops(h: &History, a: &Anomaly) {
    let Evidence::Cycle { steps } = &a.evidence else {
        panic!("{} has no cycle evidence", a.kind);
    };
    let froms: Vec<u64> = steps.iter().map(|s| s.from).collect();
    assert_eq!(a.ops, froms);
    for (s, next) in steps.iter().zip(steps.iter().cycle().skip(1)) {
        assert_eq!(s.to, next.from, "steps chain");
        assert!(!s.why.is_empty());
    }
    for &i in &a.ops {
        assert_ne!(
            h.ops()[i as usize].kind,
            OpType::Fail,
            "op {i} of {}",
            a.kind
        );
    }
}

fn overlaps(h: &History, a: u64, b: u64) -> bool {
    let span = |i: u64| (h.partner(i as usize).unwrap_or(0) as u64, i);
    let ((a0, a1), (b0, b1)) = (span(a), span(b));
    a0 < b1 && b0 < a1
}

#[test]
fn a_strict_serializable_store_is_valid() {
    for workload in [Workload::ListAppend, Workload::RwRegister] {
        for seed in 0..5 {
            let h = generate(&sim(workload, Isolation::StrictSerializable, seed));
            let v = check(workload, &h);
            assert_eq!(v.valid, Validity::Valid, "{workload:?} seed {seed}: {v:#?}");
            assert!(v.models.ruled_out.is_empty());
            assert!(v.models.kept.iter().any(|m| m == "strict-serializable"));
        }
    }
}

#[test]
fn a_snapshot_isolation_store_shows_write_skew_and_no_g1() {
    let allowed: BTreeSet<&str> = ["G2-item", "G2-item-process", "G2-item-realtime"].into();
    for workload in [Workload::ListAppend, Workload::RwRegister] {
        let mut skews = 0;
        for seed in 0..5 {
            let h = generate(&sim(workload, Isolation::SnapshotIsolation, seed));
            let v = check(workload, &h);
            let k = kinds(&v);
            assert!(k.is_subset(&allowed), "{workload:?} seed {seed}: {k:?}");
            if k.contains("G2-item") {
                assert!(v.models.ruled_out.iter().any(|m| m == "serializable"));
            }
            assert!(
                v.models.kept.iter().any(|m| m == "snapshot-isolation"),
                "{k:?}"
            );
            for a in v.anomalies.iter().filter(|a| a.kind == "G2-item") {
                assert_cycle_ops(&h, a);
                let Evidence::Cycle { steps } = &a.evidence else {
                    unreachable!()
                };
                assert!(steps.iter().filter(|s| s.edge == "rw").count() >= 2);
                // Write skew needs two transactions running at once.
                assert!(a
                    .ops
                    .iter()
                    .any(|&x| a.ops.iter().any(|&y| x != y && overlaps(&h, x, y))));
                skews += 1;
            }
        }
        assert!(skews > 0, "{workload:?}: no write skew in five runs");
    }
}

#[test]
fn a_read_committed_store_shows_read_skew_and_no_g1() {
    for workload in [Workload::ListAppend, Workload::RwRegister] {
        let mut single = 0;
        for seed in 0..5 {
            let h = generate(&sim(workload, Isolation::ReadCommitted, seed));
            let v = check(workload, &h);
            let k = kinds(&v);
            assert!(
                !k.iter().any(|k| k.starts_with("G0") || k.starts_with("G1")),
                "{workload:?} seed {seed}: {k:?}"
            );
            assert!(v.models.kept.iter().any(|m| m == "read-committed"), "{k:?}");
            assert!(v.models.ruled_out.iter().any(|m| m == "snapshot-isolation"));
            for a in v.anomalies.iter().filter(|a| a.kind == "G-single") {
                assert_cycle_ops(&h, a);
                single += 1;
            }
        }
        assert!(single > 0, "{workload:?}: no G-single in five runs");
    }
}

#[test]
fn an_aborted_read_store_shows_g1a_naming_the_failed_writer() {
    for workload in [Workload::ListAppend, Workload::RwRegister] {
        let mut seen = 0;
        for seed in 0..3 {
            let h = generate(&sim(workload, Isolation::AbortedReads, seed));
            let v = check(workload, &h);
            let k = kinds(&v);
            assert!(k.contains("G1a"), "{workload:?} seed {seed}: {k:?}");
            let allowed: BTreeSet<&str> = ["G1a", "dirty-update"].into();
            assert!(k.is_subset(&allowed), "{k:?}");
            assert!(v.models.kept.iter().any(|m| m == "read-uncommitted"));
            for a in v.anomalies.iter().filter(|a| a.kind == "G1a") {
                let [reader, writer] = a.ops[..] else {
                    panic!("{a:?}")
                };
                assert_eq!(h.ops()[reader as usize].kind, OpType::Ok);
                assert_eq!(h.ops()[writer as usize].kind, OpType::Fail);
                seen += 1;
            }
        }
        assert!(seen > 0);
    }
}

#[test]
fn a_stale_replica_store_is_serializable_but_not_strict() {
    for workload in [Workload::ListAppend, Workload::RwRegister] {
        let mut stale = 0;
        for seed in 0..3 {
            let h = generate(&Sim {
                stale_lag: 10,
                ..sim(workload, Isolation::StaleReads, seed)
            });
            let v = check(workload, &h);
            let k = kinds(&v);
            assert!(
                k.iter()
                    .all(|k| k.ends_with("-realtime") || k.ends_with("-process")),
                "{workload:?} seed {seed}: {k:?}"
            );
            assert!(v.models.kept.iter().any(|m| m == "serializable"), "{k:?}");
            assert!(v
                .models
                .ruled_out
                .iter()
                .any(|m| m == "strict-serializable"));
            for a in v.anomalies.iter().filter(|a| a.kind == "G-single-realtime") {
                assert_cycle_ops(&h, a);
                stale += 1;
            }
        }
        assert!(stale > 0, "{workload:?}: no stale read found");
    }
}
