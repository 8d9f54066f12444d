//! keepalived's strict mode and its nftables firewall for accept mode: two
//! lb-daemons with `vrrp_strict` on the lab's bridge. The MASTER's VIP is
//! in the drop set of table `ip keepalived` (a client's ping and TCP to it
//! get no answer), the set follows the VIP on failover, the table goes at
//! a clean stop and on a reload to `accept`, and a table a killed daemon
//! left is replaced at start. keepalived 2.2.7 builds the same tables for
//! the same configuration.
use std::{fs, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Keepalived, Netns, Pair, VrrpConf, VIP, VIP6};
use nix::sys::signal::Signal;

const TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// `vrrp_strict` with an instance of the given priority (VRRPv3 at 0.1 s;
/// both start as BACKUP, as strict mode wants of a non-owner) and `extra`
/// lines in the instance.
fn config(priority: u8, global: &str, extra: &str) -> String {
    let instance = VrrpConf {
        extra: extra.to_owned(),
        ..VrrpConf::fast("BACKUP", priority)
    };
    format!(
        "global_defs {{\n    vrrp_strict\n{global}}}\n{}",
        instance.render()
    )
}

/// `nft ARGS` in `ns`: its output, or `None` when it fails (no table).
fn nft(ns: &Netns, args: &[&str]) -> Option<String> {
    let mut full = vec!["nft"];
    full.extend_from_slice(args);
    ns.run(&full).ok()
}

/// Whether the `vips` set of `ip keepalived` in `ns` holds the VIP
/// (`None`: no such table).
fn vip_in_set(ns: &Netns) -> Option<bool> {
    let set = nft(ns, &["list", "set", "ip", "keepalived", "vips"])?;
    Some(set.contains(VIP))
}

/// Whether the client gets an answer to a ping of the VIP.
fn ping_answered(pair: &Pair) -> Result<bool> {
    let out = pair
        .lab
        .client()
        .ns()
        .exec(&["ping", "-c", "1", "-W", "1", VIP])?;
    Ok(out.status.success())
}

/// Whether a TCP connection to the VIP (port 80, where nothing listens)
/// gets an answer at all (a reset), rather than timing out.
fn tcp_answered(pair: &Pair) -> Result<bool> {
    let script = format!("exec 3<>/dev/tcp/{VIP}/80");
    let out = pair
        .lab
        .client()
        .ns()
        .exec(&["timeout", "2", "bash", "-c", &script])?;
    // 124: `timeout` ended it, nothing came back.
    Ok(out.status.code() != Some(124))
}

fn wait_master(pair: &Pair, n: usize, daemon: &Daemon) -> Result<()> {
    wait_until(TIMEOUT, POLL, || {
        pair.holds(n, &format!("{VIP}/24")) && daemon.vrrp_state() == "MASTER"
    })
    .with_context(|| format!("dir{n} never became master:\n{}", daemon.log()))
}

#[test]
fn no_accept_master_drops_vip_traffic_and_the_set_follows_failover() -> Result<()> {
    let pair = Pair::new()?;
    let mut d1 = pair.start(1, &config(150, "", ""))?;
    let mut d2 = pair.start(2, &config(100, "", ""))?;
    wait_master(&pair, 1, &d1)?;
    let (ns1, ns2) = (pair.host(1).ns(), pair.host(2).ns());
    wait_until(TIMEOUT, POLL, || vip_in_set(ns1) == Some(true))
        .with_context(|| format!("dir1's drop set: {:?}", nft(ns1, &["list", "ruleset"])))?;
    // The BACKUP has the table, with an empty set.
    wait_until(TIMEOUT, POLL, || vip_in_set(ns2) == Some(false))
        .with_context(|| format!("dir2's drop set: {:?}", nft(ns2, &["list", "ruleset"])))?;
    let table = nft(ns1, &["list", "table", "ip", "keepalived"]).context("dir1's table")?;
    for rule in [
        "ip daddr @vips drop",
        "ip saddr @vips drop",
        "hook input priority",
    ] {
        ensure!(
            table.contains(rule),
            "dir1's table lacks {rule:?}:\n{table}"
        );
    }
    ensure!(
        nft(ns1, &["list", "table", "ip6", "keepalived"]).is_none(),
        "no IPv6 table without IPv6 addresses"
    );
    // The VIP is held (ARP answers), but IP traffic to it is dropped.
    ensure!(
        !ping_answered(&pair)?,
        "ping of the VIP answered in no_accept mode"
    );
    ensure!(
        !tcp_answered(&pair)?,
        "TCP to the VIP answered in no_accept mode"
    );
    let dir1 = pair.host(1).ipv4().to_string();
    let out = pair
        .lab
        .client()
        .ns()
        .exec(&["ping", "-c", "1", "-W", "1", &dir1])?;
    ensure!(out.status.success(), "dir1's own address still answers");

    // A clean stop of the master: the set moves with the VIP, the table goes.
    d1.stop()?;
    wait_master(&pair, 2, &d2)?;
    wait_until(TIMEOUT, POLL, || vip_in_set(ns2) == Some(true))
        .with_context(|| format!("dir2's drop set: {:?}", nft(ns2, &["list", "ruleset"])))?;
    ensure!(
        nft(ns1, &["list", "table", "ip", "keepalived"]).is_none(),
        "dir1's table is gone after a clean stop: {:?}",
        nft(ns1, &["list", "ruleset"])
    );
    ensure!(!ping_answered(&pair)?, "ping of the VIP answered at dir2");
    d2.stop()?;
    ensure!(nft(ns2, &["list", "table", "ip", "keepalived"]).is_none());
    Ok(())
}

