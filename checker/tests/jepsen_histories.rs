//! The weak-consistency checkers on Jepsen's own history shape (EDN, keyword functions,
//! integer keys, `nil` for an empty list read), read through faultline-core's reader.

use std::path::PathBuf;

use faultline_checker::lost::LostChecker;
use faultline_checker::prefix::PrefixChecker;
use faultline_checker::session::SessionChecker;
use faultline_checker::stats::StatsChecker;
use faultline_checker::{Budget, Checker, Validity};
use faultline_core::format::read_path;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/jepsen")
        .join(name)
}

#[test]
fn a_serializable_jepsen_list_append_history_keeps_every_weak_guarantee() {
    let h = read_path(&data("list-append.edn"), None)
        .expect("readable")
        .history;
    let budget = Budget::unlimited();

    let session = SessionChecker::default().check(&h, &budget);
    assert_eq!(session.valid, Validity::Valid, "{:?}", session.anomalies);
    assert_eq!(session.stats["workload"], "list-append");
    assert!(
        session
            .models
            .kept
            .contains(&"read-your-writes".to_string()),
        "{:?}",
        session.models
    );

    let prefix = PrefixChecker::default().check(&h, &budget);
    assert_eq!(prefix.valid, Validity::Valid, "{:?}", prefix.anomalies);
    assert_eq!(prefix.models.kept, vec!["consistent-prefix"]);

    // Every acknowledged append is in the last read of its key that began after it; no
    // transaction read a key and then appended to it, so no read-modify-write to lose.
    let lost = LostChecker::default().check(&h, &budget);
    assert_eq!(
        lost.valid,
        Validity::Valid,
        "{:?} {:?}",
        lost.unknown_reason,
        lost.anomalies
    );
    assert_eq!(lost.stats["read_modify_writes"], 0);
    // Keys 1 and 2 each got two appends; key 1's second ended in info but a read saw it.
    assert_eq!(lost.stats["appends_checked"], 4);

    let stats = StatsChecker::default().check(&h, &budget);
    assert_eq!(stats.stats["overall"]["ok"], 4);
    assert_eq!(stats.stats["overall"]["fail"], 1);
    assert_eq!(stats.stats["overall"]["info"], 1);
}

#[test]
fn independent_key_tuples_are_split_by_key() {
    // Keys 0 and 1 as Jepsen's `independent` writes them: `[key value]` values.
    let h = read_path(&data("independent-cas-bad.edn"), None)
        .expect("readable")
        .history;
    let budget = Budget::unlimited();
    let session = SessionChecker {
        independent: true,
        ..SessionChecker::default()
    };
    let v = session.check(&h, &budget);
    // Process 1 wrote 2 to key 1 and its cas then read 2: its own write. The stale read of
    // key 1 is by another process that had seen nothing: linearizability's business.
    assert_eq!(v.valid, Validity::Valid, "{:?}", v.anomalies);
    assert!(
        v.models.kept.contains(&"read-your-writes".to_string()),
        "{:?}",
        v.models
    );
    let lost = LostChecker {
        independent: true,
        ..LostChecker::default()
    };
    let v = lost.check(&h, &budget);
    assert_eq!(v.stats["workload"], "register");
    assert_eq!(v.stats["read_modify_writes"], 1, "{:?}", v.stats);
}
