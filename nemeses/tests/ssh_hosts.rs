//! The `ssh` environment against real sshd servers in network namespaces (see `ssh_lab`).
//! Runs with FAULTLINE_E2E=1 as root; otherwise says why it skips.

mod ssh_lab;

use std::time::Duration;

use faultline_nemeses::ssh::{hosts, SshError, SshHosts, SshOptions};
use ssh_lab::Lab;

fn lab(n: usize) -> Option<Lab> {
    if let Some(why) = ssh_lab::skip_reason() {
        eprintln!("skipping: {why}");
        return None;
    }
    Some(Lab::start(n).unwrap_or_else(|e| panic!("building the ssh lab: {e}")))
}

fn connect(
    lab: &Lab,
    known_hosts: &std::path::Path,
    accept_new: bool,
) -> Result<SshHosts, SshError> {
    let file = hosts::load(&lab.hosts_file(known_hosts, "")).expect("lab hosts file parses");
    SshHosts::connect(
        file,
        SshOptions {
            accept_new_host_keys: accept_new,
            connect_timeout: Duration::from_secs(5),
            run_dir: Some(lab.dir.path().join("run")),
        },
    )
}

const T: Duration = Duration::from_secs(10);

#[test]
fn host_keys_are_checked() {
    let Some(lab) = lab(2) else { return };
    // Unknown: refused without the flag, and the file is left alone.
    let empty = lab.dir.path().join("kh_empty");
    std::fs::write(&empty, "").unwrap();
    let err = connect(&lab, &empty, false)
        .err()
        .expect("unknown host keys must be refused");
    let msg = err.to_string();
    assert!(
        msg.contains("is not in") && msg.contains("SHA256:"),
        "{msg}"
    );
    assert!(
        !msg.contains("BEGIN OPENSSH"),
        "no key material in errors: {msg}"
    );
    assert_eq!(std::fs::read_to_string(&empty).unwrap(), "");
    // Trust on first use with the flag: both hosts are learned, and then match without it.
    connect(&lab, &empty, true).expect("accept-new learns the keys");
    let learned = std::fs::read_to_string(&empty).unwrap();
    assert_eq!(learned.lines().count(), 2, "{learned}");
    for h in &lab.hosts {
        let b64 = h.host_pub.split_whitespace().nth(1).unwrap();
        assert!(
            learned.contains(&format!("{} ssh-ed25519 {b64}", h.ip)),
            "{learned}"
        );
    }
    connect(&lab, &empty, false).expect("learned keys match");
    // Hashed entries (Debian's ssh_config sets HashKnownHosts yes) match as well.
    let hashed = lab.dir.path().join("kh_hashed");
    std::fs::copy(&lab.known_hosts, &hashed).unwrap();
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-H", "-f"])
        .arg(&hashed)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(&hashed).unwrap();
    assert!(
        text.starts_with("|1|") && !text.contains(&lab.hosts[0].ip.to_string()),
        "{text}"
    );
    connect(&lab, &hashed, false).expect("hashed known_hosts entries match");
    // Changed: refused even with the flag.
    let other = lab.dir.path().join("other_key");
    let o = other.to_str().unwrap();
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f", o])
        .status()
        .unwrap();
    assert!(st.success());
    let other_b64 = std::fs::read_to_string(format!("{o}.pub"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let wrong = lab.dir.path().join("kh_wrong");
    let ip1 = lab.hosts[0].ip;
    let right2 = std::fs::read_to_string(&lab.known_hosts)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    std::fs::write(&wrong, format!("{ip1} ssh-ed25519 {other_b64}\n{right2}\n")).unwrap();
    let err = connect(&lab, &wrong, true)
        .err()
        .expect("a changed key must be refused");
    assert!(err.to_string().contains("CHANGED"), "{err}");
}

#[test]
fn commands_files_processes() {
    let Some(lab) = lab(3) else { return };
    let env = connect(&lab, &lab.known_hosts, false).expect("connect with the right known_hosts");
    assert_eq!(env.controller_ip(), Some(lab.controller.into()));

    // stdout, stderr and exit status, with quoting intact.
    let out = env
        .exec(
            "n1",
            "sh",
            &[
                "-c".into(),
                "echo \"out $1\"; echo err >&2; exit 3".into(),
                "sh".into(),
                "it's".into(),
            ],
            T,
        )
        .unwrap();
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (Some(3), "out it's\n", "err\n")
    );
    // The command ran inside n2's namespace: it sees n2's address.
    let out = env
        .exec(
            "n2",
            "ip",
            &[
                "-4".into(),
                "-o".into(),
                "addr".into(),
                "show".into(),
                "eth0".into(),
            ],
            T,
        )
        .unwrap();
    assert!(
        out.stdout.contains(&lab.hosts[1].ip.to_string()),
        "{}",
        out.stdout
    );
    // A deadline is kept, and the connection is usable afterwards.
    let err = env
        .exec("n1", "sleep", &["30".into()], Duration::from_secs(1))
        .unwrap_err();
    assert!(matches!(err, SshError::Timeout { .. }), "{err}");
    assert_eq!(env.exec("n1", "true", &[], T).unwrap().status, Some(0));

    // Upload through SFTP into each host's own directory (the hosts share our filesystem,
    // so the per-host path proves the file went through that host's SSH session).
    let payload = lab.dir.path().join("payload.bin");
    let bytes: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&payload, &bytes).unwrap();
    env.upload_all(&payload, "payload", 0o755).unwrap();
    for h in &lab.hosts {
        let remote = lab.dir.path().join("hosts").join(&h.name).join("payload");
        assert_eq!(std::fs::read(&remote).unwrap(), bytes, "{}", h.name);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&remote).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o755);
    }

    // Long-running processes: spawn, pause, resume, kill; logs land in the run directory.
    let sh = std::path::Path::new("/bin/sh");
    let pid = env
        .spawn(
            "n2",
            sh,
            &["-c".into(), "echo hello from $NODE; exec sleep 60".into()],
            &[("NODE".into(), "n2".into())],
            std::path::Path::new("/anywhere/sleeper.log"),
        )
        .unwrap();
    assert!(env.alive("n2", pid));
    env.signal("n2", pid, 19).unwrap();
    let state = env
        .exec(
            "n2",
            "sh",
            &["-c".into(), format!("grep ^State /proc/{pid}/status")],
            T,
        )
        .unwrap();
    assert!(state.stdout.contains("T (stopped)"), "{}", state.stdout);
    env.signal("n2", pid, 18).unwrap();
    // Only what this run started may be signalled.
    let err = env.signal("n2", 1, 9).unwrap_err();
    assert!(err.to_string().contains("refusing"), "{err}");
    env.signal("n2", pid, 9).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while env.alive("n2", pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!env.alive("n2", pid), "SIGKILL took effect");
    env.signal("n2", pid, 9)
        .expect("signalling a process that is gone is a no-op");

    // A process still running at teardown is stopped; logs are downloaded.
    let pid3 = env
        .spawn(
            "n3",
            sh,
            &["-c".into(), "echo n3 up; exec sleep 60".into()],
            &[],
            std::path::Path::new("n3.log"),
        )
        .unwrap();
    let errors = env.teardown();
    assert!(errors.is_empty(), "{errors:?}");
    let still = std::path::Path::new(&format!("/proc/{pid3}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid3}/cmdline"))
            .unwrap_or_default()
            .contains("sleep");
    assert!(!still, "teardown stops what the run started");
    let run = lab.dir.path().join("run/nodes");
    assert!(std::fs::read_to_string(run.join("n2/sleeper.log"))
        .unwrap()
        .contains("hello from n2"));
    assert!(std::fs::read_to_string(run.join("n3/n3.log"))
        .unwrap()
        .contains("n3 up"));
}

