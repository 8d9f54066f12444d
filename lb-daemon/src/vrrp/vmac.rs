//! `use_vmac`: an instance runs on a macvlan interface carrying the VRRP
//! virtual MAC (RFC 5798 §7.3: 00:00:5e:00:01:VRID, for IPv6
//! 00:00:5e:00:02:VRID), as keepalived does it. The macvlan sits on the
//! instance's interface in private mode, holds the instance's addresses of
//! its family while MASTER, and sends the adverts and gratuitous ARPs/NAs,
//! so their source MAC is the virtual one and a takeover needs no ARP cache
//! update in the network (with `vmac_xmit_base`, adverts go through the
//! base interface instead).
//!
//! keepalived's kernel settings come with it: on the macvlan `arp_ignore=1`
//! (and for IPv4 `accept_local=1`, `rp_filter=0`, `promote_secondaries=1`,
//! IPv6 off; for IPv6 no automatic link-local address, the base's one
//! instead), and for IPv4 `arp_ignore=1` and `arp_filter=1` on the base
//! interface, put back when the last macvlan on it goes away, and
//! `all.rp_filter=0` ([`super::rp_filter`]).
//!
//! The macvlan is created when the instance starts (replacing one of that
//! name left by a previous run), re-created when it disappears, and deleted
//! when the instance stops or a reload removes it.
use std::{
    collections::HashMap,
    net::Ipv6Addr,
    sync::{Mutex, OnceLock},
};

use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use tracing::{info, warn};

use super::{rp_filter::RpFilterHold, sysctl};
use crate::{
    config::VirtualIp,
    netlink::{Interface, Netlink},
};

/// An instance's `use_vmac`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vmac {
    /// The macvlan's name.
    pub name: String,
    /// Its hardware address.
    pub mac: [u8; 6],
    /// `vmac_xmit_base`: adverts travel on the base interface.
    pub xmit_base: bool,
}

/// The VRRP virtual MAC of `vrid` for the instance's family.
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// A macvlan that is up, with what it holds on its base interface.
pub struct Up {
    /// The macvlan.
    pub iface: Interface,
    /// The base interface's ARP settings, held while the macvlan is up.
    _base_arp: Option<BaseArp>,
    /// For IPv4, `all.rp_filter` at 0 (see [`super::rp_filter`]).
    _rp_filter: Option<RpFilterHold>,
}

impl Vmac {
    /// Brings the macvlan up on `base`: created and configured, or, unless
    /// `fresh`, reused when a private macvlan with our MAC already sits on
    /// `base` (an instance of the same virtual router handed it over). A
    /// `fresh` start replaces a macvlan of that name (left by a run that
    /// died); an interface of that name that is not a macvlan is an error.
    /// For IPv6, `link_local` (the base interface's) is added to it unless
    /// adverts go through the base.
    pub async fn bring_up(
        &self,
        netlink: &Netlink,
        base: &Interface,
        link_local: Option<Ipv6Addr>,
        fresh: bool,
    ) -> Result<Up> {
        let name = &self.name;
        let ipv6 = link_local.is_some();
        let reuse = match netlink.link(name).await? {
            None => false,
            Some(link) if !link.macvlan => {
                bail!("interface {name} exists and is not a macvlan: not using it for use_vmac")
            }
            Some(link) => {
                let ours =
                    link.private_macvlan && link.base == Some(base.index) && link.mac == self.mac;
                if fresh || !ours {
                    info!("removing the old macvlan {name}");
                    netlink.del_link(link.index).await?;
                }
                ours && !fresh
            }
        };
        if !reuse {
            let group = netlink.link(&base.name).await?.map_or(0, |l| l.group);
            netlink
                .add_macvlan(name, base.index, self.mac, group)
                .await?;
            info!(
                "created macvlan {name} on {} with MAC {}",
                base.name,
                format_mac(self.mac)
            );
        }
        let iface = netlink.interface(name).await?;
        // Before the macvlan's own settings: clearing raises every
        // interface's rp_filter, the macvlan's included.
        let rp_filter = (!ipv6).then(RpFilterHold::hold);
        configure(name, ipv6);
        let base_arp = (!ipv6).then(|| BaseArp::hold(&base.name));
        netlink.set_link_up(iface.index).await?;
        if let (Some(address), false) = (link_local, self.xmit_base) {
            let own = VirtualIp {
                address: IpNet::new(address.into(), 64).context("link-local prefix")?,
                brd: None,
                dev: None,
                scope: None,
                label: None,
                peer: None,
                no_track: false,
            };
            netlink.add_address(iface.index, &own).await?;
        }
        Ok(Up {
            iface: netlink.interface(name).await?,
            _base_arp: base_arp,
            _rp_filter: rp_filter,
        })
    }

