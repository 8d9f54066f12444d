//! Builders shared by the desired-state tests.
#![allow(dead_code)]
use std::net::IpAddr;
use std::time::SystemTime;

use lb_daemon::check::{RealServerId, VerdictChange};
use lb_daemon::config::{Checker, Command, Config, Endpoint, RealServer, VirtualServer};
use lb_daemon::state::desired::{Backend, Effect, Model, VirtualService};

/// An address from text.
pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A real server 10.0.0.N:80 with `checkers` checkers.
pub fn real(n: u8, checkers: usize) -> RealServer {
    let mut real = RealServer::new(ip(&format!("10.0.0.{n}")), Some(80));
    real.checker = vec![Checker::default(); checkers];
    real
}

/// `virtual_server 192.0.2.1 80` with `reals`.
pub fn server(reals: Vec<RealServer>) -> VirtualServer {
    VirtualServer {
        address: Some(ip("192.0.2.1")),
        port: Some(80),
        real_server: reals,
        ..Default::default()
    }
}

/// A configuration of these virtual servers.
pub fn config(servers: Vec<VirtualServer>) -> Config {
    Config {
        virtual_server: servers,
        ..Default::default()
    }
}

/// A command line.
pub fn command(script: &str) -> Command {
    Command {
        script: script.into(),
        user: None,
        group: None,
    }
}

/// The sorry server 10.9.9.9:8080.
pub fn sorry() -> Endpoint {
    Endpoint {
        address: ip("10.9.9.9"),
        port: 8080,
    }
}

/// A verdict of checker `checker` on `virtual_server[vs].real_server[rs]`.
pub fn verdict(vs: usize, rs: usize, checker: usize, up: bool) -> VerdictChange {
    VerdictChange {
        id: RealServerId { vs, rs },
        checker,
        up,
        weight: None,
    }
}

/// Applies a verdict now, returning its effects.
pub fn apply(model: &mut Model, change: VerdictChange) -> Vec<Effect> {
    model.apply(&change, SystemTime::now()).effects
}

/// The first service of virtual server `vs`.
pub fn service(model: &Model, vs: usize) -> VirtualService {
    model.services(vs)[0].clone()
}

/// The (address, weight) of each backend of virtual server `vs`.
pub fn weights(model: &Model, vs: usize) -> Vec<(IpAddr, u32)> {
    service(model, vs)
        .backends
        .iter()
        .map(|b: &Backend| (b.addr, b.weight))
        .collect()
}