#[test]
fn partitions_clock_refusal_and_reconnects() {
    let Some(lab) = lab(2) else { return };
    let env = connect(&lab, &lab.known_hosts, false).unwrap();
    let (ip1, ip2) = (lab.hosts[0].ip.to_string(), lab.hosts[1].ip.to_string());
    let probe = |from: usize, to: &str| {
        lab.in_ns(
            from,
            &[
                "sh",
                "-c",
                &format!("timeout 2 bash -c '</dev/tcp/{to}/22' && echo open || echo closed"),
            ],
        )
        .unwrap()
    };
    assert_eq!(probe(1, &ip1).trim(), "open");
    // An iptables rule run over SSH lands in that host's own network stack.
    let rule = |op: &str| {
        vec![
            op.to_string(),
            "INPUT".into(),
            "-s".into(),
            ip2.clone(),
            "-j".into(),
            "DROP".into(),
        ]
    };
    assert_eq!(
        env.exec("n1", "iptables", &rule("-A"), T).unwrap().status,
        Some(0)
    );
    assert_eq!(probe(1, &ip1).trim(), "closed");
    assert_eq!(
        env.exec("n1", "true", &[], T).unwrap().status,
        Some(0),
        "the controller still reaches n1"
    );
    assert_eq!(
        env.exec("n1", "iptables", &rule("-D"), T).unwrap().status,
        Some(0)
    );
    assert_eq!(probe(1, &ip1).trim(), "open");

    // These hosts share the controller's kernel, so stepping their clock would step ours.
    let err = env.step_clock("n1", 5_000_000_000).unwrap_err().to_string();
    assert!(
        err.contains("refused") && err.contains("controller's own machine"),
        "{err}"
    );
    assert_eq!(env.clock_offset("n1"), 0);

    // Break the pooled connection from the server side; the next command reconnects.
    let ss = lab
        .in_ns(
            0,
            &["ss", "-Htnp", "state", "established", "( sport = :22 )"],
        )
        .unwrap();
    let pids: Vec<String> = ss
        .split("pid=")
        .skip(1)
        .filter_map(|s| {
            s.split(|c: char| !c.is_ascii_digit())
                .next()
                .map(str::to_string)
        })
        .collect();
    assert!(!pids.is_empty(), "a pooled connection is open: {ss}");
    for p in &pids {
        // These sshd processes are children of the lab's sshd: processes this test started.
        let _ = std::process::Command::new("kill").args(["-9", p]).status();
    }
    std::thread::sleep(Duration::from_millis(200));
    let out = env
        .exec("n1", "echo", &["back".into()], T)
        .expect("reconnects after the server dropped us");
    assert_eq!(out.stdout, "back\n");
    assert!(env.teardown().is_empty());
}

