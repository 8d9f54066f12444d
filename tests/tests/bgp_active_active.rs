//! Active-active directors behind BGP, against a real router: two lb-daemon
//! directors (each running BIRD as its child) announce an `mh` fast-path
//! service's address to FRR (bgpd + bfdd), which installs one ECMP route
//! with both directors as next hops; a client behind the router reaches the
//! real servers (DR) through either. The address is withdrawn when too few
//! real servers are up and announced again when they return; a SIGHUP that
//! leaves BGP alone does not reset the session; kill -9 of a director takes
//! its BIRD with it and the router drops its next hop within a second (BFD
//! 100 ms x 3).
use std::{
    collections::BTreeSet,
    fs,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use lb_tests::{
    bgp_lab::{BgpLab, BGP_VIP as VIP, DIRECTORS_AS},
    http_get, promtool_check, Daemon, KeptAlive,
};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};
use serde_json::Value;

fn start(
    bgp: &BgpLab,
    dir: &tempfile::TempDir,
    n: usize,
    min_healthy: u32,
) -> Result<(Daemon, PathBuf)> {
    start_with(bgp, dir, n, bgp.config(min_healthy))
}

/// Starts director `n` with `config`.
fn start_with(
    bgp: &BgpLab,
    dir: &tempfile::TempDir,
    n: usize,
    config: String,
) -> Result<(Daemon, PathBuf)> {
    let path = dir.path().join(format!("dir{n}.conf"));
    fs::write(&path, config)?;
    let daemon = Daemon::start(bgp.lab.director(n).ns(), &path, &format!("dir{n}"))?;
    Ok((daemon, path))
}

fn announced(status: &Value) -> bool {
    status["bgp"]["announcements"][0]["state"] == "announced"
        && status["bgp"]["sessions"][0]["bgp_state"] == "Established"
        && status["bgp"]["sessions"][0]["bfd_state"] == "Up"
}

