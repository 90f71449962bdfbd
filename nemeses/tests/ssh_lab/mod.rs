//! Hosts for the `ssh` environment's end-to-end tests, built on this machine: one network
//! namespace per host on a bridge made for the run (per-run names, no default route, no
//! NAT), each running Debian's `sshd` on its namespace address with a host key generated
//! for the run, and a client key the hosts accept. Everything is removed when the [`Lab`]
//! drops, on success, failure and panic alike.
//!
//! Used by `nemeses/tests/ssh_*.rs` and, through `#[path]`, by the root package's
//! `tests/ssh_*.rs`.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the end-to-end tests cannot run here, if they cannot.
pub fn skip_reason() -> Option<String> {
    if std::env::var("FAULTLINE_E2E").as_deref() != Ok("1") {
        return Some("set FAULTLINE_E2E=1 (as root) to run the ssh end-to-end tests".into());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        return Some("the ssh end-to-end tests need root (namespaces, sshd)".into());
    }
    for tool in ["ip", "ssh-keygen", "/usr/sbin/sshd", "iptables"] {
        let found = if tool.starts_with('/') {
            Path::new(tool).exists()
        } else {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        if !found {
            return Some(format!("{tool} is not installed (Debian: openssh-server, openssh-client, iproute2, iptables)"));
        }
    }
    None
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// How many live labs use /run/sshd, and whether a lab made it.
static PRIVSEP_USERS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
static MADE_PRIVSEP: std::sync::Mutex<bool> = std::sync::Mutex::new(false);

pub struct LabHost {
    pub name: String,
    pub ns: String,
    pub ip: Ipv4Addr,
    /// The host key's public half, `ssh-ed25519 AAAA... comment`.
    pub host_pub: String,
}

pub struct Lab {
    pub id: String,
    pub dir: tempfile::TempDir,
    pub hosts: Vec<LabHost>,
    /// The controller's address on the bridge.
    pub controller: Ipv4Addr,
    pub client_key: PathBuf,
    /// A known_hosts file holding every host's real key.
    pub known_hosts: PathBuf,
    bridge: String,
    sshd: Vec<Child>,
    made_privsep_dir: bool,
}

fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Lab {
    /// Builds `n` hosts named n1..nN.
    pub fn start(n: usize) -> Result<Lab, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let seed = (std::process::id() ^ nanos) & 0xfffff;
        let id = format!("{seed:05x}");
        // A /24 no route on this machine uses yet, so packets can only go to our bridge.
        let routes = run("ip", &["-4", "route", "show", "table", "all"]).unwrap_or_default();
        let (mut a, mut b) = (100 + (seed % 100) as u8, (seed >> 8) as u8);
        for _ in 0..50 {
            if !routes.contains(&format!("10.{a}.{b}.")) {
                break;
            }
            b = b.wrapping_add(1);
            a = 100 + (a - 99) % 100;
        }
        let dir = tempfile::Builder::new()
            .prefix("fl-ssh-lab-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let mut lab = Lab {
            id: id.clone(),
            hosts: Vec::new(),
            controller: Ipv4Addr::new(10, a, b, 254),
            client_key: dir.path().join("client_key"),
            known_hosts: dir.path().join("known_hosts"),
            bridge: format!("flsb{id}"),
            sshd: Vec::new(),
            made_privsep_dir: false,
            dir,
        };
        lab.build(n, a, b)?;
        Ok(lab)
    }

    fn build(&mut self, n: usize, a: u8, b: u8) -> Result<(), String> {
        let d = self.dir.path().to_path_buf();
        let key = self
            .client_key
            .to_str()
            .ok_or("temp path is not UTF-8")?
            .to_string();
        run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "faultline-test-client",
                "-f",
                &key,
            ],
        )?;
        std::fs::copy(format!("{key}.pub"), d.join("authorized_keys"))
            .map_err(|e| e.to_string())?;
        // sshd insists on its privilege-separation directory; Debian makes it only when the
        // service starts. Make it if absent and remove it afterwards if we made it.
        // Labs in one test binary share it, so the last one out removes it.
        {
            let mut users = PRIVSEP_USERS.lock().unwrap_or_else(|p| p.into_inner());
            if *users == 0 && !Path::new("/run/sshd").exists() {
                std::fs::create_dir_all("/run/sshd").map_err(|e| format!("/run/sshd: {e}"))?;
                *MADE_PRIVSEP.lock().unwrap_or_else(|p| p.into_inner()) = true;
            }
            *users += 1;
            self.made_privsep_dir = true;
        }
        run("ip", &["link", "add", &self.bridge, "type", "bridge"])?;
        run("ip", &["link", "set", &self.bridge, "up"])?;
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/24", self.controller),
                "dev",
                &self.bridge,
            ],
        )?;
        let mut known = String::new();
        for i in 1..=n {
            let name = format!("n{i}");
            let ns = format!("flsn{}{}", self.id, i);
            let veth = format!("flsv{}{}", self.id, i);
            let ip = Ipv4Addr::new(10, a, b, i as u8);
            // Record before creating, so Drop removes even a half-made host.
            self.hosts.push(LabHost {
                name: name.clone(),
                ns: ns.clone(),
                ip,
                host_pub: String::new(),
            });
            run("ip", &["netns", "add", &ns])?;
            run(
                "ip",
                &[
                    "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ],
            )?;
            run("ip", &["link", "set", &veth, "master", &self.bridge, "up"])?;
            run(
                "ip",
                &["-n", &ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"],
            )?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            let host_key = d.join(format!("host_{name}"));
            let hk = host_key.to_str().ok_or("temp path is not UTF-8")?;
            run(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    &format!("faultline-test-{name}"),
                    "-f",
                    hk,
                ],
            )?;
            let host_pub =
                std::fs::read_to_string(format!("{hk}.pub")).map_err(|e| e.to_string())?;
            let mut parts = host_pub.split_whitespace();
            let (kind, b64) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            known.push_str(&format!("{ip} {kind} {b64}\n"));
            self.hosts.last_mut().expect("pushed above").host_pub = host_pub.trim().to_string();
            let config = d.join(format!("sshd_{name}.conf"));
            std::fs::write(
                &config,
                format!(
                    "ListenAddress {ip}:22\nHostKey {hk}\nPidFile none\nAuthorizedKeysFile {ak}\n\
                     PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\n\
                     StrictModes no\nMaxStartups 100\nMaxSessions 100\nSubsystem sftp internal-sftp\n",
                    ak = d.join("authorized_keys").display()
                ),
            )
            .map_err(|e| e.to_string())?;
            let log = std::fs::File::create(d.join(format!("sshd_{name}.log")))
                .map_err(|e| e.to_string())?;
            // `ip netns exec` execs sshd in place, so this child's PID is sshd's.
            let child = Command::new("ip")
                .args(["netns", "exec", &ns, "/usr/sbin/sshd", "-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("starting sshd: {e}"))?;
            self.sshd.push(child);
        }
        std::fs::write(&self.known_hosts, known).map_err(|e| e.to_string())?;
        for h in &self.hosts {
            let addr = SocketAddr::from((h.ip, 22));
            let deadline = Instant::now() + Duration::from_secs(10);
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if Instant::now() > deadline {
                    let log = std::fs::read_to_string(d.join(format!("sshd_{}.log", h.name)))
                        .unwrap_or_default();
                    return Err(format!(
                        "sshd on {} did not listen within 10 s: {log}",
                        h.name
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// A hosts file for these hosts; `extra` is appended to every `[[host]]` table.
    pub fn hosts_file(&self, known_hosts: &Path, extra: &str) -> PathBuf {
        let mut s = format!(
            "known_hosts = {:?}\n\n[defaults]\nuser = \"root\"\nkey = {:?}\n",
            known_hosts, self.client_key
        );
        for h in &self.hosts {
            let dir = self.dir.path().join("hosts").join(&h.name);
            s.push_str(&format!(
                "\n[[host]]\nname = {:?}\naddress = \"{}\"\ndir = {:?}\n{extra}",
                h.name, h.ip, dir
            ));
        }
        let path = self.dir.path().join("hosts.toml");
        std::fs::write(&path, s).expect("writing the hosts file");
        path
    }

    /// Runs a command inside a host's namespace (for checks from the outside).
    pub fn in_ns(&self, host: usize, cmd: &[&str]) -> Result<String, String> {
        let mut args = vec!["netns", "exec", &self.hosts[host].ns];
        args.extend_from_slice(cmd);
        run("ip", &args)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.sshd {
            let _ = child.kill();
            let _ = child.wait();
        }
        for (i, h) in self.hosts.iter().enumerate() {
            // Our end first: the namespace may outlive `netns del` for a while (the kernel
            // frees it once its last socket is gone), and its veth with it.
            let _ = run("ip", &["link", "del", &format!("flsv{}{}", self.id, i + 1)]);
            let _ = run("ip", &["netns", "del", &h.ns]);
        }
        let _ = run("ip", &["link", "del", &self.bridge]);
        if self.made_privsep_dir {
            let mut users = PRIVSEP_USERS.lock().unwrap_or_else(|p| p.into_inner());
            *users -= 1;
            let mut made = MADE_PRIVSEP.lock().unwrap_or_else(|p| p.into_inner());
            if *users == 0 && *made {
                let _ = std::fs::remove_dir("/run/sshd");
                *made = false;
            }
        }
    }
}