/// Through the harness's own trait and helpers: what targets and nemeses will call.
#[test]
fn env_trait_drives_daemons_and_refuses_clock_steps() {
    use faultline_core::env::{Env, Spawn};
    use faultline_core::target::{Clock, Daemons};
    use faultline_nemeses::ssh::SshEnv;
    use std::sync::Arc;

    let Some(lab) = lab(2) else { return };
    let hosts = connect(&lab, &lab.known_hosts, false).unwrap();
    let env = Arc::new(SshEnv::new(hosts, Some(lab.dir.path().join("run"))));
    let clock = env.host_clock();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(env.name(), "ssh");
        assert_eq!(env.nodes().len(), 2);
        assert_eq!(env.controller_ip(), Some(lab.controller.into()));
        let daemons = Daemons::new(env.clone());
        // Paths under the local run directory, as a target written for netns passes them.
        let run = lab.dir.path().join("run");
        let spawn = Spawn {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "mkdir -p \"$1\" && echo daemon on $(hostname -I) data $1; exec sleep 60".into(),
                "sh".into(),
                run.join("data/n1").display().to_string(),
            ],
            vars: vec![],
            log: run.join("n1.log"),
        };
        let pid = daemons.spawn("n1", &spawn).await.unwrap();
        assert!(env.alive("n1", pid).await);
        daemons.pause("n1").await.unwrap();
        daemons.resume("n1").await.unwrap();
        daemons.kill("n1").await.unwrap();
        assert!(!env.alive("n1", pid).await);
        let out = env.exec("n2", "hostname", &["-I".into()], T).await.unwrap();
        assert!(
            out.success() && out.stdout.contains(&lab.hosts[1].ip.to_string()),
            "{out:?}"
        );
        let err = env.exec("n9", "true", &[], T).await.unwrap_err();
        assert!(err.to_string().contains("n9"), "{err}");
        let err = clock.set_offset("n2", 3_000).await.unwrap_err().to_string();
        assert!(err.contains("controller's own machine"), "{err}");
        env.teardown().await.unwrap();
    });
    // The log came back to the path the target named; the data directory was the host's.
    let log = std::fs::read_to_string(lab.dir.path().join("run/n1.log")).unwrap();
    let host_dir = lab.dir.path().join("hosts/n1");
    let want = format!(
        "daemon on {} data {}/run/data/n1",
        lab.hosts[0].ip,
        host_dir.display()
    );
    assert!(log.contains(&want), "{log}");
    assert!(host_dir.join("run/data/n1").is_dir());
}