#[test]
fn directors_announce_withdraw_on_health_and_vanish_with_a_killed_daemon() -> Result<()> {
    let bgp = BgpLab::build(2)?;
    let dir = tempfile::tempdir()?;
    let path1 = dir.path().join("dir1.conf");
    fs::write(&path1, bgp.config(3))?;
    let d1 = Daemon::start_with(
        bgp.lab.director(1).ns(),
        &path1,
        "dir1",
        &["--metrics-listen", "127.0.0.1:9650"],
    )?;
    let (d2, _) = start(&bgp, &dir, 2, 3)?;
    let both = bgp.directors();
    bgp.wait_next_hops(&both, "both directors announce", Duration::from_secs(20))?;
    for d in [&d1, &d2] {
        d.wait_status(
            "announced with the session up",
            Duration::from_secs(10),
            announced,
        )?;
        d.wait_status("the fast path attached", Duration::from_secs(5), |s| {
            s["fast_path"]["interfaces"][0]["attached"] == true
        })?;
    }
    // The announcement, the session and the table are in /metrics too.
    let (_, scrape) = http_get(
        bgp.lab.director(1).ns_name(),
        "http://127.0.0.1:9650/metrics",
        Duration::from_secs(5),
    )?;
    for line in [
        format!("lb_bgp_announced{{prefix=\"{VIP}/32\"}} 1"),
        format!(
            "lb_bgp_session_established{{neighbor=\"{}\"}} 1",
            bgp.lab.client().ipv4()
        ),
        format!(
            "lb_bgp_bfd_up{{neighbor=\"{}\"}} 1",
            bgp.lab.client().ipv4()
        ),
        "lb_xdp_table_info{".to_owned(),
    ] {
        ensure!(
            scrape.contains(&line),
            "{line} not in the scrape:\n{scrape}"
        );
    }
    promtool_check(&scrape)?;
    let route = bgp.frr.json(&format!("show ip route {VIP}"))?;
    let communities = bgp.frr.vtysh(&format!("show bgp ipv4 unicast {VIP}"))?;
    ensure!(
        communities.contains(&format!("{DIRECTORS_AS}:80")),
        "community missing: {communities}\n{route}"
    );

    // The client reaches the real servers through the directors.
    let mut answered = BTreeSet::new();
    for _ in 0..30 {
        let (status, body) = http_get(
            bgp.client.name(),
            &format!("http://{VIP}/"),
            Duration::from_secs(2),
        )?;
        ensure!(status == 200, "status {status}");
        answered.insert(body.trim().to_owned());
    }
    ensure!(answered.len() >= 2, "every request went to {answered:?}");

    // A reload that leaves BGP alone keeps the session.
    let sessions = bgp.frr.connections_established(both[0])?;
    fs::write(&path1, bgp.config(3))?;
    d1.signal(Signal::SIGHUP)?;
    d1.wait_for_log("Configuration reloaded", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_secs(2));
    ensure!(
        bgp.frr.connections_established(both[0])? == sessions,
        "the reload reset the BGP session"
    );
    ensure!(bgp.next_hops().len() == 2, "the reload withdrew the route");

    // Tracking: a reload makes director 1's announcement follow a tracked
    // file (an operator's maintenance switch); a non-zero value withdraws.
    let switch = dir.path().join("maintenance");
    fs::write(&switch, "0\n")?;
    let tracked = bgp.config(3).replacen(
        "bgp_announce {\n",
        "bgp_announce {\n        track_file {\n            maintenance\n        }\n",
        1,
    );
    let text = format!(
        "track_file maintenance {{\n    file {}\n    weight 0\n}}\n{tracked}",
        switch.display()
    );
    fs::write(&path1, text)?;
    d1.signal(Signal::SIGHUP)?;
    d1.wait_for_log("(generation 3)", Duration::from_secs(10))?;
    fs::write(&switch, "1\n")?;
    bgp.wait_next_hops(
        &both[1..],
        "dir1 withdrew for its tracked file",
        Duration::from_secs(10),
    )?;
    fs::write(&switch, "0\n")?;
    bgp.wait_next_hops(&both, "dir1 announced again", Duration::from_secs(10))?;

    // One real server fails its checks: below min_healthy 3, both withdraw.
    bgp.block_checks(3, true)?;
    bgp.wait_next_hops(&[], "withdrawn below min_healthy", Duration::from_secs(15))?;
    d1.wait_status("the reason is shown", Duration::from_secs(5), |s| {
        s["bgp"]["announcements"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("2 of 3"))
    })?;
    bgp.block_checks(3, false)?;
    bgp.wait_next_hops(&both, "announced again", Duration::from_secs(15))?;

    // kill -9 of director 2's daemon: its BIRD dies with it and BFD tells
    // the router at once.
    let pid = d2.status()?["pid"].as_i64().context("no pid")? as i32;
    let killed = Instant::now();
    kill(Pid::from_raw(pid), Signal::SIGKILL)?;
    bgp.wait_next_hops(
        &both[..1],
        "the killed director dropped",
        Duration::from_secs(5),
    )?;
    let dropped = killed.elapsed();
    ensure!(
        dropped < Duration::from_millis(1000),
        "next hop dropped after {dropped:?}"
    );
    let left = bgp.lab.director(2).ns().pids()?;
    ensure!(
        left.is_empty(),
        "processes left in dir2 after kill -9: {left:?}"
    );
    eprintln!("killed director's next hop dropped after {dropped:?}");
    drop(d2);
    Ok(())
}

/// Counts, on the switch, the client's packets to the service that the
/// router sends to each director (named counters `to_dir1`...).
fn count_packets_to_directors(bgp: &BgpLab) -> Result<()> {
    let switch = bgp.lab.switch();
    switch.run(&["nft", "add table bridge lbtest"])?;
    switch.run(&[
        "nft",
        "add chain bridge lbtest forwarded { type filter hook forward priority 0; }",
    ])?;
    for d in bgp.lab.directors() {
        let name = format!("to_{}", d.role());
        switch.run(&["nft", &format!("add counter bridge lbtest {name}")])?;
        switch.run(&[
            "nft",
            &format!(
                "add rule bridge lbtest forwarded oifname \"{}\" ip daddr {VIP} tcp dport 80 counter name \"{name}\"",
                d.bridge_port()
            ),
        ])?;
    }
    Ok(())
}

