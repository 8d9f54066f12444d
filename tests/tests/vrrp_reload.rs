//! SIGHUP as keepalived handles it: settings of the same virtual router
//! (priority, advert_int, preemption, addresses) apply in place without a
//! state change and without the VIP leaving even for a moment; a MASTER
//! advertises the new values at once; an identity change (VRID) or a rename
//! restarts the instance but hands the VIP over without a gap.
use std::{
    fs,
    io::{BufRead, BufReader},
    process::Stdio,
    thread,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Host, Pair, VrrpConf, VIP};
use nix::sys::signal::Signal;
use serde_json::Value;

/// The VIP with its prefix, as `ip addr` shows it.
const VIP_24: &str = "192.0.2.50/24";
/// A second address for the instance.
const VIP2: &str = "192.0.2.51";
/// [`VIP2`] with its prefix.
const VIP2_24: &str = "192.0.2.51/24";

/// Rewrites director `n`'s configuration, sends SIGHUP and watches
/// `addresses` (with prefix) on it for `watch`: returns the first one found
/// missing.
fn reload_watching(
    pair: &Pair,
    n: usize,
    daemon: &Daemon,
    text: &str,
    addresses: &[&str],
    watch: Duration,
) -> Result<Option<String>> {
    fs::write(pair.path(n), text)?;
    thread::scope(|s| {
        let watcher = s.spawn(|| {
            let end = Instant::now() + watch;
            while Instant::now() < end {
                if let Some(gone) = addresses.iter().find(|a| !pair.holds(n, a)) {
                    return Some(gone.to_string());
                }
            }
            None
        });
        daemon.signal(Signal::SIGHUP)?;
        Ok(watcher.join().expect("watcher thread"))
    })
}
fn conf(priority: u8, advert_int: &'static str, extra: &str) -> String {
    VrrpConf {
        advert_int,
        extra: extra.to_owned(),
        ..VrrpConf::fast("MASTER", priority)
    }
    .render()
}

fn instance(daemon: &Daemon) -> Result<Value> {
    Ok(daemon.status()?["vrrp"][0].clone())
}

fn wait_generation(daemon: &Daemon, generation: u64) -> Result<()> {
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        daemon
            .status()
            .is_ok_and(|s| s["config_generation"] == generation)
    })
    .with_context(|| format!("reload {generation} not applied:\n{}", daemon.log()))
}

fn wait_state(daemon: &Daemon, state: &str, timeout: Duration) -> Result<()> {
    wait_until(timeout, Duration::from_millis(20), || {
        instance(daemon).is_ok_and(|i| i["state"] == state)
    })
    .with_context(|| format!("never {state}:\n{}", daemon.log()))
}

/// Sends SIGHUP to `daemon` and returns how long after it `host` saw the
/// first advert with `priority` (tcpdump is listening before the signal).
fn advert_delay_after_reload(host: &Host, daemon: &Daemon, priority: u8) -> Result<Duration> {
    let filter = format!("ip proto 112 and ip[((ip[0]&0xf)<<2)+2] = {priority}");
    let mut tcpdump = host
        .ns()
        .command(&[
            "timeout", "8", "tcpdump", "-i", "eth0", "-n", "-l", "-c", "1", &filter,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = tcpdump.stderr.take().context("tcpdump stderr")?;
    let listening = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("listening on"));
    ensure!(listening, "tcpdump did not start");
    let sent = Instant::now();
    daemon.signal(Signal::SIGHUP)?;
    let out = tcpdump.wait_with_output()?;
    let elapsed = sent.elapsed();
    ensure!(
        !out.stdout.is_empty(),
        "no advert with priority {priority} within 8 s of the reload:\n{}",
        daemon.log()
    );
    Ok(elapsed)
}

#[test]
fn priority_interval_and_preempt_changes_apply_in_place() -> Result<()> {
    let pair = Pair::new()?;
    let d1 = pair.start(1, &conf(150, "0.1", ""))?;
    let d2 = pair.start(2, &VrrpConf::fast("BACKUP", 100).render())?;
    wait_state(&d1, "MASTER", Duration::from_secs(5))?;
    wait_state(&d2, "BACKUP", Duration::from_secs(5))?;
    let before = instance(&d1)?;

    // Priority, interval and preemption change: VI_1 stays MASTER and the
    // VIP never leaves.
    let changed = conf(140, "1", "    preempt_delay 2\n");
    let gone = reload_watching(&pair, 1, &d1, &changed, &[VIP_24], Duration::from_secs(2))?;
    ensure!(gone.is_none(), "VIP gone during the reload:\n{}", d1.log());
    wait_generation(&d1, 2)?;
    let after = instance(&d1)?;
    ensure!(
        after["state"] == "MASTER" && after["priority"] == 140,
        "{after}"
    );
    ensure!(
        after["last_transition"] == before["last_transition"],
        "VI_1 changed state: {before} -> {after}"
    );
    ensure!(
        !d1.log().contains("changed, restarting the instance"),
        "{}",
        d1.log()
    );
    d1.wait_for_log(
        "(VI_1) configuration changed, applied without restarting the instance",
        Duration::from_secs(1),
    )?;
    ensure!(!pair.holds(2, VIP_24) && instance(&d2)?["state"] == "BACKUP");

    // A MASTER advertises new values at once, not at its next (3 s) timer.
    fs::write(pair.path(1), conf(130, "3", ""))?;
    let delay = advert_delay_after_reload(pair.host(2), &d1, 130)?;
    ensure!(
        delay < Duration::from_millis(1500),
        "first advert at priority 130 came {delay:?} after SIGHUP"
    );
    ensure!(instance(&d1)?["state"] == "MASTER");

    // Lowered below the backup's priority, the master hands over to it
    // (the backup, which discards lower-priority adverts, waits out its
    // master-down interval: 3 × the 3 s it learnt, plus skew).
    fs::write(pair.path(1), conf(90, "0.1", ""))?;
    d1.signal(Signal::SIGHUP)?;
    wait_until(Duration::from_secs(12), Duration::from_millis(20), || {
        pair.holds(2, VIP_24) && !pair.holds(1, VIP_24)
    })
    .with_context(|| format!("dir2 did not take over:\n{}\n{}", d1.log(), d2.log()))?;
    wait_state(&d1, "BACKUP", Duration::from_secs(2))?;
    Ok(())
}

#[test]
fn address_changes_apply_in_place() -> Result<()> {
    let pair = Pair::new()?;
    let d1 = pair.start(1, &conf(150, "0.1", ""))?;
    wait_state(&d1, "MASTER", Duration::from_secs(5))?;
    let before = instance(&d1)?;

    // A second VIP joins (excluded from adverts): added at once, the first
    // stays.
    let both = conf(
        150,
        "0.1",
        &format!("    virtual_ipaddress_excluded {{\n        {VIP2}/24 dev eth0\n    }}\n"),
    );
    let gone = reload_watching(&pair, 1, &d1, &both, &[VIP_24], Duration::from_secs(1))?;
    ensure!(gone.is_none(), "{gone:?} gone during the reload");
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        pair.holds(1, VIP2_24)
    })
    .with_context(|| format!("{VIP2} not added:\n{}", d1.log()))?;

    // The first VIP leaves the configuration: removed, the second stays.
    let second_only = VrrpConf {
        vip: format!("{VIP2}/24"),
        ..VrrpConf::fast("MASTER", 150)
    }
    .render();
    let gone = reload_watching(
        &pair,
        1,
        &d1,
        &second_only,
        &[VIP2_24],
        Duration::from_secs(1),
    )?;
    ensure!(gone.is_none(), "{gone:?} gone during the reload");
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        !pair.holds(1, VIP_24)
    })
    .with_context(|| format!("{VIP} not removed:\n{}", d1.log()))?;
    let after = instance(&d1)?;
    ensure!(
        after["state"] == "MASTER" && after["last_transition"] == before["last_transition"],
        "{before} -> {after}"
    );
    ensure!(
        after["vips"] == serde_json::json!([format!("{VIP2}/24")]),
        "{after}"
    );
    Ok(())
}

