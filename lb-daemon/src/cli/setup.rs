//! keepalived options that change the process itself, applied before the
//! configuration is read: `-t LOG_FILE`, `-u`, `-m`/`-M` and `--namespace`.
use std::{
    fs::{File, OpenOptions},
    os::{fd::AsRawFd, unix::fs::OpenOptionsExt},
    path::Path,
};

use anyhow::{bail, Context, Result};
use nix::{
    sched::{setns, CloneFlags},
    sys::stat::{umask, Mode},
};
use tracing::warn;

use super::RunArgs;

/// Where named network namespaces live (`ip netns`, keepalived's netns_dir).
const NETNS_DIR: &str = "/run/netns";

/// `-t LOG_FILE`: stderr (and so every message of the test) is appended to
/// `file`, created 0644 without following a symlink, as keepalived does.
pub fn redirect_stderr(file: &Path) -> Result<()> {
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(file)
        .with_context(|| format!("Unable to open config-test log file {}", file.display()))?;
    // SAFETY: dup2 on two open descriptors; the standard one stays valid.
    if unsafe { libc::dup2(log.as_raw_fd(), libc::STDERR_FILENO) } == -1 {
        return Err(std::io::Error::last_os_error()).context("redirecting stderr");
    }
    Ok(())
}

/// Applies `-u`, `-m`/`-M` and `--namespace` (this thread must be the only
/// one: `setns` moves the calling thread only).
pub fn apply(args: &RunArgs) -> Result<()> {
    if let Some(mask) = &args.umask {
        match parse_umask(mask) {
            Some(mask) => {
                umask(Mode::from_bits_truncate(mask));
            }
            None => warn!("Invalid --umask option {mask}: the umask is left as it is"),
        }
    }
    if args.core_dump || args.core_dump_pattern.is_some() {
        unlimited_core_size();
    }
    if let Some(name) = &args.namespace {
        enter_namespace(name)?;
    }
    Ok(())
}

/// keepalived's `set_umask`: a number in C's notation (`022` octal, `0x12`
/// hexadecimal, `18` decimal) within 0777.
pub fn parse_umask(text: &str) -> Option<u32> {
    let value = if let Some(hex) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()?
    } else if text.len() > 1 && text.starts_with('0') {
        u32::from_str_radix(&text[1..], 8).ok()?
    } else {
        text.parse().ok()?
    };
    (value <= 0o777).then_some(value)
}

/// `-m`: no limit on the size of a core dump (or the hard limit when
/// raising it is not allowed).
fn unlimited_core_size() {
    let mut limit = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit/getrlimit with a valid struct.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_CORE, &limit) == 0 {
            return;
        }
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_CORE, &limit) == 0 {
                return;
            }
        }
    }
    warn!(
        "-m/--core-dump: cannot raise the core size limit: {}",
        std::io::Error::last_os_error()
    );
}

/// `--namespace NAME`: joins the network namespace `ip netns add NAME`
/// made. A missing namespace is an error, as in keepalived.
fn enter_namespace(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        bail!("invalid network namespace name `{name}`");
    }
    let path = Path::new(NETNS_DIR).join(name);
    let file = File::open(&path)
        .with_context(|| format!("network namespace {name}: opening {}", path.display()))?;
    setns(&file, CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering network namespace {name}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_in_c_notation() {
        assert_eq!(parse_umask("022"), Some(0o22));
        assert_eq!(parse_umask("0x12"), Some(0o22));
        assert_eq!(parse_umask("18"), Some(0o22));
        assert_eq!(parse_umask("0"), Some(0));
        assert_eq!(parse_umask("0777"), Some(0o777));
        for bad in ["", "1000", "0778", "09", "abc", "-1", "0x"] {
            assert_eq!(parse_umask(bad), None, "{bad}");
        }
    }
}