/// The client's packets to the service the router sent to director `n`.
fn packets_to(bgp: &BgpLab, n: usize) -> Result<u64> {
    let name = format!("to_dir{n}");
    let out =
        bgp.lab
            .switch()
            .run(&["nft", "-j", &format!("list counter bridge lbtest {name}")])?;
    let v: Value = serde_json::from_str(&out)?;
    v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|item| item["counter"]["packets"].as_u64())
        .with_context(|| format!("no counter {name}: {out}"))
}

/// Opens `flows` new connections from the client, each one request.
fn new_flows(bgp: &BgpLab, flows: usize) -> Result<()> {
    for _ in 0..flows {
        let url = format!("http://{VIP}/");
        let (status, _) = http_get(bgp.client.name(), &url, Duration::from_secs(2))?;
        ensure!(status == 200, "status {status}");
    }
    Ok(())
}

/// For each of `flows`: whether it answers from the real server it
/// answered from before (`before`), without a reset.
fn kept_each(flows: &mut [KeptAlive], before: &[String]) -> Vec<bool> {
    flows
        .iter_mut()
        .zip(before)
        .map(|(flow, was)| flow.ask().is_ok_and(|now| &now == was))
        .collect()
}

/// How many of `flows` kept their real server (see [`kept_each`]).
fn kept(flows: &mut [KeptAlive], before: &[String]) -> usize {
    kept_each(flows, before).into_iter().filter(|k| *k).count()
}

