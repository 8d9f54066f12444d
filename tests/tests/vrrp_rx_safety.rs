//! Hostile or misdirected adverts on the wire: a flood of bad ones makes a
//! bounded number of log lines (the first, then one summary with the count
//! per 10 s window), and with `check_unicast_src` an advert from outside the
//! `unicast_peer` list cannot demote the master.
use std::{
    fs,
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_daemon::{
    log_limit::thousands,
    vrrp::{
        packet::{encode, Advert, Auth, VRRP_MCAST_V4},
        Version,
    },
};
use lb_tests::{in_netns, inject, Daemon, Host, Injection, Lab, LabSpec, VrrpConf, VIP};
use serde_json::Value;

/// A source outside the lab's subnet and not a configured peer.
const STRANGER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);

/// Bad-password adverts in the flood.
const FLOOD: u64 = 20_000;

/// A VRRPv2 advert for the lab's VRID 51 and VIP.
fn advert(priority: u8, pass: &str) -> Advert {
    Advert {
        version: Version::V2,
        vrid: 51,
        priority,
        max_advert_int: Duration::from_secs(1),
        addresses: vec![IpAddr::V4(VIP.parse().unwrap())],
        auth: Auth::pass(pass),
    }
}

/// Starts lb-daemon on `host` with configuration `text`; the temp dir holds
/// the configuration.
fn start(host: &Host, text: &str) -> Result<(Daemon, tempfile::TempDir)> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("lb.conf");
    fs::write(&path, text)?;
    Ok((Daemon::start(host.ns(), &path, host.role())?, tmp))
}

fn instance(daemon: &Daemon) -> Result<Value> {
    Ok(daemon.status()?["vrrp"][0].clone())
}

