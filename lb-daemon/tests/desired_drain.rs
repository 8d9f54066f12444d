//! Draining a real server in the desired-state model: weight 0 while it
//! serves, its configured weight back on undrain, no notify and no quorum
//! change, kept across a reload that keeps the real server, and clear
//! errors for unknown services and servers.
mod desired_common;

use desired_common::*;
use lb_daemon::config::{Protocol, VirtualServer};
use lb_daemon::state::desired::{Model, ServiceRef};

fn named(text: &str) -> ServiceRef {
    text.parse().unwrap()
}

#[test]
fn a_drained_real_server_keeps_its_place_with_weight_0_and_comes_back() {
    let mut reals = vec![real(1, 1), real(2, 0)];
    reals[0].weight = Some(3);
    let (mut model, _) = Model::new(&config(vec![server(reals)]));
    let drained = model
        .set_drained(named("192.0.2.1:80"), "10.0.0.1:80".parse().unwrap(), true)
        .unwrap();
    assert_eq!(drained.services, ["TCP 192.0.2.1:80"]);
    assert_eq!(
        weights(&model, 0),
        vec![(ip("10.0.0.1"), 0), (ip("10.0.0.2"), 1)]
    );
    assert!(model.quorum_up(0), "a drain is not a failure");
    let published = &service(&model, 0).backends;
    assert!(published[0].drained && !published[1].drained);
    let status = model.status();
    assert_eq!(
        status["virtual_servers"][0]["real_servers"][0]["drained"],
        true
    );
    assert_eq!(status["virtual_servers"][0]["real_servers"][0]["weight"], 3);
    assert_eq!(
        status["virtual_servers"][0]["real_servers"][0]["programmed_weight"],
        0
    );
    // A failure and a recovery while drained keep it at 0, with the notifies.
    assert_eq!(apply(&mut model, verdict(0, 0, 0, false)).len(), 1);
    assert_eq!(apply(&mut model, verdict(0, 0, 0, true)).len(), 1);
    assert_eq!(weights(&model, 0)[0], (ip("10.0.0.1"), 0));
    let again = model
        .set_drained(named("192.0.2.1:80"), "10.0.0.1:80".parse().unwrap(), true)
        .unwrap();
    assert!(again.changed.is_empty(), "already drained");
    model
        .set_drained(named("192.0.2.1:80"), "10.0.0.1:80".parse().unwrap(), false)
        .unwrap();
    assert_eq!(weights(&model, 0)[0], (ip("10.0.0.1"), 3));
}

#[test]
fn a_drain_survives_a_reload_that_keeps_the_real_server() {
    let vs = server(vec![real(1, 0), real(2, 0)]);
    let (mut model, _) = Model::new(&config(vec![vs.clone()]));
    model
        .set_drained(named("192.0.2.1:80"), "10.0.0.2:80".parse().unwrap(), true)
        .unwrap();
    let (reloaded, _) = Model::carrying(&config(vec![vs.clone()]), &model.carried());
    assert_eq!(
        weights(&reloaded, 0),
        vec![(ip("10.0.0.1"), 1), (ip("10.0.0.2"), 0)]
    );
    // Removed by one reload, it comes back undrained in the next.
    let without = server(vec![real(1, 0)]);
    let (gone, _) = Model::carrying(&config(vec![without]), &reloaded.carried());
    let (back, _) = Model::carrying(&config(vec![vs]), &gone.carried());
    assert_eq!(weights(&back, 0)[1], (ip("10.0.0.2"), 1));
}

#[test]
fn tcp_and_udp_services_on_one_address_and_port_are_drained_together() {
    let tcp = server(vec![real(1, 0), real(2, 0)]);
    let udp = VirtualServer {
        protocol: Some(Protocol::Udp),
        ..tcp.clone()
    };
    let other = VirtualServer {
        port: Some(443),
        ..tcp.clone()
    };
    let (mut model, _) = Model::new(&config(vec![tcp, udp, other]));
    let drained = model
        .set_drained(named("192.0.2.1:80"), "10.0.0.1:80".parse().unwrap(), true)
        .unwrap();
    assert_eq!(drained.services, ["TCP 192.0.2.1:80", "UDP 192.0.2.1:80"]);
    assert_eq!(weights(&model, 0)[0].1, 0);
    assert_eq!(weights(&model, 1)[0].1, 0);
    assert_eq!(weights(&model, 2)[0].1, 1, "port 443 is another service");
}

#[test]
fn fwmark_and_ipv6_services_are_found() {
    let mut mark = server(vec![real(1, 0)]);
    (mark.address, mark.fwmark) = (None, Some(7));
    let mut v6 = server(vec![lb_daemon::config::RealServer::new(
        ip("2001:db8::10"),
        Some(8080),
    )]);
    v6.address = Some(ip("2001:db8::1"));
    let (mut model, _) = Model::new(&config(vec![mark, v6]));
    model
        .set_drained(named("fwmark:7"), "10.0.0.1:80".parse().unwrap(), true)
        .unwrap();
    assert_eq!(weights(&model, 0)[0].1, 0);
    let drained = model
        .set_drained(
            named("[2001:db8::1]:80"),
            "[2001:db8::10]:8080".parse().unwrap(),
            true,
        )
        .unwrap();
    assert_eq!(drained.services, ["TCP [2001:db8::1]:80"]);
    assert_eq!(weights(&model, 1)[0].1, 0);
}

#[test]
fn unknown_services_and_servers_are_named_in_the_error() {
    let (mut model, _) = Model::new(&config(vec![server(vec![real(1, 0)])]));
    let unknown = model
        .set_drained(named("192.0.2.9:80"), "10.0.0.1:80".parse().unwrap(), true)
        .unwrap_err();
    assert_eq!(unknown, "no virtual server serves 192.0.2.9:80");
    let stranger = model
        .set_drained(named("192.0.2.1:80"), "10.0.0.1:81".parse().unwrap(), true)
        .unwrap_err();
    assert!(
        stranger.starts_with("10.0.0.1:81 is not a real server of 192.0.2.1:80"),
        "{stranger}"
    );
    assert_eq!(weights(&model, 0)[0].1, 1, "nothing changed");
}
