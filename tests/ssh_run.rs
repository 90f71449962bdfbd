//! `faultline run --env ssh` end to end: the built-in store on hosts reached over SSH (sshd
//! in network namespaces, see nemeses/tests/ssh_lab), with partitions and kills, checked
//! like a netns run. FAULTLINE_E2E=1 as root; otherwise it says why it skips.
//!
//! No clock faults here: these hosts share this machine's kernel and clock, so the ssh
//! environment refuses to step them (nemeses/tests/ssh_hosts.rs asserts the refusal).

#[path = "../nemeses/tests/ssh_lab/mod.rs"]
mod ssh_lab;

use std::path::Path;
use std::process::Command;

fn faultline(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("running faultline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn results(runs: &Path, test: &str) -> serde_json::Value {
    let latest = runs.join(test);
    let dir = std::fs::read_dir(&latest)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

fn run_dir(runs: &Path, test: &str) -> std::path::PathBuf {
    std::fs::read_dir(runs.join(test))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[test]
fn bad_hosts_files_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts.toml");
    std::fs::write(
        &hosts,
        "[[host]]\nname = \"n1\"\naddress = \"10.0.0.1\"\nport = 0\nkey = \"k\"\n",
    )
    .unwrap();
    let runs = dir.path().join("runs");
    let (code, _, err) = faultline(&[
        "run",
        "--env",
        "ssh",
        "--hosts",
        hosts.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("hosts.toml:4: port:"), "{err}");
    assert!(!runs.exists(), "nothing is made for a bad hosts file");
    let (code, _, err) = faultline(&["run", "--env", "ssh", "--runs-dir", runs.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--hosts"), "{err}");
    let (code, _, err) = faultline(&["run", "--env", "moon", "--runs-dir", runs.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn replica_over_ssh_with_partitions_and_kills() {
    if let Some(why) = ssh_lab::skip_reason() {
        eprintln!("skipping: {why}");
        return;
    }
    let lab = ssh_lab::Lab::start(3).unwrap_or_else(|e| panic!("building the ssh lab: {e}"));
    let hosts = lab.hosts_file(&lab.known_hosts, "");
    let runs = lab.dir.path().join("runs");
    let common = |test: &str, mode: &str, nemesis: &str| -> Vec<String> {
        [
            "run",
            "--runs-dir",
            runs.to_str().unwrap(),
            "--name",
            test,
            "--target",
            "replica",
            "--mode",
            mode,
            "--workload",
            "register",
            "--nemesis",
            nemesis,
            "--nemesis-interval",
            "1.5",
            "--time-limit",
            "12",
            "--concurrency",
            "4",
            "--rate",
            "40",
            "--seed",
            "7",
            "--nodes",
            "3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let over_ssh = |mut args: Vec<String>| {
        args.extend(["--env", "ssh", "--hosts", hosts.to_str().unwrap()].map(String::from));
        args
    };
    let run = |args: Vec<String>| {
        let (code, out, err) = faultline(&args.iter().map(String::as_str).collect::<Vec<_>>());
        eprintln!("{out}\n{err}");
        (code, out, err)
    };
    // Per checker, its verdict.
    let verdicts = |r: &serde_json::Value| -> std::collections::BTreeMap<String, String> {
        // `verdicts` in the reports' shape (`checkers` before it).
        r["verdicts"]
            .as_array()
            .or(r["checkers"].as_array())
            .expect("results.json lists the checkers' verdicts")
            .iter()
            .map(|c| {
                (
                    c["checker"].as_str().unwrap_or("?").to_string(),
                    c["valid"].to_string(),
                )
            })
            .collect()
    };

    // raft: the control group. Under partitions and kills no checker may find an anomaly,
    // over SSH as in netns (same seed, same schedule).
    let (code, out, err) = run(over_ssh(common("ssh-raft", "raft", "partition,kill")));
    let r = results(&runs, "ssh-raft");
    assert_eq!(r["harness_errors"], serde_json::json!([]), "{out}\n{err}");
    assert!(
        r["faults"]["injected"].as_u64().unwrap_or(0) > 0,
        "faults were injected: {r}"
    );
    assert_eq!(r["faults"]["heal_errors"], serde_json::json!([]));
    assert!(
        r["ops"]["ok"].as_u64().unwrap_or(0) > 0,
        "clients got answers over the bridge: {r}"
    );
    assert_ne!(code, 1, "raft shows no anomaly over ssh\n{out}");
    assert!(
        code == 0 || code == 3,
        "a verdict, not a harness failure: {code}\n{out}\n{err}"
    );
    let ssh_verdicts = verdicts(&r);
    assert!(
        !ssh_verdicts.values().any(|v| v == "\"invalid\""),
        "{ssh_verdicts:?}"
    );
    let (code_netns, out, err) = run(common("netns-raft", "raft", "partition,kill"));
    let r_netns = results(&runs, "netns-raft");
    assert_eq!(
        r_netns["harness_errors"],
        serde_json::json!([]),
        "{out}\n{err}"
    );
    assert_eq!(
        verdicts(&r_netns),
        ssh_verdicts,
        "the checkers find the same in netns and over ssh"
    );
    assert_eq!(code_netns, code);

    // Node logs came back from the hosts into the run directory, where netns leaves them.
    let dir = run_dir(&runs, "ssh-raft");
    for h in &lab.hosts {
        let log = dir.join(format!("{}.log", h.name));
        assert!(log.exists(), "{} downloaded", log.display());
        // The binary went to each host's own directory over SFTP.
        assert!(lab
            .dir
            .path()
            .join("hosts")
            .join(&h.name)
            .join("faultline")
            .exists());
    }

    // The state file a dead controller's cleanup would read says nothing is left.
    let (code, out, err) = faultline(&["cleanup", "--ssh-run", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("nothing left on the hosts"), "{out}");

    // Kills only, on leader-async: nodes are SIGKILLed over SSH and restarted.
    let (code, out, err) = run(over_ssh(common("ssh-async-kill", "leader-async", "kill")));
    let r = results(&runs, "ssh-async-kill");
    assert_eq!(r["harness_errors"], serde_json::json!([]), "{out}\n{err}");
    assert!(
        code == 0 || code == 1 || code == 3,
        "a verdict, not a harness failure: {code}"
    );
    let history =
        std::fs::read_to_string(run_dir(&runs, "ssh-async-kill").join("history.jsonl")).unwrap();
    assert!(history.contains("\"f\":\"kill\""), "kills were injected");
    assert!(r["faults"]["injected"].as_u64().unwrap_or(0) > 0, "{r}");
    assert_eq!(
        r["faults"]["heal_errors"],
        serde_json::json!([]),
        "restarted after each kill"
    );

    // And the checkers find over SSH what they find in netns (tests/run_e2e.rs): followers
    // read by a leader-async client while partitioned serve stale values. A few seeds bound
    // the chance that every partition missed the keys in use.
    let mut found = None;
    for seed in ["3", "4", "5"] {
        let name = format!("ssh-async-any-{seed}");
        let args = over_ssh(
            [
                "run",
                "--runs-dir",
                runs.to_str().unwrap(),
                "--name",
                &name,
                "--target",
                "replica",
                "--mode",
                "leader-async",
                "--reads",
                "any",
                "--workload",
                "register",
                "--nemesis",
                "partition",
                "--nemesis-interval",
                "2",
                "--time-limit",
                "12",
                "--concurrency",
                "9",
                "--rate",
                "200",
                "--seed",
                seed,
                "--nodes",
                "3",
            ]
            .map(String::from)
            .to_vec(),
        );
        let (code, out, err) = run(args);
        assert_eq!(
            results(&runs, &name)["harness_errors"],
            serde_json::json!([]),
            "{out}\n{err}"
        );
        if code == 1 {
            assert!(
                out.contains("INVALID") && out.contains("--env ssh --hosts"),
                "{out}"
            );
            found = Some(seed);
            break;
        }
        assert!(
            code == 0 || code == 3,
            "harness failure: {code}\n{out}\n{err}"
        );
    }
    assert!(found.is_some(), "no seed showed a stale read over ssh");

    // Nothing the runs started is left on the hosts.
    for i in 0..lab.hosts.len() {
        let left = lab
            .in_ns(i, &["sh", "-c", "ss -Htlnp | grep faultline || true"])
            .unwrap();
        assert_eq!(
            left.trim(),
            "",
            "no node left listening on {}",
            lab.hosts[i].name
        );
        let rules = lab.in_ns(i, &["iptables", "-S", "INPUT"]).unwrap();
        assert!(
            !rules.contains("DROP"),
            "partitions healed on {}: {rules}",
            lab.hosts[i].name
        );
    }
}