#[test]
fn accept_answers_and_a_reload_to_accept_removes_the_table() -> Result<()> {
    let pair = Pair::new()?;
    let mut d1 = pair.start(1, &config(150, "", ""))?;
    wait_master(&pair, 1, &d1)?;
    let ns1 = pair.host(1).ns();
    wait_until(TIMEOUT, POLL, || vip_in_set(ns1) == Some(true))?;
    ensure!(!ping_answered(&pair)?, "dropped before the reload");
    // VRRPv3 allows accept mode in strict mode.
    fs::write(pair.path(1), config(150, "", "    accept\n"))?;
    d1.signal(Signal::SIGHUP)?;
    d1.wait_for_log("Configuration reloaded", TIMEOUT)?;
    wait_until(TIMEOUT, POLL, || vip_in_set(ns1).is_none())
        .with_context(|| format!("table kept: {:?}", nft(ns1, &["list", "ruleset"])))?;
    ensure!(pair.holds(1, &format!("{VIP}/24")), "the VIP stayed");
    ensure!(
        ping_answered(&pair)?,
        "ping of the VIP not answered with accept"
    );
    ensure!(
        tcp_answered(&pair)?,
        "TCP to the VIP not answered with accept"
    );
    // And back: no_accept again programs the table for the running master.
    fs::write(pair.path(1), config(150, "", "    no_accept\n"))?;
    d1.signal(Signal::SIGHUP)?;
    wait_until(TIMEOUT, POLL, || vip_in_set(ns1) == Some(true))?;
    ensure!(
        !ping_answered(&pair)?,
        "dropped again after the second reload"
    );
    d1.stop()?;
    Ok(())
}

#[test]
fn a_table_left_by_a_killed_daemon_is_replaced_at_start() -> Result<()> {
    let pair = Pair::new()?;
    let ns1 = pair.host(1).ns();
    let d1 = pair.start(
        1,
        &config(150, "    nftables lbfw\n    nftables_counters\n", ""),
    )?;
    wait_master(&pair, 1, &d1)?;
    let listed = |ns: &Netns| nft(ns, &["list", "table", "ip", "lbfw"]);
    wait_until(TIMEOUT, POLL, || {
        listed(ns1).is_some_and(|t| t.contains(VIP))
    })?;
    ensure!(
        listed(ns1).is_some_and(|t| t.contains("counter packets")),
        "nftables_counters: {:?}",
        listed(ns1)
    );
    d1.kill()?;
    // What the killed daemon left, plus something that is not ours.
    ns1.run(&[
        "nft",
        "add chain ip lbfw stale; add element ip lbfw vips { 198.51.100.99 }",
    ])?;
    let mut d1 = pair.start(
        1,
        &config(150, "    nftables lbfw\n    nftables_counters\n", ""),
    )?;
    wait_until(TIMEOUT, POLL, || {
        listed(ns1).is_some_and(|t| !t.contains("stale") && !t.contains("198.51.100.99"))
    })
    .with_context(|| format!("leftover kept: {:?}", listed(ns1)))?;
    wait_master(&pair, 1, &d1)?;
    wait_until(TIMEOUT, POLL, || {
        listed(ns1).is_some_and(|t| t.contains(VIP))
    })?;
    d1.stop()?;
    ensure!(listed(ns1).is_none(), "table removed at stop");
    Ok(())
}

