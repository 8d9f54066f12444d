//! Two lb-daemons in one VRRP group on the lab's bridge: election, failover
//! on kill -9, graceful handover on SIGTERM, preemption and nopreempt. The
//! VIP must be on exactly the right director at every step.
use std::{fs, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Pair, VrrpConf, VIP, VIP6};
use nix::sys::signal::Signal;

/// A director's configuration: VRRPv3 at 0.1 s keeps failovers well under a
/// second, so the tests stay fast; `extra` goes inside the instance block.
fn config(state: &'static str, priority: u8, extra: &str) -> String {
    VrrpConf {
        extra: extra.to_owned(),
        ..VrrpConf::fast(state, priority)
    }
    .render()
}

fn holds_vip(pair: &Pair, n: usize) -> Result<bool> {
    let addrs = pair
        .host(n)
        .ns()
        .ip(&["-4", "-o", "addr", "show", "dev", "eth0"])?;
    Ok(addrs.contains(&format!(" {VIP}/24 ")))
}

/// Waits until exactly director `n` holds the VIP and reports MASTER.
fn wait_master(pair: &Pair, n: usize, daemon: &Daemon, timeout: Duration) -> Result<()> {
    let other = 3 - n;
    wait_until(timeout, Duration::from_millis(20), || {
        holds_vip(pair, n).unwrap_or(false)
            && !holds_vip(pair, other).unwrap_or(true)
            && state(daemon).as_deref() == Some("MASTER")
    })
    .with_context(|| {
        format!(
            "dir{n} never became the only master; its log:\n{}",
            daemon.log()
        )
    })
}

fn state(daemon: &Daemon) -> Option<String> {
    let status = daemon.status().ok()?;
    Some(status["vrrp"][0]["state"].as_str()?.to_owned())
}

#[test]
fn election_then_failover_on_kill_then_preemption() -> Result<()> {
    let pair = Pair::new()?;
    let mut d1 = pair.start(1, &config("MASTER", 150, ""))?;
    let d2 = pair.start(2, &config("BACKUP", 100, ""))?;
    wait_master(&pair, 1, &d1, Duration::from_secs(5))?;
    d1.wait_for_log("(VI_1) Entering MASTER STATE", Duration::from_secs(1))?;
    ensure!(
        state(&d2).as_deref() == Some("BACKUP"),
        "dir2: {:?}",
        d2.status()
    );
    // A client that talks to the VIP has it in its neighbour table (at dir1);
    // after the neighbour lock time (1 s) gratuitous ARPs may replace it.
    let client = pair.lab.client().ns();
    client.run(&["ping", "-c", "1", "-W", "1", VIP])?;
    let entry = client.ip(&["neigh", "show", VIP])?;
    ensure!(
        entry.contains(&pair.host(1).mac_string()),
        "VIP resolves to dir1: {entry}"
    );
    std::thread::sleep(Duration::from_millis(1100));

    d1.signal(Signal::SIGKILL)?;
    d1.stop()?;
    // A killed daemon cannot remove its VIP; the backup takes over anyway.
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        state(&d2).as_deref() == Some("MASTER")
    })
    .with_context(|| format!("dir2 did not take over:\n{}", d2.log()))?;
    ensure!(holds_vip(&pair, 2)?, "dir2 holds the VIP after failover");
    // The client's neighbour entry follows the gratuitous ARPs.
    let mac2 = pair.host(2).mac_string();
    wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
        client
            .ip(&["neigh", "show", VIP])
            .map(|n| n.contains(&mac2))
            .unwrap_or(false)
    })
    .context("client's ARP entry for the VIP did not move to dir2")?;

    // dir1 comes back (its stale VIP is cleaned up at start) and preempts.
    let d1 = pair.start(1, &config("MASTER", 150, ""))?;
    wait_master(&pair, 1, &d1, Duration::from_secs(5))?;
    d2.wait_for_log("(VI_1) Received higher prio advert", Duration::from_secs(2))?;
    d2.wait_for_log("(VI_1) Entering BACKUP STATE", Duration::from_secs(2))?;
    Ok(())
}