/// Log lines at `level` that contain `needle`.
fn lines_at(daemon: &Daemon, level: &str, needle: &str) -> Vec<String> {
    daemon
        .log()
        .lines()
        .filter(|l| l.contains(&format!(" {level} ")) && l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Log lines at WARN level that contain `needle`.
fn warn_lines(daemon: &Daemon, needle: &str) -> Vec<String> {
    lines_at(daemon, "WARN", needle)
}

/// dir1 runs a VRRPv2 MASTER (priority 100); dir2 floods it with [`FLOOD`]
/// copies of `advert`. Each one the daemon counted (`count` reads the
/// counter from its instance status) would log `line` at `level`: the log
/// must have the first in full and one summary with the rest.
fn flood(advert: &Advert, count: fn(&Value) -> u64, level: &str, line: &str) -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let conf = VrrpConf::v2("MASTER", 100);
    let (daemon, _tmp) = start(lab.director(1), &conf.render())?;
    daemon.wait_status("master", Duration::from_secs(6), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;

    let injector = lab.director(2);
    let msg = encode(
        advert,
        IpAddr::V4(injector.ipv4()),
        IpAddr::V4(VRRP_MCAST_V4),
    );
    let to_group = Injection::to(IpAddr::V4(VRRP_MCAST_V4));
    in_netns(injector.ns_name(), || inject(&msg, to_group, FLOOD))??;
    // The socket may have shed some of the burst: what was counted is what
    // the summary must account for.
    let mut counted = 0;
    lb_tests::wait_until(Duration::from_secs(5), Duration::from_millis(300), || {
        let now = instance(&daemon).map_or(0, |i| count(&i));
        let settled = now > 0 && now == counted;
        counted = now;
        settled
    })
    .context("the flood was not counted")?;
    ensure!(counted > 1_000, "most of the flood arrived: {counted}");
    let summary = format!(
        "(VI_1) {} more in the last 10 s, the latest: {line}",
        thousands(counted - 1)
    );
    daemon.wait_for_log(&summary, Duration::from_secs(15))?;
    let lines = lines_at(&daemon, level, line);
    ensure!(
        lines.len() == 2,
        "{counted} adverts made {} {level} lines (want the first and one summary): {:?}",
        lines.len(),
        &lines[..lines.len().min(5)]
    );
    ensure!(
        lines[0].ends_with(&format!("(VI_1) {line}")),
        "the first is logged in full: {}",
        lines[0]
    );
    ensure!(instance(&daemon)?["state"] == "MASTER", "state kept");
    Ok(())
}

#[test]
fn a_flood_of_bad_passwords_logs_one_line_then_one_summary() -> Result<()> {
    let line = "dropped advert from 192.0.2.3: received an invalid passwd";
    let count = |i: &Value| i["drops"]["auth_pass"].as_u64().unwrap_or(0);
    flood(&advert(200, "wrong-pw"), count, "WARN", line)
}

#[test]
fn a_flood_of_lower_priority_adverts_logs_one_notice_then_one_summary() -> Result<()> {
    let line =
        "Received advert from 192.0.2.3 with lower priority 50, ours 100, forcing new election";
    let count = |i: &Value| i["adverts_received"].as_u64().unwrap_or(0);
    flood(&advert(50, "lab-pass"), count, "INFO", line)
}

/// dir1 runs lb-daemon as unicast MASTER (priority 100) with dir2 as its
/// only peer; dir2 injects. `extra` goes into the instance block.
fn unicast_master(lab: &Lab, extra: &str) -> Result<(Daemon, tempfile::TempDir)> {
    let conf = VrrpConf {
        unicast: Some((
            lab.director(1).ipv4().to_string(),
            lab.director(2).ipv4().to_string(),
        )),
        extra: extra.to_owned(),
        ..VrrpConf::fast("MASTER", 100)
    };
    let started = start(lab.director(1), &conf.render())?;
    started
        .0
        .wait_status("master", Duration::from_secs(6), |s| {
            s["vrrp"][0]["state"] == "MASTER"
        })?;
    Ok(started)
}

/// Sends a priority-200 VRRPv3 advert for VRID 51 from `from` (added to
/// dir2's eth0 if it is not dir2's own) to dir1's address.
fn inject_unicast(lab: &Lab, from: Ipv4Addr) -> Result<()> {
    let (injector, target) = (lab.director(2), lab.director(1).ipv4());
    if from != injector.ipv4() {
        injector
            .ns()
            .ip(&["addr", "replace", &format!("{from}/32"), "dev", "eth0"])?;
    }
    let v3 = Advert {
        version: Version::V3,
        max_advert_int: Duration::from_millis(100),
        auth: Auth::None,
        ..advert(200, "")
    };
    let msg = encode(&v3, IpAddr::V4(from), IpAddr::V4(target));
    let how = Injection {
        from: Some(IpAddr::V4(from)),
        ..Injection::to(IpAddr::V4(target))
    };
    in_netns(injector.ns_name(), || inject(&msg, how, 3))??;
    Ok(())
}

/// What a master logs when an advert from `from` (priority 200) demotes it.
fn demoted_by(from: Ipv4Addr) -> String {
    format!("(VI_1) Master received advert from {from} with higher priority 200, ours 100")
}

#[test]
fn with_check_unicast_src_a_stranger_cannot_demote_the_master() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let (daemon, _tmp) = unicast_master(&lab, "    check_unicast_src\n")?;
    ensure!(
        warn_lines(&daemon, "accepts adverts from any source").is_empty(),
        "no warning when the source is checked"
    );
    inject_unicast(&lab, STRANGER)?;
    daemon.wait_status("stranger's adverts counted", Duration::from_secs(3), |s| {
        s["vrrp"][0]["drops"]["unicast_source"] == 3
    })?;
    let now = instance(&daemon)?;
    ensure!(now["adverts_received"] == 0, "nothing accepted: {now}");
    ensure!(
        now["state"] == "MASTER" && !daemon.log().contains(&demoted_by(STRANGER)),
        "a stranger demoted the master: {now}"
    );
    let dropped = format!("dropped advert from {STRANGER}: source not a configured unicast peer");
    ensure!(
        warn_lines(&daemon, &dropped).len() == 1,
        "the drop is logged once"
    );
    // Positive control: the configured peer, same path, same advert, wins.
    let peer = lab.director(2).ipv4();
    inject_unicast(&lab, peer)?;
    daemon.wait_for_log(&demoted_by(peer), Duration::from_secs(3))?;
    Ok(())
}

#[test]
fn without_check_unicast_src_the_start_warns_and_anyone_is_heard() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let (daemon, _tmp) = unicast_master(&lab, "")?;
    let warned = warn_lines(&daemon, "accepts adverts from any source");
    ensure!(
        warned.len() == 1 && warned[0].contains("vrrp_instance `VI_1`"),
        "one WARN at start naming the instance: {warned:?}"
    );
    // keepalived's behaviour without the setting, which the warning is about.
    inject_unicast(&lab, STRANGER)?;
    daemon.wait_for_log(&demoted_by(STRANGER), Duration::from_secs(3))?;
    Ok(())
}
