//! Client traffic through services lb-daemon programmed (in the guest of
//! `cargo xtask ipvs-test`, whose kernel has IPVS): NAT, DR and TUN reach
//! every real server, persistence keeps a client on one, a SIGHUP that
//! adds a real server changes only that destination (the others keep their
//! counters, which `/metrics` serves as IPVS counts them), and 20 SIGHUPs
//! under continuous traffic lose nothing.
use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use anyhow::{ensure, Result};
use lb_tests::{
    http_get, in_netns,
    ipvs_lab::OUTSIDE_IF,
    ipvsadm::{self, Counters, ServiceKey},
    wait_until, Continuous, IpvsLab, KeptAlive, TcpCounters,
};

const NAT_VIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 50);
const DR_VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
const TUN_VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 51);
const PERSISTENT_VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 52);

/// A `virtual_server VIP 80` with `lb_kind`, `extra` lines and real servers
/// rs1..=rs`reals` on port 80.
fn virtual_server(vip: Ipv4Addr, lb_kind: &str, extra: &str, reals: u8) -> String {
    let reals: String = (1..=reals)
        .map(|n| format!("    real_server 192.0.2.1{n} 80 {{\n    }}\n"))
        .collect();
    format!(
        "virtual_server {vip} 80 {{\n    lb_algo rr\n    lb_kind {lb_kind}\n    protocol TCP\n{extra}{reals}}}\n"
    )
}

/// `global_defs` serving metrics on the director's loopback.
const METRICS: &str = "global_defs {\n    metrics_listen 127.0.0.1:9650\n}\n";

fn key(vip: Ipv4Addr) -> ServiceKey {
    ServiceKey::Tcp((vip, 80).into())
}

/// Waits until IPVS lists `reals` destinations for `vip`.
fn wait_programmed(lab: &IpvsLab, vip: Ipv4Addr, reals: usize) -> Result<()> {
    ipvsadm::wait_table(
        lab.director().ns(),
        &format!("{vip} with {reals} real servers"),
        Duration::from_secs(5),
        |t| {
            t.service(&key(vip))
                .is_some_and(|s| s.destinations.len() == reals)
        },
    )
    .map(drop)
}

#[test]
#[ignore = "needs a kernel with IPVS: run inside the guest by cargo xtask ipvs-test"]
fn nat_dr_and_tun_reach_every_real_server_and_persistence_sticks() -> Result<()> {
    let lab = IpvsLab::new(2)?;
    lab.add_vip(NAT_VIP, OUTSIDE_IF)?;
    for vip in [DR_VIP, TUN_VIP, PERSISTENT_VIP] {
        lab.add_vip(vip, "eth0")?;
    }
    lab.accept_direct_routing(DR_VIP)?;
    lab.accept_direct_routing(PERSISTENT_VIP)?;
    lab.accept_tunnel(TUN_VIP)?;
    let config = [
        virtual_server(NAT_VIP, "NAT", "", 2),
        virtual_server(DR_VIP, "DR", "", 2),
        virtual_server(TUN_VIP, "TUN", "", 2),
        virtual_server(PERSISTENT_VIP, "DR", "    persistence_timeout 60\n", 2),
    ]
    .concat();
    let _daemon = lab.start_daemon(&config)?;
    for vip in [NAT_VIP, DR_VIP, TUN_VIP, PERSISTENT_VIP] {
        wait_programmed(&lab, vip, 2)?;
    }
    let client = lab.lab().client().ns();
    for (vip, from, kind) in [
        (NAT_VIP, lab.outside(), "NAT"),
        (DR_VIP, client, "DR"),
        (TUN_VIP, client, "TUN"),
    ] {
        let mut bodies = lab.fetch(from, vip, 4)?;
        bodies.sort();
        ensure!(
            bodies == ["rs1", "rs1", "rs2", "rs2"],
            "{kind}: round robin over both: {bodies:?}"
        );
    }

    let bodies = lab.fetch(client, PERSISTENT_VIP, 4)?;
    ensure!(
        bodies.iter().all(|b| b == &bodies[0]),
        "persistence: one real server: {bodies:?}"
    );
    let listing = ipvsadm::ipvsadm(lab.director().ns(), &["-Ln", "--persistent-conn"])?;
    let persistent = ipvsadm::parse_counters(&listing)?;
    let templates = |n: u8| {
        let rs = (Ipv4Addr::new(192, 0, 2, 10 + n), 80).into();
        persistent.get(&key(PERSISTENT_VIP), Some(rs), "PersistConn")
    };
    let chosen: u8 = bodies[0].trim_start_matches("rs").parse()?;
    ensure!(
        templates(chosen) == Some(1) && templates(3 - chosen) == Some(0),
        "one persistence template, on {}:\n{listing}",
        bodies[0]
    );
    Ok(())
}

/// Per destination of `service`: its connection count, from `--stats`.
fn conns(stats: &Counters, service: &ServiceKey) -> BTreeMap<SocketAddr, u64> {
    stats
        .rows()
        .iter()
        .filter(|((s, _), _)| s == service)
        .filter_map(|((_, dest), columns)| Some(((*dest)?, columns.get("Conns").copied()?)))
        .collect()
}

