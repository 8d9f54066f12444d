//! The daemon's rtnetlink client: interface lookups and address changes in
//! the network namespace the daemon runs in.
use std::{net::IpAddr, sync::Arc};

use anyhow::{anyhow, bail, Context, Result};
use futures::TryStreamExt;
use ipnet::IpNet;
use rtnetlink::{
    packet_route::{
        address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope},
        link::{LinkAttribute, LinkFlags, LinkMessage},
    },
    Handle,
};
use tokio::sync::Mutex;

use crate::config::VirtualIp;

mod changes;
mod macvlan;
pub(crate) mod neighbours;
mod route_match;
mod route_msg;
mod routes;

pub use changes::Changes;
pub use macvlan::Link;
pub use neighbours::Route;
pub use routes::{Held, Installed};

/// What the daemon needs to know about one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// Kernel index.
    pub index: u32,
    /// Hardware address (empty for interfaces without one).
    pub mac: Vec<u8>,
    /// Administratively up and with carrier.
    pub running: bool,
    /// Maximum transmission unit.
    pub mtu: u32,
}

/// A connection to the kernel's routing netlink family.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
    /// The kernel runs one dump at a time per netlink socket and answers
    /// EBUSY to a second: requests that dump take this first.
    dumping: Arc<Mutex<()>>,
}

/// errno values the kernel answers for "already there" / "not there".
const EEXIST: i32 = 17;
const EADDRNOTAVAIL: i32 = 99;
const ENODEV: i32 = 19;

impl Netlink {
    /// Opens a connection; its I/O task runs on the current tokio runtime.
    pub fn connect() -> Result<Netlink> {
        let (connection, handle, _) =
            rtnetlink::new_connection().context("opening an rtnetlink socket")?;
        tokio::spawn(connection);
        Ok(Netlink {
            handle,
            dumping: Arc::default(),
        })
    }

    /// The interface called `name`.
    pub async fn interface(&self, name: &str) -> Result<Interface> {
        match self.link_message(name).await? {
            Some(msg) => Ok(interface_of(&msg)),
            None => bail!("no interface {name}"),
        }
    }

    /// The kernel's message about the link called `name`, `None` when
    /// there is none.
    async fn link_message(&self, name: &str) -> Result<Option<LinkMessage>> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute();
        match links.try_next().await {
            Ok(found) => Ok(found),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(anyhow!(e)).with_context(|| format!("looking up interface {name}")),
        }
    }

    /// The interface with index `index`.
    pub async fn interface_by_index(&self, index: u32) -> Result<Interface> {
        let mut links = self.handle.link().get().match_index(index).execute();
        match links.try_next().await {
            Ok(Some(msg)) => Ok(interface_of(&msg)),
            Ok(None) => bail!("no interface with index {index}"),
            Err(e) if errno(&e) == Some(ENODEV) => bail!("no interface with index {index}"),
            Err(e) => Err(anyhow!(e)).with_context(|| format!("looking up interface {index}")),
        }
    }

    /// Addresses (with prefix length) configured on interface `index`.
    pub async fn addresses(&self, index: u32) -> Result<Vec<IpNet>> {
        let _dump = self.dumping.lock().await;
        let msgs: Vec<AddressMessage> = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .with_context(|| format!("listing addresses of interface {index}"))?;
        Ok(msgs.iter().filter_map(address_of).collect())
    }

    /// Adds `vip` to interface `index`; an address already present counts as added.
    pub async fn add_address(&self, index: u32, vip: &VirtualIp) -> Result<()> {
        let mut req =
            self.handle
                .address()
                .add(index, vip.address.addr(), vip.address.prefix_len());
        let msg = req.message_mut();
        if let Some(label) = &vip.label {
            msg.attributes.push(AddressAttribute::Label(label.clone()));
        }
        if let Some(IpAddr::V4(brd)) = vip.brd {
            msg.attributes
                .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
            msg.attributes.push(AddressAttribute::Broadcast(brd));
        }
        if let Some(peer) = vip.peer {
            // A peer makes IFA_LOCAL ours and IFA_ADDRESS the other end.
            msg.attributes
                .retain(|a| !matches!(a, AddressAttribute::Address(_)));
            msg.attributes.push(AddressAttribute::Address(peer));
        }
        msg.header.scope = scope(vip.scope.as_deref())?;
        if vip.address.addr().is_ipv6() {
            // A VIP moves between nodes: duplicate address detection would
            // hold it tentative for a second (keepalived adds it `nodad` too).
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match req.execute().await {
            Err(e) if errno(&e) == Some(EEXIST) => Ok(()),
            other => other.with_context(|| format!("adding {} to interface {index}", vip.address)),
        }
    }

    /// Removes `address` from interface `index`; an absent address counts as removed.
    pub async fn del_address(&self, index: u32, address: IpNet) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = match address {
            IpNet::V4(_) => rtnetlink::packet_route::AddressFamily::Inet,
            IpNet::V6(_) => rtnetlink::packet_route::AddressFamily::Inet6,
        };
        msg.header.prefix_len = address.prefix_len();
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(address.addr()));
        match self.handle.address().del(msg).execute().await {
            Err(e) if errno(&e) == Some(EADDRNOTAVAIL) => Ok(()),
            other => other.with_context(|| format!("removing {address} from interface {index}")),
        }
    }
}

/// The interface a link message describes.
pub(crate) fn interface_of(msg: &LinkMessage) -> Interface {
    let mut iface = Interface {
        name: String::new(),
        index: msg.header.index,
        mac: Vec::new(),
        running: msg.header.flags.contains(LinkFlags::Up)
            && msg.header.flags.contains(LinkFlags::Running),
        mtu: 0,
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(name) => iface.name = name.clone(),
            LinkAttribute::Address(mac) => iface.mac = mac.clone(),
            LinkAttribute::Mtu(mtu) => iface.mtu = *mtu,
            _ => {}
        }
    }
    iface
}

/// The address (with prefix length) an address message carries.
pub(crate) fn address_of(msg: &AddressMessage) -> Option<IpNet> {
    // IFA_LOCAL is the interface's own address where IFA_ADDRESS is a peer.
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let addr = local.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })?;
    IpNet::new(addr, msg.header.prefix_len).ok()
}

/// keepalived's scope words (as `ip address` takes them).
fn scope(word: Option<&str>) -> Result<AddressScope> {
    Ok(match word {
        None | Some("global") | Some("universe") => AddressScope::Universe,
        Some("site") => AddressScope::Site,
        Some("link") => AddressScope::Link,
        Some("host") => AddressScope::Host,
        Some("nowhere") => AddressScope::Nowhere,
        Some(n) => AddressScope::from(n.parse::<u8>().with_context(|| format!("scope {n}"))?),
    })
}

/// The errno of a netlink error reply, if it is one.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(msg) => Some(msg.raw_code().saturating_abs()),
        _ => None,
    }
}
