//! How announced prefixes show in VIP ownership (one entry per prefix,
//! named `bgp:PREFIX`) and as host addresses on `lo`.
use std::{collections::BTreeMap, net::IpAddr};

use ipnet::IpNet;

use super::plan::{self, Announced};
use crate::{
    config::{Config, VirtualIp},
    state::ownership::{Owned, Publisher},
};

/// The name a prefix is published under in VIP ownership.
pub fn owner_name(prefix: &IpNet) -> String {
    format!("bgp:{prefix}")
}

/// The ownership entry of `prefix` holding `addresses` on `interface`.
pub fn owned(interface: &str, addresses: &[IpAddr], master: bool) -> Owned {
    Owned {
        interface: interface.to_owned(),
        master,
        vips: addresses
            .iter()
            .map(|a| (interface.to_owned(), IpNet::from(*a)))
            .collect(),
    }
}

/// The service addresses announced under each prefix.
fn addresses_by_prefix(services: &[Announced]) -> BTreeMap<IpNet, Vec<IpAddr>> {
    let mut by_prefix: BTreeMap<IpNet, Vec<IpAddr>> = BTreeMap::new();
    for s in services {
        by_prefix.entry(s.prefix).or_default().push(s.address);
    }
    by_prefix
}

/// Publishes every announced address of `config` as held by this node but
/// not served here yet (as a VRRP BACKUP's): the fast path prepares for it
/// instead of taking it for an address it cannot serve. Call before the
/// fast path starts.
pub fn standby(config: &Config, ownership: &Publisher) {
    let Some(speaker) = &config.bgp_speaker else {
        return;
    };
    let interface = speaker.interface.clone().unwrap_or_default();
    let services = plan::announced(config);
    for (prefix, addresses) in addresses_by_prefix(&services) {
        let name = owner_name(&prefix);
        if !ownership.subscribe().borrow().contains_key(&name) {
            ownership.set(&name, owned(&interface, &addresses, false));
        }
    }
}

/// A service address as a host address on `lo`.
pub fn host_vip(address: IpAddr) -> VirtualIp {
    VirtualIp {
        address: IpNet::from(address),
        brd: None,
        dev: Some("lo".into()),
        scope: None,
        label: None,
        peer: None,
        no_track: true,
    }
}
