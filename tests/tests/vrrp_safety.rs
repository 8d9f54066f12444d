//! HA safety of two lb-daemons in one VRRP group on the lab's bridge: a
//! director never keeps a VIP it does not own, and never claims MASTER on
//! an interface that is gone.
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Pair, VrrpConf};
use nix::sys::signal::Signal;
use serde_json::Value;

/// Starts director `n` with `conf`.
fn start(pair: &Pair, n: usize, conf: &VrrpConf) -> Result<Daemon> {
    pair.start(n, &conf.render())
}

fn holds_vip(pair: &Pair, n: usize) -> bool {
    VrrpConf::fast("BACKUP", 1).held_by(pair.host(n).ns())
}

/// Waits until director `n` is MASTER holding the VIP, and the other
/// director neither.
fn wait_master(pair: &Pair, n: usize, daemons: [&Daemon; 2], timeout: Duration) -> Result<()> {
    let other = 3 - n;
    wait_until(timeout, Duration::from_millis(20), || {
        holds_vip(pair, n)
            && !holds_vip(pair, other)
            && state(daemons[n - 1]).as_deref() == Some("MASTER")
            && state(daemons[other - 1]).as_deref() == Some("BACKUP")
    })
    .with_context(|| {
        format!(
            "dir{n} never became the only master; logs:\n{}\n{}",
            daemons[0].log(),
            daemons[1].log()
        )
    })
}

fn vi_1(daemon: &Daemon) -> Option<Value> {
    Some(daemon.status().ok()?["vrrp"][0].clone())
}

fn state(daemon: &Daemon) -> Option<String> {
    Some(vi_1(daemon)?["state"].as_str()?.to_owned())
}

fn adverts_sent(daemon: &Daemon) -> Option<u64> {
    vi_1(daemon)?["adverts_sent"].as_u64()
}

#[test]
fn restarted_backup_removes_the_dev_vip_a_killed_master_left() -> Result<()> {
    let pair = Pair::new()?;
    let mut d1 = start(&pair, 1, &VrrpConf::fast("MASTER", 150))?;
    let d2 = start(&pair, 2, &VrrpConf::fast("BACKUP", 100))?;
    wait_master(&pair, 1, [&d1, &d2], Duration::from_secs(5))?;

    d1.signal(Signal::SIGKILL)?;
    d1.stop()?;
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        state(&d2).as_deref() == Some("MASTER")
    })
    .with_context(|| format!("dir2 did not take over:\n{}", d2.log()))?;
    ensure!(holds_vip(&pair, 1), "a killed daemon cannot remove its VIP");

    // dir1 comes back with a lower priority than dir2: it stays BACKUP, so
    // the VIP (`dev eth0`) its crashed run left must go.
    let d1 = start(&pair, 1, &VrrpConf::fast("BACKUP", 50))?;
    wait_until(Duration::from_secs(1), Duration::from_millis(20), || {
        !holds_vip(&pair, 1)
    })
    .with_context(|| format!("dir1 kept the leftover VIP; its log:\n{}", d1.log()))?;
    d1.wait_for_log("(VI_1) removing leftover VIP", Duration::from_secs(1))?;
    wait_master(&pair, 2, [&d1, &d2], Duration::from_secs(2))?;
    Ok(())
}

#[test]
fn deleted_and_recreated_interface_faults_then_recovers() -> Result<()> {
    interface_lost_and_back("")
}

/// Without tracking of its own interface, losing it is still a FAULT.
#[test]
fn deleted_interface_faults_even_with_dont_track_primary() -> Result<()> {
    interface_lost_and_back("    dont_track_primary\n")
}

