//! An IPVS destination (real server) of a service.
use std::net::IpAddr;

use netlink_packet_core::DecodeError;
use serde::Serialize;

use super::{af, family, inet_addr, parse_inet_addr, Stats};
use crate::config::LbKind;
use crate::dataplane::ipvs::wire::DestNla;
use crate::state::desired::Family;

/// `IP_VS_CONN_F_FWD_MASK` values: how packets reach the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Forwarding {
    /// NAT (`ipvsadm -m`, keepalived `NAT`).
    Masq,
    /// The director itself.
    Local,
    /// IP-in-IP, GUE or GRE (`-i`, `TUN`).
    Tunnel,
    /// Direct routing (`-g`, `DR`).
    Route,
    /// Bypass.
    Bypass,
}

const FORWARDINGS: [Forwarding; 5] = [
    Forwarding::Masq,
    Forwarding::Local,
    Forwarding::Tunnel,
    Forwarding::Route,
    Forwarding::Bypass,
];

impl Forwarding {
    fn number(self) -> u32 {
        FORWARDINGS.iter().position(|f| *f == self).unwrap_or(0) as u32
    }

    /// `Masq`, `Route`, `Tunnel`: as `ipvsadm -Ln` prints it.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            Forwarding::Masq => "Masq",
            Forwarding::Local => "Local",
            Forwarding::Tunnel => "Tunnel",
            Forwarding::Route => "Route",
            Forwarding::Bypass => "Bypass",
        }
    }
}

impl From<LbKind> for Forwarding {
    fn from(kind: LbKind) -> Forwarding {
        match kind {
            LbKind::Nat => Forwarding::Masq,
            LbKind::Dr => Forwarding::Route,
            LbKind::Tun => Forwarding::Tunnel,
        }
    }
}

/// `IP_VS_CONN_F_TUNNEL_TYPE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    /// IP-in-IP (the only type before Linux 5.2).
    #[default]
    Ipip,
    /// Generic UDP encapsulation (Linux 5.2+).
    Gue,
    /// GRE (Linux 5.3+).
    Gre,
}

const TUNNEL_TYPES: [TunnelType; 3] = [TunnelType::Ipip, TunnelType::Gue, TunnelType::Gre];

/// `IP_VS_TUNNEL_ENCAP_FLAG_CSUM`.
pub const TUN_F_CSUM: u16 = 1;
/// `IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM`.
pub const TUN_F_REMCSUM: u16 = 2;

/// Tunnel settings of a `Tunnel` destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tunnel {
    /// Encapsulation.
    #[serde(rename = "type")]
    pub kind: TunnelType,
    /// GUE destination port (0 otherwise).
    pub port: u16,
    /// `TUN_F_*` checksum flags.
    pub flags: u16,
}

/// A destination as programmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Destination {
    /// Address of the real server.
    pub addr: IpAddr,
    /// Its port.
    pub port: u16,
    /// How packets reach it.
    pub forwarding: Forwarding,
    /// Scheduling weight (0: no new connections).
    pub weight: u32,
    /// Upper connection threshold (0: none).
    pub u_threshold: u32,
    /// Lower connection threshold (0: none).
    pub l_threshold: u32,
    /// Tunnel settings, meaningful with [`Forwarding::Tunnel`].
    pub tunnel: Tunnel,
}

/// A dumped destination's connection counters and traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DestCounters {
    /// Established connections (`ActiveConn`).
    pub active_conns: u32,
    /// Other connections (`InActConn`).
    pub inactive_conns: u32,
    /// Persistence templates.
    pub persistent_conns: u32,
    /// Traffic counters.
    pub stats: Stats,
}

impl Destination {
    /// A direct-routing destination (`ipvsadm -g`, keepalived `DR`) without
    /// thresholds.
    pub fn routed(addr: IpAddr, port: u16, weight: u32) -> Destination {
        Destination {
            addr,
            port,
            forwarding: Forwarding::Route,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            tunnel: Tunnel::default(),
        }
    }

    /// The attributes that identify the destination (`DEL_DEST`).
    pub fn key_nlas(addr: IpAddr, port: u16) -> Vec<DestNla> {
        vec![
            DestNla::AddrFamily(af(Family::of(addr))),
            DestNla::Addr(inet_addr(addr)),
            DestNla::Port(port),
        ]
    }

