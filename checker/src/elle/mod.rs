//! Elle-style transactional checking (Kingsbury & Alvaro, "Elle: Inferring Isolation
//! Anomalies from Experimental Observations", VLDB 2020), over Adya's dependency graphs
//! ("Weak Consistency", 1999).
//!
//! Two workloads, in Elle's micro-op form (`f = "txn"`):
//! - [`ListAppend`]: `[["append", k, v], ["r", k, [1, 2, 3]]]`. Reads show the order of
//!   appends, so version orders are recovered almost completely.
//! - [`RwRegister`]: `[["w", k, v], ["r", k, v]]`. Version orders are inferred by weaker,
//!   documented rules (see [`versions`]) and are incomplete.
//!
//! The pipeline: read transactions ([`txns`]); infer version orders ([`versions`]); find the
//! anomalies that need no cycle and build ww / wr / rw edges ([`append`], [`register`]); add
//! process and real-time edges and freeze the graph ([`graph`]); split it into strongly
//! connected components and search each for the shortest cycle of each shape ([`cycles`],
//! [`classify`]); explain each cycle ([`explain`]); and decide which consistency models the
//! anomalies rule out ([`models`]).
//!
//! | model                              | forbids (directly, or through a weaker model it implies) |
//! |------------------------------------|----------------------------------------------------------|
//! | read-uncommitted                   | G0, duplicate-elements, cyclic-versions, garbage-read    |
//! | read-committed                     | + G1 (G1a, G1b, G1c, and what implies them)              |
//! | cursor-stability                   | + lost-update                                            |
//! | repeatable-read                    | + G2-item (so G-single, G-nonadjacent)                   |
//! | snapshot-isolation                 | read-committed, lost-update, internal, G-nonadjacent (so G-single) |
//! | serializable                       | repeatable-read + snapshot-isolation, G2                 |
//! | strong-session-read-uncommitted    | read-uncommitted + G0-process                            |
//! | strong-read-uncommitted            | + G0-realtime                                            |
//! | strong-session-read-committed      | read-committed + G1c-process                             |
//! | strong-read-committed              | + G1c-realtime                                           |
//! | strong-session-snapshot-isolation  | snapshot-isolation + G1-process, G-nonadjacent-process   |
//! | strong-snapshot-isolation          | + G1-realtime, G-nonadjacent-realtime                    |
//! | strong-session-serializable        | serializable + G1-process, G2-process                    |
//! | strict-serializable                | everything above, G1c-realtime, G2-realtime              |
//!
//! The table is data: [`models::MODELS`] and [`models::IMPLIED`]; `docs/elle.md` explains it.
//!
//! ```
//! use faultline_checker::elle::ListAppend;
//! use faultline_checker::{Budget, Checker, Validity};
//! use faultline_core::dsl::{la, Builder};
//!
//! // Write skew: each transaction misses the other's append.
//! let mut b = Builder::new();
//! b.txn(0, la("rx_ ry_ ax1")).txn(1, la("rx_ ry_ ay1"))
//!     .ok(0, la("rx_ ry_ ax1")).ok(1, la("rx_ ry_ ay1"))
//!     .txn_ok(2, la("rx1 ry1"));
//! let v = ListAppend::default().check(&b.build(), &Budget::unlimited());
//! assert_eq!(v.valid, Validity::Invalid);
//! assert_eq!(v.kinds(), vec!["G2-item"]);
//! assert!(v.models.kept.contains(&"snapshot-isolation".to_string()));
//! ```

pub mod append;
pub mod classify;
pub mod cycles;
pub mod explain;
pub mod graph;
pub mod models;
pub mod register;
pub mod simulate;
pub mod txns;
pub mod versions;

use std::collections::{BTreeMap, BTreeSet};

use faultline_core::History;

use crate::verdict::{Anomaly, Budget, Validity, Verdict};
use crate::Checker;
use explain::DataExplainer;
use graph::{DepGraph, EdgeList, ALL, DATA, PROCESS, REALTIME};
use txns::{Outcome, Txns, Workload};