/// dir1 (MASTER) loses its eth0, which is then created again.
fn interface_lost_and_back(extra: &str) -> Result<()> {
    let pair = Pair::new()?;
    let conf = VrrpConf {
        extra: extra.to_owned(),
        ..VrrpConf::fast("MASTER", 150)
    };
    let d1 = start(&pair, 1, &conf)?;
    let d2 = start(&pair, 2, &VrrpConf::fast("BACKUP", 100))?;
    wait_master(&pair, 1, [&d1, &d2], Duration::from_secs(5))?;

    pair.lab.unplug(pair.host(1))?;
    d1.wait_status("VI_1 in FAULT, saying why", Duration::from_secs(2), |s| {
        let vi = &s["vrrp"][0];
        vi["state"] == "FAULT" && vi["error"].as_str().is_some_and(|e| e.contains("eth0"))
    })?;
    wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
        state(&d2).as_deref() == Some("MASTER") && holds_vip(&pair, 2)
    })
    .with_context(|| format!("dir2 did not take over:\n{}", d2.log()))?;
    // While the interface is gone, dir1 stays in FAULT and sends nothing.
    let sent = adverts_sent(&d1).context("dir1 adverts_sent")?;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(50));
        let vi = vi_1(&d1).context("dir1 status")?;
        ensure!(vi["state"] == "FAULT", "dir1 while eth0 is gone: {vi}");
        ensure!(vi["adverts_sent"] == sent, "dir1 sent adverts: {vi}");
    }

    // eth0 comes back with a new index: dir1 reopens its sockets there,
    // hears dir2, and preempts it (priority 150 over 100).
    pair.lab.replug(pair.host(1))?;
    wait_master(&pair, 1, [&d1, &d2], Duration::from_secs(5))?;
    d1.wait_for_log("VRRP sockets reopened", Duration::from_secs(1))?;
    let vi = vi_1(&d1).context("dir1 status")?;
    ensure!(vi["error"].is_null(), "dir1 still reports an error: {vi}");
    let after = adverts_sent(&d1).context("dir1 adverts_sent")?;
    wait_until(Duration::from_secs(1), Duration::from_millis(20), || {
        adverts_sent(&d1).is_some_and(|n| n > after + 3)
    })
    .context("dir1 does not count adverts on the new interface")?;
    // dir2 hears them: it stays BACKUP.
    ensure!(
        state(&d2).as_deref() == Some("BACKUP"),
        "dir2: {:?}",
        vi_1(&d2)
    );
    Ok(())
}

#[test]
fn vip_on_a_recreated_dev_interface_is_added_again() -> Result<()> {
    const OTHER: &str = "198.51.100.50/24";
    let pair = Pair::new()?;
    let ns = pair.host(1).ns();
    let make_dum0 = || -> Result<()> {
        // A veth pair inside the namespace (the kernel may lack `dummy`).
        ns.ip(&[
            "link", "add", "dum0", "type", "veth", "peer", "name", "dum0p",
        ])?;
        ns.ip(&["link", "set", "dum0p", "up"])?;
        ns.ip(&["link", "set", "dum0", "up"])?;
        Ok(())
    };
    let on_dum0 = || {
        ns.ip(&["-o", "addr", "show", "dev", "dum0"])
            .is_ok_and(|a| a.contains(&format!(" {OTHER} ")))
    };
    make_dum0()?;
    let conf = VrrpConf {
        extra: format!("    virtual_ipaddress_excluded {{\n        {OTHER} dev dum0\n    }}\n"),
        ..VrrpConf::fast("MASTER", 150)
    };
    let d1 = start(&pair, 1, &conf)?;
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        state(&d1).as_deref() == Some("MASTER") && on_dum0()
    })
    .with_context(|| format!("dir1 did not become MASTER:\n{}", d1.log()))?;

    ns.ip(&["link", "del", "dum0"])?;
    d1.wait_for_log("(VI_1) interface dum0 is gone", Duration::from_secs(1))?;
    make_dum0()?;
    wait_until(Duration::from_secs(1), Duration::from_millis(20), on_dum0)
        .with_context(|| format!("the VIP did not come back on dum0:\n{}", d1.log()))?;
    ensure!(state(&d1).as_deref() == Some("MASTER"), "{:?}", vi_1(&d1));
    ensure!(holds_vip(&pair, 1), "dir1 still holds the eth0 VIP");
    Ok(())
}