#[test]
fn three_directors_spread_flows_and_keep_them_when_one_leaves_or_joins() -> Result<()> {
    const KEPT: usize = 200;
    let bgp = BgpLab::build(3)?;
    let dir = tempfile::tempdir()?;
    let config = bgp.config_draining(1, 4);
    let (d1, _) = start_with(&bgp, &dir, 1, config.clone())?;
    let (d2, _) = start_with(&bgp, &dir, 2, config.clone())?;
    let (mut d3, _) = start_with(&bgp, &dir, 3, config.clone())?;
    let all = bgp.directors();
    bgp.wait_next_hops(&all, "three directors announce", Duration::from_secs(20))?;
    for d in [&d1, &d2, &d3] {
        d.wait_status("announced", Duration::from_secs(10), announced)?;
    }
    // The directors' tables agree: every flow goes to the same real server
    // whichever director the router picks.
    let digests: BTreeSet<String> = [&d1, &d2, &d3]
        .iter()
        .map(|d| Ok(d.status()?["fast_path"]["services"][0]["table_digest"].to_string()))
        .collect::<Result<_>>()?;
    ensure!(
        digests.len() == 1 && !digests.contains("null"),
        "tables differ: {digests:?}"
    );

    // New flows spread over the three directors (router: L4 ECMP hash).
    count_packets_to_directors(&bgp)?;
    let counters = || {
        (1..=3)
            .map(|n| packets_to(&bgp, n))
            .collect::<Result<Vec<_>>>()
    };
    let before = counters()?;
    new_flows(&bgp, 600)?;
    let after = counters()?;
    let counts: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let total: u64 = counts.iter().sum();
    let shares: Vec<f64> = counts
        .iter()
        .map(|c| *c as f64 * 100.0 / total as f64)
        .collect();
    eprintln!("spread of 600 new flows over three directors (% of packets): {shares:.1?}");
    // A third each, within 5 standard deviations of 600 independent flows
    // (sigma = 100 * sqrt(1/3 * 2/3 / 600) = 1.9 points): a director that
    // gets no flows or half again its share still fails (the band was
    // 28..=38, 2.5 sigma, and a CI run failed on [30.6, 40.0, 29.4]).
    let sigma = 100.0 * (2.0_f64 / 9.0 / 600.0).sqrt();
    let band = 100.0 / 3.0 - 5.0 * sigma..=100.0 / 3.0 + 5.0 * sigma;
    for share in &shares {
        ensure!(
            band.contains(share),
            "spread {shares:.1?} outside {band:.1?}"
        );
    }

    // Long-lived connections, and which real server holds each.
    let target = format!("{VIP}:80");
    let mut flows = lb_tests::in_netns(bgp.client.name(), || {
        (0..KEPT)
            .map(|_| KeptAlive::open(&target))
            .collect::<Result<Vec<_>>>()
    })??;
    let servers: Vec<String> = flows
        .iter_mut()
        .map(KeptAlive::ask)
        .collect::<Result<_>>()?;

    // A planned leave: director 3 stops (withdraw, drain, detach).
    let leaving = Instant::now();
    d3.signal(Signal::SIGTERM)?;
    bgp.wait_next_hops(&all[..2], "director 3 withdrew", Duration::from_secs(5))?;
    let withdrawn = leaving.elapsed();
    // After convergence no packet reaches the withdrawn director, which
    // still has its fast path attached (drain 4 s).
    let quiet = packets_to(&bgp, 3)?;
    new_flows(&bgp, 60)?;
    let still = kept(&mut flows, &servers);
    let late = packets_to(&bgp, 3)?;
    ensure!(
        late == quiet,
        "{} packets reached the withdrawn director",
        late - quiet
    );
    d3.stop()?;
    let kept_leave = kept(&mut flows, &servers);
    eprintln!("planned leave: route changed after {withdrawn:?}; {still}/{KEPT} then {kept_leave}/{KEPT} connections kept their real server");

    // Director 3 joins again.
    let (d3, _) = start_with(&bgp, &dir, 3, config)?;
    bgp.wait_next_hops(&all, "director 3 joined", Duration::from_secs(20))?;
    let kept_join = kept(&mut flows, &servers);
    eprintln!("join: {kept_join}/{KEPT} kept");

    // A real server fails its checks: every director drops it from its
    // Maglev table; flows on the other real servers stay put.
    let failed = bgp.lab.real_server(3).role().to_owned();
    bgp.block_checks(3, true)?;
    for d in [&d1, &d2, &d3] {
        d.wait_status("rs3 down", Duration::from_secs(10), |s| {
            s["lvs"]["virtual_servers"][0]["real_servers"][2]["up"] == false
        })?;
    }
    let elsewhere: Vec<usize> = (0..KEPT).filter(|i| servers[*i] != failed).collect();
    let now = kept_each(&mut flows, &servers);
    let stayed = elsewhere.iter().filter(|i| now[**i]).count();
    eprintln!(
        "real server down: {stayed}/{} connections on the other real servers stayed put",
        elsewhere.len()
    );
    // All real servers down: the address is withdrawn everywhere, and
    // announced again when they return.
    for n in 1..=2 {
        bgp.block_checks(n, true)?;
    }
    bgp.wait_next_hops(
        &[],
        "withdrawn with every real server down",
        Duration::from_secs(15),
    )?;
    for n in 1..=3 {
        bgp.block_checks(n, false)?;
    }
    bgp.wait_next_hops(&all, "announced again", Duration::from_secs(20))?;
    // min_healthy 1 announces with the first real server back: wait until
    // every director has all three again (their tables are then the same).
    for d in [&d1, &d2, &d3] {
        d.wait_status("every real server up", Duration::from_secs(10), |s| {
            let reals = &s["lvs"]["virtual_servers"][0]["real_servers"];
            (0..3).all(|i| reals[i]["up"] == true)
        })?;
    }

    // Director 2 is killed.
    let pid = d2.status()?["pid"].as_i64().context("no pid")? as i32;
    let killed = Instant::now();
    kill(Pid::from_raw(pid), Signal::SIGKILL)?;
    bgp.wait_next_hops(
        &[all[0], all[2]],
        "the killed director dropped",
        Duration::from_secs(5),
    )?;
    let dropped = killed.elapsed();
    let now = kept_each(&mut flows, &servers);
    // Flows of the failed real server were reset by design: count the rest.
    let kept_kill = elsewhere.iter().filter(|i| now[**i]).count();
    eprintln!(
        "kill -9: next hop dropped after {dropped:?}; {kept_kill}/{} kept",
        elsewhere.len()
    );

    for (what, n) in [
        ("during the planned leave", still),
        ("after the planned leave", kept_leave),
        ("after the join", kept_join),
    ] {
        ensure!(
            n * 100 >= KEPT * 99,
            "{what}: only {n}/{KEPT} connections kept their real server"
        );
    }
    drop(d3);
    Ok(())
}
