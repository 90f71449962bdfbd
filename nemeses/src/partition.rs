//! Network partitions, as Jepsen draws them: random halves, a majorities ring, a bridge,
//! one node isolated, the primary isolated. A partition is a *grudge*: for each node, the
//! nodes whose packets it drops (iptables `INPUT -s IP -j DROP` inside the node, Jepsen's
//! way). The controller's own traffic is never dropped: partitions cut nodes from nodes.

use std::collections::BTreeMap;
use std::time::Duration;

use faultline_core::nemesis::{Cluster, Fault, FaultGuard, Installed, Nemesis, NemesisError};
use faultline_core::rng::Rng;
use faultline_core::{BoxFuture, Value};

use crate::names;

/// How the nodes are split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Halves,
    Ring,
    Bridge,
    One,
    Primary,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Halves,
        Kind::Ring,
        Kind::Bridge,
        Kind::One,
        Kind::Primary,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Halves => "halves",
            Kind::Ring => "majorities-ring",
            Kind::Bridge => "bridge",
            Kind::One => "one",
            Kind::Primary => "primary",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s {
            "halves" => Some(Kind::Halves),
            "ring" | "majorities-ring" => Some(Kind::Ring),
            "bridge" => Some(Kind::Bridge),
            "one" | "isolate" => Some(Kind::One),
            "primary" | "leader" => Some(Kind::Primary),
            _ => None,
        }
    }
}

/// For each node, the nodes it drops packets from. Always symmetric.
pub type Grudge = BTreeMap<String, Vec<String>>;

/// Each node cut off from every node not in its own component.
fn complete(components: &[Vec<String>]) -> Grudge {
    let mut g = Grudge::new();
    for (i, c) in components.iter().enumerate() {
        for n in c {
            let others: Vec<String> = components
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, o)| o.iter().cloned())
                .collect();
            g.insert(n.clone(), others);
        }
    }
    g
}

/// The grudge for `kind` over `nodes` (shuffled by `rng`). `Primary` isolates `nodes[0]`
/// (the caller puts the primary first).
pub fn grudge(kind: Kind, rng: &mut Rng, nodes: &[String]) -> Grudge {
    let mut v = nodes.to_vec();
    let n = v.len();
    if n < 2 {
        return Grudge::new();
    }
    match kind {
        Kind::Primary => {
            let (a, b) = v.split_at(1);
            complete(&[a.to_vec(), b.to_vec()])
        }
        Kind::One => {
            rng.shuffle(&mut v);
            let (a, b) = v.split_at(1);
            complete(&[a.to_vec(), b.to_vec()])
        }
        Kind::Halves => {
            rng.shuffle(&mut v);
            let (a, b) = v.split_at(n / 2);
            complete(&[a.to_vec(), b.to_vec()])
        }
        Kind::Bridge => {
            // Two halves that cannot talk, and one node that talks to both.
            rng.shuffle(&mut v);
            let half = (n - 1) / 2;
            let a = &v[..half];
            let b = &v[half + 1..];
            let mut g = Grudge::new();
            for x in a {
                g.insert(x.clone(), b.to_vec());
            }
            for x in b {
                g.insert(x.clone(), a.to_vec());
            }
            g.insert(v[half].clone(), Vec::new());
            g
        }
        Kind::Ring => {
            // Node i sees a majority centred on itself in a shuffled ring, so every node
            // sees a majority and no two see the same one.
            rng.shuffle(&mut v);
            let m = n / 2 + 1;
            let lo = (m - 1) / 2;
            let hi = m - 1 - lo;
            let mut g = Grudge::new();
            for i in 0..n {
                let mut seen = vec![false; n];
                for d in 0..=lo {
                    seen[(i + n - d) % n] = true;
                }
                for d in 0..=hi {
                    seen[(i + d) % n] = true;
                }
                let drops = (0..n).filter(|&j| !seen[j]).map(|j| v[j].clone()).collect();
                g.insert(v[i].clone(), drops);
            }
            // Make it symmetric: if a drops b, b drops a.
            let pairs: Vec<(String, String)> = g
                .iter()
                .flat_map(|(a, bs)| bs.iter().map(move |b| (a.clone(), b.clone())))
                .collect();
            for (a, b) in pairs {
                let e = g.entry(b).or_default();
                if !e.contains(&a) {
                    e.push(a);
                }
            }
            for d in g.values_mut() {
                d.sort();
            }
            g
        }
    }
}

