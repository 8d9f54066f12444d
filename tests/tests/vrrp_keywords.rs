//! keepalived keywords that act on the kernel, with the real daemon in the
//! lab: `promote_secondaries` is set on the instance's interface while it
//! runs and put back when it stops.
use std::{fs, time::Duration};

use anyhow::{ensure, Result};
use lb_tests::{Daemon, Host, Lab, LabSpec, VrrpConf};

const PROMOTE: &str = "/proc/sys/net/ipv4/conf/eth0/promote_secondaries";

fn promote_secondaries(host: &Host) -> Result<String> {
    Ok(host.ns().run(&["cat", PROMOTE])?.trim().to_owned())
}

/// Starts a single MASTER with `extra` in its instance and waits for it.
fn master(host: &Host, dir: &tempfile::TempDir, extra: &str) -> Result<Daemon> {
    let text = VrrpConf {
        extra: extra.to_owned(),
        ..VrrpConf::fast("MASTER", 150)
    }
    .render();
    let path = dir.path().join("lb.conf");
    fs::write(&path, text)?;
    let daemon = Daemon::start(host.ns(), &path, host.role())?;
    daemon.wait_status("MASTER", Duration::from_secs(5), |s| {
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
