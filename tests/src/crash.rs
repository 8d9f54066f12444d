//! Crash-consistency checks: what a director must look like once a daemon
//! restarted after `kill -9` has converged, whatever the moment it was
//! killed at (see `tests/tests/crash_consistency.rs`).
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{ensure, Context, Result};

use crate::{bpf, retry, wait_until, Daemon, Host};

/// How long a restarted daemon may take to converge.
pub const CONVERGE: Duration = Duration::from_secs(10);

/// What the kernel held of a daemon's fast path before it was killed.
#[derive(Debug, Clone, Default)]
pub struct Leftovers {
    /// Its program.
    pub prog: Option<u32>,
    /// Its pinned maps' ids.
    pub maps: BTreeSet<u32>,
}

/// The expected state of one director.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// Whether it should own the VIPs (MASTER) or not (BACKUP).
    pub owner: bool,
    /// The addresses its configuration gives the instance.
    pub vips: &'a [&'a str],
    /// Every address any configuration of the test gave it (one that is
    /// not in `vips` must be gone).
    pub all_vips: &'a [&'a str],
}

/// The addresses of `all` that `host` holds on eth0.
pub fn held_vips(host: &Host, all: &[&str]) -> Result<BTreeSet<String>> {
    let addrs = host.ns().ip(&["-o", "addr", "show", "dev", "eth0"])?;
    Ok(all
        .iter()
        .filter(|a| addrs.contains(&format!(" {a}/")))
        .map(|a| a.to_string())
        .collect())
}

/// The fast path's pin directory, from the daemon's status.
pub fn pin_dir(daemon: &Daemon) -> Result<PathBuf> {
    let status = daemon.status()?;
    let dir = status["fast_path"]["pin_dir"]
        .as_str()
        .with_context(|| format!("no fast_path.pin_dir in {}", status["fast_path"]))?;
    Ok(dir.into())
}

/// What `daemon` holds now: its program (found through its pinned maps)
/// and the pinned maps' ids.
pub fn holdings(daemon: &Daemon) -> Result<Leftovers> {
    let maps: BTreeSet<u32> = bpf::pinned_maps(&pin_dir(daemon)?)?.into_values().collect();
    let progs = bpf::programs_using(&maps)?;
    Ok(Leftovers {
        prog: progs.first().map(|p| p.id),
        maps,
    })
}

/// Checks once that `host`, run by `daemon`, is in the `expected` state and
/// nothing of `before` (what the killed daemon held) lingers: the VRRP
/// state, exactly the VIPs it should own, XDP attached (one program, the
/// daemon's) only when it owns them, every map pinned once and used by the
/// daemon's only program, the old program gone and each old map gone or
/// adopted, and the pid file naming the daemon.
pub fn check(host: &Host, daemon: &Daemon, expected: &Expected, before: &Leftovers) -> Result<()> {
    let status = daemon.status().context("control socket")?;
    let state = if expected.owner { "MASTER" } else { "BACKUP" };
    ensure!(
        status["vrrp"][0]["state"] == state,
        "state {} instead of {state}",
        status["vrrp"][0]["state"]
    );
    let want: BTreeSet<String> = match expected.owner {
        true => expected.vips.iter().map(|v| v.to_string()).collect(),
        false => BTreeSet::new(),
    };
    let have = held_vips(host, expected.all_vips)?;
    ensure!(have == want, "VIPs held: {have:?}, expected {want:?}");

    let pins = bpf::pinned_maps(&pin_dir(daemon)?)?;
    let names: BTreeSet<&str> = pins.keys().map(String::as_str).collect();
    let all: BTreeSet<&str> = lb_common::MAPS.into_iter().collect();
    ensure!(names == all, "pinned: {names:?}, expected {all:?}");
    let ids: BTreeSet<u32> = pins.values().copied().collect();
    let progs = bpf::programs_using(&ids)?;
    ensure!(
        progs.len() == 1 && progs[0].map_ids.is_superset(&ids),
        "programs using the pinned maps {pins:?}: {progs:?}"
    );
    let prog = progs[0].id;
    let attached = bpf::xdp_attached(host.ns(), "eth0")?;
    let want_attached = if expected.owner { vec![prog] } else { vec![] };
    ensure!(
        attached == want_attached,
        "XDP on eth0: {attached:?}, expected {want_attached:?} (the daemon's program is {prog})"
    );
    if let Some(old) = before.prog {
        ensure!(
            old == prog || !bpf::prog_exists(old),
            "the killed daemon's program {old} is still loaded"
        );
    }
    let stale: Vec<u32> = before
        .maps
        .iter()
        .filter(|m| !ids.contains(m) && bpf::map_exists(**m))
        .copied()
        .collect();
    ensure!(
        stale.is_empty(),
        "the killed daemon's maps {stale:?} linger"
    );

    let pid_file = daemon.runtime_dir().join("lb-daemon.pid");
    let pid = std::fs::read_to_string(&pid_file).context("reading the pid file")?;
    ensure!(
        pid.trim() == daemon.pid().to_string(),
        "pid file says {}, the daemon is {}",
        pid.trim(),
        daemon.pid()
    );
    Ok(())
}

/// Waits until [`check`] passes; the error is the last failure, with the
/// daemon's log.
pub fn converge(
    host: &Host,
    daemon: &Daemon,
    expected: &Expected,
    before: &Leftovers,
) -> Result<()> {
    retry(CONVERGE, Duration::from_millis(100), || {
        check(host, daemon, expected, before)
    })
    .with_context(|| {
        format!(
            "{} did not converge; log:\n{}",
            daemon.label(),
            daemon.log()
        )
    })
}

/// Checks that a daemon stopped cleanly left nothing: no address of
/// `all_vips` on `host`, no file in its runtime directory (pid file,
/// socket, records), no pin directory, and its program and maps (`held`)
/// gone (the kernel frees them shortly after the last reference).
pub fn check_clean_stop(
    host: &Host,
    runtime_dir: &Path,
    pin_dir: &Path,
    all_vips: &[&str],
    held: &Leftovers,
) -> Result<()> {
    let vips = held_vips(host, all_vips)?;
    ensure!(vips.is_empty(), "VIPs left after a clean stop: {vips:?}");
    let files: Vec<String> = std::fs::read_dir(runtime_dir)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    ensure!(files.is_empty(), "runtime directory not empty: {files:?}");
    ensure!(!pin_dir.exists(), "{} left", pin_dir.display());
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        held.prog.is_none_or(|p| !bpf::prog_exists(p))
            && held.maps.iter().all(|m| !bpf::map_exists(*m))
    })
    .with_context(|| format!("program or maps of {held:?} still loaded"))
}
