//! An IPVS service (virtual server): what identifies it and how it schedules.

use netlink_packet_core::DecodeError;
use serde::Serialize;

use super::{af, family, inet_addr, parse_inet_addr, Stats};
use crate::config::Protocol;
use crate::dataplane::ipvs::wire::{SvcFlags, SvcNla};
use crate::state::desired::{Family, ServiceKey};

/// `IP_VS_SVC_F_*` service flags.
pub mod flags {
    /// Persistent service (`persistence_timeout`).
    pub const PERSISTENT: u32 = 0x0001;
    /// Set by the kernel on every service in its table; never sent.
    pub const HASHED: u32 = 0x0002;
    /// One-packet scheduling (`ops`).
    pub const ONEPACKET: u32 = 0x0004;
    /// Scheduler flag 1 (`sh-fallback`, `mh-fallback`, `flag-1`).
    pub const SCHED1: u32 = 0x0008;
    /// Scheduler flag 2 (`sh-port`, `mh-port`, `flag-2`).
    pub const SCHED2: u32 = 0x0010;
    /// Scheduler flag 3 (`flag-3`).
    pub const SCHED3: u32 = 0x0020;

    /// keepalived's names of the flags set in `bits` for `scheduler`.
    pub fn names(bits: u32, scheduler: &str) -> Vec<String> {
        let sched = |n: u8, named: &str| match scheduler {
            "sh" | "mh" if n < 3 => format!("{scheduler}-{named}"),
            _ => format!("flag-{n}"),
        };
        [
            (PERSISTENT, "persistent".to_owned()),
            (ONEPACKET, "ops".to_owned()),
            (SCHED1, sched(1, "fallback")),
            (SCHED2, sched(2, "port")),
            (SCHED3, sched(3, "")),
        ]
        .into_iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| name)
        .collect()
    }
}

/// `IPPROTO_TCP`.
const IPPROTO_TCP: u16 = 6;
/// `IPPROTO_UDP`.
const IPPROTO_UDP: u16 = 17;
/// `IPPROTO_SCTP`.
const IPPROTO_SCTP: u16 = 132;

fn protocol_number(protocol: Protocol) -> u16 {
    match protocol {
        Protocol::Tcp => IPPROTO_TCP,
        Protocol::Udp => IPPROTO_UDP,
        Protocol::Sctp => IPPROTO_SCTP,
    }
}

/// An IPVS service as programmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Address, port and protocol, or fwmark and family.
    pub key: ServiceKey,
    /// Scheduler name (`rr`, `wlc`, …).
    pub scheduler: String,
    /// [`flags`] bits, without [`flags::HASHED`].
    pub flags: u32,
    /// Persistence timeout in seconds (0 when not persistent).
    pub timeout: u32,
    /// Persistence granularity as a prefix length.
    pub netmask: u8,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

/// A dumped service's counters.
pub type ServiceStats = Stats;

impl Service {
    /// The family of the service.
    pub fn family(&self) -> Family {
        key_family(&self.key)
    }

    /// The attributes that identify `key` (enough for `DEL_SERVICE` and
    /// `GET_DEST`).
    pub fn key_nlas(key: &ServiceKey) -> Vec<SvcNla> {
        match *key {
            ServiceKey::Addr { ip, port, protocol } => vec![
                SvcNla::Af(af(Family::of(ip))),
                SvcNla::Protocol(protocol_number(protocol)),
                SvcNla::Addr(inet_addr(ip)),
                SvcNla::Port(port),
            ],
            ServiceKey::Fwmark { mark, family } => {
                vec![SvcNla::Af(af(family)), SvcNla::Fwmark(mark)]
            }
        }
    }

    /// Every attribute `NEW_SERVICE` / `SET_SERVICE` need.
    pub fn to_nlas(&self) -> Vec<SvcNla> {
        let mut nlas = Service::key_nlas(&self.key);
        nlas.push(SvcNla::SchedName(self.scheduler.clone()));
        nlas.extend(self.pe_name.clone().map(SvcNla::PeName));
        nlas.push(SvcNla::Flags(SvcFlags {
            flags: self.flags & !flags::HASHED,
            mask: !0,
        }));
        nlas.push(SvcNla::Timeout(self.timeout));
        nlas.push(SvcNla::Netmask(emit_netmask(self.family(), self.netmask)));
        nlas
    }

