//! The TOML file that describes a user's own system: how to start, stop and kill a node,
//! and which program speaks for a client. Errors name the file, the line and the field.
//!
//! ```toml
//! name = "toy-kv"
//! [node]
//! port = 7000
//! start = "python3 {dir}/toy-kv.py --listen {addr} --node {node} --peers {peers} --data {data_dir}"
//! # stop / kill: optional commands; without them SIGTERM / SIGKILL go to the start command's PID
//! [client]
//! command = "python3 {dir}/kv-client.py {addr}"
//! ```
//!
//! Placeholders: `{node}` (n1...), `{ip}`, `{port}`, `{addr}` (ip:port), `{data_dir}` (a
//! fresh directory per node), `{peers}` (every node's `name=addr`, comma-separated, in
//! order), `{pid}` (stop/kill only: the start command's PID), `{dir}` (the TOML file's
//! directory, absolute).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A parsed, validated target file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub port: u16,
    pub start: String,
    pub stop: Option<String>,
    pub kill: Option<String>,
    pub client: String,
    /// Milliseconds a client program may take to answer one op before it is `info`.
    pub client_timeout_ms: u64,
    /// The TOML file's directory, for `{dir}`.
    pub dir: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    node: NodeSection,
    client: ClientSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeSection {
    #[serde(default = "default_port")]
    port: u16,
    start: String,
    stop: Option<String>,
    kill: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSection {
    command: String,
    #[serde(default = "default_timeout")]
    timeout_ms: u64,
}

fn default_port() -> u16 {
    7000
}

fn default_timeout() -> u64 {
    2000
}

pub use crate::spec_error::SpecFileError as SpecError;

const NODE_PLACEHOLDERS: &[&str] = &["node", "ip", "port", "addr", "data_dir", "peers", "dir"];
const SIGNAL_PLACEHOLDERS: &[&str] = &[
    "node", "ip", "port", "addr", "data_dir", "peers", "dir", "pid",
];
const CLIENT_PLACEHOLDERS: &[&str] = &["node", "ip", "port", "addr", "peers", "dir"];

/// The 1-based line where `key = ` is set inside `[section]` (or the section header).
fn line_of(text: &str, section: &str, key: &str) -> usize {
    let mut in_section = section.is_empty();
    let mut header = 0;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            in_section = t.trim_matches(|c| c == '[' || c == ']').trim() == section;
            if in_section {
                header = i + 1;
            }
            continue;
        }
        if in_section {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim() == key {
                    return i + 1;
                }
            }
        }
    }
    header.max(1)
}

/// Names of the `{placeholders}` in a command.
pub fn placeholders(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = cmd;
    while let Some(a) = rest.find('{') {
        let Some(b) = rest[a..].find('}') else { break };
        out.push(rest[a + 1..a + b].to_string());
        rest = &rest[a + b + 1..];
    }
    out
}

/// Replaces `{name}` with values; unknown names are left as they are (validated earlier).
pub fn fill(cmd: &str, values: &[(&str, String)]) -> String {
    let mut s = cmd.to_string();
    for (k, v) in values {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

impl Spec {
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Read {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        let dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .and_then(|p| p.canonicalize().ok())
            .unwrap_or_else(|| PathBuf::from("."));
        Spec::parse(&path.display().to_string(), &text, dir)
    }

    pub fn parse(file: &str, text: &str, dir: PathBuf) -> Result<Spec, SpecError> {
        let f: File = toml::from_str(text).map_err(|e| SpecError::Toml {
            file: file.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let field_err = |section: &str, key: &str, message: String| SpecError::Field {
            file: file.to_string(),
            line: line_of(text, section, key),
            field: if section.is_empty() {
                key.to_string()
            } else {
                format!("{section}.{key}")
            },
            message,
        };
        let check = |section: &str, key: &str, cmd: &str, allowed: &[&str]| {
            if cmd.trim().is_empty() {
                return Err(field_err(section, key, "is empty".into()));
            }
            for p in placeholders(cmd) {
                if !allowed.contains(&p.as_str()) {
                    return Err(field_err(
                        section,
                        key,
                        format!("unknown placeholder {{{p}}}; known: {}", allowed.join(", ")),
                    ));
                }
            }
            Ok(())
        };
        if f.name.trim().is_empty() {
            return Err(field_err("", "name", "is empty".into()));
        }
        if f.node.port == 0 {
            return Err(field_err("node", "port", "must be 1-65535".into()));
        }
        check("node", "start", &f.node.start, NODE_PLACEHOLDERS)?;
        if let Some(s) = &f.node.stop {
            check("node", "stop", s, SIGNAL_PLACEHOLDERS)?;
        }
        if let Some(k) = &f.node.kill {
            check("node", "kill", k, SIGNAL_PLACEHOLDERS)?;
        }
        check("client", "command", &f.client.command, CLIENT_PLACEHOLDERS)?;
        if f.client.timeout_ms == 0 {
            return Err(field_err("client", "timeout_ms", "must be positive".into()));
        }
        Ok(Spec {
            name: f.name,
            port: f.node.port,
            start: f.node.start,
            stop: f.node.stop,
            kill: f.node.kill,
            client: f.client.command,
            client_timeout_ms: f.client.timeout_ms,
            dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"name = "toy"
[node]
port = 7100
start = "python3 {dir}/toy.py --listen {addr} --data {data_dir}"
[client]
command = "python3 {dir}/kv-client.py {addr}"
"#;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse("t.toml", text, PathBuf::from("/x"))
    }

    #[test]
    fn parses_a_good_file() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.port, 7100);
        assert_eq!(s.client_timeout_ms, 2000);
        assert_eq!(s.stop, None);
    }

    #[test]
    fn unknown_placeholder_names_file_line_and_field() {
        let bad = GOOD.replace("{data_dir}", "{datadir}");
        let e = parse(&bad).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.toml:4: field node.start: unknown placeholder {datadir}; known: node, ip, port, addr, data_dir, peers, dir"
        );
    }

    #[test]
    fn missing_and_unknown_fields_and_syntax_errors_say_where() {
        let missing = GOOD.replace("command =", "comand =");
        let e = parse(&missing).unwrap_err().to_string();
        assert!(e.starts_with("t.toml: ") && e.contains("comand"), "{e}");
        assert!(e.contains("line 6"), "{e}");
        let syntax = GOOD.replace("port = 7100", "port = = 7100");
        let e = parse(&syntax).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
        let empty = GOOD.replace("name = \"toy\"", "name = \"\"");
        assert_eq!(
            parse(&empty).unwrap_err().to_string(),
            "t.toml:1: field name: is empty"
        );
    }

    #[test]
    fn fills_placeholders() {
        assert_eq!(
            fill(
                "a {node} {addr} {x}",
                &[("node", "n1".into()), ("addr", "1:2".into())]
            ),
            "a n1 1:2 {x}"
        );
        assert_eq!(placeholders("{a} b {c}"), vec!["a", "c"]);
    }
}
