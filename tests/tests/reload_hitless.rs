//! Hitless reload through the XDP fast path: under continuous client traffic
//! (kept-alive connections asked again and again, and new connections), 20
//! SIGHUPs that add and remove an unrelated service and real server (and
//! change the VRRP instance's priority) lose no
//! packet (the client's TCP retransmits nothing), reset no connection, move
//! no established flow, keep VRRP as it was (no transition, no gratuitous
//! ARP) and the program attached, and leave the unchanged service's map
//! entry untouched.
use std::{fs, path::Path, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{
    dr::{reload_config, xdp_prog_id},
    dr_lab, wait_until, Continuous, Daemon, TcpCounters, VIP,
};
use serde_json::Value;

/// How many reloads.
const RELOADS: u64 = 20;
/// Kept-alive client connections.
const KEPT: usize = 6;

/// The `lb_vips` entry of the port-80 service (it names the table slot).
fn web_entry(daemon: &Daemon) -> Result<Value> {
    let pins = daemon.status()?["fast_path"]["pin_dir"]
        .as_str()
        .map(str::to_owned)
        .context("pin_dir in status")?;
    let map = Path::new(&pins).join("lb_vips");
    let out = std::process::Command::new("bpftool")
        .args(["-j", "map", "dump", "pinned"])
        .arg(&map)
        .output()?;
    let dump: Value = serde_json::from_slice(&out.stdout)?;
    dump.as_array()
        .into_iter()
        .flatten()
        .find(|e| e["formatted"]["key"]["port"] == 80)
        .map(|e| e["formatted"]["value"].clone())
        .with_context(|| format!("no port 80 entry: {dump}"))
}

#[test]
fn twenty_reloads_under_traffic_lose_nothing() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, reload_config(&lab, 0))?;
    let daemon = Daemon::start(lab.director(1).ns(), &path, "dir1")?;
    daemon.wait_status("serving 3 real servers", Duration::from_secs(10), |s| {
        s["vrrp"][0]["state"] == "MASTER"
            && s["fast_path"]["services"][0]["backends"]
                .as_array()
                .is_some_and(|b| {
                    b.iter()
                        .filter(|b| b["next_hop"]["mac"].is_string())
                        .count()
                        == 3
                })
    })?;
    let director = lab.director(1).ns();
    let client = lab.client();
    let (vrrp, prog, entry) = (
        daemon.status()?["vrrp"][0].clone(),
        xdp_prog_id(director)?,
        web_entry(&daemon)?,
    );
    // Both bursts of becoming MASTER (the second after garp_master_delay).
    let garps = || daemon.log().matches("gratuitous ARPs").count();
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        garps() == 2
    })?;

    let before = TcpCounters::of(client.ns())?;
    let mut traffic = Continuous::start(client.ns_name(), &format!("{VIP}:80"), KEPT)?;
    for reload in 1..=RELOADS {
        fs::write(&path, reload_config(&lab, reload))?;
        daemon.signal(nix::sys::signal::Signal::SIGHUP)?;
        let services = if reload % 4 == 0 { 1 } else { 2 };
        daemon.wait_status(
            &format!("reload {reload} applied"),
            Duration::from_secs(5),
            |s| {
                s["config_generation"] == reload + 1
                    && s["fast_path"]["services"].as_array().map(Vec::len) == Some(services)
            },
        )?;
        // Traffic crosses every reload: two more rounds at least.
        traffic.wait_rounds(2)?;
    }
    let asked = traffic.stop()?;
    let after = TcpCounters::of(client.ns())?;
    ensure!(
        asked >= 2 * (KEPT + 1) * RELOADS as usize,
        "{asked} requests"
    );
    after.ensure_nothing_lost_since(&before)?;
    let now = daemon.status()?["vrrp"][0].clone();
    ensure!(
        now["state"] == "MASTER" && now["last_transition"] == vrrp["last_transition"],
        "VRRP changed: {vrrp} -> {now}"
    );
    ensure!(
        garps() == 2,
        "gratuitous ARPs sent during the reloads:\n{}",
        daemon.log()
    );
    ensure!(
        xdp_prog_id(director)? == prog,
        "the XDP program was re-attached"
    );
    ensure!(
        web_entry(&daemon)? == entry,
        "the unchanged service was reprogrammed"
    );
    Ok(())
}