#[test]
fn graceful_handover_on_sigterm() -> Result<()> {
    let pair = Pair::new()?;
    let mut d1 = pair.start(1, &config("MASTER", 150, ""))?;
    let d2 = pair.start(2, &config("BACKUP", 100, ""))?;
    wait_master(&pair, 1, &d1, Duration::from_secs(5))?;
    let status = d1.stop()?;
    ensure!(status.success(), "dir1 exit status {status}");
    ensure!(!holds_vip(&pair, 1)?, "a stopped master removes its VIP");
    // Priority 0 from the leaving master: the backup takes over after its
    // skew time (well under the 0.3 s master-down interval).
    wait_master(&pair, 2, &d2, Duration::from_secs(2))?;
    Ok(())
}

#[test]
fn nopreempt_keeps_the_current_master() -> Result<()> {
    let pair = Pair::new()?;
    let d2 = pair.start(2, &config("BACKUP", 100, ""))?;
    wait_master(&pair, 2, &d2, Duration::from_secs(5))?;
    let d1 = pair.start(1, &config("BACKUP", 150, "    nopreempt\n"))?;
    d1.wait_for_log("(VI_1) Entering BACKUP STATE", Duration::from_secs(2))?;
    std::thread::sleep(Duration::from_secs(1));
    ensure!(
        state(&d1).as_deref() == Some("BACKUP"),
        "higher priority with nopreempt stays backup"
    );
    ensure!(
        holds_vip(&pair, 2)? && !holds_vip(&pair, 1)?,
        "VIP stays on dir2"
    );
    Ok(())
}

#[test]
fn preempt_delay_postpones_preemption() -> Result<()> {
    let pair = Pair::new()?;
    let d2 = pair.start(2, &config("BACKUP", 100, ""))?;
    wait_master(&pair, 2, &d2, Duration::from_secs(5))?;
    let d1 = pair.start(1, &config("BACKUP", 150, "    preempt_delay 2\n"))?;
    std::thread::sleep(Duration::from_millis(1200));
    ensure!(
        state(&d1).as_deref() == Some("BACKUP"),
        "no preemption during preempt_delay"
    );
    ensure!(
        holds_vip(&pair, 2)?,
        "VIP still on dir2 during preempt_delay"
    );
    wait_master(&pair, 1, &d1, Duration::from_secs(3))?;
    Ok(())
}

#[test]
fn sighup_keeps_unchanged_instances_and_their_vips() -> Result<()> {
    let pair = Pair::new()?;
    let d1 = pair.start(1, &config("MASTER", 150, ""))?;
    wait_master(&pair, 1, &d1, Duration::from_secs(5))?;
    let before = d1.status()?["vrrp"][0].clone();

    // Add a second instance; VI_1 is untouched.
    let second = config("MASTER", 150, "")
        .replace("VI_1", "VI_2")
        .replace("virtual_router_id 51", "virtual_router_id 52")
        .replace(VIP, "192.0.2.51");
    fs::write(pair.path(1), config("MASTER", 150, "") + &second)?;
    // Watch the VIP continuously while the daemon reloads.
    let host = pair.host(1);
    let watcher = std::thread::scope(|s| -> Result<bool> {
        let watch = s.spawn(|| {
            let end = std::time::Instant::now() + Duration::from_secs(2);
            let mut always = true;
            while std::time::Instant::now() < end {
                always &= host
                    .ns()
                    .ip(&["-4", "-o", "addr", "show", "dev", "eth0"])
                    .map(|a| a.contains(VIP))
                    .unwrap_or(false);
            }
            always
        });
        d1.signal(Signal::SIGHUP)?;
        Ok(watch.join().expect("watcher thread"))
    })?;
    ensure!(watcher, "VI_1's VIP disappeared during the reload");
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        d1.status()
            .map(|s| s["vrrp"][1]["state"] == "MASTER" && s["config_generation"] == 2)
            .unwrap_or(false)
    })
    .with_context(|| format!("VI_2 did not start:\n{}", d1.log()))?;
    let after = d1.status()?["vrrp"][0].clone();
    ensure!(
        after["last_transition"] == before["last_transition"],
        "VI_1 was not restarted: {before} -> {after}"
    );
    ensure!(after["state"] == "MASTER");

    // Changing VI_1's priority changes it (and only it) in place.
    fs::write(pair.path(1), config("MASTER", 140, "") + &second)?;
    d1.signal(Signal::SIGHUP)?;
    d1.wait_for_log(
        "(VI_1) configuration changed, applied without restarting the instance",
        Duration::from_secs(3),
    )?;
    ensure!(
        !d1.log().contains("(VI_2) configuration changed"),
        "VI_2 untouched"
    );
    wait_master(&pair, 1, &d1, Duration::from_secs(5))?;
    Ok(())
}

