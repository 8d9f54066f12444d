//! What one checker task is given: the check built from its configuration
//! block, where it connects, its timing and the labels its log lines use.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{anyhow, Result};

use super::{
    dns::DnsCheck,
    file::FileCheck,
    http::HttpCheck,
    misc::MiscCheck,
    ping::PingCheck,
    policy::{secs, Policy, DEFAULT_CONNECT_TIMEOUT},
    smtp::SmtpCheck,
    tcp::TcpCheck,
    udp::UdpCheck,
};
use super::{fmt_endpoint, Check, RealServerId, Target};
use crate::config::{self, CheckerKind, Config, Protocol};
use crate::script::ScriptEnv;

/// Everything one checker task needs.
pub struct CheckerSpec {
    /// The real server.
    pub id: RealServerId,
    /// Index of the checker in the real server's list.
    pub checker: usize,
    /// The check itself.
    pub check: Box<dyn Check>,
    /// Where it connects.
    pub target: Target,
    /// Its timing.
    pub policy: Policy,
    /// `[addr]:proto:port` of the real server, for logs.
    pub rs_label: String,
    /// The virtual server's rendering, for logs.
    pub vs_label: String,
    /// `inhibit_on_failure` (changes the log wording only).
    pub inhibit: bool,
}

/// Builds the checker for one configured checker block; kinds not built yet
/// return an error naming the kind.
pub fn build(
    checker: &config::Checker,
    rs: &config::RealServer,
    vs: &config::VirtualServer,
    env: &ScriptEnv,
    config: &Config,
) -> Result<Box<dyn Check>> {
    let weight = rs.effective_weight(vs);
    Ok(match checker.kind {
        CheckerKind::TcpCheck => Box::new(TcpCheck::new(checker)),
        CheckerKind::HttpGet | CheckerKind::SslGet => {
            Box::new(HttpCheck::new(checker, rs, vs)?.presenting(config.ssl.as_ref())?)
        }
        CheckerKind::MiscCheck => {
            let timeout = misc_timeout(checker, rs, vs);
            Box::new(MiscCheck::new(checker, env.clone(), timeout, weight)?)
        }
        CheckerKind::SmtpCheck => Box::new(SmtpCheck::new(checker)?),
        CheckerKind::DnsCheck => Box::new(DnsCheck::new(checker)?),
        CheckerKind::UdpCheck => Box::new(UdpCheck::new(checker)?),
        CheckerKind::PingCheck => Box::new(PingCheck::new(checker)?),
        CheckerKind::FileCheck => Box::new(FileCheck::new(checker, &config.track_file, weight)?),
    })
}

/// MISC_CHECK's bound: `misc_timeout`, else its `delay_loop` (keepalived),
/// instead of `connect_timeout`.
fn misc_timeout(
    checker: &config::Checker,
    rs: &config::RealServer,
    vs: &config::VirtualServer,
) -> Duration {
    checker
        .misc_timeout
        .map(|s| Duration::from_secs(u64::from(s)))
        .unwrap_or(Policy::new(checker, rs, vs).delay_loop)
}

/// keepalived's keyword for a checker kind.
pub fn kind_name(kind: CheckerKind) -> &'static str {
    match kind {
        CheckerKind::TcpCheck => "TCP_CHECK",
        CheckerKind::HttpGet => "HTTP_GET",
        CheckerKind::SslGet => "SSL_GET",
        CheckerKind::MiscCheck => "MISC_CHECK",
        CheckerKind::SmtpCheck => "SMTP_CHECK",
        CheckerKind::DnsCheck => "DNS_CHECK",
        CheckerKind::UdpCheck => "UDP_CHECK",
        CheckerKind::PingCheck => "PING_CHECK",
        CheckerKind::FileCheck => "FILE_CHECK",
    }
}

/// A virtual server's protocol (TCP unless configured).
fn protocol(vs: &config::VirtualServer) -> Protocol {
    vs.protocol.unwrap_or(Protocol::Tcp)
}

/// keepalived's rendering of a virtual server (`FMT_VS`).
fn fmt_vs(vs: &config::VirtualServer) -> String {
    match (vs.fwmark, &vs.group, vs.address) {
        (Some(mark), _, _) => format!("FWM {mark}"),
        (_, Some(group), _) => group.clone(),
        (_, _, Some(ip)) => fmt_endpoint(ip, protocol(vs), vs.port.unwrap_or(0)),
        _ => "[?]".to_string(),
    }
}

/// The spec of checker `c` of real server `id`.
pub(super) fn spec(
    config: &Config,
    id: RealServerId,
    c: usize,
    env: &ScriptEnv,
) -> Result<CheckerSpec> {
    let vs = &config.virtual_server[id.vs];
    let rs = &vs.real_server[id.rs];
    let checker = &rs.checker[c];
    let check = build(checker, rs, vs, env, config)?;
    let rs_port = rs.port.or(vs.port).unwrap_or(0);
    Ok(CheckerSpec {
        id,
        checker: c,
        check,
        target: match checker.kind {
            CheckerKind::MiscCheck => Target {
                timeout: misc_timeout(checker, rs, vs),
                ..target(checker, rs, vs)?
            },
            _ => target(checker, rs, vs)?,
        },
        policy: Policy::new(checker, rs, vs),
        rs_label: fmt_endpoint(rs.address, protocol(vs), rs_port),
        vs_label: fmt_vs(vs),
        inhibit: rs.inhibit_on_failure || vs.inhibit_on_failure,
    })
}

/// Where `checker` connects: `connect_ip`/`connect_port` over the real
/// server's, from `bindto`/`bind_port`/`bind_if`, within `connect_timeout`.
pub fn target(
    checker: &config::Checker,
    rs: &config::RealServer,
    vs: &config::VirtualServer,
) -> Result<Target> {
    let ip = checker.connect_ip.unwrap_or(rs.address);
    let port = checker
        .connect_port
        .or(rs.port)
        .or(vs.port)
        .ok_or_else(|| anyhow!("no port to check {ip} on"))?;
    let bind = match (checker.bindto, checker.bind_port) {
        (Some(addr), port) => Some(SocketAddr::new(addr, port.unwrap_or(0))),
        (None, Some(port)) => {
            let any = match ip {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            Some(SocketAddr::new(any, port))
        }
        (None, None) => None,
    };
    Ok(Target {
        addr: SocketAddr::new(ip, port),
        bind,
        bind_if: checker.bind_if.clone(),
        timeout: secs(checker.connect_timeout)
            .or(secs(rs.connect_timeout))
            .or(secs(vs.connect_timeout))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        protocol: protocol(vs),
    })
}
