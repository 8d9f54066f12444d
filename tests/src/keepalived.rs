//! Debian's real `keepalived` running inside a lab namespace, as an interop
//! peer: VRRP only, in the foreground, logging to a captured console.
use std::{fs, process::Stdio, time::Duration};

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::{log::Log, Netns, NsChild};

/// Where Debian installs keepalived.
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// A running keepalived; dropping it stops the process group.
pub struct Keepalived {
    child: NsChild,
    _dir: TempDir,
    log: Log,
}

impl Keepalived {
    /// Starts keepalived with configuration `config` in `ns`; its console log
    /// is echoed to stderr as `[label] ...` and kept for assertions.
    pub fn start(ns: &Netns, config: &str, label: &str) -> Result<Keepalived> {
        let dir = tempfile::Builder::new().prefix("lb-keepalived").tempdir()?;
        let conf = dir.path().join("keepalived.conf");
        fs::write(&conf, config)?;
        let pid = |name: &str| dir.path().join(name).into_os_string();
        let mut cmd = ns.command(&[KEEPALIVED]);
        cmd.args([
            "--vrrp",
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
            "-f",
        ])
        .arg(&conf)
        .arg("-p")
        .arg(pid("keepalived.pid"))
        .arg("-r")
        .arg(pid("vrrp.pid"))
        .arg("-c")
        .arg(pid("checkers.pid"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = ns.spawn_command(cmd)?;
        let log = Log::default();
        let stdout = child
            .child_mut()
            .stdout
            .take()
            .context("keepalived stdout")?;
        let stderr = child
            .child_mut()
            .stderr
            .take()
            .context("keepalived stderr")?;
        log.capture(stdout, label);
        log.capture(stderr, label);
        Ok(Keepalived {
            child,
            _dir: dir,
            log,
        })
    }

    /// Everything keepalived logged so far.
    pub fn log(&self) -> String {
        self.log.contents()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<()> {
        self.log.wait_for(needle, timeout).context("keepalived")
    }

    /// Sends `signal` to keepalived's process group (parent and children).
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> Result<()> {
        self.child.signal(signal)
    }

    /// Waits for keepalived to exit, killing it after `grace`.
    pub fn wait(&mut self, grace: Duration) -> Result<()> {
        self.child.stop(grace).map(drop)
    }

    /// Stops keepalived (SIGTERM, then SIGKILL after a grace period).
    pub fn stop(&mut self) -> Result<()> {
        self.child.stop(Duration::from_secs(5)).map(drop)
    }
}
