//! lb-daemon programs IPVS (in the guest of `cargo xtask ipvs-test`, whose
//! kernel has IPVS): `ipvsadm -Ln` shows exactly what keepalived.conf says,
//! next to services the daemon does not own, and `lb-daemon status` shows
//! them programmed as desired; health checks take real
//! servers out (or to weight 0) and back within a check cycle, and the sorry
//! server in when all are down; stopping removes only the daemon's services.
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use lb_tests::{
    ipvsadm::{self, Forward, Service, Table},
    Daemon, IpvsLab,
};
use serde_json::Value;

/// Several virtual servers: NAT, DR, TUN (IP-in-IP, and GUE for one real
/// server); rr, wrr, sh, mh with scheduler flags; persistence with a
/// granularity; a fwmark service; IPv6 UDP with one-packet scheduling; and
/// connection timeouts.
const SERVICES: &str = "
global_defs {
    lvs_timeouts tcp 900 tcpfin 120 udp 300
}
virtual_server 198.51.100.50 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.0.2.11 80 {
    }
    real_server 192.0.2.12 8080 {
        weight 2
    }
}
virtual_server 192.0.2.50 80 {
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server 192.0.2.11 80 {
        weight 3
    }
    real_server 192.0.2.12 80 {
    }
}
virtual_server 192.0.2.51 443 {
    lb_algo sh
    sh-port
    sh-fallback
    lb_kind TUN
    protocol TCP
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    real_server 192.0.2.11 443 {
    }
    real_server 192.0.2.12 443 {
        lvs_method TUN type gue port 6080
    }
}
virtual_server fwmark 7 {
    lb_algo rr
    lb_kind DR
    persistence_timeout 60
    real_server 192.0.2.11 80 {
    }
}
virtual_server 2001:db8::50 53 {
    lb_algo mh
    mh-port
    lb_kind NAT
    protocol UDP
    ops
    real_server 2001:db8::11 53 {
    }
}
";

/// A service the daemon does not own, programmed before it starts.
const FOREIGN: &str = "TCP 203.0.113.1:80";

/// The table [`SERVICES`] describes, plus the foreign service.
fn expected() -> Table {
    Table {
        services: vec![
            Service::new("TCP 198.51.100.50:80", "rr")
                .dest("192.0.2.11:80", Forward::Masq, 1)
                .dest("192.0.2.12:8080", Forward::Masq, 2),
            Service::new("TCP 192.0.2.50:80", "wrr")
                .dest("192.0.2.11:80", Forward::Route, 3)
                .dest("192.0.2.12:80", Forward::Route, 1),
            Service {
                sched_flags: vec!["sh-fallback".into(), "sh-port".into()],
                ..Service::new("TCP 192.0.2.51:443", "sh")
                    .persistent(300, Some("255.255.255.0"))
                    .dest("192.0.2.11:443", Forward::Tunnel, 1)
                    .dest("192.0.2.12:443", Forward::Tunnel, 1)
            },
            // A /32 granularity is the default, which ipvsadm does not print.
            Service::new("FWM 7", "rr").persistent(60, None).dest(
                "192.0.2.11:80",
                Forward::Route,
                1,
            ),
            Service {
                one_packet: true,
                sched_flags: vec!["mh-port".into()],
                ..Service::new("UDP [2001:db8::50]:53", "mh").dest(
                    "[2001:db8::11]:53",
                    Forward::Masq,
                    1,
                )
            },
            Service::new(FOREIGN, "lc").dest("192.0.2.13:80", Forward::Masq, 5),
        ],
    }
    .sorted()
}