    /// Deletes the macvlan, when there is one of that name.
    pub async fn remove(&self, netlink: &Netlink) {
        let name = &self.name;
        match netlink.link(name).await {
            Ok(Some(link)) if link.macvlan => match netlink.del_link(link.index).await {
                Ok(()) => info!("removed macvlan {name}"),
                Err(e) => warn!("{e:#}"),
            },
            Ok(_) => {}
            Err(e) => warn!("{e:#}"),
        }
    }
}

/// keepalived's settings on the macvlan `name` (a failure is logged: the
/// instance runs, as keepalived's does).
fn configure(name: &str, ipv6: bool) {
    let mut settings = vec![("ipv4", "arp_ignore", 1)];
    match ipv6 {
        // No EUI-64 link-local from the virtual MAC (RFC 5798 §7.4).
        true => settings.push(("ipv6", "addr_gen_mode", 1)),
        false => settings.extend([
            ("ipv4", "accept_local", 1),
            ("ipv4", "rp_filter", 0),
            ("ipv4", "promote_secondaries", 1),
            ("ipv6", "disable_ipv6", 1),
        ]),
    }
    for (family, key, value) in settings {
        if let Err(e) = sysctl::write(family, name, key, value) {
            warn!("setting net.{family}.conf.{name}.{key}={value}: {e}");
        }
    }
}

/// The base interface settings keepalived needs with IPv4 macvlans, so that
/// the base does not answer ARP for the macvlan's addresses.
const BASE_ARP: [&str; 2] = ["arp_ignore", "arp_filter"];

/// How many macvlans hold [`BASE_ARP`] at 1 on a base interface, and the
/// values it had before the first of them.
type Held = (usize, [Option<u32>; 2]);

/// [`Held`] by base interface.
fn holders() -> &'static Mutex<HashMap<String, Held>> {
    static HOLDERS: OnceLock<Mutex<HashMap<String, Held>>> = OnceLock::new();
    HOLDERS.get_or_init(Mutex::default)
}

/// `arp_ignore=1` and `arp_filter=1` held on a base interface; dropping
/// the last holder puts the earlier values back.
struct BaseArp {
    base: String,
}

impl BaseArp {
    fn hold(base: &str) -> BaseArp {
        let mut holders = holders().lock().unwrap_or_else(|e| e.into_inner());
        let entry = holders.entry(base.to_string()).or_insert_with(|| {
            let saved = BASE_ARP.map(|key| sysctl::read(base, key));
            (0, saved)
        });
        if entry.0 == 0 {
            for (key, saved) in BASE_ARP.iter().zip(entry.1) {
                if saved != Some(1) {
                    if let Err(e) = sysctl::write("ipv4", base, key, 1) {
                        warn!("setting net.ipv4.conf.{base}.{key}=1: {e}");
                    }
                }
            }
        }
        entry.0 += 1;
        BaseArp {
            base: base.to_string(),
        }
    }
}

impl Drop for BaseArp {
    fn drop(&mut self) {
        let mut holders = holders().lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = holders.get_mut(&self.base) else {
            return;
        };
        entry.0 -= 1;
        if entry.0 > 0 {
            return;
        }
        let saved = entry.1;
        holders.remove(&self.base);
        for (key, saved) in BASE_ARP.iter().zip(saved) {
            match saved {
                Some(value) if value != 1 => {
                    if let Err(e) = sysctl::write("ipv4", &self.base, key, value) {
                        warn!("restoring net.ipv4.conf.{}.{key}: {e}", self.base);
                    }
                }
                _ => {}
            }
        }
    }
}

