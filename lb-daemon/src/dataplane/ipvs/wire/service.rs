//! `IPVS_SVC_ATTR_*`: the attributes nested in `IPVS_CMD_ATTR_SERVICE`.
use netlink_packet_core::{DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, Parseable};

use super::{attr, stats::StatsNla};

/// `struct ip_vs_flags`: the flags to set and which of them to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SvcFlags {
    /// `IP_VS_SVC_F_*` bits.
    pub flags: u32,
    /// The bits `flags` sets (the kernel's dumps say `!0`).
    pub mask: u32,
}

/// One attribute of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SvcNla {
    /// `AF`: `AF_INET` or `AF_INET6`.
    Af(u16),
    /// `PROTOCOL`: `IPPROTO_*` (address services only).
    Protocol(u16),
    /// `ADDR`: `union nf_inet_addr`, 16 bytes (an IPv4 address in the first 4).
    Addr(Vec<u8>),
    /// `PORT` (network order on the wire).
    Port(u16),
    /// `FWMARK` (fwmark services only).
    Fwmark(u32),
    /// `SCHED_NAME`.
    SchedName(String),
    /// `FLAGS`.
    Flags(SvcFlags),
    /// `TIMEOUT`: persistence timeout in seconds.
    Timeout(u32),
    /// `NETMASK` as the kernel stores it: an IPv4 mask in network order,
    /// or an IPv6 prefix length in host order.
    Netmask([u8; 4]),
    /// `STATS` (dumps only).
    Stats(Vec<StatsNla>),
    /// `PE_NAME`: persistence engine.
    PeName(String),
    /// `STATS64` (dumps only).
    Stats64(Vec<StatsNla>),
    /// Anything newer.
    Other(DefaultNla),
}

const AF: u16 = 1;
const PROTOCOL: u16 = 2;
const ADDR: u16 = 3;
const PORT: u16 = 4;
const FWMARK: u16 = 5;
const SCHED_NAME: u16 = 6;
const FLAGS: u16 = 7;
const TIMEOUT: u16 = 8;
const NETMASK: u16 = 9;
const STATS: u16 = 10;
const PE_NAME: u16 = 11;
const STATS64: u16 = 12;

impl Nla for SvcNla {
    fn value_len(&self) -> usize {
        match self {
            SvcNla::Af(_) | SvcNla::Protocol(_) | SvcNla::Port(_) => 2,
            SvcNla::Fwmark(_) | SvcNla::Timeout(_) | SvcNla::Netmask(_) => 4,
            SvcNla::Flags(_) => 8,
            SvcNla::Addr(bytes) => bytes.len(),
            SvcNla::SchedName(s) | SvcNla::PeName(s) => s.len() + 1,
            SvcNla::Stats(nlas) | SvcNla::Stats64(nlas) => nlas.as_slice().buffer_len(),
            SvcNla::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            SvcNla::Af(_) => AF,
            SvcNla::Protocol(_) => PROTOCOL,
            SvcNla::Addr(_) => ADDR,
            SvcNla::Port(_) => PORT,
            SvcNla::Fwmark(_) => FWMARK,
            SvcNla::SchedName(_) => SCHED_NAME,
            SvcNla::Flags(_) => FLAGS,
            SvcNla::Timeout(_) => TIMEOUT,
            SvcNla::Netmask(_) => NETMASK,
            SvcNla::Stats(_) => STATS,
            SvcNla::PeName(_) => PE_NAME,
            SvcNla::Stats64(_) => STATS64,
            SvcNla::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            SvcNla::Af(v) | SvcNla::Protocol(v) => buffer.copy_from_slice(&v.to_ne_bytes()),
            SvcNla::Port(v) => buffer.copy_from_slice(&v.to_be_bytes()),
            SvcNla::Fwmark(v) | SvcNla::Timeout(v) => buffer.copy_from_slice(&v.to_ne_bytes()),
            SvcNla::Netmask(raw) => buffer.copy_from_slice(raw),
            SvcNla::Flags(f) => {
                buffer[..4].copy_from_slice(&f.flags.to_ne_bytes());
                buffer[4..].copy_from_slice(&f.mask.to_ne_bytes());
            }
            SvcNla::Addr(bytes) => buffer.copy_from_slice(bytes),
            SvcNla::SchedName(s) | SvcNla::PeName(s) => attr::emit_string(s, buffer),
            SvcNla::Stats(nlas) | SvcNla::Stats64(nlas) => nlas.as_slice().emit(buffer),
            SvcNla::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for SvcNla {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<SvcNla, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            AF => SvcNla::Af(attr::u16(v, "IPVS_SVC_ATTR_AF")?),
            PROTOCOL => SvcNla::Protocol(attr::u16(v, "IPVS_SVC_ATTR_PROTOCOL")?),
            ADDR => SvcNla::Addr(v.to_vec()),
            PORT => SvcNla::Port(attr::be16(v, "IPVS_SVC_ATTR_PORT")?),
            FWMARK => SvcNla::Fwmark(attr::u32(v, "IPVS_SVC_ATTR_FWMARK")?),
            SCHED_NAME => SvcNla::SchedName(attr::string(v, "IPVS_SVC_ATTR_SCHED_NAME")?),
            FLAGS => {
                let raw: [u8; 8] = v.try_into().map_err(|_| {
                    DecodeError::from(format!(
                        "IPVS_SVC_ATTR_FLAGS: expected 8 bytes, the kernel sent {}",
                        v.len()
                    ))
                })?;
                let [f0, f1, f2, f3, m0, m1, m2, m3] = raw;
                SvcNla::Flags(SvcFlags {
                    flags: u32::from_ne_bytes([f0, f1, f2, f3]),
                    mask: u32::from_ne_bytes([m0, m1, m2, m3]),
                })
            }
            TIMEOUT => SvcNla::Timeout(attr::u32(v, "IPVS_SVC_ATTR_TIMEOUT")?),
            NETMASK => SvcNla::Netmask(attr::raw4(v, "IPVS_SVC_ATTR_NETMASK")?),
            STATS => SvcNla::Stats(attr::nested(v)?),
            PE_NAME => SvcNla::PeName(attr::string(v, "IPVS_SVC_ATTR_PE_NAME")?),
            STATS64 => SvcNla::Stats64(attr::nested(v)?),
            _ => SvcNla::Other(DefaultNla::parse(buf)?),
        })
    }
}
