//! Crash consistency: `kill -9` at any moment, then a start, converges as if
//! the daemon had stopped cleanly. dir1 runs a VRRP instance and an `rr`
//! fast-path DR service over three real servers.
use std::{fs, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{
    crash::{self, Expected, Leftovers},
    daemon::runtime_dir,
    dr_lab, in_netns, retry, wait_until, Daemon, KeptAlive, Lab, VrrpConf, VIP,
};

/// The second address some configurations give dir1's instance.
const VIP2: &str = "192.0.2.51";
/// Every address dir1's instance is ever given.
const ALL_VIPS: [&str; 2] = [VIP, VIP2];
/// dir1's priority.
const PRIORITY: u8 = 150;
/// Connections kept open through dir1's fast path across a kill.
const FLOWS: usize = 6;

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

/// Connections opened through the fast path and the real server each
/// landed on.
struct Flows {
    kept: Vec<KeptAlive>,
    owners: Vec<String>,
}

impl Flows {
    fn open(lab: &Lab) -> Result<Flows> {
        let client = lab.client().ns_name();
        // Right after a takeover the client may still send to the old owner.
        retry(Duration::from_secs(5), Duration::from_millis(100), || {
            in_netns(client, || -> Result<Flows> {
                let mut kept: Vec<KeptAlive> = (0..FLOWS)
                    .map(|_| KeptAlive::open(&format!("{VIP}:80")))
                    .collect::<Result<_>>()?;
                let owners = kept.iter_mut().map(KeptAlive::ask).collect::<Result<_>>()?;
                Ok(Flows { kept, owners })
            })?
        })
    }

    /// Asks every connection again, last opened first: each must answer
    /// from its real server. (In the order they were opened, a fresh `rr`
    /// cursor would hand them the same servers again by chance.)
    fn check(&mut self, lab: &Lab) -> Result<()> {
        let now: Vec<Result<String>> = in_netns(lab.client().ns_name(), || {
            self.kept.iter_mut().rev().map(KeptAlive::ask).collect()
        })?;
        let mut now: Vec<String> = now
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| format!("failed: {e:#}")))
            .collect();
        now.reverse();
        ensure!(
            now == self.owners,
            "established flows moved: {:?} -> {now:?}",
            self.owners
        );
        Ok(())
    }
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

/// Connections established through the fast path keep their real server
/// when the daemon is killed and started again with the same real servers,
/// though `rr` would send a new connection elsewhere.
#[test]
fn established_flows_keep_their_real_server_across_kill_9() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let runtime = runtime_dir()?;
    let path = tmp.path().join("dir1.conf");
    let host = lab.director(1);
    fs::write(&path, dir1_config(&lab, vips(false)))?;
    let expected = Expected {
        owner: true,
        vips: vips(false),
        all_vips: &ALL_VIPS,
    };
    let mut daemon = Daemon::spawn_in(host.ns(), &path, "dir1", runtime.path())?;
    daemon.wait_ready(Duration::from_secs(10))?;
    crash::converge(host, &daemon, &expected, &Leftovers::default())?;
    let mut flows = Flows::open(&lab)?;
    let held = crash::holdings(&daemon)?;
    daemon.kill()?;
    let mut daemon = Daemon::spawn_in(host.ns(), &path, "dir1", runtime.path())?;
    daemon.wait_ready(Duration::from_secs(10))?;
    crash::converge(host, &daemon, &expected, &held)?;
    flows.check(&lab)
}
