//! TCP_CHECK against nginx on a lab real server, run from the director.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use lb_daemon::check::tcp::TcpCheck;
use lb_daemon::check::{Check, Outcome, Reason, Target};
use lb_daemon::config::Checker;
use lb_tests::{block_on_in, Lab, LabSpec};

fn lab() -> Lab {
    Lab::new(LabSpec::web(1, 1)).expect("lab")
}

fn target(ip: Ipv4Addr, port: u16) -> Target {
    Target::new(
        SocketAddr::new(IpAddr::V4(ip), port),
        Duration::from_secs(1),
    )
}

fn tcp_check(lab: &Lab, target: &Target) -> Outcome {
    let check = TcpCheck::new(&Checker::default());
    block_on_in(lab.director(1).ns_name(), check.check(target)).unwrap()
}

#[test]
fn tcp_check_follows_nginx_and_honours_bind_options() {
    let lab = lab();
    let rs = lab.real_server(1).ipv4();
    let dir = lab.director(1).ipv4();
    let mut t = target(rs, 80);
    assert_eq!(tcp_check(&lab, &t), Outcome::Up);

    // From the director's own address and a fixed port, via eth0.
    t.bind = Some(SocketAddr::new(IpAddr::V4(dir), 40123));
    t.bind_if = Some("eth0".into());
    assert_eq!(tcp_check(&lab, &t), Outcome::Up);

    // An address the director does not have cannot be bound: down.
    t.bind = Some("192.0.2.99:0".parse().unwrap());
    assert!(matches!(tcp_check(&lab, &t), Outcome::Down(_)));

    // A closed port is refused at once.
    match tcp_check(&lab, &target(rs, 81)) {
        Outcome::Down(failure) => {
            assert!(
                failure
                    .message
                    .starts_with(&format!("TCP connection to [{rs}]:tcp:81 failed")),
                "{failure}"
            );
            assert_eq!(failure.reason, Reason::Refused);
        }
        up => panic!("closed port checked {up:?}"),
    }

    // nginx gone: down.
    let pid = lab.real_server(1).web().unwrap().pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(matches!(tcp_check(&lab, &target(rs, 80)), Outcome::Down(_)));
}

#[test]
fn tcp_check_times_out_within_connect_timeout() {
    let lab = lab();
    let rs = lab.real_server(1).ipv4();
    // Nobody has this address: no SYN-ACK ever comes (ARP fails).
    let octets = rs.octets();
    let nobody = Ipv4Addr::new(octets[0], octets[1], octets[2], 250);
    let started = Instant::now();
    let outcome = tcp_check(&lab, &target(nobody, 80));
    let took = started.elapsed();
    assert_eq!(
        outcome,
        Outcome::down(
            Reason::Timeout,
            format!("TCP connection to [{nobody}]:tcp:80 timedout.")
        )
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[test]
fn tcp_check_recovers_when_the_service_returns() {
    let lab = lab();
    let rs = lab.real_server(1);
    let t = target(rs.ipv4(), 8080);
    assert!(
        matches!(tcp_check(&lab, &t), Outcome::Down(_)),
        "nothing listens yet"
    );
    let listener = lb_tests::in_netns(rs.ns_name(), || {
        std::net::TcpListener::bind("0.0.0.0:8080").unwrap()
    })
    .unwrap();
    assert_eq!(tcp_check(&lab, &t), Outcome::Up);
    drop(listener);
    assert!(
        matches!(tcp_check(&lab, &t), Outcome::Down(_)),
        "gone again"
    );
}
