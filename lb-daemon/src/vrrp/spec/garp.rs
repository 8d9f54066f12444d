//! Gratuitous ARP / NA timing of a master, resolved against `global_defs`
//! and keepalived's defaults: the bursts on becoming master, refreshes,
//! lower-priority bursts, pacing, and `garp_extra_if`.
use std::{net::IpAddr, time::Duration};

use crate::config::{GlobalDefs, VrrpInstance};

use super::InstanceSpec;

/// Gratuitous ARP / NA timing of a master (`garp_master_*`,
/// `garp_lower_prio_*`, `vrrp_garp_interval`, `vrrp_gna_interval`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Garp {
    /// Delay before the second burst after becoming master.
    pub delay: Duration,
    /// Packets per address in each burst.
    pub repeat: u32,
    /// Period of refresh bursts while master (`None`: no refresh).
    pub refresh: Option<Duration>,
    /// Packets per address in each refresh burst.
    pub refresh_repeat: u32,
    /// Delay of the second burst after a lower-priority advert reached the
    /// master (zero: no second burst).
    pub lower_prio_delay: Duration,
    /// Packets per address in each lower-priority burst (0: none).
    pub lower_prio_repeat: u32,
    /// Minimum spacing of gratuitous ARPs on the interface (zero: none).
    pub arp_interval: Duration,
    /// Minimum spacing of unsolicited NAs on the interface (zero: none).
    pub na_interval: Duration,
    /// `garp_extra_if`, where it applies.
    pub extra: Option<ExtraGarp>,
}

/// `garp_extra_if` of an instance as it runs: while MASTER, every
/// `interval` one gratuitous ARP/NA for the first address on each of
/// these interfaces (keepalived `vrrp_send_vmac_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraGarp {
    /// Time between two rounds (the first comes `garp_master_delay` later).
    pub interval: Duration,
    /// Each interface with the address announced there.
    pub announce: Vec<(String, IpAddr)>,
}

impl Garp {
    /// keepalived's resolution: the instance's value, else the global one;
    /// the lower-priority globals default to the global `garp_master_*`.
    /// [`Garp::extra`] is left for [`extra_interfaces`].
    pub(super) fn new(inst: &VrrpInstance, global: &GlobalDefs) -> Garp {
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        // keepalived's defaults, or with `vrrp_min_garp` one packet and no
        // second burst.
        let (delay, repeat, refresh_repeat) = match global.vrrp_min_garp {
            true => (0, 1, 0),
            false => (5, 5, 1),
        };
        let global_delay = global.vrrp_garp_master_delay.unwrap_or(delay);
        let global_repeat = global.vrrp_garp_master_repeat.unwrap_or(repeat);
        // Validation bounds both to 0.000001-4294.967295 seconds.
        let pacing = |v: Option<f64>| v.map_or(Duration::ZERO, Duration::from_secs_f64);
        Garp {
            delay: secs(inst.garp_master_delay.unwrap_or(global_delay)),
            repeat: inst.garp_master_repeat.unwrap_or(global_repeat),
            refresh: inst
                .garp_master_refresh
                .or(global.vrrp_garp_master_refresh)
                .filter(|&s| s > 0)
                .map(secs),
            refresh_repeat: inst
                .garp_master_refresh_repeat
                .or(global.vrrp_garp_master_refresh_repeat)
                .unwrap_or(refresh_repeat),
            lower_prio_delay: secs(
                inst.garp_lower_prio_delay
                    .or(global.vrrp_garp_lower_prio_delay)
                    .unwrap_or(global_delay),
            ),
            lower_prio_repeat: inst
                .garp_lower_prio_repeat
                .or(global.vrrp_garp_lower_prio_repeat)
                .unwrap_or(global_repeat),
            arp_interval: pacing(global.vrrp_garp_interval),
            na_interval: pacing(global.vrrp_gna_interval),
            extra: None,
        }
    }
}

