//! On a kernel without IPVS (this project's host kernel) the daemon says so
//! once, clearly, and everything else goes on: the VRRP instance takes its
//! VIP, health checks give their verdicts, and `status` tells that IPVS is
//! unavailable and why.
use std::{fs, path::Path, time::Duration};

use anyhow::{ensure, Result};
use lb_tests::{Daemon, Lab, LabSpec, VrrpConf};
use nix::sys::signal::Signal;

/// The one error line the daemon logs when the kernel has no IPVS.
const NO_IPVS: &str = "IPVS unavailable: this kernel has no IPVS, so IPVS classic mode is off";

/// Whether this kernel could give IPVS to the daemon (loaded or loadable).
fn kernel_has_ipvs() -> bool {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let module_dir = Path::new("/lib/modules").join(release.trim());
    Path::new("/sys/module/ip_vs").exists()
        || fs::read_to_string(module_dir.join("modules.dep"))
            .is_ok_and(|dep| dep.contains("/ip_vs.ko"))
        || fs::read_to_string(module_dir.join("modules.builtin"))
            .is_ok_and(|b| b.contains("/ip_vs.ko"))
}

#[test]
fn without_ipvs_vrrp_and_checks_go_on_and_status_says_why() -> Result<()> {
    if kernel_has_ipvs() {
        eprintln!("skipped: this kernel has IPVS (the guest tests cover it)");
        return Ok(());
    }
    let lab = Lab::new(LabSpec::web(1, 1))?;
    let vrrp = VrrpConf::fast("MASTER", 150);
    let config = format!(
        "{}virtual_server 192.0.2.50 80 {{\n    lb_algo rr\n    lb_kind DR\n    \
         real_server {} 80 {{\n        TCP_CHECK {{\n            connect_timeout 1\n            \
         delay_loop 0.5\n            warmup 0\n        }}\n    }}\n}}\n",
        vrrp.render(),
        lab.real_server(1).ipv4()
    );
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, config)?;
    let director = lab.director(1);
    let mut daemon = Daemon::start(director.ns(), &path, "dir1")?;

    daemon.wait_status(
        "MASTER and a checker verdict",
        Duration::from_secs(10),
        |s| {
            s["vrrp"][0]["state"] == "MASTER"
                && s["lvs"]["virtual_servers"][0]["real_servers"][0]["up"] == true
                && s["lvs"]["ipvs"]["available"] == false
        },
    )?;
    ensure!(vrrp.held_by(director.ns()), "the VIP is on dir1's eth0");
    let status = daemon.status()?;
    let why = status["lvs"]["ipvs"]["unavailable"]
        .as_str()
        .unwrap_or_default();
    ensure!(why.contains("ip_vs"), "status names the module: {why:?}");
    let text = daemon.status_text()?;
    ensure!(
        text.matches("IPVS unavailable: ").count() == 1 && text.contains(why),
        "status text says why, once:\n{text}"
    );

    // A reload keeps the reconciler: still one error, checks still run.
    daemon.signal(Signal::SIGHUP)?;
    daemon.wait_for_log("Configuration reloaded", Duration::from_secs(5))?;
    daemon.wait_status("a verdict after the reload", Duration::from_secs(10), |s| {
        s["config_generation"] == 2
            && s["lvs"]["virtual_servers"][0]["real_servers"][0]["up"] == true
    })?;
    ensure!(
        daemon.log().matches(NO_IPVS).count() == 1,
        "exactly one IPVS error in the log:\n{}",
        daemon.log()
    );
    daemon.stop()?;
    Ok(())
}