/// What to check against, and how hard to search.
#[derive(Clone, Debug)]
pub struct Options {
    /// The consistency models the history must satisfy (names from [`models::MODELS`]).
    /// Anomalies these models allow are not reported, though they still rule models out.
    pub models: Vec<String>,
    /// Add process-order edges (needed for the strong-session models).
    pub process: bool,
    /// Add real-time edges (needed for strict serializability and the strong models).
    pub realtime: bool,
    /// At most this many anomalies of each kind are kept; the rest are counted in stats.
    pub max_anomalies_per_kind: usize,
    /// Edges the cycle search may examine per shape and component, at least (it may always
    /// examine four times the component's edges).
    pub cycle_search_work: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            models: vec!["strict-serializable".to_string()],
            process: true,
            realtime: true,
            max_anomalies_per_kind: 16,
            cycle_search_work: 2_000_000,
        }
    }
}

impl Options {
    /// Checks against these models instead of strict serializability.
    pub fn models<S: Into<String>>(mut self, models: impl IntoIterator<Item = S>) -> Options {
        self.models = models.into_iter().map(Into::into).collect();
        self
    }

    pub fn realtime(mut self, on: bool) -> Options {
        self.realtime = on;
        self
    }

    pub fn process(mut self, on: bool) -> Options {
        self.process = on;
        self
    }
}

/// The list-append checker.
#[derive(Clone, Debug, Default)]
pub struct ListAppend {
    pub options: Options,
}

impl ListAppend {
    pub fn new(options: Options) -> ListAppend {
        ListAppend { options }
    }
}

impl Checker for ListAppend {
    fn name(&self) -> &str {
        "elle-list-append"
    }

    fn check(&self, history: &History, budget: &Budget) -> Verdict {
        run(
            self.name(),
            history,
            budget,
            &self.options,
            Workload::ListAppend,
            false,
        )
    }
}

/// The rw-register checker.
#[derive(Clone, Debug)]
pub struct RwRegister {
    pub options: Options,
    /// Infer `v < v'` when a committed transaction read `v` and then wrote `v'` to a key.
    pub writes_follow_reads: bool,
}

impl Default for RwRegister {
    fn default() -> Self {
        RwRegister {
            options: Options::default(),
            writes_follow_reads: true,
        }
    }
}

impl RwRegister {
    pub fn new(options: Options) -> RwRegister {
        RwRegister {
            options,
            ..RwRegister::default()
        }
    }
}

impl Checker for RwRegister {
    fn name(&self) -> &str {
        "elle-rw-register"
    }

    fn check(&self, history: &History, budget: &Budget) -> Verdict {
        run(
            self.name(),
            history,
            budget,
            &self.options,
            Workload::RwRegister,
            self.writes_follow_reads,
        )
    }
}

/// Anomalies as they are found, at most `cap` kept per kind, all counted.
pub struct Findings {
    cap: usize,
    pub anomalies: Vec<Anomaly>,
    pub counts: BTreeMap<String, usize>,
}

