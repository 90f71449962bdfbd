//! The hosts file: which machines the `ssh` environment drives, and how to log in to each.
//!
//! ```toml
//! known_hosts = "~/.ssh/known_hosts"   # optional; relative paths are relative to this file
//!
//! [defaults]                           # optional; any host field except name and address
//! user = "admin"
//! key = "~/.ssh/id_ed25519"
//! sudo = true
//!
//! [[host]]
//! name = "n1"
//! address = "10.0.0.11"
//! port = 22                            # default 22
//! # agent = true                       # instead of key: use the running ssh-agent
//! # passphrase_env = "N1_KEY_PASS"     # the key's passphrase, read from this variable
//! # dir = "/var/tmp/faultline/n1"      # where uploads and logs live on the host
//! # interface = "ens3"                 # for tc; default: the route to the other hosts
//! ```
//!
//! Errors name the file, the line and the field. Secrets never enter this struct: a
//! passphrase is named by the environment variable that holds it and read at login time.

use std::collections::BTreeSet;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// A bad hosts file: where, which field, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}")]
pub struct HostsError {
    pub file: PathBuf,
    pub line: usize,
    pub field: String,
    pub message: String,
}

/// How to authenticate to a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// A private key file; the passphrase (if any) is in the named environment variable.
    Key {
        path: PathBuf,
        passphrase_env: Option<String>,
    },
    /// Whatever keys the running ssh-agent (`SSH_AUTH_SOCK`) offers.
    Agent,
}

/// One host, with defaults applied and paths resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// As written (a name or an address); used for TCP and for the known_hosts lookup.
    pub address: String,
    /// `address` resolved once at load time, so nodes have a stable IP in histories.
    pub ip: IpAddr,
    pub port: u16,
    pub user: String,
    pub auth: Auth,
    /// Run every command through `sudo -n` (non-interactive: fails instead of prompting).
    pub sudo: bool,
    /// The host's working directory for uploads and logs.
    pub dir: String,
    /// The interface its peers' traffic uses (for tc); found with `ip route get` if unset.
    pub interface: Option<String>,
}

impl Host {
    /// The known_hosts name of this host: `addr`, or `[addr]:port` off port 22 (OpenSSH's form).
    pub fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.address.clone()
        } else {
            format!("[{}]:{}", self.address, self.port)
        }
    }
}

/// A parsed hosts file.
#[derive(Clone, Debug)]
pub struct HostsFile {
    pub path: PathBuf,
    pub known_hosts: PathBuf,
    pub hosts: Vec<Host>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    known_hosts: Option<Spanned<String>>,
    #[serde(default)]
    defaults: Option<Spanned<RawHost>>,
    #[serde(default)]
    host: Vec<Spanned<RawHost>>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    name: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    user: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    agent: Option<Spanned<bool>>,
    passphrase_env: Option<Spanned<String>>,
    sudo: Option<Spanned<bool>>,
    dir: Option<Spanned<String>>,
    interface: Option<Spanned<String>>,
}

/// Reads and validates a hosts file.
pub fn load(path: &Path) -> Result<HostsFile, HostsError> {
    let text = std::fs::read_to_string(path).map_err(|e| HostsError {
        file: path.to_path_buf(),
        line: 0,
        field: "file".into(),
        message: e.to_string(),
    })?;
    parse(path, &text)
}