/// The harness's own nemeses, unchanged, over SSH: a partition is iptables on the hosts
/// (healed exactly), a slow link is a tbf qdisc on the interface the env found.
#[test]
fn harness_nemeses_work_over_ssh() {
    use faultline_core::env::Env;
    use faultline_core::nemesis::Cluster;
    use faultline_core::rng::Rng;
    use faultline_core::target::{Target, TargetError};
    use faultline_core::BoxFuture;
    use faultline_nemeses::ssh::SshEnv;
    use std::sync::Arc;

    /// Just the node names: the partition and net nemeses need nothing else from a target.
    struct Names(Vec<String>);
    impl Target for Names {
        fn name(&self) -> &str {
            "names"
        }
        fn nodes(&self) -> Vec<String> {
            self.0.clone()
        }
        fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>> {
            Box::pin(async { Ok(()) })
        }
        fn start<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
            Box::pin(async { Ok(()) })
        }
        fn stop<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
            Box::pin(async { Ok(()) })
        }
        fn kill<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
            Box::pin(async { Err(TargetError::Unsupported("kill")) })
        }
        fn pause<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
            Box::pin(async { Err(TargetError::Unsupported("pause")) })
        }
        fn resume<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
            Box::pin(async { Err(TargetError::Unsupported("resume")) })
        }
        fn client<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Box<dyn faultline_core::client::Client>, TargetError>> {
            Box::pin(async { Err(TargetError::Unsupported("client")) })
        }
        fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>> {
            Box::pin(async { Ok(()) })
        }
    }

    let Some(lab) = lab(3) else { return };
    let hosts = connect(&lab, &lab.known_hosts, false).unwrap();
    let env: Arc<SshEnv> = Arc::new(SshEnv::new(hosts, None));
    assert_eq!(env.interface(), "eth0", "found with ip route get");
    let names: Vec<String> = lab.hosts.iter().map(|h| h.name.clone()).collect();
    let cluster = Cluster {
        env: env.clone(),
        target: Arc::new(Names(names.clone())),
    };
    let rules = |i: usize| lab.in_ns(i, &["iptables", "-S", "INPUT"]).unwrap();
    let qdisc = |i: usize| {
        lab.in_ns(i, &["tc", "qdisc", "show", "dev", "eth0"])
            .unwrap()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let partition = faultline_nemeses::by_name("partition:one").unwrap();
        let fault = partition.plan(&mut Rng::new(7), &names);
        let installed = partition.install(&cluster, &fault).await.unwrap();
        let drops: usize = (0..3).map(|i| rules(i).matches("-j DROP").count()).sum();
        assert_eq!(drops, 4, "one node drops two peers, the two drop it");
        assert!(
            env.exec("n1", "true", &[], T).await.unwrap().success(),
            "the controller is spared"
        );
        installed.guard.heal().await.unwrap();
        assert!((0..3).all(|i| !rules(i).contains("DROP")), "healed exactly");

        let slow = faultline_nemeses::by_name("net:slow").unwrap();
        let fault = slow.plan(&mut Rng::new(3), &names);
        let installed = slow.install(&cluster, &fault).await.unwrap();
        assert!((0..3).any(|i| qdisc(i).contains("tbf")), "{}", qdisc(0));
        installed.guard.heal().await.unwrap();
        assert!((0..3).all(|i| !qdisc(i).contains("tbf")));

        // Faults never healed (a heal that failed, a run that ended abruptly) are removed by
        // teardown, as deleting a namespace removes them in netns.
        let fault = partition.plan(&mut Rng::new(8), &names);
        let _unhealed = partition.install(&cluster, &fault).await.unwrap();
        let fault = slow.plan(&mut Rng::new(4), &names);
        let _unhealed_too = slow.install(&cluster, &fault).await.unwrap();
        assert!((0..3).any(|i| rules(i).contains("DROP")));
        env.teardown().await.unwrap();
        assert!(
            (0..3).all(|i| !rules(i).contains("DROP")),
            "teardown removed the rules"
        );
        assert!(
            (0..3).all(|i| !qdisc(i).contains("tbf")),
            "teardown removed the qdiscs"
        );
    });
}

/// `sudo = true`: every command, spawn and signal goes through `sudo -n sh -c`, with the
/// quoting intact.
#[test]
fn sudo_wraps_every_command() {
    let Some(lab) = lab(1) else { return };
    if !std::path::Path::new("/usr/bin/sudo").exists() {
        eprintln!("skipping: sudo is not installed here");
        return;
    }
    let file = hosts::load(&lab.hosts_file(&lab.known_hosts, "sudo = true\n")).unwrap();
    assert!(file.hosts[0].sudo);
    let env = SshHosts::connect(file, SshOptions::default()).unwrap();
    let out = env
        .exec(
            "n1",
            "sh",
            &[
                "-c".into(),
                "echo \"$SUDO_USER:$(id -u):$1\"".into(),
                "sh".into(),
                "a 'b' $c".into(),
            ],
            T,
        )
        .unwrap();
    assert_eq!(out.stdout, "root:0:a 'b' $c\n", "{out:?}");
    let pid = env
        .spawn(
            "n1",
            std::path::Path::new("/bin/sh"),
            &["-c".into(), "echo via $SUDO_USER; exec sleep 60".into()],
            &[],
            std::path::Path::new("s.log"),
        )
        .unwrap();
    assert!(env.alive("n1", pid));
    env.signal("n1", pid, 9).unwrap();
    assert!(env.teardown().is_empty());
}

