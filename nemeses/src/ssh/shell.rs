//! The shell scripts the `ssh` environment sends. SSH runs one string through the remote
//! user's shell, so every argument is single-quoted here and nowhere else.

/// Quotes one word for a POSIX shell.
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@+%".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `program args...` as one quoted command line.
pub fn command_line(program: &str, args: &[String]) -> String {
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Wraps a script for `sudo -n` (never prompts: a host without passwordless sudo fails
/// at once with sudo's own message) when the host is configured for it.
pub fn with_sudo(script: &str, sudo: bool) -> String {
    if sudo {
        format!("sudo -n sh -c {}", quote(script))
    } else {
        script.to_string()
    }
}

/// Starts a long-running process detached from the SSH session (its own session via
/// `setsid`, stdin from /dev/null, output appended to `log`), and prints its PID and its
/// start time in clock ticks since boot. The pair identifies the process even after the
/// PID is reused, so a later signal never reaches a stranger.
pub fn spawn(
    dir: &str,
    program: &str,
    args: &[String],
    vars: &[(String, String)],
    log: &str,
) -> String {
    let env: String = vars
        .iter()
        .map(|(k, v)| format!("{}={} ", k, quote(v)))
        .collect();
    let log_dir = match log.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => log[..i].to_string(),
        None => dir.to_string(),
    };
    format!(
        "mkdir -p {d} {ld} && cd {d} && {{ {env}setsid {cmd} >>{log} 2>&1 </dev/null & }} && \
         p=$! && echo \"$p $({start})\"",
        d = quote(dir),
        ld = quote(&log_dir),
        cmd = command_line(program, args),
        log = quote(log),
        start = start_time("$p"),
    )
}

/// A shell expression printing field 22 (starttime) of /proc/PID/stat. The fields after
/// the command name start after its closing parenthesis (the name may hold spaces).
fn start_time(pid: &str) -> String {
    format!("sed 's/.*) //' /proc/{pid}/stat 2>/dev/null | cut -d' ' -f20")
}

/// Signals `pid` only if it is still the process that was started (same start time).
/// Prints `gone` when it is not: the caller decides whether that matters.
pub fn signal(pid: u32, start: &str, signal: i32) -> String {
    format!(
        "if [ \"$({st})\" = {start} ]; then kill -{signal} {pid}; else echo gone; fi",
        st = start_time(&pid.to_string()),
        start = quote(start),
    )
}

/// Exit status 0 when `pid` is alive with the recorded start time and not a zombie.
pub fn alive(pid: u32, start: &str) -> String {
    format!(
        "[ \"$({st})\" = {start} ] && ! grep -q '^State:.*Z' /proc/{pid}/status",
        st = start_time(&pid.to_string()),
        start = quote(start),
    )
}

/// Steps the wall clock by `offset_ns` (positive: forward) relative to its own reading, so
/// the time spent getting there is not lost. Prints the new time in nanoseconds.
pub fn step_clock(offset_ns: i64) -> String {
    // dash and bash both do 64-bit arithmetic; nanoseconds since 1970 fit until 2262.
    format!(
        "t=$(( $(date +%s%N) + ({offset_ns}) )) && \
         date -s \"@$(( t / 1000000000 )).$(printf %09d $(( t % 1000000000 )))\" >/dev/null && date +%s%N"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn sh(script: &str) -> (i32, String) {
        let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    #[test]
    fn quoting_survives_the_shell() {
        for w in [
            "plain",
            "",
            "a b",
            "it's",
            "$(rm -rf /)",
            "`x`",
            "a\nb",
            "\\",
            "'",
            "\"q\"",
        ] {
            let (code, out) = sh(&format!("printf %s {}", quote(w)));
            assert_eq!((code, out.as_str()), (0, w), "{w:?}");
        }
        assert_eq!(with_sudo("echo 'x'", false), "echo 'x'");
        let (_, out) = sh(&format!("sh -c {}", quote("echo 'x' \"$((1+1))\"")));
        assert_eq!(out, "x 2\n");
    }

    #[test]
    fn spawn_signal_alive_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let log = format!("{d}/logs/sleeper.log");
        let script = spawn(
            d,
            "sh",
            &["-c".into(), "echo started $X; exec sleep 30".into()],
            &[("X".into(), "a b".into())],
            &log,
        );
        let (code, out) = sh(&script);
        assert_eq!(code, 0, "{script}");
        let mut it = out.split_whitespace();
        let pid: u32 = it.next().unwrap().parse().unwrap();
        let start = it.next().unwrap().to_string();
        assert_eq!(sh(&alive(pid, &start)).0, 0);
        assert_ne!(
            sh(&alive(pid, "1")).0,
            0,
            "a different start time is a different process"
        );
        assert_eq!(sh(&signal(pid, "1", 9)).1, "gone\n");
        assert_eq!(sh(&signal(pid, &start, 9)).0, 0);
        // Reap: the process is our grandchild via setsid's fork-less exec, so poll until gone.
        for _ in 0..200 {
            if sh(&alive(pid, &start)).0 != 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_ne!(sh(&alive(pid, &start)).0, 0);
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains("started a b"), "{logged}");
    }

    #[test]
    fn clock_step_arithmetic() {
        // Only the arithmetic: replace `date -s` by echo so the machine's clock is untouched.
        let script = step_clock(-1_500_000_000).replace("date -s", "echo");
        let script = script.replace(">/dev/null && date +%s%N", "");
        let (code, out) = sh(&script);
        assert_eq!(code, 0);
        let out = out.trim().trim_start_matches('@');
        let (s, ns) = out.split_once('.').unwrap();
        assert_eq!(ns.len(), 9);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let s: i64 = s.parse().unwrap();
        assert!((now - 2..=now).contains(&s), "{s} vs {now}");
    }
}