/// Parses hosts-file text; `path` names it in errors and anchors relative paths.
pub fn parse(path: &Path, text: &str) -> Result<HostsFile, HostsError> {
    let err = |offset: usize, field: &str, message: String| HostsError {
        file: path.to_path_buf(),
        line: line_of(text, offset),
        field: field.to_string(),
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        // toml's message repeats the location over several lines; the first line is the point.
        let message = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .to_string();
        let field = field_in(&message).to_string();
        err(offset, &field, message)
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let known_hosts = match &raw.known_hosts {
        Some(k) => resolve_path(base, k.get_ref()),
        None => home_dir()
            .map(|h| h.join(".ssh/known_hosts"))
            .ok_or_else(|| {
                err(
                    0,
                    "known_hosts",
                    "HOME is not set; name the known_hosts file explicitly".into(),
                )
            })?,
    };
    let defaults = raw
        .defaults
        .as_ref()
        .map(|d| d.get_ref().clone())
        .unwrap_or_default();
    for (field, set) in [
        ("name", defaults.name.as_ref()),
        ("address", defaults.address.as_ref()),
    ] {
        if let Some(v) = set {
            return Err(err(
                v.span().start,
                field,
                "must be set per host, not in [defaults]".into(),
            ));
        }
    }
    if raw.host.is_empty() {
        return Err(err(text.len(), "host", "no [[host]] entries".into()));
    }
    let mut hosts = Vec::new();
    let mut names = BTreeSet::new();
    for entry in &raw.host {
        let at = entry.span().start;
        let h = entry.get_ref();
        let name = h
            .name
            .as_ref()
            .ok_or_else(|| err(at, "name", "missing".into()))?;
        if !valid_name(name.get_ref()) {
            return Err(err(
                name.span().start,
                "name",
                format!(
                    "{:?}: use letters, digits, '-' and '_' (it names files and history events)",
                    name.get_ref()
                ),
            ));
        }
        if !names.insert(name.get_ref().clone()) {
            return Err(err(
                name.span().start,
                "name",
                format!("{:?} is used twice", name.get_ref()),
            ));
        }
        let address = h
            .address
            .as_ref()
            .ok_or_else(|| err(at, "address", "missing".into()))?;
        let port = match h.port.as_ref().or(defaults.port.as_ref()) {
            None => 22,
            Some(p) => u16::try_from(*p.get_ref())
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| {
                    err(
                        p.span().start,
                        "port",
                        format!("{} is not a TCP port", p.get_ref()),
                    )
                })?,
        };
        let ip = resolve(address.get_ref(), port)
            .map_err(|m| err(address.span().start, "address", m))?;
        let user = match h.user.as_ref().or(defaults.user.as_ref()) {
            Some(u) if !u.get_ref().is_empty() => u.get_ref().clone(),
            Some(u) => return Err(err(u.span().start, "user", "empty".into())),
            None => local_user().ok_or_else(|| {
                err(
                    at,
                    "user",
                    "missing (and no local user name to default to)".into(),
                )
            })?,
        };
        // A host's own key or agent setting overrides the defaults as a pair, so a host can
        // say `agent = true` under a default `key` without conflict.
        let (key, agent) = if h.key.is_some() || h.agent.is_some() {
            (h.key.as_ref(), h.agent.as_ref())
        } else {
            (defaults.key.as_ref(), defaults.agent.as_ref())
        };
        let passphrase_env = h
            .passphrase_env
            .as_ref()
            .or(defaults.passphrase_env.as_ref());
        let auth = match (key, agent.map(|a| (*a.get_ref(), a.span().start))) {
            (Some(k), Some((true, _))) => {
                return Err(err(
                    k.span().start,
                    "key",
                    "set key or agent = true, not both".into(),
                ))
            }
            (Some(k), _) => Auth::Key {
                path: resolve_path(base, k.get_ref()),
                passphrase_env: passphrase_env.map(|p| p.get_ref().clone()),
            },
            (None, Some((true, _))) => Auth::Agent,
            (None, Some((false, off))) => {
                return Err(err(
                    off,
                    "agent",
                    "agent = false and no key: name a key file".into(),
                ))
            }
            (None, None) => {
                return Err(err(
                    at,
                    "key",
                    "missing: set key = \"PATH\" or agent = true".into(),
                ))
            }
        };
        let sudo = h
            .sudo
            .as_ref()
            .or(defaults.sudo.as_ref())
            .map(|s| *s.get_ref())
            .unwrap_or(false);
        let dir = match h.dir.as_ref().or(defaults.dir.as_ref()) {
            Some(d) if d.get_ref().starts_with('/') => {
                d.get_ref().replace("{name}", name.get_ref())
            }
            Some(d) => {
                return Err(err(
                    d.span().start,
                    "dir",
                    "must be an absolute path".into(),
                ))
            }
            None => format!("/var/tmp/faultline/{}", name.get_ref()),
        };
        let interface = match h.interface.as_ref().or(defaults.interface.as_ref()) {
            Some(i) if valid_name(i.get_ref()) && i.get_ref().len() <= 15 => {
                Some(i.get_ref().clone())
            }
            Some(i) => {
                return Err(err(
                    i.span().start,
                    "interface",
                    format!("{:?} is not an interface name", i.get_ref()),
                ))
            }
            None => None,
        };
        hosts.push(Host {
            name: name.get_ref().clone(),
            address: address.get_ref().clone(),
            ip,
            port,
            user,
            auth,
            sudo,
            dir,
            interface,
        });
    }
    Ok(HostsFile {
        path: path.to_path_buf(),
        known_hosts,
        hosts,
    })
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn resolve(address: &str, port: u16) -> Result<IpAddr, String> {
    if address.is_empty() {
        return Err("empty".into());
    }
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Ok(ip);
    }
    (address, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {address:?}: {e}"))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| format!("{address:?} resolves to no address"))
}

/// `ssh`'s default login name: the local user's.
fn local_user() -> Option<String> {
    if let Some(u) = std::env::var("USER").ok().filter(|u| !u.is_empty()) {
        return Some(u);
    }
    // SAFETY: getpwuid returns a pointer into static storage or null; we copy out at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

fn home_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    // SAFETY: as in local_user.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_dir.is_null() {
            return None;
        }
        Some(PathBuf::from(
            std::ffi::CStr::from_ptr((*pw).pw_dir)
                .to_string_lossy()
                .into_owned(),
        ))
    }
}