/// Prints what SSH costs per operation (no assertion on time: the numbers are for people).
#[test]
fn measure_round_trips() {
    let Some(lab) = lab(1) else { return };
    let t0 = std::time::Instant::now();
    let env = connect(&lab, &lab.known_hosts, false).unwrap();
    let connect = t0.elapsed();
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let t = std::time::Instant::now();
            env.exec("n1", "true", &[], T).unwrap();
            t.elapsed()
        })
        .collect();
    times.sort();
    // The OpenSSH client against the same host, for comparison (a new connection each time).
    // A comparison only: a refused connection from the busy lab sshd skips it, not the test.
    let openssh: Option<Duration> = std::path::Path::new("/usr/bin/ssh")
        .exists()
        .then(|| {
            let t = std::time::Instant::now();
            for _ in 0..5 {
                let st = std::process::Command::new("/usr/bin/ssh")
                    .args(["-o", "BatchMode=yes", "-o"])
                    .arg(format!("UserKnownHostsFile={}", lab.known_hosts.display()))
                    .arg("-i")
                    .arg(&lab.client_key)
                    .arg(format!("root@{}", lab.hosts[0].ip))
                    .arg("true")
                    .status()
                    .unwrap();
                if !st.success() {
                    eprintln!("OpenSSH comparison skipped: ssh exited with {st}");
                    return None;
                }
            }
            Some(t.elapsed() / 5)
        })
        .flatten();
    let payload = lab.dir.path().join("big.bin");
    std::fs::write(&payload, vec![7u8; 16 << 20]).unwrap();
    let t = std::time::Instant::now();
    env.upload("n1", &payload, "big.bin", 0o644).unwrap();
    let upload = t.elapsed();
    eprintln!(
        "ssh lab: connect+prepare {:?}; exec round trip median {:?}, p90 {:?} (50 pooled); OpenSSH client `ssh host true` {:?} each; SFTP upload 16 MiB in {:?} ({:.0} MiB/s)",
        connect,
        times[25],
        times[45],
        openssh,
        upload,
        16.0 / upload.as_secs_f64()
    );
    assert!(env.teardown().is_empty());
}

/// A controller that dies mid-run leaves nodes running, rules in place and clocks stepped;
/// `ssh-state.json` in its run directory lets a later `recover` undo exactly that.
#[test]
fn a_dead_controllers_leftovers_are_recovered() {
    use faultline_nemeses::ssh::state;
    let Some(lab) = lab(2) else { return };
    let run_dir = lab.dir.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let env = connect(&lab, &lab.known_hosts, false).unwrap();
    let pid = env
        .spawn(
            "n1",
            std::path::Path::new("/bin/sh"),
            &["-c".into(), "exec sleep 60".into()],
            &[],
            &run_dir.join("n1.log"),
        )
        .unwrap();
    let ip2 = lab.hosts[1].ip.to_string();
    let rule = |op: &str| {
        vec![
            op.to_string(),
            "INPUT".into(),
            "-s".into(),
            ip2.clone(),
            "-j".into(),
            "DROP".into(),
        ]
    };
    assert!(env.exec("n1", "iptables", &rule("-A"), T).unwrap().status == Some(0));
    let saved: state::State =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join(state::FILE)).unwrap()).unwrap();
    assert_eq!(saved.processes.len(), 1);
    assert_eq!(
        saved.undo,
        vec![("n1".to_string(), "iptables".to_string(), rule("-D"))]
    );
    // The controller "dies": no teardown, no Drop.
    std::mem::forget(env);
    let done = state::recover(&run_dir, false).expect("recovers");
    assert!(done[0].contains("1 processes, 1 rules/qdiscs"), "{done:?}");
    assert!(!lab
        .in_ns(0, &["iptables", "-S", "INPUT"])
        .unwrap()
        .contains("DROP"));
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(!cmdline.contains("sleep"), "the node process was stopped");
    let after: state::State =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join(state::FILE)).unwrap()).unwrap();
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(
        state::recover(&run_dir, false).unwrap().len(),
        1,
        "a second cleanup finds nothing"
    );
}
