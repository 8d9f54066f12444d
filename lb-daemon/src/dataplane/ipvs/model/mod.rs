//! IPVS objects with their meaning: what the client sends and what dumps
//! return, converted from and to the [`wire`](super::wire) attributes.
mod daemon;
mod dest;
mod service;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::DecodeError;
use serde::Serialize;

use super::wire::{CmdNla, StatKind, StatsNla};
use crate::state::desired::Family;

pub use daemon::{SyncDaemon, SyncRole, DEFAULT_GROUP, DEFAULT_PORT, DEFAULT_TTL};
pub use dest::{
    DestCounters, Destination, Forwarding, Tunnel, TunnelType, TUN_F_CSUM, TUN_F_REMCSUM,
};
pub use service::{flags, key_family, Service, ServiceStats};

/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;

/// The `AF_*` number of `family`.
pub fn af(family: Family) -> u16 {
    match family {
        Family::V4 => AF_INET,
        Family::V6 => AF_INET6,
    }
}

/// The family of an `AF_*` number.
pub fn family(af: u16) -> Result<Family, DecodeError> {
    match af {
        AF_INET => Ok(Family::V4),
        AF_INET6 => Ok(Family::V6),
        other => Err(DecodeError::from(format!(
            "address family {other} is neither AF_INET nor AF_INET6"
        ))),
    }
}

/// `union nf_inet_addr` (16 bytes) holding `ip`.
pub fn inet_addr(ip: IpAddr) -> Vec<u8> {
    let mut bytes = vec![0; 16];
    match ip {
        IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => bytes.copy_from_slice(&v6.octets()),
    }
    bytes
}

/// The address of `family` in a `union nf_inet_addr`.
pub fn parse_inet_addr(bytes: &[u8], family: Family, name: &str) -> Result<IpAddr, DecodeError> {
    let short = || DecodeError::from(format!("{name}: {} bytes is too short", bytes.len()));
    let len = match family {
        Family::V4 => 4,
        Family::V6 => 16,
    };
    let bytes = bytes.get(..len).ok_or_else(short)?;
    Ok(match <[u8; 16]>::try_from(bytes) {
        Ok(v6) => IpAddr::V6(Ipv6Addr::from(v6)),
        Err(_) => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
    })
}

/// Traffic counters of a service or destination (`ipvsadm --stats` and
/// `--rate`); 64-bit values when the kernel sends `STATS64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets in.
    pub in_packets: u64,
    /// Packets out.
    pub out_packets: u64,
    /// Bytes in.
    pub in_bytes: u64,
    /// Bytes out.
    pub out_bytes: u64,
    /// Connections per second.
    pub cps: u64,
    /// Packets in per second.
    pub in_pps: u64,
    /// Packets out per second.
    pub out_pps: u64,
    /// Bytes in per second.
    pub in_bps: u64,
    /// Bytes out per second.
    pub out_bps: u64,
}

impl Stats {
    /// Reads a `STATS` or `STATS64` nest.
    pub fn from_nlas(nlas: &[StatsNla]) -> Stats {
        let mut stats = Stats::default();
        for nla in nlas {
            if let StatsNla::Counter(kind, counter) = nla {
                let slot = match kind {
                    StatKind::Conns => &mut stats.conns,
                    StatKind::InPkts => &mut stats.in_packets,
                    StatKind::OutPkts => &mut stats.out_packets,
                    StatKind::InBytes => &mut stats.in_bytes,
                    StatKind::OutBytes => &mut stats.out_bytes,
                    StatKind::Cps => &mut stats.cps,
                    StatKind::InPps => &mut stats.in_pps,
                    StatKind::OutPps => &mut stats.out_pps,
                    StatKind::InBps => &mut stats.in_bps,
                    StatKind::OutBps => &mut stats.out_bps,
                };
                *slot = counter.value();
            }
        }
        stats
    }
}

/// Connection timeouts (`ipvsadm --set`, keepalived's `lvs_timeouts`), in
/// seconds; 0 leaves a value unchanged when setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Timeouts {
    /// Established TCP connections.
    pub tcp: u32,
    /// TCP connections after a FIN.
    pub tcp_fin: u32,
    /// UDP flows.
    pub udp: u32,
}

impl Timeouts {
    /// The `SET_CONFIG` attributes (the non-zero values).
    pub fn to_nlas(self) -> Vec<CmdNla> {
        [
            (self.tcp, CmdNla::TimeoutTcp as fn(u32) -> CmdNla),
            (self.tcp_fin, CmdNla::TimeoutTcpFin),
            (self.udp, CmdNla::TimeoutUdp),
        ]
        .into_iter()
        .filter(|(v, _)| *v > 0)
        .map(|(v, make)| make(v))
        .collect()
    }

    /// Reads a `GET_CONFIG` reply.
    pub fn from_nlas(nlas: &[CmdNla]) -> Timeouts {
        let mut t = Timeouts::default();
        for nla in nlas {
            match nla {
                CmdNla::TimeoutTcp(v) => t.tcp = *v,
                CmdNla::TimeoutTcpFin(v) => t.tcp_fin = *v,
                CmdNla::TimeoutUdp(v) => t.udp = *v,
                _ => {}
            }
        }
        t
    }
}

/// `GET_INFO`: the kernel's IPVS version and connection table size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Info {
    /// `major << 16 | minor << 8 | patch`.
    pub version: u32,
    /// Connection hash table size.
    pub conn_tab_size: u32,
}

impl Info {
    /// Reads a `SET_INFO` reply; both attributes are required.
    pub fn from_nlas(nlas: &[CmdNla]) -> Result<Info, DecodeError> {
        let find = |pick: fn(&CmdNla) -> Option<u32>, name: &str| {
            nlas.iter()
                .find_map(pick)
                .ok_or_else(|| DecodeError::from(format!("IPVS GET_INFO reply without {name}")))
        };
        Ok(Info {
            version: find(
                |n| match n {
                    CmdNla::InfoVersion(v) => Some(*v),
                    _ => None,
                },
                "IPVS_INFO_ATTR_VERSION",
            )?,
            conn_tab_size: find(
                |n| match n {
                    CmdNla::InfoConnTabSize(v) => Some(*v),
                    _ => None,
                },
                "IPVS_INFO_ATTR_CONN_TAB_SIZE",
            )?,
        })
    }

    /// `1.2.1`, as `ipvsadm` prints it.
    pub fn version_string(&self) -> String {
        let v = self.version;
        format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
    }
}
