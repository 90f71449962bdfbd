//! Process faults: `kill` (SIGKILL, restart on heal) and `pause` (SIGSTOP, SIGCONT on heal),
//! on one random node, a minority, or the current primary. They act through the target's
//! own verbs, so any target that can kill and restart its nodes gets them.

use faultline_core::nemesis::{Cluster, Fault, FaultGuard, Installed, Nemesis, NemesisError};
use faultline_core::rng::Rng;
use faultline_core::{BoxFuture, Value};

use crate::{names, pick_nodes};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Kill,
    Pause,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Targets {
    One,
    Minority,
    Primary,
}

impl Targets {
    const ALL: [Targets; 3] = [Targets::One, Targets::Minority, Targets::Primary];

    fn name(self) -> &'static str {
        match self {
            Targets::One => "one",
            Targets::Minority => "minority",
            Targets::Primary => "primary",
        }
    }

    fn parse(s: &str) -> Option<Targets> {
        Targets::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// Kill or pause nodes.
pub struct Crash {
    action: Action,
    targets: Option<Targets>,
}

impl Crash {
    pub fn kill(kind: Option<&str>) -> Option<Crash> {
        Crash::new(Action::Kill, kind)
    }

    pub fn pause(kind: Option<&str>) -> Option<Crash> {
        Crash::new(Action::Pause, kind)
    }

    fn new(action: Action, kind: Option<&str>) -> Option<Crash> {
        Some(Crash {
            action,
            targets: match kind {
                Some(k) => Some(Targets::parse(k)?),
                None => None,
            },
        })
    }
}

struct Undo {
    cluster: Cluster,
    action: Action,
    nodes: Vec<String>,
}

impl Undo {
    async fn run(&self) -> Result<(), NemesisError> {
        let mut first = Ok(());
        for n in &self.nodes {
            let r = match self.action {
                Action::Kill => self.cluster.target.start(n).await,
                Action::Pause => self.cluster.target.resume(n).await,
            };
            if let Err(e) = r {
                if first.is_ok() {
                    first = Err(e.into());
                }
            }
        }
        first
    }
}

impl FaultGuard for Undo {
    fn heal(self: Box<Self>) -> BoxFuture<'static, Result<(), NemesisError>> {
        Box::pin(async move { self.run().await })
    }
}

impl Nemesis for Crash {
    fn name(&self) -> &str {
        match self.action {
            Action::Kill => "kill",
            Action::Pause => "pause",
        }
    }

    fn plan(&self, rng: &mut Rng, nodes: &[String]) -> Fault {
        let t = self
            .targets
            .unwrap_or_else(|| Targets::ALL[rng.below(3) as usize]);
        let chosen = match t {
            Targets::One => pick_nodes(rng, nodes, 1),
            Targets::Minority => {
                let max = nodes.len().saturating_sub(1) / 2;
                let k = 1 + rng.below(max.max(1) as u64) as usize;
                pick_nodes(rng, nodes, k)
            }
            Targets::Primary => Vec::new(),
        };
        let (start, stop) = match self.action {
            Action::Kill => ("kill", "restart"),
            Action::Pause => ("pause", "resume"),
        };
        Fault {
            start: start.into(),
            stop: stop.into(),
            value: Value::Map(vec![
                ("targets".into(), t.name().into()),
                ("nodes".into(), names(&chosen)),
            ]),
        }
    }

    fn install<'a>(
        &'a self,
        cluster: &'a Cluster,
        fault: &'a Fault,
    ) -> BoxFuture<'a, Result<Installed, NemesisError>> {
        Box::pin(async move {
            let mut nodes: Vec<String> = fault
                .value
                .get("nodes")
                .and_then(Value::as_list)
                .unwrap_or(&[])
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            if fault.value.get("targets").and_then(Value::as_str) == Some("primary") {
                let p = cluster.target.primary().ok_or_else(|| {
                    NemesisError::NotApplicable(format!(
                        "target {} has no primary",
                        cluster.target.name()
                    ))
                })?;
                nodes = vec![p.primary().await.ok_or_else(|| {
                    NemesisError::NotApplicable("no node claims to be primary now".into())
                })?];
            }
            let mut done = Vec::new();
            for n in &nodes {
                let r = match self.action {
                    Action::Kill => cluster.target.kill(n).await,
                    Action::Pause => cluster.target.pause(n).await,
                };
                if let Err(e) = r {
                    // Undo what was done before saying it failed.
                    let _ = Undo {
                        cluster: cluster.clone(),
                        action: self.action,
                        nodes: done,
                    }
                    .run()
                    .await;
                    return Err(e.into());
                }
                done.push(n.clone());
            }
            let value = Value::Map(vec![
                (
                    "targets".into(),
                    fault.value.get("targets").cloned().unwrap_or_default(),
                ),
                ("nodes".into(), names(&nodes)),
            ]);
            Ok(Installed {
                guard: Box::new(Undo {
                    cluster: cluster.clone(),
                    action: self.action,
                    nodes,
                }),
                value,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minority_never_reaches_half() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let k = Crash::kill(Some("minority")).unwrap();
        let mut rng = Rng::new(2);
        for _ in 0..50 {
            let f = k.plan(&mut rng, &nodes);
            let n = f.value.get("nodes").and_then(Value::as_list).unwrap().len();
            assert!((1..=2).contains(&n));
            assert_eq!((f.start.as_str(), f.stop.as_str()), ("kill", "restart"));
        }
        assert!(Crash::pause(Some("everyone")).is_none());
    }
}
