//! faultline-nemeses: environments (where nodes live) and faults (what goes wrong).
//!
//! Environments implement [`faultline_core::env::Env`]: [`netns`] puts each node in its own
//! network namespace on a bridge the run creates, with a run registry on disk so
//! `faultline cleanup` removes exactly what a killed run left; [`ssh`] drives real hosts
//! named in a hosts file over SSH.
//!
//! Faults implement [`faultline_core::nemesis::Nemesis`]: each plans a fault from the seeded
//! RNG, installs it, and returns a guard that heals it.
//!
//! | `--nemesis` | fault | needs |
//! |-------------|-------|-------|
//! | `partition` | random halves, majorities ring, bridge, isolate one node, isolate the primary (iptables DROP on input) | `exec` (netns, ssh); `primary` for the last |
//! | `kill`      | SIGKILL one node, a minority, or the primary; restart on heal | the target's `kill`/`start` |
//! | `pause`     | SIGSTOP the same choices; SIGCONT on heal | the target's `pause`/`resume` |
//! | `clock`     | bump, strobe or skew node clocks; reset on heal | the target's `Clock` |
//! | `net`       | packet loss (iptables statistic), slow links (tbf), delay (netem, when the kernel has it) | `exec` |
//!
//! `partition:halves`, `partition:ring`, `partition:bridge`, `partition:one`,
//! `partition:primary`, `net:loss`, `net:slow`, `net:delay`, `clock:bump`, ... pick one kind.
//!
//! ```
//! use faultline_nemeses::by_name;
//! use faultline_core::rng::Rng;
//! let p = by_name("partition:halves").unwrap();
//! let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
//! let f = p.plan(&mut Rng::new(1), &nodes);
//! assert_eq!(f.start, "start-partition");
//! ```

pub mod clock;
pub mod kill;
pub mod net;
pub mod netns;
pub mod partition;
mod registry;
pub mod ssh;

use std::sync::Arc;

use faultline_core::nemesis::Nemesis;

pub use registry::{RunRecord, REGISTRY_DIR};

/// The nemesis names `--nemesis` accepts (each optionally `:kind`).
pub const NAMES: &[&str] = &["partition", "kill", "pause", "clock", "net"];

#[derive(Debug, thiserror::Error)]
#[error("unknown nemesis {0:?}; the nemeses are {names} (or none), each optionally name:kind", names = NAMES.join(", "))]
pub struct UnknownNemesis(pub String);

/// One nemesis by name, e.g. `partition` or `partition:primary`.
pub fn by_name(spec: &str) -> Result<Arc<dyn Nemesis>, UnknownNemesis> {
    let (name, kind) = match spec.split_once(':') {
        Some((n, k)) => (n, Some(k)),
        None => (spec, None),
    };
    let bad = || UnknownNemesis(spec.to_string());
    Ok(match name {
        "partition" => Arc::new(partition::Partition::new(kind).ok_or_else(bad)?),
        "kill" => Arc::new(kill::Crash::kill(kind).ok_or_else(bad)?),
        "pause" => Arc::new(kill::Crash::pause(kind).ok_or_else(bad)?),
        "clock" => Arc::new(clock::ClockFault::new(kind).ok_or_else(bad)?),
        "net" => Arc::new(net::Net::new(kind).ok_or_else(bad)?),
        _ => return Err(bad()),
    })
}

/// Parses `partition,kill` (or `none` / empty) into nemeses.
pub fn parse_list(list: &str) -> Result<Vec<Arc<dyn Nemesis>>, UnknownNemesis> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "none")
        .map(by_name)
        .collect()
}

/// Picks `k` distinct nodes at random.
pub(crate) fn pick_nodes(
    rng: &mut faultline_core::rng::Rng,
    nodes: &[String],
    k: usize,
) -> Vec<String> {
    let mut v = nodes.to_vec();
    rng.shuffle(&mut v);
    v.truncate(k);
    v.sort();
    v
}

/// A JSON-ish list of node names for history values.
pub(crate) fn names(nodes: &[String]) -> faultline_core::Value {
    faultline_core::Value::List(nodes.iter().map(|n| n.as_str().into()).collect())
}
