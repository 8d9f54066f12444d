//! The lab's own directors (`examples/lab/`, what `cargo xtask lab` runs)
//! start and stop quietly: neither logs a WARN or an ERROR, except the one
//! "IPVS unavailable" line on a kernel without IPVS. A `fast_path xdp`
//! service on a VIP that a vrrp_instance configures is waiting for
//! ownership, not "no VRRP instance's virtual_ipaddress", also while the
//! instance stops.
use std::{fs, time::Duration};

use anyhow::{ensure, Result};
use lb_tests::{Daemon, Lab, LabSpec, VIP};

const CONFIGS: [&str; 2] = [
    include_str!("../../examples/lab/dir1.conf"),
    include_str!("../../examples/lab/dir2.conf"),
];

/// How long the lab's first output is watched (the "first 5 s").
const WATCH: Duration = Duration::from_secs(5);

/// Log lines at WARN or ERROR level, less the expected IPVS line.
fn complaints(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .filter(|l| !l.contains("IPVS unavailable: this kernel has no IPVS"))
        .collect()
}

#[test]
fn lab_directors_start_and_stop_without_false_warnings() -> Result<()> {
    let lab = Lab::new(LabSpec::web(2, 3))?;
    for rs in lab.real_servers() {
        rs.accept_vip_on_loopback(VIP)?;
    }
    let dir = tempfile::tempdir()?;
    let mut daemons = Vec::new();
    for (i, conf) in CONFIGS.iter().enumerate() {
        let path = dir.path().join(format!("dir{}.conf", i + 1));
        fs::write(&path, conf)?;
        daemons.push(Daemon::start(
            lab.director(i + 1).ns(),
            &path,
            &format!("dir{}", i + 1),
        )?);
    }
    daemons[0].wait_status("dir1 MASTER", WATCH, |s| s["vrrp"][0]["state"] == "MASTER")?;
    std::thread::sleep(WATCH.saturating_sub(Duration::from_secs(1)));
    // The master first: the backup then sees it stop, as in the lab.
    for daemon in &mut daemons {
        daemon.stop()?;
    }
    for daemon in &daemons {
        let log = daemon.log();
        let bad = complaints(&log);
        ensure!(
            bad.is_empty(),
            "{}: unexpected WARN/ERROR lines:\n{}",
            daemon.label(),
            bad.join("\n")
        );
        ensure!(
            !log.contains("no VRRP instance"),
            "{}: a configured VIP called no instance's:\n{log}",
            daemon.label()
        );
    }
    Ok(())
}

#[test]
fn complaints_ignore_only_the_expected_ipvs_line() {
    let log = "2026-12-04T01:00:00Z  INFO a\n\
               2026-12-04T01:00:00Z ERROR IPVS unavailable: this kernel has no IPVS, so ...\n\
               2026-12-04T01:00:00Z  WARN (TCP 192.0.2.50:80) fast_path xdp: served by IPVS";
    assert_eq!(complaints(log).len(), 1);
}