fn grudge_value(kind: Kind, g: &Grudge) -> Value {
    Value::Map(vec![
        ("kind".into(), kind.name().into()),
        (
            "grudge".into(),
            Value::Map(
                g.iter()
                    .map(|(k, v)| (Value::Str(k.clone()), names(v)))
                    .collect(),
            ),
        ),
    ])
}

fn grudge_of(value: &Value) -> Grudge {
    let mut g = Grudge::new();
    if let Some(Value::Map(pairs)) = value.get("grudge") {
        for (k, v) in pairs {
            if let Some(k) = k.as_str() {
                let drops = v
                    .as_list()
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect();
                g.insert(k.to_string(), drops);
            }
        }
    }
    g
}

/// The partition nemesis; `kind` None chooses a kind at random for each fault.
pub struct Partition {
    kind: Option<Kind>,
}

impl Partition {
    pub fn new(kind: Option<&str>) -> Option<Partition> {
        Some(Partition {
            kind: match kind {
                Some(k) => Some(Kind::parse(k)?),
                None => None,
            },
        })
    }
}

const EXEC_TIMEOUT: Duration = Duration::from_secs(10);

fn rule(ip: &str) -> Vec<String> {
    ["INPUT", "-s", ip, "-j", "DROP", "-w"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Runs `iptables <op> <rule>` on `node`.
async fn iptables(
    cluster: &Cluster,
    node: &str,
    op: &str,
    rule: &[String],
) -> Result<(), NemesisError> {
    let mut args = vec![op.to_string()];
    args.extend(rule.iter().cloned());
    let out = cluster
        .env
        .exec(node, "iptables", &args, EXEC_TIMEOUT)
        .await?;
    if out.success() {
        Ok(())
    } else {
        Err(NemesisError::Failed(format!(
            "node {node}: iptables {}: {}",
            args.join(" "),
            out.stderr.trim()
        )))
    }
}

/// The DROP rules installed, so healing removes exactly those.
pub(crate) struct Rules {
    pub cluster: Cluster,
    /// (node, rule arguments after -A/-D)
    pub rules: Vec<(String, Vec<String>)>,
}

impl Rules {
    pub(crate) async fn remove(self) -> Result<(), NemesisError> {
        let mut first = Ok(());
        for (node, r) in self.rules.iter().rev() {
            if let Err(e) = iptables(&self.cluster, node, "-D", r).await {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }

    /// Adds `rule` on `node` and remembers it; on failure, removes what was added. The rule is
    /// inserted first in its chain (`-I CHAIN 1`), so a host's own earlier ACCEPT rules (real
    /// hosts over SSH have them) cannot shadow the fault; `-D` removes it wherever it ended up.
    pub(crate) async fn add(&mut self, node: &str, rule: Vec<String>) -> Result<(), NemesisError> {
        let mut insert = rule.clone();
        if !insert.is_empty() {
            insert.insert(1, "1".to_string());
        }
        iptables(&self.cluster, node, "-I", &insert).await?;
        self.rules.push((node.to_string(), rule));
        Ok(())
    }
}

impl FaultGuard for Rules {
    fn heal(self: Box<Self>) -> BoxFuture<'static, Result<(), NemesisError>> {
        Box::pin(async move { self.remove().await })
    }
}

impl Nemesis for Partition {
    fn name(&self) -> &str {
        "partition"
    }

    fn plan(&self, rng: &mut Rng, nodes: &[String]) -> Fault {
        let kind = self
            .kind
            .unwrap_or_else(|| Kind::ALL[rng.below(Kind::ALL.len() as u64) as usize]);
        let value = if kind == Kind::Primary {
            // Who the primary is is known only at install time.
            Value::Map(vec![("kind".into(), kind.name().into())])
        } else {
            grudge_value(kind, &grudge(kind, rng, nodes))
        };
        Fault {
            start: "start-partition".into(),
            stop: "stop-partition".into(),
            value,
        }
    }

    fn install<'a>(
        &'a self,
        cluster: &'a Cluster,
        fault: &'a Fault,
    ) -> BoxFuture<'a, Result<Installed, NemesisError>> {
        Box::pin(async move {
            let mut value = fault.value.clone();
            let mut g = grudge_of(&value);
            if value.get("kind").and_then(Value::as_str) == Some(Kind::Primary.name()) {
                let primary = cluster.target.primary().ok_or_else(|| {
                    NemesisError::NotApplicable(format!(
                        "target {} has no primary to isolate",
                        cluster.target.name()
                    ))
                })?;
                let p = primary.primary().await.ok_or_else(|| {
                    NemesisError::NotApplicable("no node claims to be primary now".into())
                })?;
                let mut nodes = cluster.nodes();
                nodes.retain(|n| *n != p);
                nodes.insert(0, p);
                g = grudge(Kind::Primary, &mut Rng::new(0), &nodes);
                value = grudge_value(Kind::Primary, &g);
            }
            let mut rules = Rules {
                cluster: cluster.clone(),
                rules: Vec::new(),
            };
            for (node, drops) in &g {
                for d in drops {
                    let ip = cluster.env.node(d)?.ip.to_string();
                    if let Err(e) = rules.add(node, rule(&ip)).await {
                        let _ = rules.remove().await;
                        return Err(e);
                    }
                }
            }
            Ok(Installed {
                guard: Box::new(rules),
                value,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    fn symmetric(g: &Grudge) -> bool {
        g.iter()
            .all(|(a, bs)| bs.iter().all(|b| g.get(b).is_some_and(|x| x.contains(a))))
    }

    #[test]
    fn halves_split_into_two_sides_that_drop_each_other() {
        let g = grudge(Kind::Halves, &mut Rng::new(3), &nodes(5));
        assert!(symmetric(&g));
        let mut sizes: Vec<usize> = g.values().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, [2, 2, 2, 3, 3]);
    }

    #[test]
    fn ring_leaves_every_node_a_distinct_majority() {
        let all = nodes(5);
        let g = grudge(Kind::Ring, &mut Rng::new(4), &all);
        assert!(symmetric(&g));
        let mut views = Vec::new();
        for n in &all {
            let sees: Vec<&String> = all.iter().filter(|m| !g[n].contains(m)).collect();
            assert_eq!(sees.len(), 3, "{n} sees {sees:?}");
            views.push(sees);
        }
        views.sort();
        views.dedup();
        assert_eq!(views.len(), 5);
    }

    #[test]
    fn bridge_has_one_node_that_sees_everyone() {
        let g = grudge(Kind::Bridge, &mut Rng::new(5), &nodes(5));
        assert!(symmetric(&g));
        assert_eq!(g.values().filter(|d| d.is_empty()).count(), 1);
        assert_eq!(g.values().filter(|d| d.len() == 2).count(), 4);
    }

    #[test]
    fn one_and_primary_isolate_a_single_node() {
        let g = grudge(Kind::Primary, &mut Rng::new(0), &nodes(3));
        assert_eq!(g["n1"], ["n2", "n3"]);
        assert_eq!(g["n2"], ["n1"]);
        let g = grudge(Kind::One, &mut Rng::new(9), &nodes(3));
        assert_eq!(g.values().filter(|d| d.len() == 2).count(), 1);
    }

    #[test]
    fn plans_follow_the_seed_and_round_trip_through_the_value() {
        let p = Partition::new(None).unwrap();
        let a: Vec<Fault> = {
            let mut r = Rng::new(11);
            (0..10).map(|_| p.plan(&mut r, &nodes(5))).collect()
        };
        let mut r = Rng::new(11);
        assert!(a.iter().all(|f| *f == p.plan(&mut r, &nodes(5))));
        let h = Partition::new(Some("halves"))
            .unwrap()
            .plan(&mut Rng::new(1), &nodes(4));
        assert_eq!(
            grudge_of(&h.value),
            grudge(Kind::Halves, &mut Rng::new(1), &nodes(4))
        );
    }
}
