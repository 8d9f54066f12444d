//! An instance's virtual addresses on their interfaces: added when it
//! becomes master, removed when it leaves, leftovers of a crashed run
//! removed at start (every address added is noted in the [`VipRecord`],
//! which also finds the ones a changed configuration no longer names), and
//! re-added when a `dev` interface they live on is re-created while the
//! instance is master. [`Vips::deleted`] finds a VIP deleted from under a
//! MASTER (keepalived then leaves MASTER, unless the VIP is `no_track`).
//!
//! Each VIP lives on its own `dev`, else on the instance's interface (its
//! `use_vmac` macvlan, see [`InstanceSpec::placed`]). An interface that
//! does not exist holds no addresses: removing from it is a
//! no-op, adding to it waits until it comes back.
use std::collections::{btree_map::Entry, BTreeMap, BTreeSet};

use ipnet::IpNet;
use tracing::{debug, error, info, warn};

use crate::{config::VirtualIp, netlink::Netlink};

use super::{spec::InstanceSpec, vip_record::VipRecord};

/// The VIPs of one instance and the interfaces they live on.
pub struct Vips {
    /// Instance name, for logs.
    name: String,
    /// Where VIPs without `dev` live ([`InstanceSpec::vip_interface`]).
    interface: String,
    vips: Vec<VirtualIp>,
    netlink: Netlink,
    record: VipRecord,
    /// Last seen index of each other interface a VIP names with `dev`
    /// (`None` while it does not exist).
    devs: BTreeMap<String, Option<u32>>,
    /// The VIPs added since the instance became MASTER (interface,
    /// address): only those can be found deleted.
    held: BTreeSet<(String, IpNet)>,
}

impl Vips {
    /// The VIPs of `spec`, with the `dev` interfaces as they are now.
    pub async fn new(spec: &InstanceSpec, netlink: Netlink, record: VipRecord) -> Vips {
        let vips: Vec<VirtualIp> = spec.all_vips().map(|v| spec.placed(v)).collect();
        let interface = spec.vip_interface().to_owned();
        let mut devs = BTreeMap::new();
        for dev in vips.iter().filter_map(|v| v.dev.as_ref()) {
            if *dev != interface && !devs.contains_key(dev) {
                let index = netlink.interface(dev).await.ok().map(|i| i.index);
                devs.insert(dev.clone(), index);
            }
        }
        Vips {
            name: spec.name.clone(),
            interface,
            vips,
            netlink,
            record,
            devs,
            held: BTreeSet::new(),
        }
    }

    /// Adds every VIP; `own` is the index of the instance's interface.
    pub async fn add_all(&mut self, own: Option<u32>) {
        info!("({}) setting VIPs.", self.name);
        for vip in self.vips.clone() {
            match self.ifindex(&vip, own).await {
                Some(index) => self.add(index, &vip).await,
                None => warn!(
                    "({}) cannot add {}: interface {} does not exist (added when it returns)",
                    self.name,
                    vip.address,
                    self.dev_of(&vip)
                ),
            }
        }
    }

    /// A tracked VIP (not `no_track`) added while MASTER that is no longer
    /// on its interface, described; `own` is the index of the instance's
    /// interface. A VIP whose interface is gone is not counted: the
    /// interface following deals with it.
    pub async fn deleted(&self, own: Option<u32>) -> Option<String> {
        let mut present: BTreeMap<u32, Vec<IpNet>> = BTreeMap::new();
        for vip in self.vips.iter().filter(|v| !v.no_track) {
            let dev = self.dev_of(vip);
            if !self.held.contains(&(dev.to_owned(), vip.address)) {
                continue;
            }
            let Some(index) = self.ifindex(vip, own).await else {
                continue;
            };
            let Some(addresses) = self.addresses(&mut present, index).await else {
                continue;
            };
            if !addresses.iter().any(|a| a.addr() == vip.address.addr()) {
                return Some(format!("virtual address {} on {dev}", vip.address));
            }
        }
        None
    }

    /// Removes every VIP; `own` is the index of the instance's interface.
    pub async fn remove_all(&mut self, own: Option<u32>) {
        self.held.clear();
        if self.vips.is_empty() {
            return;
        }
        info!("({}) removing VIPs.", self.name);
        for vip in &self.vips {
            match self.ifindex(vip, own).await {
                Some(index) => self.remove(index, vip).await,
                None => debug!(
                    "({}) {} went away with interface {}",
                    self.name,
                    vip.address,
                    self.dev_of(vip)
                ),
            }
        }
    }

    /// The VIPs of `self` that `other` lacks (or has on another interface
    /// or with other attributes).
    pub fn missing_from<'a>(&'a self, other: &'a Vips) -> impl Iterator<Item = &'a VirtualIp> {
        self.vips
            .iter()
            .filter(|vip| !other.vips.contains(vip) || other.dev_of(vip) != self.dev_of(vip))
    }

