//! What IPVS must hold: the desired state turned into IPVS services and
//! destinations (pure).
use crate::config::{Config, LbKind, TunnelChecksum, TunnelKind, TunnelOptions, VirtualServer};
use crate::state::desired::{DesiredState, Family, VirtualService};

use super::model::{
    flags, key_family, Destination, Service, Tunnel, TunnelType, TUN_F_CSUM, TUN_F_REMCSUM,
};
use crate::state::desired::Backend;

/// One service and its destinations, as desired or as programmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The service.
    pub service: Service,
    /// Its destinations, one per address and port.
    pub dests: Vec<Destination>,
}

/// A desired service with the virtual server it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Index of the `virtual_server` in the configuration.
    pub vs: usize,
    /// What IPVS must hold for it.
    pub table: Table,
}

/// Every service of `desired`, in its order (`fast_path xdp` ones too: IPVS
/// serves what XDP passes to the kernel).
pub fn targets(desired: &DesiredState, config: &Config) -> Vec<Target> {
    desired
        .services
        .iter()
        .map(|svc| Target {
            vs: svc.vs,
            table: table(svc, config),
        })
        .collect()
}

fn table(svc: &VirtualService, config: &Config) -> Table {
    let scheduler = svc.scheduler.name();
    let server = config.virtual_server.get(svc.vs);
    let mut bits = server.map_or(0, |s| scheduler_flags(s, scheduler));
    if svc.persistence.is_some() {
        bits |= flags::PERSISTENT;
    }
    if svc.ops {
        bits |= flags::ONEPACKET;
    }
    let host = match key_family(&svc.key) {
        Family::V4 => 32,
        Family::V6 => 128,
    };
    let service = Service {
        key: svc.key,
        scheduler: scheduler.to_owned(),
        flags: bits,
        timeout: svc.persistence.map_or(0, |p| p.timeout),
        netmask: svc.persistence.map_or(host, |p| p.netmask),
        pe_name: server.and_then(|s| s.persistence_engine.clone()),
    };
    let mut dests: Vec<Destination> = Vec::new();
    for backend in &svc.backends {
        if dests
            .iter()
            .any(|d| d.addr == backend.addr && d.port == backend.port)
        {
            continue; // a sorry server that is also a real server
        }
        dests.push(Destination {
            addr: backend.addr,
            port: backend.port,
            forwarding: backend.forwarding.into(),
            weight: backend.weight,
            u_threshold: backend.uthreshold,
            l_threshold: backend.lthreshold,
            tunnel: match (backend.forwarding, server) {
                (LbKind::Tun, Some(server)) => tunnel_of(server, backend),
                _ => Tunnel::default(),
            },
        });
    }
    Table { service, dests }
}

/// The tunnel options of `backend`: its real server's own with its own
/// `lvs_method`, else the virtual server's.
fn tunnel_of(server: &VirtualServer, backend: &Backend) -> Tunnel {
    let own = server
        .real_server
        .iter()
        .filter(|_| !backend.sorry)
        .find(|r| r.address == backend.addr && r.port.or(server.port) == Some(backend.port))
        .filter(|r| r.lvs_method.is_some());
    let options = match own {
        Some(real) => real.tunnel,
        None => server.tunnel,
    };
    options.map(tunnel).unwrap_or_default()
}

fn tunnel(options: TunnelOptions) -> Tunnel {
    Tunnel {
        kind: match options.kind {
            TunnelKind::Ipip => TunnelType::Ipip,
            TunnelKind::Gue => TunnelType::Gue,
            TunnelKind::Gre => TunnelType::Gre,
        },
        port: options.port.unwrap_or(0),
        flags: match options.checksum {
            Some(TunnelChecksum::Csum) => TUN_F_CSUM,
            Some(TunnelChecksum::Remcsum) => TUN_F_REMCSUM,
            Some(TunnelChecksum::Nocsum) | None => 0,
        },
    }
}

/// `flag-N`, and the `sh-*` / `mh-*` flags for their own scheduler.
fn scheduler_flags(server: &VirtualServer, scheduler: &str) -> u32 {
    let (sh, mh) = (scheduler == "sh", scheduler == "mh");
    let fallback = (sh && server.sh_fallback) || (mh && server.mh_fallback);
    let port = (sh && server.sh_port) || (mh && server.mh_port);
    [
        (server.flag_1 || fallback, flags::SCHED1),
        (server.flag_2 || port, flags::SCHED2),
        (server.flag_3, flags::SCHED3),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .fold(0, |bits, (_, bit)| bits | bit)
}

#[cfg(test)]
mod tests;
