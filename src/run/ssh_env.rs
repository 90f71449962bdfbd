//! `--env ssh --hosts FILE`: the run's nodes are the hosts in a hosts file, reached over SSH
//! (`faultline_nemeses::ssh`, docs/ssh.md). The node count is the number of hosts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use faultline_core::env::Env;
use faultline_nemeses::ssh::{hosts, SshEnv, SshHosts, SshOptions};

use super::settings::Settings;

/// Validates the environment settings before anything is made: a usage error (exit 2)
/// names the flag, or the hosts file's line and field. Sets `nodes` from the hosts file.
pub fn check(s: &mut Settings) -> Result<(), String> {
    match s.env.as_str() {
        "netns" => {
            if s.hosts.is_some() || s.accept_new_host_keys {
                return Err("--hosts and --accept-new-host-keys need --env ssh".into());
            }
            Ok(())
        }
        "ssh" => {
            if s.target == "memory" {
                return Err(
                    "--env ssh: the memory target runs in-process; use --target replica".into(),
                );
            }
            let path = s
                .hosts
                .as_ref()
                .ok_or("--env ssh needs --hosts FILE.toml (see docs/ssh.md)")?;
            let file = hosts::load(path).map_err(|e| e.to_string())?;
            s.nodes = file.hosts.len();
            Ok(())
        }
        other => Err(format!(
            "--env {other:?}: the environments are netns and ssh"
        )),
    }
}

/// Connects to every host (host keys checked, logins made, working directories ready).
pub async fn create(s: &Settings, run_dir: &Path) -> Result<Arc<dyn Env>, String> {
    let path = s.hosts.clone().ok_or("--env ssh needs --hosts")?;
    let options = SshOptions {
        accept_new_host_keys: s.accept_new_host_keys,
        connect_timeout: Duration::from_secs(10),
        run_dir: Some(run_dir.to_path_buf()),
    };
    let dir = run_dir.to_path_buf();
    let hosts = tokio::task::spawn_blocking(move || {
        let file = hosts::load(&path).map_err(|e| e.to_string())?;
        SshHosts::connect(file, options).map_err(|e| format!("connecting to the hosts: {e}"))
    })
    .await
    .map_err(|e| format!("connecting to the hosts: {e}"))??;
    let names: Vec<String> = hosts
        .hosts()
        .map(|h| format!("{} ({})", h.name, h.address))
        .collect();
    eprintln!(
        "faultline run: ssh hosts {}; the controller is {} to them",
        names.join(", "),
        hosts
            .controller_ip()
            .map(|i| i.to_string())
            .unwrap_or_else(|| "?".into())
    );
    Ok(Arc::new(SshEnv::new(hosts, Some(dir))))
}