/// `00:00:5e:00:01:33`.
fn format_mac(mac: [u8; 6]) -> String {
    let bytes: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    bytes.join(":")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{config::parse_keepalived_str, vrrp::spec::InstanceSpec};

    /// The instances of `text`, resolved.
    fn specs(text: &str) -> Vec<InstanceSpec> {
        let loaded = parse_keepalived_str(text, Path::new("t.conf")).unwrap();
        let config = &loaded.config;
        config
            .vrrp_instance
            .iter()
            .map(|i| InstanceSpec::new(i, config))
            .collect()
    }

    fn instance(name: &str, interface: &str, vrid: u8, vip: &str, extra: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface {interface}\n virtual_router_id {vrid}\n{extra}\
             virtual_ipaddress {{\n {vip}\n }}\n}}\n"
        )
    }

    fn names(specs: &[InstanceSpec]) -> Vec<Option<&str>> {
        specs
            .iter()
            .map(|s| s.vmac.as_ref().map(|v| v.name.as_str()))
            .collect()
    }

    #[test]
    fn virtual_mac_per_family() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(255, true), [0, 0, 0x5e, 0, 2, 255]);
        assert_eq!(format_mac(virtual_mac(51, false)), "00:00:5e:00:01:33");
    }

    #[test]
    fn names_default_to_vrrp_vrid_and_avoid_each_other() {
        let text = [
            instance("A", "eth0", 51, "192.0.2.50", " use_vmac\n"),
            instance("B", "eth1", 51, "192.0.2.51", " use_vmac\n"),
            instance("C", "eth2", 51, "2001:db8::50", " use_vmac\n"),
            instance("D", "eth3", 51, "192.0.2.52", " use_vmac vrrp.51x\n"),
            instance("E", "eth4", 7, "192.0.2.53", " use_vmac name vrrp1.51\n"),
            instance("F", "eth5", 9, "192.0.2.54", ""),
        ]
        .concat();
        let specs = specs(&text);
        // vrrp1.51 is configured for E, so B skips it; C is IPv6 (vrrp6 next).
        assert_eq!(
            names(&specs),
            [
                Some("vrrp.51"),
                Some("vrrp2.51"),
                Some("vrrp6.51"),
                Some("vrrp.51x"),
                Some("vrrp1.51"),
                None
            ]
        );
        assert_eq!(specs[0].vmac.as_ref().unwrap().mac, virtual_mac(51, false));
        assert_eq!(specs[2].vmac.as_ref().unwrap().mac, virtual_mac(51, true));
        assert!(!specs[0].vmac.as_ref().unwrap().xmit_base);
        assert_eq!(specs[5].vip_interface(), "eth5");
    }

    #[test]
    fn addresses_of_the_family_without_another_dev_live_on_the_macvlan() {
        let extra = " use_vmac\n vmac_xmit_base\n virtual_ipaddress_excluded {\n \
                     192.0.2.60/24 dev eth0\n 192.0.2.61/24 dev eth1\n 2001:db8::60/64\n }\n";
        let spec = &specs(&instance("A", "eth0", 51, "192.0.2.50/24", extra))[0];
        assert!(spec.vmac.as_ref().unwrap().xmit_base);
        assert_eq!(spec.vip_interface(), "vrrp.51");
        let owned = spec.owned(true).vips;
        let places: Vec<(&str, String)> = owned
            .iter()
            .map(|(dev, address)| (dev.as_str(), address.to_string()))
            .collect();
        assert_eq!(
            places,
            [
                ("vrrp.51", "192.0.2.50/24".to_owned()),
                ("vrrp.51", "192.0.2.60/24".to_owned()),
                ("eth1", "192.0.2.61/24".to_owned()),
                ("eth0", "2001:db8::60/64".to_owned()),
            ]
        );
    }

    #[test]
    fn use_vmac_is_part_of_the_identity() {
        let plain = &specs(&instance("A", "eth0", 51, "192.0.2.50", ""))[0];
        let vmac = &specs(&instance("A", "eth0", 51, "192.0.2.50", " use_vmac\n"))[0];
        let base = " use_vmac\n vmac_xmit_base\n";
        let xmit_base = &specs(&instance("A", "eth0", 51, "192.0.2.50", base))[0];
        assert_ne!(plain.identity(), vmac.identity());
        assert_ne!(vmac.identity(), xmit_base.identity());
        assert!(plain.same_router(vmac));
    }
}
