//! Unicast hardening and where the daemon runs: `unicast_ttl` on the
//! sending side and a peer's `min_ttl`/`max_ttl` on the receiving side,
//! `unicast_fault_no_peer`, and keepalived's top-level `net_namespace`.
use std::{fs, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{Daemon, Pair, VrrpConf};
use nix::sys::signal::Signal;
use serde_json::Value;

fn instance(daemon: &Daemon) -> Result<Value> {
    Ok(daemon.status()?["vrrp"][0].clone())
}

/// dir1 (MASTER, 150) sends unicast adverts with `sender_extra`; dir2
/// (BACKUP, 100) accepts dir1's adverts only with TTL / hop limit 7.
/// While dir1 sends with `unicast_ttl 7` dir2 stays BACKUP; once a reload
/// drops `unicast_ttl` (adverts leave with 255), dir2 drops them as
/// `peer_ttl` and takes over.
fn ttl_range(ipv6: bool) -> Result<()> {
    let pair = Pair::new()?;
    let address = |n: usize| match ipv6 {
        true => pair.host(n).ipv6().to_string(),
        false => pair.host(n).ipv4().to_string(),
    };
    let conf = |state, priority, src: String, peer: String, extra: &str| {
        let conf = VrrpConf {
            unicast: Some((src, peer)),
            extra: extra.to_owned(),
            ..VrrpConf::fast(state, priority)
        };
        match ipv6 {
            true => conf.ipv6(),
            false => conf,
        }
        .render()
    };
    let sender = |extra| conf("MASTER", 150, address(1), address(2), extra);
    let d1 = pair.start(1, &sender("    unicast_ttl 7\n"))?;
    let ranged = format!("{} min_ttl 7 max_ttl 7", address(1));
    let d2 = pair.start(2, &conf("BACKUP", 100, address(2), ranged, ""))?;
    d1.wait_status("dir1 master", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    d2.wait_status("dir2 hears dir1", Duration::from_secs(5), |s| {
        s["vrrp"][0]["adverts_received"].as_u64() > Some(10)
    })?;
    let heard = instance(&d2)?;
    ensure!(
        heard["state"] == "BACKUP" && heard["drops"]["peer_ttl"] == 0,
        "dir2 accepts adverts sent with unicast_ttl 7: {heard}"
    );

    fs::write(pair.path(1), sender(""))?;
    d1.signal(Signal::SIGHUP)?;
    d2.wait_status("dir2 drops TTL 255", Duration::from_secs(5), |s| {
        s["vrrp"][0]["drops"]["peer_ttl"].as_u64() > Some(3) && s["vrrp"][0]["state"] == "MASTER"
    })
    .with_context(|| format!("dir2 log:\n{}", d2.log()))?;
    d2.wait_for_log(
        "TTL/HL not in the unicast peer's range",
        Duration::from_secs(1),
    )?;
    Ok(())
}

#[test]
fn unicast_ttl_is_sent_and_a_peer_ttl_range_is_enforced() -> Result<()> {
    ttl_range(false)
}

#[test]
fn unicast_hop_limit_is_sent_and_a_peer_hop_limit_range_is_enforced() -> Result<()> {
    ttl_range(true)
}

/// Without peers an instance with a unicast keyword falls back to
/// multicast (keepalived's deprecated habit, with a warning), unless
/// `unicast_fault_no_peer` says FAULT.
#[test]
fn unicast_fault_no_peer_keeps_a_peerless_instance_in_fault() -> Result<()> {
    let pair = Pair::new()?;
    let src = pair.host(1).ipv4();
    let conf = |extra: &str| {
        VrrpConf {
            extra: format!("    unicast_src_ip {src}\n{extra}"),
            ..VrrpConf::fast("MASTER", 150)
        }
        .render()
    };
    let mut fallback = pair.start(1, &conf(""))?;
    fallback.wait_status("multicast fallback", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    fallback.stop()?;

    let faulted = pair.start(1, &conf("    unicast_fault_no_peer\n"))?;
    faulted.wait_status("fault", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "FAULT"
    })?;
    // Far longer than the master-down interval (3 x 0.1 s + skew).
    std::thread::sleep(Duration::from_millis(800));
    let now = instance(&faulted)?;
    ensure!(
        now["state"] == "FAULT"
            && now["error"]
                .as_str()
                .is_some_and(|e| e.contains("unicast_fault_no_peer")),
        "stays in FAULT and says why: {now}"
    );
    ensure!(
        !pair.holds(1, "192.0.2.50/24"),
        "a FAULT instance holds no VIP"
    );
    Ok(())
}

/// A daemon started outside the lab joins the namespace its configuration
/// names, and runs its instance there.
#[test]
fn net_namespace_moves_the_daemon_into_the_named_namespace() -> Result<()> {
    let pair = Pair::new()?;
    let ns = pair.host(1).ns();
    let text = format!(
        "net_namespace {}\ninstance lab\n{}",
        ns.name(),
        VrrpConf::fast("MASTER", 150).render()
    );
    fs::write(pair.path(1), text)?;
    let daemon = Daemon::start_joining(ns, &pair.path(1), "dir1")?;
    daemon
        .wait_status("master", Duration::from_secs(5), |s| {
            s["vrrp"][0]["state"] == "MASTER"
        })
        .with_context(|| daemon.log())?;
    ensure!(
        pair.holds(1, "192.0.2.50/24"),
        "the VIP is on eth0 of the named namespace"
    );
    let pids = ns.pids()?;
    ensure!(
        pids.contains(&(daemon.pid() as i32)),
        "the daemon runs inside {}: {pids:?}",
        ns.name()
    );
    Ok(())
}
