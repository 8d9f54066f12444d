//! `vrrp_mcast_group4/6`: adverts go to the configured group and are heard
//! on it, between two lb-daemons and with keepalived; the captured packets
//! prove which group is used. Nodes on different groups do not hear each
//! other and both become MASTER — a split brain, exactly as keepalived
//! behaves — which is why the group must be the same on every node.
use std::{fs, net::IpAddr, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_daemon::vrrp::packet::{VRRP_MCAST_V4, VRRP_MCAST_V6};
use lb_tests::{capture, wait_until, Daemon, Host, Keepalived, Lab, LabSpec, Seen, VrrpConf};

const GROUP4: &str = "224.0.0.20";
const GROUP6: &str = "ff02::20";

fn globals(group4: &str, group6: &str) -> String {
    format!("global_defs {{\n    vrrp_mcast_group4 {group4}\n    vrrp_mcast_group6 {group6}\n}}\n")
}

fn start(host: &Host, text: &str) -> Result<(Daemon, tempfile::TempDir)> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("lb.conf");
    fs::write(&path, text)?;
    Ok((Daemon::start(host.ns(), &path, host.role())?, tmp))
}

/// The client, which runs no VRRP, watches the bridge: every advert it sees
/// comes from `from` and goes to `group`.
fn adverts_go_to(lab: &Lab, from: IpAddr, group: &str) -> Result<()> {
    let seen = capture(lab.client().ns(), 5)?;
    let group: IpAddr = group.parse()?;
    ensure!(
        seen.iter().all(|s| s.dst == group && s.src == from),
        "adverts from {from} to {group} only: {seen:?}"
    );
    Ok(())
}

/// dir1 (priority 150) and dir2 (100) run lb-daemon on the custom group:
/// dir1 is MASTER, dir2 BACKUP hearing its adverts, which go to the group.
fn pair_on_custom_group(ipv6: bool) -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let conf = |state, priority| {
        let c = VrrpConf::fast(state, priority);
        globals(GROUP4, GROUP6) + &if ipv6 { c.ipv6() } else { c }.render()
    };
    let (dir1, _t1) = start(lab.director(1), &conf("MASTER", 150))?;
    let (dir2, _t2) = start(lab.director(2), &conf("BACKUP", 100))?;
    dir1.wait_status("dir1 MASTER", Duration::from_secs(6), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    dir2.wait_status("dir2 BACKUP hearing dir1", Duration::from_secs(6), |s| {
        s["vrrp"][0]["state"] == "BACKUP" && s["vrrp"][0]["adverts_received"].as_u64() > Some(3)
    })?;
    let (from, group) = match ipv6 {
        false => (IpAddr::V4(lab.director(1).ipv4()), GROUP4),
        true => (link_local(lab.director(1))?, GROUP6),
    };
    adverts_go_to(&lab, from, group)?;
    ensure!(dir2.vrrp_state() == "BACKUP", "dir2 stayed BACKUP");
    Ok(())
}

/// The link-local address of `host`'s eth0 (the IPv6 advert source).
fn link_local(host: &Host) -> Result<IpAddr> {
    let out = host
        .ns()
        .ip(&["-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"])?;
    let address = out
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .context("no link-local address")?;
    Ok(address.parse()?)
}

#[test]
fn two_daemons_on_a_custom_ipv4_group_elect_one_master() -> Result<()> {
    pair_on_custom_group(false)
}

#[test]
fn two_daemons_on_a_custom_ipv6_group_elect_one_master() -> Result<()> {
    pair_on_custom_group(true)
}

/// lb-daemon on dir1 and keepalived on dir2 share the custom group; the one
/// with the higher priority is MASTER, the other BACKUP.
fn with_keepalived(lb_priority: u8, keepalived_priority: u8) -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let conf = |priority| {
        let state = if priority > 100 { "MASTER" } else { "BACKUP" };
        globals(GROUP4, GROUP6) + &VrrpConf::fast(state, priority).render()
    };
    let keepalived = Keepalived::start(
        lab.director(2).ns(),
        &conf(keepalived_priority),
        "keepalived",
    )?;
    let (daemon, _tmp) = start(lab.director(1), &conf(lb_priority))?;
    let lb_wins = lb_priority > keepalived_priority;
    let expected = if lb_wins { "MASTER" } else { "BACKUP" };
    let vip = VrrpConf::fast("BACKUP", 100);
    let (winner, loser) = if lb_wins { (1, 2) } else { (2, 1) };
    wait_until(Duration::from_secs(8), Duration::from_millis(50), || {
        daemon.vrrp_state() == expected
            && vip.held_by(lab.director(winner).ns())
            && !vip.held_by(lab.director(loser).ns())
    })
    .with_context(|| {
        format!(
            "dir{winner} should be the only MASTER;\nlb-daemon log:\n{}\nkeepalived log:\n{}",
            daemon.log(),
            keepalived.log()
        )
    })?;
    adverts_go_to(&lab, IpAddr::V4(lab.director(winner).ipv4()), GROUP4)?;
    let status = daemon.status()?;
    let me = &status["vrrp"][0];
    ensure!(
        me["drops"]
            .as_object()
            .is_some_and(|d| d.values().all(|v| v == 0)),
        "lb-daemon dropped keepalived's adverts: {}",
        me["drops"]
    );
    ensure!(
        lb_wins || me["adverts_received"].as_u64() > Some(0),
        "lb-daemon heard keepalived on the group: {me}"
    );
    ensure!(daemon.vrrp_state() == expected, "no flapping");
    Ok(())
}

#[test]
fn keepalived_on_the_same_custom_group_interoperates_as_master() -> Result<()> {
    with_keepalived(100, 150)
}

#[test]
fn keepalived_on_the_same_custom_group_interoperates_as_backup() -> Result<()> {
    with_keepalived(150, 100)
}

#[test]
fn daemons_on_different_groups_do_not_hear_each_other_and_both_are_master() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    // dir1 on the custom group, dir2 (higher priority) on VRRP's own.
    let custom = globals(GROUP4, GROUP6) + &VrrpConf::fast("BACKUP", 100).render();
    let default = globals(&VRRP_MCAST_V4.to_string(), &VRRP_MCAST_V6.to_string())
        + &VrrpConf::fast("MASTER", 150).render();
    let (dir2, _t2) = start(lab.director(2), &default)?;
    dir2.wait_status("dir2 MASTER", Duration::from_secs(6), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    let (dir1, _t1) = start(lab.director(1), &custom)?;
    // dir2's higher priority would keep dir1 BACKUP if dir1 heard it.
    dir1.wait_status("dir1 MASTER too", Duration::from_secs(6), |s| {
        s["vrrp"][0]["state"] == "MASTER" && s["vrrp"][0]["adverts_received"] == 0
    })?;
    let seen = capture(lab.client().ns(), 10)?;
    let from = |n: usize| IpAddr::V4(lab.director(n).ipv4());
    let to = |group: &str| group.parse::<IpAddr>().ok();
    for Seen { src, dst } in &seen {
        let expected = if *src == from(1) {
            to(GROUP4)
        } else {
            Some(VRRP_MCAST_V4.into())
        };
        ensure!(Some(*dst) == expected, "each to its own group: {seen:?}");
    }
    ensure!(
        seen.iter().any(|s| s.src == from(1)) && seen.iter().any(|s| s.src == from(2)),
        "both advertise as MASTER: {seen:?}"
    );
    ensure!(
        dir2.vrrp_state() == "MASTER",
        "dir2 still MASTER: split brain"
    );
    Ok(())
}
