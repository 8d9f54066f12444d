//! Unique, recognisable namespace names and the sweeping of stale ones.
//!
//! Every namespace this library creates is named `lbt{pid}x{counter}-{role}`:
//! `pid` is the creating process, so all namespaces of one run share the
//! prefix `lbt{pid}x`, and a namespace whose creator is gone can be recognised
//! and removed by any later run without touching anybody else's namespaces.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Fixed start of every namespace name this library creates.
pub const LAB_PREFIX: &str = "lbt";

/// Directory where `ip netns` keeps its named namespaces.
pub const NETNS_DIR: &str = "/var/run/netns";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Prefix shared by every namespace of the current process: `lbt{pid}x`.
pub fn run_prefix() -> String {
    format!("{LAB_PREFIX}{}x", std::process::id())
}

/// A fresh prefix `lbt{pid}x{counter}-`, unique within this process and
/// (through the pid) among all processes alive at the same time.
pub fn unique_prefix() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}{n}-", run_prefix())
}

/// The pid that created namespace `name`, if the name follows the lab pattern
/// `lbt{pid}x{counter}-{role}`; `None` for any other name.
pub fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(LAB_PREFIX)?;
    let (pid, rest) = rest.split_once('x')?;
    let (counter, role) = rest.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(pid) || !all_digits(counter) || role.is_empty() {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with this pid exists and is not a zombie (a killed
/// process whose parent has not reaped it yet counts as gone).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may itself
        // contain parentheses: take what follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Names of all named network namespaces (`ip netns list`), best effort.
pub fn list_namespaces() -> Vec<String> {
    match std::fs::read_dir(NETNS_DIR) {
        Ok(dir) => dir
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Pids of the processes inside namespace `name` (`ip netns pids`), best effort.
pub fn namespace_pids(name: &str) -> Vec<i32> {
    Command::new("ip")
        .args(["netns", "pids", name])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Kill every process in namespace `name`, wait (bounded) for them to go, and
/// delete the namespace. Never panics; returns whether the namespace is gone.
pub fn destroy_namespace(name: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let pids = namespace_pids(name);
        if pids.is_empty() || Instant::now() > deadline {
            break;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("ip")
        .args(["netns", "del", name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    !Path::new(NETNS_DIR).join(name).exists()
}

/// Remove lab namespaces left behind by processes that no longer exist (for
/// instance a SIGKILLed test run). Namespaces not matching the lab pattern,
/// and those of live processes, are left alone. Returns the names removed.
/// XDP maps such runs' daemons left pinned go too.
pub fn sweep_stale() -> Vec<String> {
    crate::daemon::sweep_stale_pins();
    list_namespaces()
        .into_iter()
        .filter(|n| owner_pid(n).is_some_and(|pid| !process_alive(pid)))
        .filter(|n| destroy_namespace(n))
        .collect()
}

/// Delete every namespace created by the current process, killing the
/// processes inside. Meant for signal handlers and panic hooks of programs
/// that own a single lab (`cargo xtask lab`); tests rely on `Drop` instead,
/// since this also removes labs of other tests running in the same process.
pub fn cleanup_current_process() -> Vec<String> {
    let prefix = run_prefix();
    list_namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&prefix) && owner_pid(n).is_some())
        .filter(|n| destroy_namespace(n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_parses_only_lab_names() {
        assert_eq!(owner_pid("lbt123x4-client"), Some(123));
        assert_eq!(owner_pid("lbt123x4-sw"), Some(123));
        assert_eq!(owner_pid("lbt123x-client"), None);
        assert_eq!(owner_pid("lbtx4-client"), None);
        assert_eq!(owner_pid("lbt12ax4-client"), None);
        assert_eq!(owner_pid("lbt123x4-"), None);
        assert_eq!(owner_pid("lbt123x4client"), None);
        assert_eq!(owner_pid("blue"), None);
        assert_eq!(owner_pid("lbtest"), None);
    }

    #[test]
    fn process_alive_sees_self_and_not_reaped_children() {
        assert!(process_alive(std::process::id()));
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        thread::sleep(Duration::from_millis(200)); // exited, not yet reaped
        assert!(!process_alive(pid));
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }

    #[test]
    fn unique_prefixes_differ_and_share_run_prefix() {
        let (a, b) = (unique_prefix(), unique_prefix());
        assert_ne!(a, b);
        assert!(a.starts_with(&run_prefix()) && b.starts_with(&run_prefix()));
        assert_eq!(owner_pid(&format!("{a}role")), Some(std::process::id()));
    }
}