#[test]
#[ignore = "needs a kernel with IPVS: run inside the guest by cargo xtask ipvs-test"]
fn ipvsadm_shows_exactly_the_configured_services() -> Result<()> {
    let lab = IpvsLab::new(0)?;
    let ns = lab.director().ns();
    for command in [
        "-A -t 203.0.113.1:80 -s lc",
        "-a -t 203.0.113.1:80 -r 192.0.2.13:80 -m -w 5",
    ] {
        ipvsadm::ipvsadm(ns, &command.split_whitespace().collect::<Vec<_>>())?;
    }
    let mut daemon = lab.start_daemon(SERVICES)?;
    let want = expected();
    // The daemon programs service after service: wait for the whole table
    // (the error shows the last one seen).
    ipvsadm::wait_table(
        ns,
        "exactly the configured services",
        Duration::from_secs(5),
        |t| t.clone().sorted() == want,
    )?;
    programmed_equals_desired_in_status(daemon.daemon(), 5)?;
    let tunnels = ipvsadm::parse_tunnels(&ipvsadm::ipvsadm(ns, &["-Ln", "--tun-info"])?)?;
    let tunnel = |rs: &str| {
        let service = ipvsadm::ServiceKey::Tcp("192.0.2.51:443".parse().expect("address"));
        tunnels.get(&(service, Some(rs.parse().expect("address"))))
    };
    // ipvsadm shows IP-in-IP as `ipip`, GUE as `gue:PORT:FLAGS` (`-c`: no
    // checksum, keepalived's default).
    ensure!(
        tunnel("192.0.2.11:443").map(String::as_str) == Some("ipip")
            && tunnel("192.0.2.12:443").map(String::as_str) == Some("gue:6080:-c"),
        "tunnels: {tunnels:?}"
    );
    let timeouts = ipvsadm::parse_timeouts(&ipvsadm::ipvsadm(ns, &["-Ln", "--timeout"])?)?;
    ensure!(
        (timeouts.tcp, timeouts.tcp_fin, timeouts.udp) == (900, 120, 300),
        "lvs_timeouts: {timeouts:?}"
    );

    // Stopping removes the daemon's services and leaves the foreign one.
    ensure!(daemon.stop()?.success(), "{}", daemon.daemon().log());
    let left = ipvsadm::table(ns)?;
    let foreign: Vec<String> = left.services.iter().map(|s| s.key.to_string()).collect();
    ensure!(foreign == ["TCP 203.0.113.1:80"], "after stop: {left:?}");
    Ok(())
}

/// `lb-daemon status`: IPVS is available and each of the `services` desired
/// services is shown as programmed, with the same settings and destinations
/// (plus their connection and traffic counters) as desired.
fn programmed_equals_desired_in_status(daemon: &Daemon, services: usize) -> Result<()> {
    let status = daemon.status()?;
    let ipvs = &status["lvs"]["ipvs"];
    ensure!(ipvs["available"] == true, "IPVS unavailable: {ipvs}");
    let shown = ipvs["services"].as_array().context("no ipvs services")?;
    ensure!(
        shown.len() == services,
        "{services} services expected: {ipvs}"
    );
    for service in shown {
        ensure!(
            comparable(&service["programmed"]) == comparable(&service["desired"]),
            "programmed differs from desired: {service}"
        );
    }
    Ok(())
}

/// A service of the status without its destinations' counters, destinations
/// in address order.
fn comparable(service: &Value) -> Value {
    let mut service = service.clone();
    if let Some(service) = service.as_object_mut() {
        service.remove("stats");
    }
    if let Some(dests) = service["destinations"].as_array_mut() {
        for dest in dests.iter_mut().filter_map(Value::as_object_mut) {
            for counter in [
                "active_conns",
                "inactive_conns",
                "persistent_conns",
                "stats",
            ] {
                dest.remove(counter);
            }
        }
        dests.sort_by_key(|d| (d["address"].to_string(), d["port"].as_u64()));
    }
    service
}

/// Seconds between checks of each real server.
const DELAY_LOOP: f64 = 1.0;
/// Seconds a check may wait for a connection.
const CONNECT_TIMEOUT: f64 = 1.0;

/// A DR service whose two real servers are checked by `HTTP_GET /health`
/// every [`DELAY_LOOP`] without retries (one failure marks a server down, one
/// success up; a dead server is checked again after `max(delay_before_retry,
/// delay_loop)`, so `delay_before_retry` stays below `delay_loop`); rs1 is
/// inhibited on failure; a sorry server stands by.
fn checked_service() -> String {
    let real = |n: u8, extra: &str| {
        format!(
            "    real_server 192.0.2.1{n} 80 {{\n{extra}        HTTP_GET {{\n            url {{\n                path /health\n            }}\n            \
             connect_timeout {CONNECT_TIMEOUT}\n            retry 0\n            delay_before_retry 0.5\n            warmup 0\n        }}\n    }}\n"
        )
    };
    format!(
        "virtual_server 192.0.2.50 80 {{\n    delay_loop {DELAY_LOOP}\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    \
         sorry_server 192.0.2.99 80\n{}{}}}\n",
        real(1, "        inhibit_on_failure\n"),
        real(2, "")
    )
}