/// `~/x` from HOME; relative paths from the hosts file's directory.
fn resolve_path(base: &Path, p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/") {
        if let Some(home) = home_dir() {
            return home.join(rest);
        }
    }
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Picks the field name out of serde's messages ("missing field `name`", "unknown field `x`").
fn field_in(message: &str) -> &str {
    message
        .split('`')
        .nth(1)
        .filter(|f| !f.is_empty())
        .unwrap_or("toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<HostsFile, HostsError> {
        parse(Path::new("/etc/fl/hosts.toml"), text)
    }

    #[test]
    fn defaults_apply_and_paths_resolve() {
        let f = p(r#"
known_hosts = "kh"
[defaults]
user = "admin"
key = "keys/id"
sudo = true
[[host]]
name = "n1"
address = "10.0.0.1"
[[host]]
name = "n2"
address = "10.0.0.2"
port = 2222
agent = true
sudo = false
dir = "/srv/fl/{name}"
"#)
        .unwrap();
        assert_eq!(f.known_hosts, PathBuf::from("/etc/fl/kh"));
        let (a, b) = (&f.hosts[0], &f.hosts[1]);
        assert_eq!(a.user, "admin");
        assert!(a.sudo);
        assert_eq!(
            a.auth,
            Auth::Key {
                path: "/etc/fl/keys/id".into(),
                passphrase_env: None
            }
        );
        assert_eq!(a.dir, "/var/tmp/faultline/n1");
        assert_eq!(a.known_hosts_name(), "10.0.0.1");
        assert_eq!(b.auth, Auth::Agent);
        assert!(!b.sudo);
        assert_eq!(b.port, 2222);
        assert_eq!(b.dir, "/srv/fl/n2");
        assert_eq!(b.known_hosts_name(), "[10.0.0.2]:2222");
    }

    #[test]
    fn errors_name_line_and_field() {
        let text = "[[host]]\nname = \"n1\"\naddress = \"10.0.0.1\"\nkey = \"k\"\n\n[[host]]\nname = \"n2\"\naddress = \"10.0.0.2\"\nport = 70000\nkey = \"k\"\n";
        let e = p(text).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (9, "port"), "{e}");
        assert!(
            e.to_string().starts_with("/etc/fl/hosts.toml:9: port:"),
            "{e}"
        );

        let e = p("[[host]]\nname = \"n1\"\nkey = \"k\"\n").unwrap_err();
        assert_eq!(e.field, "address", "{e}");
        let e = p("[[host]]\nname = \"n1\"\naddress = \"10.0.0.1\"\n").unwrap_err();
        assert_eq!(e.field, "key", "{e}");
        let e = p("[[host]]\nname = \"n1\"\naddress = \"10.0.0.1\"\nkey = \"k\"\nagent = true\n")
            .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (4, "key"), "{e}");
        let e =
            p("[[host]]\nname = \"n1\"\naddress = \"10.0.0.1\"\nkey = \"k\"\npasword = \"x\"\n")
                .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (5, "pasword"), "{e}");
        let e = p("[[host]]\nname = \"n1\"\naddress = \"10.0.0.1\"\nkey = \"k\"\n[[host]]\nname = \"n1\"\naddress = \"10.0.0.2\"\nkey = \"k\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (6, "name"), "{e}");
        let e = p("[defaults]\naddress = \"10.0.0.1\"\n[[host]]\nname = \"n1\"\n").unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "address"), "{e}");
        let e = p("[[host]]\nname = \"a b\"\naddress = \"10.0.0.1\"\nkey = \"k\"\n").unwrap_err();
        assert_eq!(e.field, "name", "{e}");
        let e = p("").unwrap_err();
        assert_eq!(e.field, "host", "{e}");
    }

    #[test]
    fn no_secret_fields_exist() {
        // A password field is refused rather than silently carried around.
        let e = p("[[host]]\nname = \"n1\"\naddress = \"10.0.0.1\"\npassword = \"hunter2\"\n")
            .unwrap_err();
        assert_eq!(e.field, "password");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