impl Findings {
    fn new(cap: usize) -> Findings {
        Findings {
            cap,
            anomalies: Vec::new(),
            counts: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, a: Anomaly) {
        let n = self.counts.entry(a.kind.clone()).or_insert(0);
        *n += 1;
        if *n <= self.cap {
            self.anomalies.push(a);
        }
    }
}

/// The analysis a workload leaves behind: something that explains its data edges.
enum Analysis<'t> {
    List(append::ListAppend<'t>),
    Register(register::RwRegister<'t>),
}

impl Analysis<'_> {
    fn explainer(&self) -> &dyn DataExplainer {
        match self {
            Analysis::List(a) => a,
            Analysis::Register(r) => r,
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Analysis::List(a) => a.bytes(),
            Analysis::Register(r) => r.bytes(),
        }
    }
}

/// Infers version orders, collects the anomalies that need no cycle, and gathers every
/// edge the options ask for.
fn analyse<'t>(
    history: &History,
    txns: &'t Txns,
    options: &Options,
    workload: Workload,
    writes_follow_reads: bool,
    found: &mut Findings,
) -> Result<(Analysis<'t>, EdgeList), String> {
    let mut edges = EdgeList::default();
    let analysis = match workload {
        Workload::ListAppend => append::analyse(txns, &mut edges, found).map(Analysis::List)?,
        Workload::RwRegister => register::analyse(txns, writes_follow_reads, &mut edges, found)
            .map(Analysis::Register)?,
    };
    if options.process {
        graph::process_edges(txns, &mut edges);
    }
    if options.realtime {
        graph::realtime_edges(history, txns, &mut edges);
    }
    Ok((analysis, edges))
}

/// A history's inferred dependency graph, for tools and tests.
pub struct Inferred {
    pub graph: DepGraph,
    /// Per vertex: the history index naming its transaction (completion, else invocation).
    pub index: Vec<u64>,
    /// Whether each vertex's transaction failed (failed transactions have no edges).
    pub failed: Vec<bool>,
}

/// Builds the dependency graph the checker searches, with the edges `options` ask for.
pub fn infer(
    history: &History,
    workload: Workload,
    options: &Options,
    writes_follow_reads: bool,
) -> Result<Inferred, String> {
    let txns = Txns::from_history(history, workload).map_err(|e| e.to_string())?;
    let mut found = Findings::new(1);
    let (_, edges) = analyse(
        history,
        &txns,
        options,
        workload,
        writes_follow_reads,
        &mut found,
    )?;
    Ok(Inferred {
        graph: DepGraph::new(txns.len(), edges),
        index: txns.txns.iter().map(|t| t.index()).collect(),
        failed: txns
            .txns
            .iter()
            .map(|t| t.outcome == Outcome::Fail)
            .collect(),
    })
}

