//! Degraded networks: `loss` drops a share of incoming packets from peers (iptables'
//! `statistic` match), `slow` limits a node's egress rate (tc `tbf`), `delay` adds latency
//! and jitter (tc `netem`). Kernels without `sch_netem` (this project's CI machine is one)
//! cannot delay: the fault is recorded as not applicable with that reason, never faked.
//! The controller's traffic is spared by loss, so clients see the cluster, not the test.

use std::sync::OnceLock;
use std::time::Duration;

use faultline_core::nemesis::{Cluster, Fault, FaultGuard, Installed, Nemesis, NemesisError};
use faultline_core::rng::Rng;
use faultline_core::{BoxFuture, Value};

use crate::names;
use crate::partition::Rules;

const KINDS: [&str; 3] = ["loss", "slow", "delay"];
const EXEC_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Net {
    kind: Option<&'static str>,
}

impl Net {
    pub fn new(kind: Option<&str>) -> Option<Net> {
        Some(Net {
            kind: match kind {
                Some(k) => Some(*KINDS.iter().find(|x| **x == k)?),
                None => None,
            },
        })
    }
}

/// Whether netem worked the first time it was tried in this process (None: not yet tried).
static NETEM: OnceLock<Result<(), String>> = OnceLock::new();

/// The message for a kernel without netem.
pub const NO_NETEM: &str = "tc netem is not available in this kernel (sch_netem missing): \
    no delay/jitter faults; use net:loss or net:slow";

struct Qdiscs {
    cluster: Cluster,
    nodes: Vec<String>,
}

impl FaultGuard for Qdiscs {
    fn heal(self: Box<Self>) -> BoxFuture<'static, Result<(), NemesisError>> {
        Box::pin(async move {
            let dev = self.cluster.env.interface().to_string();
            let mut first = Ok(());
            for n in &self.nodes {
                let args: Vec<String> = ["qdisc", "del", "dev", &dev, "root"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                match self.cluster.env.exec(n, "tc", &args, EXEC_TIMEOUT).await {
                    Ok(o) if o.success() => {}
                    Ok(o) => {
                        if first.is_ok() {
                            first = Err(NemesisError::Failed(format!(
                                "node {n}: tc qdisc del: {}",
                                o.stderr.trim()
                            )));
                        }
                    }
                    Err(e) => {
                        if first.is_ok() {
                            first = Err(e.into());
                        }
                    }
                }
            }
            first
        })
    }
}

struct NoGuard;

impl FaultGuard for NoGuard {
    fn heal(self: Box<Self>) -> BoxFuture<'static, Result<(), NemesisError>> {
        Box::pin(async { Ok(()) })
    }
}