#[test]
fn identity_change_and_rename_hand_the_vip_over_without_a_gap() -> Result<()> {
    let pair = Pair::new()?;
    let d1 = pair.start(1, &conf(150, "0.1", ""))?;
    wait_state(&d1, "MASTER", Duration::from_secs(5))?;

    // Another VRID is another virtual router: the instance restarts, and
    // resumes as MASTER with the VIP where it was.
    let vrid61 = conf(150, "0.1", "").replace("virtual_router_id 51", "virtual_router_id 61");
    let gone = reload_watching(&pair, 1, &d1, &vrid61, &[VIP_24], Duration::from_secs(2))?;
    ensure!(gone.is_none(), "VIP gone during the restart:\n{}", d1.log());
    d1.wait_for_log(
        "(VI_1) configuration changed, restarting the instance",
        Duration::from_secs(1),
    )?;
    let now = instance(&d1)?;
    ensure!(now["vrid"] == 61 && now["state"] == "MASTER", "{now}");

    // keepalived matches instances by identity: a rename hands over too.
    let renamed = vrid61.replace("VI_1", "VI_9");
    let gone = reload_watching(&pair, 1, &d1, &renamed, &[VIP_24], Duration::from_secs(2))?;
    ensure!(gone.is_none(), "VIP gone during the rename:\n{}", d1.log());
    d1.wait_for_log(
        "(VI_1) renamed to VI_9, handing over",
        Duration::from_secs(1),
    )?;
    let now = instance(&d1)?;
    ensure!(now["name"] == "VI_9" && now["state"] == "MASTER", "{now}");
    ensure!(
        !d1.log().contains("(VI_1) removing VIPs"),
        "the old instance removed the VIP:\n{}",
        d1.log()
    );
    Ok(())
}

/// A reload that changes only a VIP's attributes (here its label) replaces
/// the address: the old one goes first, so the new one is not taken with
/// it, and the MASTER neither loses it nor leaves.
#[test]
fn a_changed_label_replaces_the_address_in_place() -> Result<()> {
    let pair = Pair::new()?;
    let d1 = pair.start(1, &conf(150, "0.1", ""))?;
    wait_state(&d1, "MASTER", Duration::from_secs(5))?;
    let before = instance(&d1)?;
    let labelled = VrrpConf {
        vip: format!("{VIP_24} label eth0:vip"),
        ..VrrpConf::fast("MASTER", 150)
    }
    .render();
    fs::write(pair.path(1), labelled)?;
    d1.signal(Signal::SIGHUP)?;
    let ns = pair.host(1).ns();
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        ns.ip(&["-o", "addr", "show", "dev", "eth0"])
            .is_ok_and(|a| a.contains(&format!(" {VIP_24} ")) && a.contains("eth0:vip"))
    })
    .with_context(|| format!("{VIP} not relabelled:\n{}", d1.log()))?;
    thread::sleep(Duration::from_millis(500));
    let after = instance(&d1)?;
    ensure!(pair.holds(1, VIP_24), "{VIP} lost:\n{}", d1.log());
    ensure!(
        after["state"] == "MASTER" && after["last_transition"] == before["last_transition"],
        "{before} -> {after}\n{}",
        d1.log()
    );
    Ok(())
}
