//! Clock faults through the target's [`Clock`](faultline_core::target::Clock) capability
//! (the built-in node's clock offset; libfaketime's runtime-changeable offset for other
//! programs): `bump` moves some nodes' clocks by up to ±60 s, `skew` gives every node a
//! different offset within ±5 s, `strobe` flips one node between its true time and an offset
//! every 100 ms. Healing sets every touched clock back to offset 0. This machine's clock is
//! never changed.

use std::sync::Arc;
use std::time::Duration;

use faultline_core::nemesis::{Cluster, Fault, FaultGuard, Installed, Nemesis, NemesisError};
use faultline_core::rng::Rng;
use faultline_core::{BoxFuture, Value};

use crate::pick_nodes;

const KINDS: [&str; 3] = ["bump", "strobe", "skew"];

pub struct ClockFault {
    kind: Option<&'static str>,
}

impl ClockFault {
    pub fn new(kind: Option<&str>) -> Option<ClockFault> {
        Some(ClockFault {
            kind: match kind {
                Some(k) => Some(*KINDS.iter().find(|x| **x == k)?),
                None => None,
            },
        })
    }
}

fn offsets_of(v: &Value) -> Vec<(String, i64)> {
    match v.get("offsets") {
        Some(Value::Map(pairs)) => pairs
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_int()?)))
            .collect(),
        _ => Vec::new(),
    }
}

struct Reset {
    cluster: Cluster,
    nodes: Vec<String>,
    strobe: Option<tokio::task::JoinHandle<()>>,
}

impl FaultGuard for Reset {
    fn heal(self: Box<Self>) -> BoxFuture<'static, Result<(), NemesisError>> {
        Box::pin(async move {
            if let Some(s) = &self.strobe {
                s.abort();
            }
            let clock = self
                .cluster
                .target
                .clock()
                .ok_or_else(|| NemesisError::NotApplicable("no clock".into()))?;
            let mut first = Ok(());
            for n in &self.nodes {
                if let Err(e) = clock.set_offset(n, 0).await {
                    if first.is_ok() {
                        first = Err(e.into());
                    }
                }
            }
            first
        })
    }
}

impl Nemesis for ClockFault {
    fn name(&self) -> &str {
        "clock"
    }

    fn plan(&self, rng: &mut Rng, nodes: &[String]) -> Fault {
        let kind = self
            .kind
            .unwrap_or_else(|| KINDS[rng.below(KINDS.len() as u64) as usize]);
        let signed = |rng: &mut Rng, max: i64| rng.below(2 * max as u64 + 1) as i64 - max;
        let offsets: Vec<(String, i64)> = match kind {
            "skew" => nodes
                .iter()
                .map(|n| (n.clone(), signed(rng, 5_000)))
                .collect(),
            "strobe" => pick_nodes(rng, nodes, 1)
                .into_iter()
                .map(|n| (n, signed(rng, 60_000)))
                .collect(),
            _ => {
                let k = 1 + rng.below(nodes.len().max(1) as u64) as usize;
                pick_nodes(rng, nodes, k)
                    .into_iter()
                    .map(|n| (n, signed(rng, 60_000)))
                    .collect()
            }
        };
        let start = match kind {
            "skew" => "skew-clock",
            "strobe" => "strobe-clock",
            _ => "bump-clock",
        };
        Fault {
            start: start.into(),
            stop: "reset-clock".into(),
            value: Value::Map(vec![
                ("kind".into(), kind.into()),
                (
                    "offsets".into(),
                    Value::Map(
                        offsets
                            .into_iter()
                            .map(|(n, o)| (Value::Str(n), Value::Int(o)))
                            .collect(),
                    ),
                ),
            ]),
        }
    }

