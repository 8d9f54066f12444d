//! keepalived keywords that act on the kernel, with the real daemon in the
//! lab: `promote_secondaries` is set on the instance's interface while it
//! runs and put back when it stops; `vrrp_startup_delay` holds instances
//! back after the daemon starts.
use std::{
    fs,
    time::{Duration, Instant},
};

use anyhow::{ensure, Result};
use lb_tests::{Daemon, Host, Lab, LabSpec, VrrpConf};

const PROMOTE: &str = "/proc/sys/net/ipv4/conf/eth0/promote_secondaries";

fn promote_secondaries(host: &Host) -> Result<String> {
    Ok(host.ns().run(&["cat", PROMOTE])?.trim().to_owned())
}

/// Starts a single MASTER with `extra` in its instance and waits for it.
fn master(host: &Host, dir: &tempfile::TempDir, extra: &str) -> Result<Daemon> {
    master_with(host, dir, "", extra)
}

/// [`master`] with `globals` before the instance.
fn master_with(host: &Host, dir: &tempfile::TempDir, globals: &str, extra: &str) -> Result<Daemon> {
    let instance = VrrpConf {
        extra: extra.to_owned(),
        ..VrrpConf::fast("MASTER", 150)
    }
    .render();
    let text = format!("{globals}{instance}");
    let path = dir.path().join("lb.conf");
    fs::write(&path, text)?;
    let daemon = Daemon::start(host.ns(), &path, host.role())?;
    daemon.wait_status("MASTER", Duration::from_secs(8), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    Ok(daemon)
}

#[test]
fn promote_secondaries_is_set_while_the_instance_runs() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let host = lab.director(1);
    let dir = tempfile::tempdir()?;
    host.ns()
        .run(&["sh", "-c", &format!("echo 0 > {PROMOTE}")])?;

    let mut plain = master(host, &dir, "")?;
    ensure!(
        promote_secondaries(host)? == "0",
        "untouched without the keyword"
    );
    plain.stop()?;

    let mut daemon = master(host, &dir, "    promote_secondaries\n")?;
    ensure!(
        promote_secondaries(host)? == "1",
        "set while running; log:\n{}",
        daemon.log()
    );
    daemon.stop()?;
    ensure!(promote_secondaries(host)? == "0", "put back at stop");
    Ok(())
}

#[test]
fn vrrp_startup_delay_holds_instances_back() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let host = lab.director(1);
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let daemon = master_with(
        host,
        &dir,
        "global_defs {\n    vrrp_startup_delay 2\n}\n",
        "",
    )?;
    let took = started.elapsed();
    ensure!(
        took >= Duration::from_secs(2),
        "MASTER after {took:?}, before the 2 s delay; log:\n{}",
        daemon.log()
    );
    daemon.wait_for_log("(VI_1) delaying startup for", Duration::from_secs(1))?;
    Ok(())
}
