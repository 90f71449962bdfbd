//! What faults left on the hosts, so teardown can remove it even when a heal failed.
//!
//! In `netns`, deleting a namespace takes its iptables rules and qdiscs with it. Real hosts
//! have no such reset, so the environment watches the commands it runs: a successful
//! `iptables -A|-I CHAIN RULE...` is remembered until a matching `iptables -D CHAIN RULE...`
//! succeeds, a `tc qdisc add|replace dev D root ...` until `tc qdisc del dev D root`. At
//! teardown whatever is still remembered is undone, newest first. Only what this run added
//! is ever removed; the hosts' own rules are not touched.

use std::sync::Mutex;

/// Commands that undo what is still in force: (node, program, args).
#[derive(Debug, Default)]
pub struct UndoLedger {
    entries: Mutex<Vec<(String, String, Vec<String>)>>,
}

impl UndoLedger {
    /// Records a command that succeeded on `node`.
    pub fn observe(&self, node: &str, program: &str, args: &[String]) {
        let name = program.rsplit('/').next().unwrap_or(program);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match (name, args.first().map(String::as_str)) {
            ("iptables" | "ip6tables", Some("-A" | "--append" | "-I" | "--insert")) => {
                let mut undo = args.to_vec();
                undo[0] = "-D".into();
                // `-I CHAIN N RULE`: the position is not part of the rule.
                if matches!(args[0].as_str(), "-I" | "--insert")
                    && undo.get(2).is_some_and(|n| n.parse::<u32>().is_ok())
                {
                    undo.remove(2);
                }
                entries.push((node.into(), name.into(), undo));
            }
            ("iptables" | "ip6tables", Some("-D" | "--delete")) => {
                let done: Vec<String> = std::iter::once("-D".to_string())
                    .chain(args[1..].iter().cloned())
                    .collect();
                if let Some(i) = entries
                    .iter()
                    .rposition(|(n, p, a)| n == node && p == name && *a == done)
                {
                    entries.remove(i);
                }
            }
            ("tc", Some("qdisc")) => {
                let verb = args.get(1).map(String::as_str);
                let (dev, root) = (args.get(3).cloned(), args.get(4).map(String::as_str));
                if args.get(2).map(String::as_str) != Some("dev") || root != Some("root") {
                    return;
                }
                let Some(dev) = dev else { return };
                let undo = vec![
                    "qdisc".into(),
                    "del".into(),
                    "dev".into(),
                    dev,
                    "root".into(),
                ];
                match verb {
                    Some("add" | "replace")
                        if !entries
                            .iter()
                            .any(|(n, p, a)| n == node && p == "tc" && *a == undo) =>
                    {
                        entries.push((node.into(), "tc".into(), undo));
                    }
                    Some("del" | "delete") => {
                        entries.retain(|(n, p, a)| !(n == node && p == "tc" && *a == undo))
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Everything still in force, oldest first.
    pub fn snapshot(&self) -> Vec<(String, String, Vec<String>)> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Takes over entries recorded by an earlier controller.
    pub fn extend(&self, more: &[(String, String, Vec<String>)]) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(more);
    }

    /// Everything still in force, newest first, and forgets it.
    pub fn take(&self) -> Vec<(String, String, Vec<String>)> {
        let mut entries =
            std::mem::take(&mut *self.entries.lock().unwrap_or_else(|p| p.into_inner()));
        entries.reverse();
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn remembers_until_undone() {
        let l = UndoLedger::default();
        l.observe("n1", "iptables", &v("-A INPUT -s 10.0.0.2 -j DROP -w"));
        l.observe("n1", "iptables", &v("-A INPUT -s 10.0.0.3 -j DROP -w"));
        l.observe("n1", "iptables", &v("-D INPUT -s 10.0.0.2 -j DROP -w"));
        l.observe(
            "n2",
            "/usr/sbin/iptables",
            &v("-I INPUT 1 -s 10.0.0.1 -j DROP"),
        );
        l.observe(
            "n2",
            "tc",
            &v("qdisc add dev eth0 root tbf rate 1mbit burst 10kb latency 50ms"),
        );
        l.observe("n3", "tc", &v("qdisc add dev eth0 root tbf rate 1mbit"));
        l.observe("n3", "tc", &v("qdisc del dev eth0 root"));
        l.observe("n1", "iptables", &v("-S INPUT"));
        l.observe("n1", "tc", &v("qdisc show dev eth0"));
        assert_eq!(
            l.take(),
            vec![
                ("n2".into(), "tc".into(), v("qdisc del dev eth0 root")),
                (
                    "n2".into(),
                    "iptables".into(),
                    v("-D INPUT -s 10.0.0.1 -j DROP")
                ),
                (
                    "n1".into(),
                    "iptables".into(),
                    v("-D INPUT -s 10.0.0.3 -j DROP -w")
                ),
            ]
        );
        assert!(l.take().is_empty());
    }
}
