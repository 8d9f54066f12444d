//! [`Pair`]: the lab's two directors with their configuration files, as
//! the VRRP tests run them.
use std::{fs, path::PathBuf};

use anyhow::Result;
use tempfile::TempDir;

use crate::{Daemon, Host, Lab, LabSpec};

/// Two directors on the lab's bridge and a directory for their
/// configuration files (`dir1.conf`, `dir2.conf`).
pub struct Pair {
    /// The lab (directors only).
    pub lab: Lab,
    /// Where the configuration files (and anything else a test writes) live.
    pub dir: TempDir,
}

impl Pair {
    /// Builds the lab.
    pub fn new() -> Result<Pair> {
        Ok(Pair {
            lab: Lab::new(LabSpec::directors_only(2))?,
            dir: tempfile::tempdir()?,
        })
    }

    /// Director `n` (1 or 2).
    pub fn host(&self, n: usize) -> &Host {
        self.lab.director(n)
    }

    /// Director `n`'s configuration file.
    pub fn path(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("dir{n}.conf"))
    }

    /// Writes director `n`'s configuration and starts its daemon.
    pub fn start(&self, n: usize, text: &str) -> Result<Daemon> {
        fs::write(self.path(n), text)?;
        Daemon::start(self.host(n).ns(), &self.path(n), &format!("dir{n}"))
    }

    /// Whether director `n` holds `address` (with its prefix, e.g.
    /// `192.0.2.50/24`) on eth0.
    pub fn holds(&self, n: usize, address: &str) -> bool {
        self.host(n)
            .ns()
            .ip(&["-o", "addr", "show", "dev", "eth0"])
            .is_ok_and(|a| a.contains(&format!(" {address} ")))
    }
}
