//! The instance's interface, followed by name: an interface can be deleted
//! and re-created with a new index, and sockets bound to the old one then
//! neither send nor receive. Link and address notifications (the same
//! subscription `track_interface` uses) wake the instance, which looks its
//! interface up again: gone means FAULT (as keepalived does), back means the
//! sockets are opened again on the new index.
use std::{future::pending, io, net::IpAddr};

use anyhow::{anyhow, bail, Context, Result};
use ipnet::IpNet;
use rtnetlink::MulticastGroup;
use tracing::{info, warn};

use super::{
    io::{Packet, VrrpSocket},
    spec::InstanceSpec,
};
use crate::{
    netlink::{Interface, Netlink},
    track::interface::Notifications,
};

/// Where an instance sends and receives: its interface as resolved by name,
/// its own address there, and the VRRP sockets bound to it.
pub struct Endpoint {
    /// The interface (its index is the one the sockets are bound to).
    pub iface: Interface,
    /// Its Ethernet address (gratuitous ARP/NA source).
    pub mac: [u8; 6],
    /// Our primary address: advert source and tie-breaker.
    pub primary: IpAddr,
    /// The VRRP sockets.
    pub socket: VrrpSocket,
}

impl Endpoint {
    /// Resolves `spec.interface` now and opens the sockets on it.
    async fn open(netlink: &Netlink, spec: &InstanceSpec) -> Result<Endpoint> {
        let iface = netlink.interface(&spec.interface).await?;
        let mac: [u8; 6] = iface
            .mac
            .as_slice()
            .try_into()
            .map_err(|_| anyhow!("interface {} has no Ethernet address", spec.interface))?;
        let own = netlink.addresses(iface.index).await?;
        let primary = match spec.src {
            Some(src) => src,
            None => match primary_address(&own, spec) {
                Some(primary) => primary,
                None if spec.is_ipv6() => bail!(
                    "interface {} has no link-local IPv6 address of its own",
                    spec.interface
                ),
                None => bail!(
                    "interface {} has no IPv4 address of its own",
                    spec.interface
                ),
            },
        };
        let socket = VrrpSocket::open(&spec.interface, iface.index, primary, &spec.transport)
            .with_context(|| format!("opening the VRRP socket on {}", spec.interface))?;
        Ok(Endpoint {
            iface,
            mac,
            primary,
            socket,
        })
    }
}

/// The instance's interface as it is now: an [`Endpoint`], or why there is
/// none (the instance is then in FAULT).
pub struct Link {
    endpoint: Result<Endpoint, String>,
}

impl Link {
    /// Opens the endpoint (an error keeps the instance from starting); also
    /// returns our primary address.
    pub async fn open(netlink: &Netlink, spec: &InstanceSpec) -> Result<(Link, IpAddr)> {
        let endpoint = Endpoint::open(netlink, spec).await?;
        let primary = endpoint.primary;
        let link = Link {
            endpoint: Ok(endpoint),
        };
        Ok((link, primary))
    }

    /// The endpoint, while the interface is there and usable.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref().ok()
    }

    /// Why there is no endpoint, if there is none.
    pub fn fault(&self) -> Option<&str> {
        self.endpoint.as_ref().err().map(String::as_str)
    }

    /// The next packet on the sockets; never resolves without them.
    pub async fn recv(&self) -> io::Result<Option<Packet>> {
        match &self.endpoint {
            Ok(endpoint) => endpoint.socket.recv().await,
            Err(_) => pending().await,
        }
    }

    /// The next packet already queued on the sockets, without waiting
    /// (see [`VrrpSocket::try_recv`]); `None` when there is none.
    pub fn try_recv(&self) -> Option<io::Result<Option<Packet>>> {
        self.endpoint.as_ref().ok()?.socket.try_recv()
    }

    /// Looks the interface up again by name: closes the sockets when it is
    /// gone or was re-created, else reopens them on it when it is (back)
    /// there and usable. Returns whether [`Link::fault`] changed; then call
    /// again, until it returns false (a re-created interface is first lost,
    /// then reopened).
    pub async fn follow(&mut self, netlink: &Netlink, spec: &InstanceSpec) -> bool {
        let (name, interface) = (&spec.name, &spec.interface);
        let result = match &self.endpoint {
            Ok(endpoint) => {
                let reason = match netlink.interface(interface).await {
                    Ok(iface) if iface.index == endpoint.iface.index => return false,
                    Ok(_) => format!("interface {interface} was re-created"),
                    Err(e) => format!("{e:#}"),
                };
                warn!("({name}) {reason}: closing its VRRP sockets");
                Err(reason)
            }
            Err(_) => match Endpoint::open(netlink, spec).await {
                Ok(endpoint) => {
                    info!(
                        "({name}) interface {interface} is back (index {}): VRRP sockets reopened",
                        endpoint.iface.index
                    );
                    Ok(endpoint)
                }
                Err(e) => {
                    let reason = format!("{e:#}");
                    if self.fault() == Some(reason.as_str()) {
                        return false;
                    }
                    warn!("({name}) {reason}");
                    Err(reason)
                }
            },
        };
        self.endpoint = result;
        true
    }
}

/// Wake-ups for following interfaces: link changes, and address changes (a
/// re-created interface is usable once it has its address). Subscribe before
/// [`Link::open`], so that no change slips between.
pub(crate) fn notifications() -> Notifications {
    Notifications::subscribe(&[
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ])
}

/// The advert source: the interface's first IPv4 address that is not one of
/// the instance's VIPs, or for IPv6 its link-local address (RFC 5798 §5.1.2.1).
fn primary_address(own: &[IpNet], spec: &InstanceSpec) -> Option<IpAddr> {
    own.iter().map(IpNet::addr).find(|a| match a {
        IpAddr::V6(a) => spec.is_ipv6() && a.segments()[0] & 0xffc0 == 0xfe80,
        IpAddr::V4(_) => !spec.is_ipv6() && !spec.all_vips().any(|v| v.address.addr() == *a),
    })
}
