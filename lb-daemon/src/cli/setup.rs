//! keepalived options that change the process itself, applied before the
//! configuration is read: `-t LOG_FILE`, `-u`, `-m`/`-M` and `--namespace`,
//! and the configuration's own `net_namespace` and `instance`.
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
use tracing::{info, warn};

use super::RunArgs;
use crate::config;

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

/// keepalived's top-level `net_namespace` and `instance` in configuration
/// `path`: they choose the
/// namespace and the runtime directory, so they are read before anything
/// else (the configuration is read again, and its errors reported, when
/// the daemon loads it). `--namespace` wins over `net_namespace`, as
/// keepalived's `-s` does. A configuration check (`testing`) stays in this
/// namespace when the configured one does not exist here.
pub fn follow_config(args: &mut RunArgs, path: &Path, testing: bool) {
    let Ok(loaded) = config::load(path) else {
        return;
    };
    let config::Config {
        net_namespace,
        instance,
        ..
    } = loaded.config;
    match (&args.namespace, net_namespace) {
        (Some(given), Some(configured)) if *given != configured => info!(
            "Overriding config net_namespace '{configured}' with command line namespace '{given}'"
        ),
        (None, Some(configured)) if testing && !Path::new(NETNS_DIR).join(&configured).exists() => {
            warn!("net_namespace {configured} does not exist: interfaces are checked here")
        }
        (None, configured) => args.namespace = configured,
        _ => {}
    }
    args.instance = instance;
    args.name_runtime_dir();
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
    use crate::cli::compat::parse_from;

    /// `args` (after the program name) with `conf` as the configuration,
    /// after [`follow_config`].
    fn followed(conf: &str, args: &str, testing: bool) -> RunArgs {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.conf");
        std::fs::write(&path, conf).unwrap();
        let line = format!("lb-daemon -f {} {args}", path.display());
        let mut run = parse_from(line.split_whitespace()).unwrap().run;
        follow_config(&mut run, &path, testing);
        run
    }

    #[test]
    fn net_namespace_and_instance_name_the_namespace_and_the_runtime_dir() {
        // Names no test creates in /run/netns.
        let conf = "net_namespace lb-test-absent\ninstance web\n";
        let run = followed(conf, "", false);
        assert_eq!(run.namespace.as_deref(), Some("lb-test-absent"));
        assert_eq!(
            run.runtime_dir,
            Path::new("/run/lb-daemon/lb-test-absent/instance-web")
        );
        let given = followed(conf, "-s red", false);
        assert_eq!(given.namespace.as_deref(), Some("red"));
        assert_eq!(
            given.runtime_dir,
            Path::new("/run/lb-daemon/red/instance-web")
        );
        let dir = followed(conf, "--runtime-dir /run/x", false);
        assert_eq!(dir.runtime_dir, Path::new("/run/x"));
        // A configuration check stays here when the namespace is not here.
        let testing = followed(conf, "", true);
        assert_eq!(testing.namespace, None);
        assert_eq!(
            testing.runtime_dir,
            Path::new("/run/lb-daemon/instance-web")
        );
        let plain = followed("vrrp_script s {\n script /bin/true\n}\n", "", false);
        assert_eq!(
            (plain.namespace, plain.runtime_dir),
            (None, Path::new("/run/lb-daemon").into())
        );
    }

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
