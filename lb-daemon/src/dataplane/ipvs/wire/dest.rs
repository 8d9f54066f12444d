//! `IPVS_DEST_ATTR_*`: the attributes nested in `IPVS_CMD_ATTR_DEST`.
use netlink_packet_core::{DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, Parseable};

use super::{attr, stats::StatsNla};

/// One attribute of a destination (real server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestNla {
    /// `ADDR`: `union nf_inet_addr`, 16 bytes.
    Addr(Vec<u8>),
    /// `PORT` (network order on the wire).
    Port(u16),
    /// `FWD_METHOD`: `IP_VS_CONN_F_*` forwarding bits.
    FwdMethod(u32),
    /// `WEIGHT`.
    Weight(u32),
    /// `U_THRESH`: upper connection threshold.
    UThresh(u32),
    /// `L_THRESH`: lower connection threshold.
    LThresh(u32),
    /// `ACTIVE_CONNS` (dumps only).
    ActiveConns(u32),
    /// `INACT_CONNS` (dumps only).
    InactConns(u32),
    /// `PERSIST_CONNS` (dumps only).
    PersistConns(u32),
    /// `STATS` (dumps only).
    Stats(Vec<StatsNla>),
    /// `ADDR_FAMILY` (Linux 4.2+): the destination's own family.
    AddrFamily(u16),
    /// `STATS64` (dumps only).
    Stats64(Vec<StatsNla>),
    /// `TUN_TYPE` (Linux 5.2+): `IP_VS_CONN_F_TUNNEL_TYPE_*`.
    TunType(u8),
    /// `TUN_PORT` (Linux 5.2+, network order on the wire).
    TunPort(u16),
    /// `TUN_FLAGS` (Linux 5.3+): `IP_VS_TUNNEL_ENCAP_FLAG_*`.
    TunFlags(u16),
    /// Anything newer.
    Other(DefaultNla),
}

const ADDR: u16 = 1;
const PORT: u16 = 2;
const FWD_METHOD: u16 = 3;
const WEIGHT: u16 = 4;
const U_THRESH: u16 = 5;
const L_THRESH: u16 = 6;
const ACTIVE_CONNS: u16 = 7;
const INACT_CONNS: u16 = 8;
const PERSIST_CONNS: u16 = 9;
const STATS: u16 = 10;
const ADDR_FAMILY: u16 = 11;
const STATS64: u16 = 12;
const TUN_TYPE: u16 = 13;
const TUN_PORT: u16 = 14;
const TUN_FLAGS: u16 = 15;

impl Nla for DestNla {
    fn value_len(&self) -> usize {
        match self {
            DestNla::Addr(bytes) => bytes.len(),
            DestNla::TunType(_) => 1,
            DestNla::Port(_)
            | DestNla::AddrFamily(_)
            | DestNla::TunPort(_)
            | DestNla::TunFlags(_) => 2,
            DestNla::FwdMethod(_)
            | DestNla::Weight(_)
            | DestNla::UThresh(_)
            | DestNla::LThresh(_)
            | DestNla::ActiveConns(_)
            | DestNla::InactConns(_)
            | DestNla::PersistConns(_) => 4,
            DestNla::Stats(nlas) | DestNla::Stats64(nlas) => nlas.as_slice().buffer_len(),
            DestNla::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            DestNla::Addr(_) => ADDR,
            DestNla::Port(_) => PORT,
            DestNla::FwdMethod(_) => FWD_METHOD,
            DestNla::Weight(_) => WEIGHT,
            DestNla::UThresh(_) => U_THRESH,
            DestNla::LThresh(_) => L_THRESH,
            DestNla::ActiveConns(_) => ACTIVE_CONNS,
            DestNla::InactConns(_) => INACT_CONNS,
            DestNla::PersistConns(_) => PERSIST_CONNS,
            DestNla::Stats(_) => STATS,
            DestNla::AddrFamily(_) => ADDR_FAMILY,
            DestNla::Stats64(_) => STATS64,
            DestNla::TunType(_) => TUN_TYPE,
            DestNla::TunPort(_) => TUN_PORT,
            DestNla::TunFlags(_) => TUN_FLAGS,
            DestNla::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            DestNla::Addr(bytes) => buffer.copy_from_slice(bytes),
            DestNla::Port(v) | DestNla::TunPort(v) => buffer.copy_from_slice(&v.to_be_bytes()),
            DestNla::AddrFamily(v) | DestNla::TunFlags(v) => {
                buffer.copy_from_slice(&v.to_ne_bytes())
            }
            DestNla::TunType(v) => buffer[0] = *v,
            DestNla::FwdMethod(v)
            | DestNla::Weight(v)
            | DestNla::UThresh(v)
            | DestNla::LThresh(v)
            | DestNla::ActiveConns(v)
            | DestNla::InactConns(v)
            | DestNla::PersistConns(v) => buffer.copy_from_slice(&v.to_ne_bytes()),
            DestNla::Stats(nlas) | DestNla::Stats64(nlas) => nlas.as_slice().emit(buffer),
            DestNla::Other(nla) => nla.emit_value(buffer),
        }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Parseable<NlaBuffer<&'a T>> for DestNla {
    fn parse(buf: &NlaBuffer<&'a T>) -> Result<DestNla, DecodeError> {
        let v = buf.value();
        Ok(match buf.kind() {
            ADDR => DestNla::Addr(v.to_vec()),
            PORT => DestNla::Port(attr::be16(v, "IPVS_DEST_ATTR_PORT")?),
            FWD_METHOD => DestNla::FwdMethod(attr::u32(v, "IPVS_DEST_ATTR_FWD_METHOD")?),
            WEIGHT => DestNla::Weight(attr::u32(v, "IPVS_DEST_ATTR_WEIGHT")?),
            U_THRESH => DestNla::UThresh(attr::u32(v, "IPVS_DEST_ATTR_U_THRESH")?),
            L_THRESH => DestNla::LThresh(attr::u32(v, "IPVS_DEST_ATTR_L_THRESH")?),
            ACTIVE_CONNS => DestNla::ActiveConns(attr::u32(v, "IPVS_DEST_ATTR_ACTIVE_CONNS")?),
            INACT_CONNS => DestNla::InactConns(attr::u32(v, "IPVS_DEST_ATTR_INACT_CONNS")?),
            PERSIST_CONNS => DestNla::PersistConns(attr::u32(v, "IPVS_DEST_ATTR_PERSIST_CONNS")?),
            STATS => DestNla::Stats(attr::nested(v)?),
            ADDR_FAMILY => DestNla::AddrFamily(attr::u16(v, "IPVS_DEST_ATTR_ADDR_FAMILY")?),
            STATS64 => DestNla::Stats64(attr::nested(v)?),
            TUN_TYPE => DestNla::TunType(attr::u8(v, "IPVS_DEST_ATTR_TUN_TYPE")?),
            TUN_PORT => DestNla::TunPort(attr::be16(v, "IPVS_DEST_ATTR_TUN_PORT")?),
            TUN_FLAGS => DestNla::TunFlags(attr::u16(v, "IPVS_DEST_ATTR_TUN_FLAGS")?),
            _ => DestNla::Other(DefaultNla::parse(buf)?),
        })
    }
}