#[test]
fn ipv6_election_and_failover_with_neighbour_advertisements() -> Result<()> {
    let pair = Pair::new()?;
    let (c1, c2) = (
        VrrpConf::fast("MASTER", 150).ipv6(),
        VrrpConf::fast("BACKUP", 100).ipv6(),
    );
    let mut d1 = pair.start(1, &c1.render())?;
    let d2 = pair.start(2, &c2.render())?;
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        state(&d1).as_deref() == Some("MASTER")
            && c1.held_by(pair.host(1).ns())
            && !c2.held_by(pair.host(2).ns())
    })
    .with_context(|| format!("dir1 never became the IPv6 master:\n{}", d1.log()))?;
    ensure!(state(&d2).as_deref() == Some("BACKUP"));
    // The master advertises from its link-local address, as RFC 5798 wants.
    let master = d2.status()?["vrrp"][0]["master"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    ensure!(
        master.starts_with("fe80::"),
        "master seen by the backup: {master}"
    );

    let client = pair.lab.client().ns();
    client.run(&["ping", "-6", "-c", "1", "-W", "1", VIP6])?;
    std::thread::sleep(Duration::from_millis(1100));
    d1.signal(Signal::SIGKILL)?;
    d1.stop()?;
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        state(&d2).as_deref() == Some("MASTER") && c2.held_by(pair.host(2).ns())
    })
    .with_context(|| format!("dir2 did not take over:\n{}", d2.log()))?;
    let mac2 = pair.host(2).mac_string();
    wait_until(Duration::from_secs(2), Duration::from_millis(20), || {
        client
            .ip(&["-6", "neigh", "show", VIP6])
            .map(|n| n.contains(&mac2))
            .unwrap_or(false)
    })
    .context("client's neighbour entry for the IPv6 VIP did not move to dir2")?;
    Ok(())
}

#[test]
fn track_script_failure_and_recovery_move_the_vip() -> Result<()> {
    let pair = Pair::new()?;
    let flag = pair.dir.path().join("healthy");
    fs::write(&flag, "")?;
    let script = format!(
        "vrrp_script chk {{\n    script \"/usr/bin/test -f {}\"\n    interval 1\n    weight -60\n}}\n",
        flag.display()
    );
    let tracked = config("MASTER", 150, "    track_script {\n        chk\n    }\n");
    let d1 = pair.start(1, &(script + &tracked))?;
    let d2 = pair.start(2, &config("BACKUP", 100, ""))?;
    wait_master(&pair, 1, &d1, Duration::from_secs(5))?;

    // The check fails: 150 - 60 = 90 < 100, and the backup takes over.
    fs::remove_file(&flag)?;
    wait_master(&pair, 2, &d2, Duration::from_secs(5))?;
    ensure!(
        d1.status()?["vrrp"][0]["priority"] == 90,
        "effective priority 90: {}",
        d1.status()?
    );
    d1.wait_for_log("VRRP_Script(chk) failed", Duration::from_secs(1))?;

    // It recovers: back to 150, and dir1 preempts.
    fs::write(&flag, "")?;
    wait_master(&pair, 1, &d1, Duration::from_secs(5))?;
    d1.wait_for_log("VRRP_Script(chk) succeeded", Duration::from_secs(1))?;
    Ok(())
}

/// VI_1 and VI_2 in one `vrrp_sync_group`; `extra2` goes into VI_2.
fn grouped(state: &'static str, priority: u8, extra2: &str) -> String {
    let second = config(state, priority, extra2)
        .replace("VI_1", "VI_2")
        .replace("virtual_router_id 51", "virtual_router_id 52")
        .replace(VIP, "192.0.2.51");
    format!(
        "vrrp_sync_group G1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n{}{second}",
        config(state, priority, "")
    )
}

