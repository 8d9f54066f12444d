//! Where a real server is for the data plane: egress interface, next hop's
//! MAC address (from the neighbour table, resolution requested when it is
//! missing), source address for tunnels, and MTU.
use anyhow::{bail, Result};
use lb_common::{Real, FAMILY_IPV4, FAMILY_IPV6, FWD_TUN};

use super::{plan::PlannedBackend, tables::key_bytes};
use crate::netlink::Netlink;

/// A backend's resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Everything the program needs.
    Ready(Real),
    /// The next hop's MAC address is not known yet; the kernel was asked to
    /// resolve it.
    Pending,
}

/// Resolves `backend` through the kernel's routes and neighbours.
pub async fn resolve(netlink: &Netlink, backend: &PlannedBackend) -> Result<Resolution> {
    let route = netlink.route_to(backend.addr).await?;
    let iface = netlink.interface_by_index(route.ifindex).await?;
    let Ok(smac) = <[u8; 6]>::try_from(&iface.mac[..]) else {
        bail!(
            "{} is reached through {}, which has no Ethernet address",
            backend.addr,
            iface.name
        );
    };
    let hop = route.next_hop(backend.addr);
    let Some(dmac) = netlink.neighbour(route.ifindex, hop).await? else {
        netlink.resolve_neighbour(route.ifindex, hop).await?;
        return Ok(Resolution::Pending);
    };
    let src = match (route.source, backend.forward) {
        (Some(src), _) => key_bytes(src),
        (None, FWD_TUN) => bail!(
            "no source address toward {} for its tunnel (the route has none)",
            backend.addr
        ),
        (None, _) => [0; 16],
    };
    Ok(Resolution::Ready(Real {
        addr: key_bytes(backend.addr),
        src,
        dmac,
        smac,
        ifindex: route.ifindex,
        mtu: u16::try_from(iface.mtu).unwrap_or(u16::MAX),
        family: if backend.addr.is_ipv4() {
            FAMILY_IPV4
        } else {
            FAMILY_IPV6
        },
        forward: backend.forward,
    }))
}