/// Where `garp_extra_if` (else `vrrp_garp_extra_if`) applies, as keepalived
/// decides: the interfaces holding the instance's addresses that are the
/// daemon's own virtual MAC interfaces (`ours`), or with `all` any
/// interface; not the interface adverts leave from (the instance's own,
/// unless `vmac_xmit_base` sends them from the base). keepalived turns it
/// off when no address lives on an interface other than the instance's.
pub(super) fn extra_interfaces(
    spec: &InstanceSpec,
    global: &GlobalDefs,
    ours: &[&str],
) -> Option<ExtraGarp> {
    let setting = spec.config.garp_extra_if.or(global.vrrp_garp_extra_if)?;
    let own = spec.vip_interface();
    let xmit_base = spec.vmac.as_ref().is_some_and(|v| v.xmit_base);
    let eligible = |dev: &str| setting.all || ours.contains(&dev);
    let placed: Vec<(String, IpAddr)> = spec
        .all_vips()
        .map(|vip| {
            let dev = spec.placed(vip).dev.unwrap_or_else(|| own.to_owned());
            (dev, vip.address.addr())
        })
        .collect();
    let elsewhere = placed.iter().any(|(dev, _)| dev != own && eligible(dev));
    if setting.interval == 0 || !elsewhere {
        return None;
    }
    let mut announce: Vec<(String, IpAddr)> = Vec::new();
    for (dev, address) in placed {
        let silent = dev != own || xmit_base;
        if eligible(&dev) && silent && announce.iter().all(|(done, _)| *done != dev) {
            announce.push((dev, address));
        }
    }
    Some(ExtraGarp {
        interval: Duration::from_secs(u64::from(setting.interval)),
        announce,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::spec;
    use super::*;

    #[test]
    fn lower_priority_bursts_and_pacing() {
        let vi = |body: &str| {
            format!("vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n{body} virtual_ipaddress {{\n 192.0.2.50\n }}\n}}\n")
        };
        // The lower-priority globals follow the global garp_master_* values,
        // not the instance's.
        let s = spec(&format!(
            "global_defs {{\n vrrp_garp_master_delay 3\n vrrp_garp_master_repeat 2\n\
             vrrp_garp_interval 0.25\n vrrp_gna_interval 0.000001\n}}\n{}",
            vi(" garp_master_repeat 9\n")
        ));
        assert_eq!(
            (s.garp.lower_prio_delay, s.garp.lower_prio_repeat),
            (Duration::from_secs(3), 2)
        );
        assert_eq!(s.garp.arp_interval, Duration::from_millis(250));
        assert_eq!(s.garp.na_interval, Duration::from_micros(1));
        let s = spec(&format!(
            "global_defs {{\n vrrp_garp_lower_prio_delay 7\n vrrp_garp_lower_prio_repeat 4\n}}\n{}",
            vi(" garp_lower_prio_repeat 0\n")
        ));
        assert_eq!(
            (s.garp.lower_prio_delay, s.garp.lower_prio_repeat),
            (Duration::from_secs(7), 0)
        );
    }

    #[test]
    fn min_garp_sets_only_the_defaults_not_given() {
        let vi = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                  virtual_ipaddress {\n 192.0.2.50\n }\n}\n";
        let s = spec(&format!("global_defs {{\n vrrp_min_garp\n}}\n{vi}"));
        let g = &s.garp;
        assert_eq!((g.delay, g.repeat, g.refresh), (Duration::ZERO, 1, None));
        assert_eq!((g.refresh_repeat, g.lower_prio_repeat), (0, 1));
        let given =
            format!("global_defs {{\n vrrp_garp_master_repeat 3\n vrrp_min_garp true\n}}\n{vi}");
        assert_eq!(
            (spec(&given).garp.repeat, spec(&given).garp.delay),
            (3, Duration::ZERO)
        );
        let off = format!("global_defs {{\n vrrp_min_garp false\n}}\n{vi}");
        assert_eq!(spec(&off).garp.repeat, 5);
    }

    /// An instance on eth0 with an address there, two on eth1, one on the
    /// virtual MAC interface of instance B and an excluded IPv6 one on eth3.
    fn extra(global: &str, instance: &str) -> Option<ExtraGarp> {
        spec(&format!(
            "global_defs {{\n{global}}}\n\
             vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n{instance} \
             virtual_ipaddress {{\n 192.0.2.50\n 192.0.2.51 dev eth1\n \
             192.0.2.52 dev vb\n 192.0.2.53 dev eth1\n }}\n \
             virtual_ipaddress_excluded {{\n 2001:db8::1/64 dev eth3\n }}\n}}\n\
             vrrp_instance B {{\n interface eth2\n virtual_router_id 2\n use_vmac vb\n \
             virtual_ipaddress {{\n 198.51.100.1\n }}\n}}\n"
        ))
        .garp
        .extra
    }

    fn announced(extra: Option<ExtraGarp>) -> Vec<(String, String)> {
        let pairs = extra.map(|e| e.announce).unwrap_or_default();
        pairs.into_iter().map(|(d, a)| (d, a.to_string())).collect()
    }

    #[test]
    fn extra_interfaces_as_keepalived_picks_them() {
        let pair = |d: &str, a: &str| (d.to_owned(), a.to_owned());
        // Without `all`, only virtual MAC interfaces; one address each.
        assert_eq!(
            announced(extra("", " garp_extra_if 9\n")),
            [pair("vb", "192.0.2.52")]
        );
        assert_eq!(
            extra("", " garp_extra_if 9\n").map(|e| e.interval),
            Some(Duration::from_secs(9))
        );
        // With `all`, every interface but the one adverts leave from.
        assert_eq!(
            announced(extra("", " garp_extra_if all 9\n")),
            [
                pair("eth1", "192.0.2.51"),
                pair("vb", "192.0.2.52"),
                pair("eth3", "2001:db8::1")
            ]
        );
        // The global setting, and the instance's 0 turning it off.
        let global = " vrrp_garp_extra_if 4 all\n";
        assert_eq!(announced(extra(global, "")).len(), 3);
        assert_eq!(extra(global, " garp_extra_if 0\n"), None);
        assert_eq!(extra("", ""), None);
    }

    #[test]
    fn extra_interfaces_need_an_address_elsewhere() {
        let text = |xmit: &str, elsewhere: &str| {
            format!(
                "vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n use_vmac\n{xmit} \
                 garp_extra_if all 3\n virtual_ipaddress {{\n 192.0.2.50\n{elsewhere} }}\n}}\n"
            )
        };
        let pairs = |t: &str| announced(spec(t).garp.extra);
        // Every address on the instance's own virtual MAC: keepalived turns it off.
        assert_eq!(spec(&text(" vmac_xmit_base\n", "")).garp.extra, None);
        // With an address elsewhere, the virtual MAC interface is announced
        // too when adverts leave from the base interface.
        let other = " 192.0.2.60 dev eth1\n";
        let vmac = ("vrrp.1".to_owned(), "192.0.2.50".to_owned());
        let eth1 = ("eth1".to_owned(), "192.0.2.60".to_owned());
        assert_eq!(
            pairs(&text(" vmac_xmit_base\n", other)),
            [vmac, eth1.clone()]
        );
        assert_eq!(pairs(&text("", other)), [eth1]);
    }
}