#[test]
fn sync_group_follows_a_member_fault_and_recovery() -> Result<()> {
    let pair = Pair::new()?;
    // dir1's VI_2 tracks an extra link of its own.
    let ns1 = pair.host(1).ns();
    ns1.ip(&[
        "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
    ])?;
    ns1.ip(&["link", "set", "trk0", "up"])?;
    ns1.ip(&["link", "set", "trk1", "up"])?;
    let d1 = pair.start(
        1,
        &grouped(
            "MASTER",
            150,
            "    track_interface {\n        trk0\n    }\n",
        ),
    )?;
    let d2 = pair.start(2, &grouped("BACKUP", 100, ""))?;
    let states = |d: &Daemon| -> Vec<String> {
        d.status()
            .map(|s| {
                (0..2)
                    .map(|i| s["vrrp"][i]["state"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        states(&d1) == ["MASTER", "MASTER"]
    })
    .with_context(|| format!("dir1 never master of the group:\n{}", d1.log()))?;

    // VI_2's link goes down: VI_2 faults, and the group takes VI_1 along
    // although nothing is wrong with it.
    ns1.ip(&["link", "set", "trk0", "down"])?;
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        states(&d1) == ["FAULT", "FAULT"] && states(&d2) == ["MASTER", "MASTER"]
    })
    .with_context(|| {
        format!(
            "the group did not move:\ndir1:\n{}\ndir2:\n{}",
            d1.log(),
            d2.log()
        )
    })?;
    ensure!(
        holds_vip(&pair, 2)? && !holds_vip(&pair, 1)?,
        "VI_1's VIP moved with the group"
    );

    // The link returns: dir1's group leaves FAULT and preempts as a whole.
    ns1.ip(&["link", "set", "trk0", "up"])?;
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        states(&d1) == ["MASTER", "MASTER"] && states(&d2) == ["BACKUP", "BACKUP"]
    })
    .with_context(|| {
        format!(
            "the group did not come back:\ndir1:\n{}\ndir2:\n{}",
            d1.log(),
            d2.log()
        )
    })?;
    Ok(())
}

#[test]
fn notify_scripts_and_smtp_alert_follow_transitions() -> Result<()> {
    let pair = Pair::new()?;
    let ns1 = pair.host(1).ns();
    // The mail relay lives in dir1's namespace, on its loopback.
    let sink = lb_tests::in_netns(ns1.name(), lb_tests::SmtpSink::start)??;
    let (record, calls) = (
        pair.dir.path().join("record.sh"),
        pair.dir.path().join("calls"),
    );
    fs::write(
        &record,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", calls.display()),
    )?;
    fs::set_permissions(&record, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let globals = format!(
        "global_defs {{\n    router_id lab-dir1\n    notification_email {{\n        ops@example.com\n    }}\n    \
         notification_email_from lb@example.com\n    smtp_server {} {}\n}}\n",
        sink.addr().ip(),
        sink.addr().port()
    );
    let hooks = format!(
        "    notify \"{0}\"\n    notify_master \"{0} master-hook\"\n    notify_stop \"{0} stop-hook\"\n    smtp_alert\n",
        record.display()
    );
    let mut d1 = pair.start(1, &(globals + &config("MASTER", 150, &hooks)))?;
    wait_master(&pair, 1, &d1, Duration::from_secs(5))?;
    let calls_now = || fs::read_to_string(&calls).unwrap_or_default();
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        calls_now().contains("INSTANCE VI_1 MASTER 150") && calls_now().contains("master-hook")
    })
    .with_context(|| format!("notify scripts: {:?}\n{}", calls_now(), d1.log()))?;
    // One mail per transition: BACKUP at start, then MASTER.
    let mails = sink.wait_for(2, Duration::from_secs(5));
    let subjects: Vec<String> = mails.iter().filter_map(|m| m.header("Subject")).collect();
    ensure!(
        subjects
            == [
                "[lab-dir1] VRRP Instance VI_1 - Entering BACKUP state",
                "[lab-dir1] VRRP Instance VI_1 - Entering MASTER state"
            ],
        "mails: {mails:?}"
    );

    ensure!(d1.stop()?.success(), "clean stop");
    let calls = calls_now();
    ensure!(
        calls.contains("INSTANCE VI_1 STOP") && calls.contains("stop-hook"),
        "stop notifications: {calls:?}"
    );
    Ok(())
}
