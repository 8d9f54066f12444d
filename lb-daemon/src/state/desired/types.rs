//! The published desired state: what IPVS and the XDP fast path must
//! program, and nothing about how it was decided.
use std::net::IpAddr;

use serde::Serialize;

use crate::config::{LbAlgo, LbKind, Protocol};

/// Every service the data planes must run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DesiredState {
    /// One entry per IPVS service, in configuration order (a
    /// `virtual_server_group` contributes one per member address/fwmark).
    pub services: Vec<VirtualService>,
}

/// Address family of a fwmark service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    V4,
    /// IPv6 (`AF_INET6`).
    V6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }
}

/// What identifies an IPVS service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ServiceKey {
    /// `ADDR PORT` with its transport protocol.
    Addr {
        /// Virtual address.
        ip: IpAddr,
        /// Virtual port (0 for a group member without one).
        port: u16,
        /// Transport protocol.
        protocol: Protocol,
    },
    /// `fwmark N` in one address family.
    Fwmark {
        /// Firewall mark.
        mark: u32,
        /// Family of the real servers.
        family: Family,
    },
}

/// `TCP 192.0.2.1:80`, `FWM 7 IPv6`: a service as `ipvsadm -Ln` names it.
impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceKey::Addr { ip, port, protocol } => {
                let protocol = format!("{protocol:?}").to_uppercase();
                match ip {
                    IpAddr::V6(v6) => write!(f, "{protocol} [{v6}]:{port}"),
                    IpAddr::V4(v4) => write!(f, "{protocol} {v4}:{port}"),
                }
            }
            ServiceKey::Fwmark { mark, family } => {
                let family = match family {
                    Family::V4 => "IPv4",
                    Family::V6 => "IPv6",
                };
                write!(f, "FWM {mark} {family}")
            }
        }
    }
}

/// Client persistence (`persistence_timeout`, `persistence_granularity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Persistence {
    /// Seconds a client sticks to its real server.
    pub timeout: u32,
    /// Prefix length grouping clients (32 / 128 when not configured).
    pub netmask: u8,
}

/// One IPVS service and the backends it must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualService {
    /// Index of the `virtual_server` in the configuration.
    pub vs: usize,
    /// Address or fwmark of the service.
    pub key: ServiceKey,
    /// Scheduler (`lb_algo`, keepalived's default `wlc`).
    pub scheduler: LbAlgo,
    /// One-packet scheduling (`ops`, the `IP_VS_SVC_F_ONEPACKET` flag).
    pub ops: bool,
    /// Default forwarding method (`lb_kind`, keepalived's default NAT).
    pub forwarding: LbKind,
    /// Client persistence, when `persistence_timeout` is set.
    pub persistence: Option<Persistence>,
    /// Served by the XDP fast path (`fast_path`, default `xdp`).
    pub fast_path: bool,
    /// The destinations, in configuration order; the sorry server last.
    pub backends: Vec<Backend>,
    /// The sorry server is in use (the quorum is lost).
    pub sorry: bool,
}

/// One destination of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backend {
    /// Address of the real (or sorry) server.
    pub addr: IpAddr,
    /// Port (the virtual port when the real server has none).
    pub port: u16,
    /// Effective scheduling weight; 0 when inhibited.
    pub weight: u32,
    /// Forwarding method (`lvs_method`, else the service's).
    pub forwarding: LbKind,
    /// Upper connection threshold (0: none).
    pub uthreshold: u32,
    /// Lower connection threshold (0: none).
    pub lthreshold: u32,
    /// Whether the server is alive (false for inhibited entries).
    pub up: bool,
    /// This is the sorry server.
    pub sorry: bool,
    /// The operator drained it (`lb-daemon drain`): `weight` is 0 while it
    /// is, whatever its health; for status and metrics readers.
    pub drained: bool,
}
