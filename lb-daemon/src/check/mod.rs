//! Health checkers: one module per keepalived checker kind, all behind the
//! [`Check`] trait. A checker makes one attempt against a [`Target`]; the
//! engine around it (delay_loop, retry, delay_before_retry, warmup,
//! alpha/omega) decides what the attempts mean for the real server.
pub mod dns;
pub mod failure;
pub mod file;
pub mod misc;
pub mod ping;
pub mod policy;
pub mod smtp;
pub mod spec;
pub mod status;
pub mod udp;

pub mod engine;
pub mod http;
pub mod tcp;

use std::{
    future::Future,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    time::Duration,
};

use crate::config::Protocol;

pub use failure::{Failure, Reason};
pub use status::{CheckerSnapshot, CheckerStatus};

/// Where one check connects, resolved from the real server and the
/// checker's `connect_ip`/`connect_port`/`bindto`/`bind_port`/`bind_if`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Address and port to check.
    pub addr: SocketAddr,
    /// Local address (and port) to connect from, if configured.
    pub bind: Option<SocketAddr>,
    /// Interface to bind the check's socket to, if configured.
    pub bind_if: Option<String>,
    /// `connect_timeout`: the bound on one attempt.
    pub timeout: Duration,
    /// The virtual server's protocol: only names the service in log lines
    /// (a DNS_CHECK of a UDP service is `[addr]:udp:53`).
    pub protocol: Protocol,
}

impl Target {
    /// A TCP target at `addr` with no bind options, bounded by `timeout`.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Target {
        Target {
            addr,
            bind: None,
            bind_if: None,
            timeout,
            protocol: Protocol::Tcp,
        }
    }

    /// keepalived's rendering of the checked service, `[addr]:proto:port`,
    /// as every log line about it names it.
    pub fn service(&self) -> String {
        fmt_endpoint(self.addr.ip(), self.protocol, self.addr.port())
    }
}

/// keepalived's `inet_sockaddrtotrio`: `[addr]:proto:port`.
pub fn fmt_endpoint(ip: IpAddr, protocol: Protocol, port: u16) -> String {
    let proto = match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    };
    format!("[{ip}]:{proto}:{port}")
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The service answered as expected.
    Up,
    /// Up, with the real server's weight set to this (MISC_CHECK
    /// `misc_dynamic`: exit code 2-255 means weight code - 2).
    UpWithWeight(u32),
    /// The attempt failed; the reason is counted by class and logged
    /// keepalived-style.
    Down(Failure),
}

impl Outcome {
    /// A failed attempt of class `reason`, logged as `message`.
    pub fn down(reason: Reason, message: impl Into<String>) -> Outcome {
        Outcome::Down(Failure::new(reason, message))
    }
}

/// A boxed future of one attempt, so checkers of every kind share one type.
pub type Attempt<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// One checker kind with its options (built from a `config::Checker`).
pub trait Check: Send + Sync {
    /// keepalived's name of the kind, e.g. `TCP_CHECK`.
    fn kind(&self) -> &'static str;

    /// One attempt against `target`, finishing within `target.timeout`
    /// (the engine also bounds it, as a safety net).
    fn check<'a>(&'a self, target: &'a Target) -> Attempt<'a>;
}

/// A real server of the configuration: `virtual_server[vs].real_server[rs]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealServerId {
    /// Index of the virtual server in the configuration.
    pub vs: usize,
    /// Index of the real server in that virtual server.
    pub rs: usize,
}

/// A checker's verdict on a real server changed (after retries, warmup and
/// alpha/omega): what the checker engine publishes and the desired-state
/// model consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictChange {
    /// The real server.
    pub id: RealServerId,
    /// Index of the checker among the real server's checkers.
    pub checker: usize,
    /// Whether the checker now considers the real server up.
    pub up: bool,
    /// A weight the checker sets (MISC_CHECK `misc_dynamic`), if any.
    pub weight: Option<u32>,
}