    /// Reads a dumped service; `None` for a protocol lb-daemon does not
    /// manage (IPVS also balances AH and ESP).
    pub fn from_nlas(nlas: &[SvcNla]) -> Result<Option<(Service, ServiceStats)>, DecodeError> {
        let mut af = None;
        let (mut protocol, mut addr, mut port, mut fwmark) = (None, None, None, None);
        let mut service = Service {
            key: ServiceKey::Fwmark {
                mark: 0,
                family: Family::V4,
            },
            scheduler: String::new(),
            flags: 0,
            timeout: 0,
            netmask: 0,
            pe_name: None,
        };
        let (mut netmask, mut stats, mut stats64) = (None, None, None);
        for nla in nlas {
            match nla {
                SvcNla::Af(v) => af = Some(*v),
                SvcNla::Protocol(v) => protocol = Some(*v),
                SvcNla::Addr(v) => addr = Some(v.as_slice()),
                SvcNla::Port(v) => port = Some(*v),
                SvcNla::Fwmark(v) => fwmark = Some(*v),
                SvcNla::SchedName(v) => service.scheduler = v.clone(),
                SvcNla::Flags(f) => service.flags = f.flags & !flags::HASHED,
                SvcNla::Timeout(v) => service.timeout = *v,
                SvcNla::Netmask(raw) => netmask = Some(*raw),
                SvcNla::PeName(v) => service.pe_name = Some(v.clone()),
                SvcNla::Stats(s) => stats = Some(Stats::from_nlas(s)),
                SvcNla::Stats64(s) => stats64 = Some(Stats::from_nlas(s)),
                SvcNla::Other(_) => {}
            }
        }
        let family = family(af.ok_or("IPVS service without IPVS_SVC_ATTR_AF")?)?;
        service.key = match (fwmark, protocol, addr, port) {
            (Some(mark), ..) if mark != 0 => ServiceKey::Fwmark { mark, family },
            (_, Some(number), Some(bytes), Some(port)) => {
                let Some(protocol) = protocol_of(number) else {
                    return Ok(None);
                };
                let ip = parse_inet_addr(bytes, family, "IPVS_SVC_ATTR_ADDR")?;
                ServiceKey::Addr { ip, port, protocol }
            }
            _ => {
                return Err(DecodeError::from(
                    "IPVS service with neither a fwmark nor protocol, address and port",
                ))
            }
        };
        service.netmask = netmask.map_or(host_len(family), |raw| parse_netmask(family, raw));
        Ok(Some((service, stats64.or(stats).unwrap_or_default())))
    }
}

fn protocol_of(number: u16) -> Option<Protocol> {
    [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
        .into_iter()
        .find(|p| protocol_number(*p) == number)
}

/// The family of a service key.
pub fn key_family(key: &ServiceKey) -> Family {
    match key {
        ServiceKey::Addr { ip, .. } => Family::of(*ip),
        ServiceKey::Fwmark { family, .. } => *family,
    }
}

fn host_len(family: Family) -> u8 {
    match family {
        Family::V4 => 32,
        Family::V6 => 128,
    }
}

/// The kernel keeps an IPv4 netmask as a mask in network order and an IPv6
/// one as a prefix length.
fn emit_netmask(family: Family, len: u8) -> [u8; 4] {
    match family {
        Family::V4 => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            mask.to_be_bytes()
        }
        Family::V6 => u32::from(len.min(128)).to_ne_bytes(),
    }
}

fn parse_netmask(family: Family, raw: [u8; 4]) -> u8 {
    match family {
        Family::V4 => u32::from_be_bytes(raw).leading_ones() as u8,
        Family::V6 => u32::from_ne_bytes(raw).min(128) as u8,
    }
}
