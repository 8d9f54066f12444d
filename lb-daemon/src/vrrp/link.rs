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
    vmac,
};
use crate::{
    netlink::{Interface, Link as MacvlanLink, Netlink},
    track::interface::Notifications,
};

/// Where an instance sends and receives: its interface as resolved by name
/// (with `use_vmac`, its macvlan), its own address there, and the VRRP
/// sockets bound to it.
pub struct Endpoint {
    /// The interface the addresses live on and gratuitous ARPs/NAs leave
    /// from: the instance's, or its `use_vmac` macvlan.
    pub iface: Interface,
    /// Its Ethernet address (gratuitous ARP/NA source).
    pub mac: [u8; 6],
    /// Our primary address: advert source and tie-breaker.
    pub primary: IpAddr,
    /// The VRRP sockets.
    pub socket: VrrpSocket,
    /// The index of the instance's own interface.
    base: u32,
    /// The `use_vmac` macvlan, while it is up.
    _vmac: Option<vmac::Up>,
}

impl Endpoint {
    /// Resolves `spec.interface` now, brings its `use_vmac` macvlan up
    /// (`fresh`: replacing one left by an earlier run) and opens the
    /// sockets: on the macvlan, or with `vmac_xmit_base` or without
    /// `use_vmac` on the interface.
    async fn open(netlink: &Netlink, spec: &InstanceSpec, fresh: bool) -> Result<Endpoint> {
        let base = netlink.interface(&spec.interface).await?;
        let own = netlink.addresses(base.index).await?;
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
        let up = match &spec.vmac {
            Some(vmac) => {
                let link_local = match primary {
                    IpAddr::V6(address) => Some(address),
                    IpAddr::V4(_) => None,
                };
                Some(vmac.bring_up(netlink, &base, link_local, fresh).await?)
            }
            None => None,
        };
        let xmit_base = spec.vmac.as_ref().is_some_and(|v| v.xmit_base);
        let advert = match &up {
            Some(up) if !xmit_base => &up.iface,
            _ => &base,
        };
        let socket = VrrpSocket::open(&advert.name, advert.index, primary, &spec.transport)
            .with_context(|| format!("opening the VRRP socket on {}", advert.name))?;
        let iface = up
            .as_ref()
            .map_or_else(|| base.clone(), |up| up.iface.clone());
        let mac: [u8; 6] = iface
            .mac
            .as_slice()
            .try_into()
            .map_err(|_| anyhow!("interface {} has no Ethernet address", iface.name))?;
        Ok(Endpoint {
            iface,
            mac,
            primary,
            socket,
            base: base.index,
            _vmac: up,
        })
    }

    /// Why this endpoint no longer works, if it does not: the interface
    /// (or the macvlan) is gone or was re-created.
    async fn lost(&self, netlink: &Netlink, spec: &InstanceSpec) -> Option<String> {
        let interface = &spec.interface;
        match netlink.interface(interface).await {
            Ok(iface) if iface.index != self.base => {
                Some(format!("interface {interface} was re-created"))
            }
            Ok(_) => {
                let vmac = spec.vmac.as_ref()?;
                match netlink.link(&vmac.name).await {
                    Ok(Some(link)) if link.index == self.iface.index => {
                        vmac_down(&vmac.name, &link)
                    }
                    _ => Some(format!("macvlan {} is gone", vmac.name)),
                }
            }
            Err(e) => Some(format!("{e:#}")),
        }
    }
}

/// The instance's interface as it is now: an [`Endpoint`], or why there is
/// none (the instance is then in FAULT).
pub struct Link {
    endpoint: Result<Endpoint, String>,
}

impl Link {
    /// Opens the endpoint (an error keeps the instance from starting;
    /// `fresh`: see [`Endpoint::open`]); also returns our primary address.
    pub async fn open(
        netlink: &Netlink,
        spec: &InstanceSpec,
        fresh: bool,
    ) -> Result<(Link, IpAddr)> {
        let endpoint = Endpoint::open(netlink, spec, fresh).await?;
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
                let Some(reason) = endpoint.lost(netlink, spec).await else {
                    return false;
                };
                warn!("({name}) {reason}: closing its VRRP sockets");
                Err(reason)
            }
            Err(fault) => {
                // keepalived: a macvlan set down by hand keeps the instance
                // in FAULT until it is set up again.
                let opened = match down_by_hand(netlink, spec).await {
                    Some(reason) => Err(anyhow!(reason)),
                    None => Endpoint::open(netlink, spec, false).await,
                };
                match opened {
                    Ok(endpoint) => {
                        let index = endpoint.iface.index;
                        info!("({name}) interface {interface} is back (index {index}): VRRP sockets reopened");
                        Ok(endpoint)
                    }
                    Err(e) => {
                        let reason = format!("{e:#}");
                        if *fault == reason {
                            return false;
                        }
                        warn!("({name}) {reason}");
                        Err(reason)
                    }
                }
            }
        };
        self.endpoint = result;
        true
    }

    /// Closes the sockets and deletes the `use_vmac` macvlan, as keepalived
    /// does when an instance goes away.
    pub async fn close(&mut self, netlink: &Netlink, spec: &InstanceSpec) {
        if let Some(vmac) = &spec.vmac {
            self.endpoint = Err("stopped".to_owned());
            vmac.remove(netlink).await;
        }
    }
}

/// Wake-ups for following interfaces: link changes, and address changes (a
/// re-created interface is usable once it has its address; a VIP may have
/// been deleted), and with `routes` route and rule changes (a virtual route
/// or rule may have been deleted). Subscribe before [`Link::open`], so that
/// no change slips between.
pub(crate) fn notifications(routes: bool) -> Notifications {
    let mut groups = vec![
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ];
    if routes {
        groups.extend([
            MulticastGroup::Ipv4Route,
            MulticastGroup::Ipv6Route,
            MulticastGroup::Ipv4Rule,
            MulticastGroup::Ipv6Rule,
        ]);
    }
    Notifications::subscribe(&groups)
}

/// Why the `use_vmac` macvlan `link` is unusable when it is set down.
fn vmac_down(name: &str, link: &MacvlanLink) -> Option<String> {
    (!link.up).then(|| format!("macvlan {name} is down"))
}

/// [`vmac_down`] for the instance's macvlan, when it exists.
async fn down_by_hand(netlink: &Netlink, spec: &InstanceSpec) -> Option<String> {
    let vmac = spec.vmac.as_ref()?;
    let link = netlink.link(&vmac.name).await.ok()??;
    vmac_down(&vmac.name, &link)
}

/// The advert source: the interface's first IPv4 address that is not one of
/// the instance's VIPs, or for IPv6 its link-local address (RFC 5798 §5.1.2.1).
fn primary_address(own: &[IpNet], spec: &InstanceSpec) -> Option<IpAddr> {
    own.iter().map(IpNet::addr).find(|a| match a {
        IpAddr::V6(a) => spec.is_ipv6() && a.segments()[0] & 0xffc0 == 0xfe80,
        IpAddr::V4(_) => !spec.is_ipv6() && !spec.all_vips().any(|v| v.address.addr() == *a),
    })
}