    fn install<'a>(
        &'a self,
        cluster: &'a Cluster,
        fault: &'a Fault,
    ) -> BoxFuture<'a, Result<Installed, NemesisError>> {
        Box::pin(async move {
            let clock = cluster.target.clock().ok_or_else(|| {
                NemesisError::NotApplicable(format!(
                    "target {} offers no clock control",
                    cluster.target.name()
                ))
            })?;
            let offsets = offsets_of(&fault.value);
            let nodes: Vec<String> = offsets.iter().map(|(n, _)| n.clone()).collect();
            let mut strobe = None;
            if fault.start == "strobe-clock" {
                let c = cluster.clone();
                let offsets = offsets.clone();
                strobe = Some(tokio::spawn(async move {
                    let Some(clock) = c.target.clock() else {
                        return;
                    };
                    // Bounded: at most 10 minutes of flipping even if never healed.
                    for i in 0..6000u32 {
                        for (n, o) in &offsets {
                            let _ = clock.set_offset(n, if i % 2 == 0 { *o } else { 0 }).await;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }));
            } else {
                for (n, o) in &offsets {
                    if let Err(e) = clock.set_offset(n, *o).await {
                        let _ = Box::new(Reset {
                            cluster: cluster.clone(),
                            nodes: nodes.clone(),
                            strobe: None,
                        })
                        .heal()
                        .await;
                        return Err(e.into());
                    }
                }
            }
            Ok(Installed {
                guard: Box::new(Reset {
                    cluster: cluster.clone(),
                    nodes,
                    strobe,
                }),
                value: fault.value.clone(),
            })
        })
    }
}

/// The libfaketime shared object, when installed (Debian's path first).
pub fn libfaketime() -> Option<std::path::PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.exists())
}

/// Per-node clock offsets for programs that read the clock through libc: each node's
/// process is started with `LD_PRELOAD=libfaketime`, `FAKETIME_TIMESTAMP_FILE` pointing at
/// its own file and `FAKETIME_NO_CACHE=1`; setting an offset rewrites the file (`+30s`).
/// Go programs (etcd) bypass libc for time, so this does not reach them.
pub struct FakeTime {
    pub lib: std::path::PathBuf,
    pub dir: std::path::PathBuf,
}

impl FakeTime {
    pub fn new(dir: &std::path::Path) -> Option<Arc<FakeTime>> {
        Some(Arc::new(FakeTime {
            lib: libfaketime()?,
            dir: dir.to_path_buf(),
        }))
    }

    pub fn file(&self, node: &str) -> std::path::PathBuf {
        self.dir.join(format!("{node}.faketime"))
    }

    /// The environment variables to start `node`'s process with (and writes offset 0).
    pub fn vars(&self, node: &str) -> std::io::Result<Vec<(String, String)>> {
        std::fs::write(self.file(node), "+0\n")?;
        Ok(vec![
            ("LD_PRELOAD".into(), self.lib.display().to_string()),
            (
                "FAKETIME_TIMESTAMP_FILE".into(),
                self.file(node).display().to_string(),
            ),
            ("FAKETIME_NO_CACHE".into(), "1".into()),
        ])
    }

    pub fn set_offset(&self, node: &str, offset_ms: i64) -> std::io::Result<()> {
        // libfaketime reads "+N" / "-N" seconds with fractions.
        let s = format!("{:+.3}\n", offset_ms as f64 / 1000.0);
        std::fs::write(self.file(node), s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_offsets_within_bounds() {
        let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
        let c = ClockFault::new(Some("skew")).unwrap();
        let f = c.plan(&mut Rng::new(1), &nodes);
        let o = offsets_of(&f.value);
        assert_eq!(o.len(), 3);
        assert!(o.iter().all(|(_, ms)| ms.abs() <= 5000));
        assert_eq!(f.stop, "reset-clock");
        assert!(ClockFault::new(Some("warp")).is_none());
    }

    #[test]
    fn faketime_files_hold_signed_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let ft = FakeTime {
            lib: "/x.so".into(),
            dir: dir.path().into(),
        };
        ft.vars("n1").unwrap();
        ft.set_offset("n1", -1500).unwrap();
        assert_eq!(std::fs::read_to_string(ft.file("n1")).unwrap(), "-1.500\n");
    }
}