#[test]
#[ignore = "needs a kernel with IPVS: run inside the guest by cargo xtask ipvs-test"]
fn sighup_adding_a_real_server_changes_only_that_destination() -> Result<()> {
    let lab = IpvsLab::new(3)?;
    lab.add_vip(NAT_VIP, OUTSIDE_IF)?;
    let daemon = lab.start_daemon(&format!(
        "{METRICS}{}",
        virtual_server(NAT_VIP, "NAT", "", 2)
    ))?;
    wait_programmed(&lab, NAT_VIP, 2)?;
    lab.fetch(lab.outside(), NAT_VIP, 4)?;
    // The kernel folds per-CPU counters into what it reports every 2 s.
    let ns = lab.director().ns();
    let service = key(NAT_VIP);
    wait_until(Duration::from_secs(5), Duration::from_millis(200), || {
        ipvsadm::stats(ns).is_ok_and(|s| s.get(&service, None, "Conns") == Some(4))
    })?;
    let before = ipvsadm::stats(ns)?;
    ensure!(
        conns(&before, &service).into_values().collect::<Vec<_>>() == [2, 2],
        "two connections on each of rs1 and rs2: {before:?}"
    );
    // The exporter's names, from IPVS's counters (no fast path here).
    let url = "http://127.0.0.1:9650/metrics";
    let (code, scrape) = http_get(ns, url, Duration::from_secs(5))?;
    ensure!(code == 200, "{url}: HTTP {code}");
    for line in [
        "keepalived_lvs_vip_conn{addr=\"198.51.100.50:80\",proto=\"6\"} 4\n",
        "keepalived_lvs_rs_conn{vip=\"198.51.100.50:80\",addr=\"192.0.2.11:80\",proto=\"6\"} 2\n",
        "keepalived_lvs_rs_conn{vip=\"198.51.100.50:80\",addr=\"192.0.2.12:80\",proto=\"6\"} 2\n",
    ] {
        ensure!(
            scrape.contains(line),
            "{line} missing from the scrape:\n{scrape}"
        );
    }

    daemon.reload(&format!(
        "{METRICS}{}",
        virtual_server(NAT_VIP, "NAT", "", 3)
    ))?;
    wait_programmed(&lab, NAT_VIP, 3)?;
    let after = ipvsadm::stats(ns)?;
    let mut kept = conns(&after, &service);
    let rs3 = (Ipv4Addr::new(192, 0, 2, 13), 80).into();
    ensure!(
        kept.remove(&rs3) == Some(0) && kept == conns(&before, &service),
        "rs1 and rs2 keep their counters, rs3 starts at 0:\nbefore {before:?}\nafter {after:?}"
    );
    ensure!(
        after.get(&service, None, "Conns") == Some(4),
        "the service keeps its counters: {after:?}"
    );
    daemon
        .daemon()
        .wait_for_log("IPVS: 1 change(s) applied", Duration::from_secs(1))?;
    Ok(())
}

/// Issue 15's hitless reload through IPVS: new connections to a NAT service
/// one after the other, and connections opened before and used only after,
/// while 20 SIGHUPs add and remove an unrelated DR service and its real
/// servers (the guest's busybox httpd answers one request per connection).
/// No packet is lost (the client retransmits nothing), no connection is
/// reset, the early connections still reach a real server, and the NAT
/// service is never touched (each reload applies only the diff).
#[test]
#[ignore = "needs a kernel with IPVS: run inside the guest by cargo xtask ipvs-test"]
fn twenty_reloads_under_traffic_lose_nothing() -> Result<()> {
    const RELOADS: usize = 20;
    const KEPT: usize = 4;
    let lab = IpvsLab::new(2)?;
    lab.add_vip(NAT_VIP, OUTSIDE_IF)?;
    let nat = virtual_server(NAT_VIP, "NAT", "", 2);
    let daemon = lab.start_daemon(&nat)?;
    wait_programmed(&lab, NAT_VIP, 2)?;
    let client = lab.outside();
    let addr = format!("{NAT_VIP}:80");
    let before = TcpCounters::of(client)?;
    let mut early = in_netns(client.name(), || {
        (0..KEPT)
            .map(|_| KeptAlive::open(&addr))
            .collect::<Result<Vec<_>>>()
    })??;
    let mut traffic = Continuous::start(client.name(), &addr, 0)?;
    for reload in 1..=RELOADS {
        // 1 or 2 real servers of the DR service, none every third reload.
        let unrelated = match reload % 3 {
            0 => String::new(),
            n => virtual_server(DR_VIP, "DR", "", n as u8),
        };
        daemon.reload(&(nat.clone() + &unrelated))?;
        let generation = reload as u64 + 1;
        daemon.daemon().wait_status(
            &format!("reload {reload} applied"),
            Duration::from_secs(5),
            |s| s["config_generation"] == generation,
        )?;
        let dr = reload % 3;
        ipvsadm::wait_table(
            lab.director().ns(),
            &format!("{DR_VIP} with {dr} real servers"),
            Duration::from_secs(5),
            |t| match dr {
                0 => t.service(&key(DR_VIP)).is_none(),
                n => t
                    .service(&key(DR_VIP))
                    .is_some_and(|s| s.destinations.len() == n),
            },
        )?;
        traffic.wait_rounds(2)?;
    }
    let asked = traffic.stop()?;
    let answers = in_netns(client.name(), || {
        early
            .iter_mut()
            .map(KeptAlive::ask)
            .collect::<Result<Vec<_>>>()
    })??;
    let after = TcpCounters::of(client)?;
    ensure!(asked >= 2 * RELOADS, "{asked} requests");
    ensure!(
        answers.iter().all(|a| a.starts_with("rs")),
        "early connections: {answers:?}"
    );
    after.ensure_nothing_lost_since(&before)?;
    // Never re-created: the service counted every connection of the run
    // (the kernel folds per-CPU counters every 2 s).
    let connections = (KEPT + asked) as u64;
    let ns = lab.director().ns();
    wait_until(Duration::from_secs(5), Duration::from_millis(200), || {
        ipvsadm::stats(ns).is_ok_and(|s| s.get(&key(NAT_VIP), None, "Conns") == Some(connections))
    })?;
    Ok(())
}
