//! Routes and neighbours: how the XDP fast path learns where a real server
//! is (egress interface, next hop, source address) and its MAC address.
use std::net::IpAddr;

use anyhow::{anyhow, Context, Result};
use futures::TryStreamExt;
use rtnetlink::{
    packet_route::{
        neighbour::{
            NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
        },
        route::{RouteAddress, RouteAttribute, RouteMessage},
    },
    RouteMessageBuilder,
};

use super::Netlink;

/// The kernel's route toward an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Egress interface.
    pub ifindex: u32,
    /// Next hop when the address is not on-link.
    pub gateway: Option<IpAddr>,
    /// Preferred source address.
    pub source: Option<IpAddr>,
}

impl Route {
    /// The address whose MAC frames toward the destination carry.
    pub fn next_hop(&self, destination: IpAddr) -> IpAddr {
        self.gateway.unwrap_or(destination)
    }
}

impl Netlink {
    /// `ip route get destination`.
    pub async fn route_to(&self, destination: IpAddr) -> Result<Route> {
        let prefix = if destination.is_ipv4() { 32 } else { 128 };
        let message = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(destination, prefix)
            .map_err(|e| anyhow!("{e}"))?
            .build();
        let mut routes = self.handle.route().get(message).execute();
        let route = routes
            .try_next()
            .await
            .with_context(|| format!("looking up the route to {destination}"))?
            .with_context(|| format!("no route to {destination}"))?;
        route_of(&route)
            .with_context(|| format!("the route to {destination} has no output interface"))
    }

    /// The MAC address of `addr` on interface `ifindex`, if the neighbour
    /// table has a usable one.
    pub async fn neighbour(&self, ifindex: u32, addr: IpAddr) -> Result<Option<[u8; 6]>> {
        let _dump = self.dumping.lock().await;
        let mut entries = self.handle.neighbours().get().execute();
        while let Some(entry) = entries
            .try_next()
            .await
            .context("reading the neighbour table")?
        {
            if let Some(mac) = neighbour_mac(&entry, ifindex, addr) {
                return Ok(Some(mac));
            }
        }
        Ok(None)
    }

    /// Asks the kernel to resolve `addr` on `ifindex` (ARP or neighbour
    /// solicitation), as `ip neigh add ADDR dev IF use` does: the entry's
    /// `NTF_USE` flag triggers resolution without sending anything else.
    pub async fn resolve_neighbour(&self, ifindex: u32, addr: IpAddr) -> Result<()> {
        let mut request = self.handle.neighbours().add(ifindex, addr).replace();
        request.message_mut().header.flags = NeighbourFlags::Use;
        request
            .execute()
            .await
            .with_context(|| format!("asking the kernel to resolve {addr}"))
    }
}

/// The route a reply to `ip route get` gives; `None` without an output
/// interface.
pub(crate) fn route_of(route: &RouteMessage) -> Option<Route> {
    let address = |a: &RouteAddress| match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    };
    let mut found = Route {
        ifindex: 0,
        gateway: None,
        source: None,
    };
    for attribute in &route.attributes {
        match attribute {
            RouteAttribute::Oif(index) => found.ifindex = *index,
            RouteAttribute::Gateway(a) => found.gateway = address(a),
            RouteAttribute::PrefSource(a) => found.source = address(a),
            _ => {}
        }
    }
    (found.ifindex != 0).then_some(found)
}

/// The MAC address `entry` of the neighbour table gives `addr` on interface
/// `ifindex`, when it is that neighbour's and usable.
pub(crate) fn neighbour_mac(
    entry: &NeighbourMessage,
    ifindex: u32,
    addr: IpAddr,
) -> Option<[u8; 6]> {
    if entry.header.ifindex != ifindex || !usable(entry.header.state) {
        return None;
    }
    let mut matches = false;
    let mut mac = None;
    for attribute in &entry.attributes {
        match attribute {
            NeighbourAttribute::Destination(d) => matches = neighbour_ip(d) == Some(addr),
            NeighbourAttribute::LinkLayerAddress(l) => mac = <[u8; 6]>::try_from(&l[..]).ok(),
            _ => {}
        }
    }
    mac.filter(|_| matches)
}

fn usable(state: NeighbourState) -> bool {
    matches!(
        state,
        NeighbourState::Reachable
            | NeighbourState::Stale
            | NeighbourState::Delay
            | NeighbourState::Probe
            | NeighbourState::Permanent
            | NeighbourState::Noarp
    )
}

fn neighbour_ip(address: &NeighbourAddress) -> Option<IpAddr> {
    match address {
        NeighbourAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        NeighbourAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}
