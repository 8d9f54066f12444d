//! From a `virtual_server` (and its group) to the IPVS services it stands
//! for, following keepalived's `virtual_server_group` handling: every
//! `ADDR[-END] PORT` member is one service per address of the range (the
//! range replaces the last byte of an IPv4 address, the last 16-bit group of
//! an IPv6 one), and every `fwmark N` member is one fwmark service.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::{Config, FastPath, GroupMember, LbAlgo, LbKind, Protocol, VirtualServer};

use super::types::{Family, Persistence, ServiceKey, VirtualService};

/// The data path used when neither the virtual server nor `global_defs`
/// chooses one: IPVS only, as with keepalived; the XDP fast path is opt-in
/// (`fast_path xdp` in the virtual server or in `global_defs`).
pub const DEFAULT_FAST_PATH: FastPath = FastPath::None;

/// The services of `config.virtual_server[vs]`, without backends.
pub fn services_of(config: &Config, vs: usize) -> Vec<VirtualService> {
    let server = &config.virtual_server[vs];
    let template = |key| VirtualService {
        vs,
        key,
        scheduler: server.lb_algo.unwrap_or(LbAlgo::Wlc),
        ops: server.ops,
        forwarding: server.lb_kind.unwrap_or(LbKind::Nat),
        persistence: persistence(server),
        fast_path: server
            .fast_path
            .or(config.global_defs.fast_path)
            .unwrap_or(DEFAULT_FAST_PATH)
            == FastPath::Xdp,
        backends: Vec::new(),
        sorry: false,
    };
    keys(config, server).into_iter().map(template).collect()
}

/// Every address a service of `server` listens on (none for fwmarks): what
/// `ha_suspend` watches.
pub fn addresses(config: &Config, server: &VirtualServer) -> Vec<IpAddr> {
    keys(config, server)
        .into_iter()
        .filter_map(|key| match key {
            ServiceKey::Addr { ip, .. } => Some(ip),
            ServiceKey::Fwmark { .. } => None,
        })
        .collect()
}

/// The service keys of `server`.
pub fn keys(config: &Config, server: &VirtualServer) -> Vec<ServiceKey> {
    let protocol = server.protocol.unwrap_or(Protocol::Tcp);
    let family = fwmark_family(server);
    if let Some(name) = &server.group {
        let members = config
            .virtual_server_group
            .iter()
            .filter(|group| &group.name == name)
            .flat_map(|group| &group.member);
        return members
            .flat_map(|member| member_keys(member, server.port, protocol, family))
            .collect();
    }
    if let Some(mark) = server.fwmark {
        return vec![ServiceKey::Fwmark { mark, family }];
    }
    server
        .address
        .map(|ip| ServiceKey::Addr {
            ip,
            port: server.port.unwrap_or(0),
            protocol,
        })
        .into_iter()
        .collect()
}

/// The keys of one group member.
fn member_keys(
    member: &GroupMember,
    default_port: Option<u16>,
    protocol: Protocol,
    family: Family,
) -> Vec<ServiceKey> {
    if let Some(mark) = member.fwmark {
        return vec![ServiceKey::Fwmark { mark, family }];
    }
    let port = member.port.or(default_port).unwrap_or(0);
    let Some(first) = member.address else {
        return Vec::new();
    };
    address_range(first, member.range_end)
        .into_iter()
        .map(|ip| ServiceKey::Addr { ip, port, protocol })
        .collect()
}

/// `first` up to `end` in the last byte (IPv4) or 16-bit group (IPv6).
pub fn address_range(first: IpAddr, end: Option<u16>) -> Vec<IpAddr> {
    match first {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            let last = end.map_or(d, |end| end.min(255) as u8);
            (d..=last.max(d))
                .map(|x| IpAddr::V4(Ipv4Addr::new(a, b, c, x)))
                .collect()
        }
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            let start = segments[7];
            let last = end.unwrap_or(start).max(start);
            (start..=last)
                .map(|x| {
                    segments[7] = x;
                    IpAddr::V6(Ipv6Addr::from(segments))
                })
                .collect()
        }
    }
}

/// keepalived gives a fwmark service the family of its real servers
/// (IPv4 when it has none).
fn fwmark_family(server: &VirtualServer) -> Family {
    server
        .real_server
        .first()
        .map_or(Family::V4, |real| Family::of(real.address))
}

/// `persistence_timeout` with its granularity as a prefix length.
fn persistence(server: &VirtualServer) -> Option<Persistence> {
    let timeout = server.persistence_timeout?;
    let host = match server.address {
        Some(IpAddr::V6(_)) => 128,
        _ => 32,
    };
    let netmask = server
        .persistence_granularity
        .as_deref()
        .and_then(prefix_len)
        .unwrap_or(host);
    Some(Persistence { timeout, netmask })
}

/// A netmask (`255.255.255.0`) or prefix length (`24`) as a prefix length.
pub fn prefix_len(text: &str) -> Option<u8> {
    match text.parse::<Ipv4Addr>() {
        Ok(mask) => Some(u32::from(mask).leading_ones() as u8),
        Err(_) => text.parse::<u8>().ok().filter(|len| *len <= 128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_masks() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(address_range(ip, Some(3)).len(), 3);
        assert_eq!(address_range(ip, None), vec![ip]);
        let v6: IpAddr = "2001:db8::ff".parse().unwrap();
        assert_eq!(address_range(v6, Some(0x101)).len(), 3);
        assert_eq!(prefix_len("255.255.255.0"), Some(24));
        assert_eq!(prefix_len("64"), Some(64));
        assert_eq!(prefix_len("x"), None);
    }
}
