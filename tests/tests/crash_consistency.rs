//! Crash consistency: `kill -9` at any moment, then a start, converges as if
//! the daemon had stopped cleanly. dir1 runs a VRRP instance and an `rr`
//! fast-path DR service over three real servers.
use std::{fs, time::Duration};

use anyhow::{Context, Result};
use lb_tests::{
    crash::{self, Expected, Leftovers},
    daemon::runtime_dir,
    dr_lab, wait_until, Daemon, Lab, VrrpConf, VIP,
};

/// The second address some configurations give dir1's instance.
const VIP2: &str = "192.0.2.51";
/// Every address dir1's instance is ever given.
const ALL_VIPS: [&str; 2] = [VIP, VIP2];
/// dir1's priority.
const PRIORITY: u8 = 150;

/// dir1's addresses: the VIP, and [`VIP2`] with `two`.
fn vips(two: bool) -> &'static [&'static str] {
    if two {
        &ALL_VIPS
    } else {
        &ALL_VIPS[..1]
    }
}

/// dir1's configuration: the instance holding `vips` and the fast-path
/// service (no checker: the real servers count as up from the start). The
/// VIP is advertised; [`VIP2`] is `virtual_ipaddress_excluded`, so that the
/// peer's adverts, which carry the VIP only, match either way.
fn dir1_config(lab: &Lab, vips: &[&str]) -> String {
    let excluded: String = vips[1..]
        .iter()
        .map(|v| format!("    virtual_ipaddress_excluded {{\n        {v}/24 dev eth0\n    }}\n"))
        .collect();
    let vrrp = VrrpConf {
        extra: excluded,
        ..VrrpConf::fast("BACKUP", PRIORITY)
    };
    let reals: String = lab
        .real_servers()
        .map(|rs| {
            format!(
                "    real_server {} 80 {{\n        weight 1\n    }}\n",
                rs.ipv4()
            )
        })
        .collect();
    format!(
        "{}virtual_server {VIP} 80 {{\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    fast_path xdp\n{reals}}}\n",
        vrrp.render()
    )
}

/// A VIP the configuration dropped while the daemon was down (killed before
/// or during the reload that would have removed it) is removed at start,
/// not left on the interface for ever.
#[test]
fn a_vip_dropped_while_the_daemon_was_down_is_removed_at_start() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let runtime = runtime_dir()?;
    let path = tmp.path().join("dir1.conf");
    let host = lab.director(1);
    fs::write(&path, dir1_config(&lab, vips(true)))?;
    let mut daemon = Daemon::spawn_in(host.ns(), &path, "dir1", runtime.path())?;
    daemon.wait_ready(Duration::from_secs(10))?;
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        crash::held(host, &ALL_VIPS).is_ok_and(|h| h.len() == 2)
    })
    .with_context(|| format!("both VIPs never held:\n{}", daemon.log()))?;
    daemon.kill()?;
    fs::write(&path, dir1_config(&lab, vips(false)))?;
    let mut daemon = Daemon::spawn_in(host.ns(), &path, "dir1", runtime.path())?;
    daemon.wait_ready(Duration::from_secs(10))?;
    let expected = Expected {
        owner: true,
        vips: vips(false),
        all_vips: &ALL_VIPS,
    };
    crash::converge(host, &daemon, &expected, &Leftovers::default())
}