async fn tc_add(cluster: &Cluster, node: &str, spec: &[&str]) -> Result<(), NemesisError> {
    let dev = cluster.env.interface().to_string();
    // `replace` rather than `add`: a host that already has a root qdisc (any real one over
    // SSH) would refuse `add`; heal deletes the root qdisc, which restores the kernel default.
    let mut args: Vec<String> = ["qdisc", "replace", "dev", &dev, "root"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(spec.iter().map(|s| s.to_string()));
    let out = cluster.env.exec(node, "tc", &args, EXEC_TIMEOUT).await?;
    if out.success() {
        Ok(())
    } else {
        Err(NemesisError::Failed(format!(
            "node {node}: tc {}: {}",
            args.join(" "),
            out.stderr.trim()
        )))
    }
}

impl Nemesis for Net {
    fn name(&self) -> &str {
        "net"
    }

    fn plan(&self, rng: &mut Rng, nodes: &[String]) -> Fault {
        let kind = self
            .kind
            .unwrap_or_else(|| KINDS[rng.below(KINDS.len() as u64) as usize]);
        let mut value = vec![("kind".into(), kind.into()), ("nodes".into(), names(nodes))];
        match kind {
            "loss" => {
                let p = [0.1, 0.2, 0.3, 0.5][rng.below(4) as usize];
                value.push(("probability".into(), Value::Float(p)));
            }
            "slow" => value.push(("rate".into(), "1mbit".into())),
            _ => {
                value.push(("delay_ms".into(), Value::Int(50 + rng.below(150) as i64)));
                value.push(("jitter_ms".into(), Value::Int(10)));
            }
        }
        Fault {
            start: format!("start-{kind}"),
            stop: format!("stop-{kind}"),
            value: Value::Map(value),
        }
    }

    fn install<'a>(
        &'a self,
        cluster: &'a Cluster,
        fault: &'a Fault,
    ) -> BoxFuture<'a, Result<Installed, NemesisError>> {
        Box::pin(async move {
            let nodes: Vec<String> = fault
                .value
                .get("nodes")
                .and_then(Value::as_list)
                .unwrap_or(&[])
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            let kind = fault
                .value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("");
            let guard: Box<dyn FaultGuard> = match kind {
                "loss" => {
                    let p = match fault.value.get("probability") {
                        Some(Value::Float(p)) => *p,
                        _ => 0.2,
                    };
                    let mut rules = Rules {
                        cluster: cluster.clone(),
                        rules: Vec::new(),
                    };
                    let spare = cluster.env.controller_ip().map(|ip| ip.to_string());
                    for n in &nodes {
                        let mut r: Vec<String> = vec!["INPUT".into()];
                        if let Some(c) = &spare {
                            r.extend(["!".into(), "-s".into(), c.clone()]);
                        }
                        r.extend(
                            ["-m", "statistic", "--mode", "random", "--probability"]
                                .iter()
                                .map(|s| s.to_string()),
                        );
                        r.push(format!("{p}"));
                        r.extend(["-j", "DROP", "-w"].iter().map(|s| s.to_string()));
                        if let Err(e) = rules.add(n, r).await {
                            let _ = rules.remove().await;
                            return Err(e);
                        }
                    }
                    Box::new(rules)
                }
                "slow" => {
                    let mut done = Vec::new();
                    for n in &nodes {
                        if let Err(e) = tc_add(
                            cluster,
                            n,
                            &["tbf", "rate", "1mbit", "burst", "10kb", "latency", "50ms"],
                        )
                        .await
                        {
                            let _ = Box::new(Qdiscs {
                                cluster: cluster.clone(),
                                nodes: done,
                            })
                            .heal()
                            .await;
                            return Err(e);
                        }
                        done.push(n.clone());
                    }
                    Box::new(Qdiscs {
                        cluster: cluster.clone(),
                        nodes: done,
                    })
                }
                _ => {
                    if let Some(Err(why)) = NETEM.get() {
                        return Err(NemesisError::NotApplicable(why.clone()));
                    }
                    let delay = format!(
                        "{}ms",
                        fault
                            .value
                            .get("delay_ms")
                            .and_then(Value::as_int)
                            .unwrap_or(100)
                    );
                    let mut done = Vec::new();
                    for n in &nodes {
                        match tc_add(cluster, n, &["netem", "delay", &delay, "10ms"]).await {
                            Ok(()) => done.push(n.clone()),
                            Err(e) => {
                                let _ = Box::new(Qdiscs {
                                    cluster: cluster.clone(),
                                    nodes: done,
                                })
                                .heal()
                                .await;
                                let msg = e.to_string();
                                if msg.contains("nknown") || msg.contains("not found") {
                                    let _ = NETEM.set(Err(NO_NETEM.to_string()));
                                    return Err(NemesisError::NotApplicable(NO_NETEM.into()));
                                }
                                return Err(e);
                            }
                        }
                    }
                    let _ = NETEM.set(Ok(()));
                    if done.is_empty() {
                        Box::new(NoGuard)
                    } else {
                        Box::new(Qdiscs {
                            cluster: cluster.clone(),
                            nodes: done,
                        })
                    }
                }
            };
            Ok(Installed {
                guard,
                value: fault.value.clone(),
            })
        })
    }
}
