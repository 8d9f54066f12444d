//! Macvlan links for `use_vmac`: looking a link up with its kind, creating
//! a private-mode macvlan with a given MAC address on a base interface,
//! bringing a link up and deleting it.
use anyhow::{Context, Result};
use rtnetlink::{
    packet_route::link::{
        InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
        MacVlanMode,
    },
    LinkMacVlan, LinkUnspec,
};

use super::{errno, Netlink, ENODEV};

/// A link as `use_vmac` needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Kernel index.
    pub index: u32,
    /// Hardware address.
    pub mac: Vec<u8>,
    /// Link group (`ip link set ... group`).
    pub group: u32,
    /// For a macvlan: its mode is private.
    pub private_macvlan: bool,
    /// Whether it is a macvlan at all.
    pub macvlan: bool,
    /// The interface it sits on (`IFLA_LINK`), if any.
    pub base: Option<u32>,
    /// Administratively up.
    pub up: bool,
}

impl Netlink {
    /// The link called `name`, `None` when there is none.
    pub async fn link(&self, name: &str) -> Result<Option<Link>> {
        Ok(self.link_message(name).await?.as_ref().map(link_of))
    }

    /// Creates macvlan `name` in private mode on interface `base`, with
    /// hardware address `mac`, in link group `group`; it stays down.
    pub async fn add_macvlan(&self, name: &str, base: u32, mac: [u8; 6], group: u32) -> Result<()> {
        let message = LinkMacVlan::new(name, base, MacVlanMode::Private)
            .address(mac.to_vec())
            .append_extra_attribute(LinkAttribute::Group(group))
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .with_context(|| format!("creating macvlan {name}"))
    }

    /// Sets link `index` administratively up.
    pub async fn set_link_up(&self, index: u32) -> Result<()> {
        let message = LinkUnspec::new_with_index(index).up().build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .with_context(|| format!("setting interface {index} up"))
    }

    /// Deletes link `index`; a link already gone counts as deleted.
    pub async fn del_link(&self, index: u32) -> Result<()> {
        match self.handle.link().del(index).execute().await {
            Err(e) if errno(&e) == Some(ENODEV) => Ok(()),
            other => other.with_context(|| format!("deleting interface {index}")),
        }
    }
}

/// What a link message says about the link.
fn link_of(msg: &LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        mac: Vec::new(),
        group: 0,
        private_macvlan: false,
        macvlan: false,
        base: None,
        up: msg.header.flags.contains(LinkFlags::Up),
    };
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::Address(mac) => link.mac = mac.clone(),
            LinkAttribute::Group(group) => link.group = *group,
            LinkAttribute::Link(base) => link.base = Some(*base),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(InfoKind::MacVlan) => link.macvlan = true,
                        LinkInfo::Data(InfoData::MacVlan(data)) => {
                            link.private_macvlan |= data
                                .iter()
                                .any(|d| matches!(d, InfoMacVlan::Mode(MacVlanMode::Private)));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    link
}
