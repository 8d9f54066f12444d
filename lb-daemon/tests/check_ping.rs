//! PING_CHECK from `dir1` to `rs1` of a lab (needs root), over IPv4 and
//! IPv6, with raw sockets (a fresh namespace's `ping_group_range` forbids
//! datagram ICMP) and with datagram sockets once it allows them; then with
//! `rs1`'s interface down (no answer: down within the timeout) and up again
//! (recovery).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use lb_daemon::check::ping::PingCheck;
use lb_daemon::check::{Check, Outcome, Target};
use lb_daemon::config::Checker;
use lb_tests::{in_netns, Host, Lab, LabSpec};

const TIMEOUT: Duration = Duration::from_millis(800);

/// One attempt from `from` to `to`, and how long it took.
fn attempt(from: &Host, to: IpAddr) -> (Outcome, Duration) {
    in_netns(from.ns(), || {
        let check = PingCheck::new(&Checker::default()).unwrap();
        let target = Target::new(SocketAddr::new(to, 0), TIMEOUT);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let start = Instant::now();
        let outcome = rt.block_on(check.check(&target));
        (outcome, start.elapsed())
    })
    .unwrap()
}

/// Up within a few attempts (IPv6 neighbour discovery, DAD after link up).
fn comes_up(from: &Host, to: IpAddr) -> bool {
    (0..10).any(|_| {
        let up = attempt(from, to).0 == Outcome::Up;
        if !up {
            std::thread::sleep(Duration::from_millis(300));
        }
        up
    })
}

#[test]
fn ping_up_down_slow_recovery() {
    let lab = Lab::new(LabSpec {
        directors: 1,
        real_servers: 1,
        web: false,
    })
    .unwrap();
    let (dir, rs) = (lab.director(1), lab.real_server(1));
    let addrs = [IpAddr::from(rs.ipv4()), IpAddr::from(rs.ipv6())];

    // Raw sockets (ping_group_range forbids datagram ICMP here).
    for addr in addrs {
        assert!(comes_up(dir, addr), "raw ping to {addr}");
    }
    // Datagram sockets.
    dir.ns()
        .sysctl(&[("net.ipv4.ping_group_range", "0 2147483647")])
        .unwrap();
    for addr in addrs {
        assert!(comes_up(dir, addr), "datagram ping to {addr}");
    }

    // Slow / down: the real server's interface is down, nothing answers
    // (keeping its IPv6 address, which is otherwise flushed on down).
    rs.ns()
        .sysctl(&[("net.ipv6.conf.eth0.keep_addr_on_down", "1")])
        .unwrap();
    rs.ns().ip(&["link", "set", "eth0", "down"]).unwrap();
    for addr in addrs {
        let (outcome, took) = attempt(dir, addr);
        assert!(
            matches!(outcome, Outcome::Down(_)) && took < TIMEOUT * 2,
            "{addr}: {outcome:?} after {took:?}"
        );
    }

    // Recovery.
    rs.ns().ip(&["link", "set", "eth0", "up"]).unwrap();
    for addr in addrs {
        assert!(comes_up(dir, addr), "ping to {addr} after link up");
    }
}