    /// Removes the VIPs that `newer` lacks (a reload dropped or changed
    /// them); `own` is the index of the instance's interface.
    pub async fn remove_missing_from(&self, newer: &Vips, own: Option<u32>) {
        for vip in self.missing_from(newer) {
            if let Some(index) = self.ifindex(vip, own).await {
                info!(
                    "({}) removing {} (no longer configured)",
                    self.name, vip.address
                );
                self.remove(index, vip).await;
            }
        }
    }

    /// Forgets the VIPs at these places (interface, address): a successor
    /// instance holds them from now on, so leaving does not remove them.
    pub fn keep(&mut self, places: &[(String, IpNet)]) {
        let interface = self.interface.clone();
        self.vips.retain(|vip| {
            let dev = vip.dev.as_ref().unwrap_or(&interface);
            !places.iter().any(|(d, a)| d == dev && *a == vip.address)
        });
    }

    /// At start the instance owns nothing yet: every VIP found on the
    /// interface it lives on (with or without `dev`, `label`, `scope`) was
    /// left by a crashed run, and is removed.
    pub async fn remove_leftovers(&self, own: Option<u32>) {
        let mut present: BTreeMap<u32, Vec<IpNet>> = BTreeMap::new();
        for vip in &self.vips {
            let Some(index) = self.ifindex(vip, own).await else {
                continue;
            };
            let Some(addresses) = self.addresses(&mut present, index).await else {
                continue;
            };
            if addresses.contains(&vip.address) {
                info!(
                    "({}) removing leftover VIP {} from {}",
                    self.name,
                    vip.address,
                    self.dev_of(vip)
                );
                self.remove(index, vip).await;
            }
        }
    }

    /// Looks up the `dev` interfaces again (after a link notification):
    /// logs those that disappeared, and when `master` adds the VIPs of those
    /// that (re)appeared.
    pub async fn follow_devs(&mut self, master: bool) {
        let mut appeared = Vec::new();
        for (dev, known) in &mut self.devs {
            let now = self.netlink.interface(dev).await.ok().map(|i| i.index);
            if now == *known {
                continue;
            }
            match now {
                None => warn!(
                    "({}) interface {dev} is gone, and its VIPs with it",
                    self.name
                ),
                Some(index) => {
                    info!("({}) interface {dev} is back (index {index})", self.name);
                    appeared.push((dev.clone(), index));
                }
            }
            *known = now;
        }
        if !master {
            return;
        }
        for (dev, index) in appeared {
            let placed: Vec<VirtualIp> = (self.vips.iter())
                .filter(|v| v.dev.as_ref() == Some(&dev))
                .cloned()
                .collect();
            for vip in placed {
                self.add(index, &vip).await;
            }
        }
    }

    /// The addresses on interface `index`, dumped once into `present`
    /// (a failed dump is logged and gives `None`).
    async fn addresses<'a>(
        &self,
        present: &'a mut BTreeMap<u32, Vec<IpNet>>,
        index: u32,
    ) -> Option<&'a Vec<IpNet>> {
        match present.entry(index) {
            Entry::Occupied(known) => Some(known.into_mut()),
            Entry::Vacant(slot) => match self.netlink.addresses(index).await {
                Ok(addresses) => Some(slot.insert(addresses)),
                Err(e) => {
                    error!("({}) {e:#}", self.name);
                    None
                }
            },
        }
    }

    async fn add(&mut self, index: u32, vip: &VirtualIp) {
        let dev = self.dev_of(vip).to_owned();
        self.record.adding(&dev, vip.address);
        match self.netlink.add_address(index, vip).await {
            Ok(()) => _ = self.held.insert((dev, vip.address)),
            Err(e) => error!("({}) {e:#}", self.name),
        }
    }

    async fn remove(&self, index: u32, vip: &VirtualIp) {
        match self.netlink.del_address(index, vip.address).await {
            Ok(()) => self.record.removed(self.dev_of(vip), vip.address),
            Err(e) => error!("({}) {e:#}", self.name),
        }
    }

    /// The interface `vip` lives on.
    fn dev_of<'a>(&'a self, vip: &'a VirtualIp) -> &'a str {
        vip.dev.as_deref().unwrap_or(&self.interface)
    }

    /// The index of the interface `vip` lives on, if it exists; `own` is
    /// the instance's interface (`None` while it is gone).
    async fn ifindex(&self, vip: &VirtualIp, own: Option<u32>) -> Option<u32> {
        match vip.dev.as_deref() {
            None => own,
            Some(dev) if dev == self.interface => own,
            Some(dev) => match self.netlink.interface(dev).await {
                Ok(iface) => Some(iface.index),
                Err(e) => {
                    debug!("({}) {e:#}", self.name);
                    None
                }
            },
        }
    }
}