    /// Every attribute `NEW_DEST` / `SET_DEST` need, in `ipvsadm`'s order;
    /// tunnel attributes only for tunnelled destinations, which kernels
    /// before 5.2 would not know.
    pub fn to_nlas(&self) -> Vec<DestNla> {
        let mut nlas = Destination::key_nlas(self.addr, self.port);
        nlas.extend([
            DestNla::FwdMethod(self.forwarding.number()),
            DestNla::Weight(self.weight),
        ]);
        if self.forwarding == Forwarding::Tunnel {
            let kind = TUNNEL_TYPES
                .iter()
                .position(|t| *t == self.tunnel.kind)
                .unwrap_or(0);
            nlas.extend([
                DestNla::TunType(kind as u8),
                DestNla::TunPort(self.tunnel.port),
                DestNla::TunFlags(self.tunnel.flags),
            ]);
        }
        nlas.extend([
            DestNla::UThresh(self.u_threshold),
            DestNla::LThresh(self.l_threshold),
        ]);
        nlas
    }

    /// Reads a dumped destination of a service of `service_family` (the
    /// destination's own family when the kernel says it).
    pub fn from_nlas(
        nlas: &[DestNla],
        service_family: Family,
    ) -> Result<(Destination, DestCounters), DecodeError> {
        let (mut addr, mut port, mut fwd, mut af_attr) = (None, None, None, None);
        let mut dest = Destination {
            addr: IpAddr::from([0, 0, 0, 0]),
            port: 0,
            forwarding: Forwarding::Masq,
            weight: 0,
            u_threshold: 0,
            l_threshold: 0,
            tunnel: Tunnel::default(),
        };
        let mut counters = DestCounters::default();
        let (mut stats, mut stats64) = (None, None);
        for nla in nlas {
            match nla {
                DestNla::Addr(v) => addr = Some(v.as_slice()),
                DestNla::Port(v) => port = Some(*v),
                DestNla::FwdMethod(v) => fwd = Some(*v),
                DestNla::Weight(v) => dest.weight = *v,
                DestNla::UThresh(v) => dest.u_threshold = *v,
                DestNla::LThresh(v) => dest.l_threshold = *v,
                DestNla::ActiveConns(v) => counters.active_conns = *v,
                DestNla::InactConns(v) => counters.inactive_conns = *v,
                DestNla::PersistConns(v) => counters.persistent_conns = *v,
                DestNla::Stats(s) => stats = Some(Stats::from_nlas(s)),
                DestNla::AddrFamily(v) => af_attr = Some(*v),
                DestNla::Stats64(s) => stats64 = Some(Stats::from_nlas(s)),
                DestNla::TunType(v) => {
                    dest.tunnel.kind = *TUNNEL_TYPES.get(usize::from(*v)).ok_or_else(|| {
                        DecodeError::from(format!(
                            "IPVS_DEST_ATTR_TUN_TYPE: unknown tunnel type {v}"
                        ))
                    })?
                }
                DestNla::TunPort(v) => dest.tunnel.port = *v,
                DestNla::TunFlags(v) => dest.tunnel.flags = *v,
                DestNla::Other(_) => {}
            }
        }
        let family = af_attr.map_or(Ok(service_family), family)?;
        let addr = addr.ok_or("IPVS destination without IPVS_DEST_ATTR_ADDR")?;
        dest.addr = parse_inet_addr(addr, family, "IPVS_DEST_ATTR_ADDR")?;
        dest.port = port.ok_or("IPVS destination without IPVS_DEST_ATTR_PORT")?;
        let fwd = fwd.ok_or("IPVS destination without IPVS_DEST_ATTR_FWD_METHOD")?;
        dest.forwarding = *FORWARDINGS.get((fwd & 0x7) as usize).ok_or_else(|| {
            DecodeError::from(format!("IPVS_DEST_ATTR_FWD_METHOD: unknown method {fwd}"))
        })?;
        counters.stats = stats64.or(stats).unwrap_or_default();
        Ok((dest, counters))
    }
}
