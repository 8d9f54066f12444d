//! What the soak must not leave behind once everything stopped: VIPs, XDP
//! attachments, pinned maps, programs, processes (zombies included) and,
//! after the teardown, namespaces.
use std::{collections::BTreeSet, path::PathBuf, time::Duration};

use anyhow::{Context, Result};

use super::config::VIPS;
use crate::{bpf, names, wait_until, Daemon, Lab};

/// What the run saw: every pin directory, XDP program and daemon process.
#[derive(Debug, Default)]
pub struct Seen {
    /// The fast path's pin directories.
    pub pins: BTreeSet<PathBuf>,
    /// XDP programs attached to a director's `eth0`.
    pub progs: BTreeSet<u32>,
    /// Daemon processes.
    pub pids: BTreeSet<u32>,
}

/// The daemon's pin directory, from its status.
pub fn pin_dir(daemon: &Daemon) -> Result<PathBuf> {
    let status = daemon.status()?;
    let dir = status["fast_path"]["pin_dir"]
        .as_str()
        .context("no fast_path.pin_dir")?;
    Ok(dir.into())
}

/// Leaks once the daemons and keepalived stopped (the lab still up).
pub fn after_stop(lab: &Lab, seen: &Seen) -> Vec<String> {
    let mut leaks = Vec::new();
    for dir in lab.directors() {
        let addrs = dir
            .ns()
            .ip(&["-4", "-o", "addr", "show", "dev", "eth0"])
            .unwrap_or_default();
        for (vip, _, _) in VIPS {
            if addrs.contains(&format!(" {vip}/")) {
                leaks.push(format!("{vip} still on {}", dir.role()));
            }
        }
        match bpf::xdp_attached(dir.ns(), "eth0") {
            Ok(ids) if ids.is_empty() => {}
            other => leaks.push(format!("XDP on {}'s eth0: {other:?}", dir.role())),
        }
        match dir.ns().pids() {
            Ok(pids) if pids.is_empty() => {}
            other => leaks.push(format!("processes in {}: {other:?}", dir.role())),
        }
    }
    leaks.extend(
        seen.pins
            .iter()
            .filter(|p| p.exists())
            .map(|p| format!("pin directory {}", p.display())),
    );
    let gone = wait_until(Duration::from_secs(5), Duration::from_millis(100), || {
        seen.progs.iter().all(|p| !bpf::prog_exists(*p))
    });
    if gone.is_err() {
        let left: Vec<u32> = seen
            .progs
            .iter()
            .copied()
            .filter(|p| bpf::prog_exists(*p))
            .collect();
        leaks.push(format!("XDP programs still loaded: {left:?}"));
    }
    leaks.extend(
        seen.pids
            .iter()
            .filter(|p| names::process_alive(**p))
            .map(|p| format!("daemon process {p} alive")),
    );
    leaks.extend(zombies().into_iter().map(|p| format!("zombie child {p}")));
    leaks
}

/// Leaks once the lab was torn down: namespaces named with `prefix`.
pub fn after_teardown(prefix: &str) -> Vec<String> {
    names::list_namespaces()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .map(|n| format!("namespace {n}"))
        .collect()
}

/// This process's children that exited and were never reaped.
fn zombies() -> Vec<u32> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let fields: Vec<&str> = stat
                    .rsplit_once(')')
                    .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
                fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str())
            })
        })
        .collect()
}