fn run(
    name: &str,
    history: &History,
    budget: &Budget,
    options: &Options,
    workload: Workload,
    writes_follow_reads: bool,
) -> Verdict {
    let unknown_models: Vec<&String> = options
        .models
        .iter()
        .filter(|m| models::model(m).is_none())
        .collect();
    if !unknown_models.is_empty() {
        let known: Vec<&str> = models::MODELS.iter().map(|m| m.name).collect();
        return Verdict::unknown(
            name,
            format!(
                "unknown consistency model {:?}; known models are {}",
                unknown_models,
                known.join(", ")
            ),
        );
    }
    let txns = match Txns::from_history(history, workload) {
        Ok(t) => t,
        Err(e) => return Verdict::unknown(name, format!("cannot read the transactions: {e}")),
    };
    if txns.is_empty() {
        return Verdict::unknown(
            name,
            "the history has no transactions (ops with f = \"txn\")",
        );
    }
    // Each transaction read and each edge inferred counts as a search state, so
    // `--max-states` bounds the analysis too, not only the cycle search.
    let mut memory = txns.bytes();
    if let Err(e) = budget
        .spend(txns.len() as u64)
        .and(budget.check_memory(memory))
    {
        return Verdict::unknown(name, e.to_string());
    }
    let mut found = Findings::new(options.max_anomalies_per_kind.max(1));
    let (analysis, edges) = match analyse(
        history,
        &txns,
        options,
        workload,
        writes_follow_reads,
        &mut found,
    ) {
        Ok(x) => x,
        Err(reason) => return Verdict::unknown(name, reason),
    };
    memory += analysis.bytes() + edges.bytes();
    if let Err(e) = budget
        .spend(edges.len() as u64)
        .and(budget.check_memory(memory))
    {
        return Verdict::unknown(name, e.to_string());
    }
    let g = DepGraph::new(txns.len(), edges);
    memory += g.bytes();
    if let Err(e) = budget.check().and(budget.check_memory(memory)) {
        return Verdict::unknown(name, e.to_string());
    }

    let present = DATA
        | if options.process { PROCESS } else { 0 }
        | if options.realtime { REALTIME } else { 0 };
    let components = graph::sccs(&g, ALL);
    let limits = cycles::Limits {
        present,
        work: options.cycle_search_work,
    };
    let mut incomplete: BTreeSet<&'static str> = BTreeSet::new();
    let mut stopped = None;
    for scc in &components {
        match cycles::search_scc(&g, scc, limits, budget) {
            Ok(r) => {
                incomplete.extend(r.incomplete);
                for c in &r.cycles {
                    found.push(explain::cycle_anomaly(
                        history,
                        &txns,
                        analysis.explainer(),
                        c,
                    ));
                }
            }
            Err(e) => {
                stopped = Some(e.to_string());
                break;
            }
        }
    }

    // Shapes that were never searched (their edges are off) or not searched to the end.
    let mut unsearched: BTreeSet<&'static str> = incomplete.clone();
    for s in classify::SPECS {
        if s.allowed() & !present != 0 {
            unsearched.insert(s.kind);
        }
    }
    let mut verdict = Verdict::valid(name);
    let found_kinds: Vec<&str> = found.counts.keys().map(|k| k.as_str()).collect();
    let ruled_out = models::ruled_out(found_kinds.iter().copied());
    let forbidden: BTreeSet<&str> = options
        .models
        .iter()
        .flat_map(|m| models::forbidden_by(m))
        .collect();
    verdict.models.ruled_out = ruled_out.iter().map(|m| m.to_string()).collect();
    verdict.models.kept = models::MODELS
        .iter()
        .filter(|m| !ruled_out.contains(&m.name))
        .filter(|m| stopped.is_none() && models::forbidden_by(m.name).is_disjoint(&unsearched))
        .map(|m| m.name.to_string())
        .collect();
    for a in found.anomalies {
        if forbidden.contains(a.kind.as_str()) {
            verdict.push(a);
        }
    }
    let blind: Vec<&&str> = forbidden.intersection(&unsearched).collect();
    if verdict.valid == Validity::Valid {
        if let Some(reason) = stopped {
            verdict = Verdict {
                valid: Validity::Unknown,
                unknown_reason: Some(format!("the cycle search stopped: {reason}")),
                ..verdict
            };
        } else if !blind.is_empty() {
            let why = if incomplete.iter().any(|k| forbidden.contains(k)) {
                "the cycle search ran out of work before it could rule out"
            } else {
                "the edges needed were turned off, so nothing rules out"
            };
            verdict = Verdict {
                valid: Validity::Unknown,
                unknown_reason: Some(format!(
                    "{why} {}",
                    blind
                        .iter()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                ..verdict
            };
        }
    }

    let count = |o: Outcome| txns.txns.iter().filter(|t| t.outcome == o).count();
    verdict.stat("txns", txns.len());
    verdict.stat("ok", count(Outcome::Ok));
    verdict.stat("info", count(Outcome::Info));
    verdict.stat("fail", count(Outcome::Fail));
    verdict.stat("keys", txns.keys.len());
    if txns.skipped > 0 {
        verdict.stat("skipped-non-txn-ops", txns.skipped);
    }
    for (bit, n) in g.count_kinds() {
        verdict.stat(&format!("edges-{}", graph::kind_name(bit)), n);
    }
    verdict.stat("sccs", components.len());
    verdict.stat("largest-scc", components.first().map_or(0, |c| c.len()));
    verdict.stat(
        "anomaly-counts",
        serde_json::to_value(&found.counts).unwrap_or_default(),
    );
    if !incomplete.is_empty() {
        verdict.stat(
            "cycle-search-incomplete",
            incomplete.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        );
    }
    verdict.stat("approx-memory-bytes", memory);
    verdict
}