/// Waits until the checked service's destinations are `dests` (address,
/// weight), at most one check cycle (plus a check's own timeout).
fn within_a_check_cycle(lab: &IpvsLab, what: &str, dests: &[(&str, u32)]) -> Result<()> {
    let mut want = Service::new("TCP 192.0.2.50:80", "rr");
    for (addr, weight) in dests {
        want = want.dest(addr, Forward::Route, *weight);
    }
    let cycle = Duration::from_secs_f64(DELAY_LOOP + CONNECT_TIMEOUT);
    let started = Instant::now();
    ipvsadm::wait_table(lab.director().ns(), what, cycle, |t| {
        t.clone().sorted().services == [want.clone()]
    })?;
    eprintln!("{what}: {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[test]
#[ignore = "needs a kernel with IPVS: run inside the guest by cargo xtask ipvs-test"]
fn checks_remove_inhibit_and_restore_real_servers_and_swap_the_sorry_server() -> Result<()> {
    let lab = IpvsLab::new(2)?;
    let _daemon = lab.start_daemon(&checked_service())?;
    let web = |n: usize| lab.lab().real_server(n).web().context("web server");
    let (rs1, rs2, sorry) = ("192.0.2.11:80", "192.0.2.12:80", "192.0.2.99:80");
    ipvsadm::wait_table(
        lab.director().ns(),
        "both real servers",
        Duration::from_secs(5),
        |t| {
            t.services
                .first()
                .is_some_and(|s| s.destinations.len() == 2)
        },
    )?;
    within_a_check_cycle(&lab, "both up", &[(rs1, 1), (rs2, 1)])?;

    web(2)?.set_healthy(false)?;
    within_a_check_cycle(&lab, "rs2 removed", &[(rs1, 1)])?;
    web(2)?.set_healthy(true)?;
    within_a_check_cycle(&lab, "rs2 back", &[(rs1, 1), (rs2, 1)])?;

    web(1)?.set_healthy(false)?;
    within_a_check_cycle(&lab, "rs1 inhibited", &[(rs1, 0), (rs2, 1)])?;
    web(2)?.set_healthy(false)?;
    within_a_check_cycle(&lab, "all down: sorry server in", &[(rs1, 0), (sorry, 1)])?;
    web(1)?.set_healthy(true)?;
    within_a_check_cycle(&lab, "rs1 back: sorry server out", &[(rs1, 1)])?;
    Ok(())
}

/// Two DR real servers of weight 2 without checkers (always up).
const DRAINED_SERVICE: &str = "
virtual_server 192.0.2.50 80 {
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server 192.0.2.11 80 {
        weight 2
    }
    real_server 192.0.2.12 80 {
        weight 2
    }
}
";

/// Waits until IPVS holds the drained service with these weights.
fn wait_weights(lab: &IpvsLab, what: &str, rs1: u32, rs2: u32) -> Result<()> {
    let want = Service::new("TCP 192.0.2.50:80", "wrr")
        .dest("192.0.2.11:80", Forward::Route, rs1)
        .dest("192.0.2.12:80", Forward::Route, rs2);
    ipvsadm::wait_table(lab.director().ns(), what, Duration::from_secs(5), |t| {
        t.clone().sorted().services == [want.clone()]
    })
    .map(drop)
}

#[test]
#[ignore = "needs a kernel with IPVS: run inside the guest by cargo xtask ipvs-test"]
fn drain_sets_the_ipvs_weight_to_zero_across_a_reload_and_undrain_restores_it() -> Result<()> {
    let lab = IpvsLab::new(2)?;
    let daemon = lab.start_daemon(DRAINED_SERVICE)?;
    wait_weights(&lab, "both real servers at weight 2", 2, 2)?;
    let cli = |verb: &str| -> Result<String> {
        let out = daemon
            .daemon()
            .control(verb, &["192.0.2.50:80", "192.0.2.11:80"])?;
        ensure!(
            out.status.success(),
            "lb-daemon {verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    cli("drain")?;
    // Weight 0 in IPVS: no new connection, established ones go on (IPVS
    // keeps a quiesced destination's connections).
    wait_weights(&lab, "rs1 drained", 0, 2)?;
    daemon.reload(DRAINED_SERVICE)?;
    daemon
        .daemon()
        .wait_for_log("Configuration reloaded", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(500));
    wait_weights(&lab, "rs1 still drained after a reload", 0, 2)?;
    cli("undrain")?;
    wait_weights(&lab, "rs1 undrained", 2, 2)?;
    Ok(())
}