#[test]
fn a_failing_nft_never_costs_the_vip_and_is_retried() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let pair = Pair::new()?;
    // An `nft` first in PATH that fails until the file `works` exists.
    let bin = pair.dir.path().join("bin");
    fs::create_dir(&bin)?;
    let works = pair.dir.path().join("works");
    let fake = bin.join("nft");
    let script = format!(
        "#!/bin/sh\n[ -e {} ] && exec /usr/sbin/nft \"$@\"\necho simulated failure >&2\nexit 1\n",
        works.display()
    );
    fs::write(&fake, script)?;
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755))?;
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
    fs::write(pair.path(1), config(150, "", ""))?;
    let env = [("PATH", std::ffi::OsStr::new(&path))];
    let mut d1 = Daemon::start_with_env(pair.host(1).ns(), &pair.path(1), "dir1", &env)?;
    // VRRP goes on: the master holds its VIP, the failure is an error.
    wait_master(&pair, 1, &d1)?;
    d1.wait_for_log("ERROR", TIMEOUT)?;
    d1.wait_for_log("simulated failure", TIMEOUT)?;
    let ns1 = pair.host(1).ns();
    ensure!(vip_in_set(ns1).is_none(), "nothing programmed yet");
    // nft works again: the next retry programs the table.
    fs::write(&works, "")?;
    wait_until(TIMEOUT, POLL, || vip_in_set(ns1) == Some(true))
        .with_context(|| format!("not retried:\n{}", d1.log()))?;
    d1.wait_for_log("nftables firewall programmed again", TIMEOUT)?;
    ensure!(pair.holds(1, &format!("{VIP}/24")), "the VIP stayed");
    d1.stop()?;
    ensure!(vip_in_set(ns1).is_none(), "table removed at stop");
    Ok(())
}

/// The table's layout as `nft list table` shows it: set and chain
/// declarations, hooks and rules, without elements and counter values.
fn layout(table: &str) -> Vec<String> {
    table
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("elements") && *l != "}")
        .map(|l| match l.find(" counter packets") {
            Some(at) => {
                let verdict = l.rsplit(' ').next().unwrap_or_default();
                format!("{} {verdict}", &l[..at])
            }
            None => l.to_owned(),
        })
        .collect()
}

/// keepalived's table `family keepalived` for configuration `text` (run
/// alone in dir2 until its set holds `vip`), then lb-daemon's (alone in
/// dir1): both as `nft list table` shows them.
fn both_tables(family: &str, text: &str, vip: &str) -> Result<(String, String)> {
    let pair = Pair::new()?;
    let list = |ns: &Netns| nft(ns, &["list", "table", family, "keepalived"]);
    let ns2 = pair.host(2).ns();
    let mut keepalived = Keepalived::start(ns2, text, "keepalived")?;
    keepalived.wait_for_log("Entering MASTER STATE", TIMEOUT)?;
    wait_until(TIMEOUT, POLL, || list(ns2).is_some_and(|t| t.contains(vip)))
        .with_context(|| format!("keepalived's ruleset: {:?}", nft(ns2, &["list", "ruleset"])))?;
    let theirs = list(ns2).context("keepalived's table")?;
    keepalived.stop()?;
    let ns1 = pair.host(1).ns();
    let mut d1 = pair.start(1, text)?;
    wait_until(TIMEOUT, POLL, || d1.vrrp_state() == "MASTER")
        .with_context(|| format!("dir1 never became master:\n{}", d1.log()))?;
    wait_until(TIMEOUT, POLL, || list(ns1).is_some_and(|t| t.contains(vip)))
        .with_context(|| format!("our ruleset: {:?}", nft(ns1, &["list", "ruleset"])))?;
    let ours = list(ns1).context("our table")?;
    if family == "ip6" {
        // The master holds the address, but IPv6 traffic to it is dropped.
        let client = pair.lab.client().ns();
        let out = client.exec(&["ping", "-6", "-c", "1", "-W", "1", VIP6])?;
        ensure!(
            !out.status.success(),
            "ping of {VIP6} answered in no_accept mode"
        );
    }
    d1.stop()?;
    ensure!(list(ns1).is_none(), "our table is gone after a clean stop");
    Ok((ours, theirs))
}

#[test]
fn keepalived_builds_the_same_table_for_the_same_configuration() -> Result<()> {
    let (ours, theirs) = both_tables("ip", &config(150, "", ""), VIP)?;
    ensure!(
        layout(&ours) == layout(&theirs),
        "ours:\n{ours}\nkeepalived's:\n{theirs}"
    );
    Ok(())
}

#[test]
fn keepalived_builds_the_same_ipv6_table_with_link_local_addresses() -> Result<()> {
    let instance = VrrpConf {
        extra: "    virtual_ipaddress_excluded {\n        fe80::50/64 dev eth0\n    }\n".into(),
        ..VrrpConf::fast("BACKUP", 150).ipv6()
    };
    let text = format!("global_defs {{\n    vrrp_strict\n}}\n{}", instance.render());
    let (ours, theirs) = both_tables("ip6", &text, VIP6)?;
    ensure!(
        ours.contains("fe80::50 . \"eth0\""),
        "the link-local address with its interface:\n{ours}"
    );
    ensure!(
        layout(&ours) == layout(&theirs),
        "ours:\n{ours}\nkeepalived's:\n{theirs}"
    );
    Ok(())
}
