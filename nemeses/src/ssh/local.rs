//! Is a host the controller's own machine? Stepping its clock would step ours, and that is
//! never allowed. Three signs, any one enough: the address is one of ours (loopback or an
//! interface address), the host reports our `/etc/machine-id`, or it reports our boot id
//! (network namespaces and containers on this machine share the kernel, hence the boot id).

use std::net::IpAddr;

/// The addresses of this machine's interfaces (in the controller's network namespace).
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we walk read-only and free exactly once.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return out;
        }
        let mut cur = head;
        while !cur.is_null() {
            let addr = (*cur).ifa_addr;
            if !addr.is_null() {
                match i32::from((*addr).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(addr as *const libc::sockaddr_in);
                        out.push(IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(addr as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    out
}

/// This machine's identity: (machine-id, boot id), each trimmed; empty when unreadable.
pub fn local_identity() -> (String, String) {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    (
        read("/etc/machine-id"),
        read("/proc/sys/kernel/random/boot_id"),
    )
}

/// The shell command whose output [`same_machine`] compares with ours.
pub const IDENTITY_SCRIPT: &str =
    "echo \"machine-id $(cat /etc/machine-id 2>/dev/null)\"; echo \"boot-id $(cat /proc/sys/kernel/random/boot_id 2>/dev/null)\"";

/// Why `ip` / the remote identity say the host is the controller's machine, if they do.
pub fn same_machine(ip: IpAddr, remote_identity: &str) -> Option<String> {
    if ip.is_loopback() || ip.is_unspecified() {
        return Some(format!("{ip} is a loopback address"));
    }
    if local_addresses().contains(&ip) {
        return Some(format!(
            "{ip} is an address of the controller's own interfaces"
        ));
    }
    let (machine_id, boot_id) = local_identity();
    for line in remote_identity.lines() {
        match line.split_once(' ') {
            Some(("machine-id", v)) if !v.trim().is_empty() && v.trim() == machine_id => {
                return Some(format!("it has the controller's /etc/machine-id ({machine_id})"))
            }
            Some(("boot-id", v)) if !v.trim().is_empty() && v.trim() == boot_id => {
                return Some("it has the controller's boot id (same kernel: a namespace or container on this machine)".into())
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_this_machine() {
        assert!(same_machine("127.0.0.1".parse().unwrap(), "").is_some());
        assert!(same_machine("::1".parse().unwrap(), "").is_some());
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(IDENTITY_SCRIPT)
            .output()
            .unwrap();
        let ours = String::from_utf8_lossy(&out.stdout).into_owned();
        // 198.51.100.7 (TEST-NET-2) is nobody's address; the identity alone must give us away.
        let ip = "198.51.100.7".parse().unwrap();
        if local_identity() != (String::new(), String::new()) {
            assert!(same_machine(ip, &ours).is_some(), "{ours}");
        }
        assert!(same_machine(ip, "machine-id 0123\nboot-id abcd\n").is_none());
        assert!(
            same_machine(ip, "machine-id \nboot-id \n").is_none(),
            "empty ids match nothing"
        );
    }
}
