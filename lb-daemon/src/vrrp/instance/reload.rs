//! A running instance across a configuration reload, as keepalived does it
//! (`clear_diff_vrrp`, `restore_vrrp_state`): settings of the same virtual
//! router change in place, without a state change and without touching the
//! addresses it keeps; an instance whose identity changed hands its
//! addresses to its successor instead of dropping them.
use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use ipnet::IpNet;
use tokio::time::Instant;
use tracing::info;

use super::Instance;
use crate::{
    netlink::{Held, Netlink},
    track::priority::OWNER_PRIORITY,
    vrrp::{
        fsm::Event, fsm::State, link, promote::PromoteSecondaries, spec::InstanceSpec,
        vip_record::VipRecord, vips::Vips,
    },
};

/// How an instance leaves for the successor the engine starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    /// Addresses (with the interface they live on) the successor will hold
    /// too: left in place, so a MASTER's successor resumes without a gap.
    pub keep: Vec<(String, IpNet)>,
    /// The successor is the same virtual router (interface and VRID): no
    /// priority-0 advert, no stop notification.
    pub same_router: bool,
    /// The successor runs on the same `use_vmac` macvlan: it stays.
    pub keep_vmac: bool,
}

impl Handover {
    /// The handover from `old` to `new`; `master`: whether `old` holds its
    /// addresses now (otherwise there is nothing to keep).
    pub fn between(old: &InstanceSpec, new: &InstanceSpec, master: bool) -> Handover {
        let successor = new.owned(true).vips;
        let keep = match master {
            true => old
                .owned(true)
                .vips
                .into_iter()
                .filter(|place| successor.contains(place))
                .collect(),
            false => Vec::new(),
        };
        let keep_vmac = match (&old.vmac, &new.vmac) {
            (Some(was), Some(now)) => old.interface == new.interface && was.name == now.name,
            _ => false,
        };
        Handover {
            keep,
            same_router: old.same_router(new),
            keep_vmac,
        }
    }
}

impl Instance {
    /// Applies `spec`, a new configuration of the same virtual router
    /// (see [`InstanceSpec::identity`]): the state stays, a MASTER
    /// advertises the new values at once, added addresses are added and
    /// removed ones removed while MASTER.
    pub(super) async fn reconfigure(&mut self, spec: InstanceSpec) {
        info!(
            "({}) configuration changed, applied without restarting the instance",
            spec.name
        );
        let old = std::mem::replace(&mut self.spec, spec);
        self.applied.priority =
            carried_priority(old.priority, self.spec.priority, self.applied.priority);
        if old.config.promote_secondaries != self.spec.config.promote_secondaries {
            let interface = &self.spec.interface;
            let wanted = self.spec.config.promote_secondaries;
            self.promote = wanted.then(|| PromoteSecondaries::hold(interface));
        }
        let master = self.fsm.state() == State::Master;
        if old.all_vips().ne(self.spec.all_vips()) {
            self.replace_vips(master).await;
        }
        let (was, now) = (&old.config, &self.spec.config);
        if (&was.virtual_routes, &was.virtual_rules) != (&now.virtual_routes, &now.virtual_rules) {
            self.routes.remove(&self.shared.netlink).await;
            self.routes = virtual_routes(&self.spec);
            if master {
                self.routes.install(&self.shared.netlink).await;
            }
        }
        let local = self
            .link
            .endpoint()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |e| e.primary);
        let event = Event::Reconfigure {
            params: self.spec.fsm_params(local),
            priority: self.applied.priority,
        };
        let actions = self.fsm.handle(self.now(), event);
        self.apply(actions).await;
        self.publish_fault();
        self.tell_fault().await;
        if master && !self.second_burst_pending && old.garp.refresh != self.spec.garp.refresh {
            self.garp_due = self.spec.garp.refresh.map(|period| Instant::now() + period);
        }
        if old.tracks_routes() != self.spec.tracks_routes() {
            self.links = link::notifications(self.spec.tracks_routes());
        }
        if master && old.garp.extra != self.spec.garp.extra {
            self.schedule_extra_garp(Duration::ZERO);
        }
        let vips = self
            .spec
            .all_vips()
            .map(|v| v.address.to_string())
            .collect();
        self.shared.status.send_modify(|s| s.vips = vips);
    }

    /// Moves to the reloaded address list: while MASTER the fast path
    /// follows first, then dropped or changed addresses are removed and
    /// new ones added (announced by a gratuitous ARP/NA burst).
    async fn replace_vips(&mut self, master: bool) {
        let mut vips = Vips::new(
            &self.spec,
            self.shared.netlink.clone(),
            self.shared.record.clone(),
        )
        .await;
        let own = self.own_index();
        if master {
            self.publish_ownership();
            self.shared.ownership.gated(&self.spec.name, true).await;
            let added = vips.missing_from(&self.vips).count() > 0;
            // Dropped ones first: one whose attributes (label, scope...)
            // changed is the same address, which the adding must see
            // gone, or removing it afterwards would take the new one.
            self.vips.remove_missing_from(&vips, own).await;
            vips.add_all(own).await;
            if added {
                self.garp_burst(self.spec.garp.repeat);
            }
        }
        self.vips = vips;
        self.publish_ownership();
    }

    /// Leaves the addresses `handover` keeps to the successor.
    pub(super) fn hand_over(&mut self, handover: Handover) {
        self.vips.keep(&handover.keep);
        self.handover = Some(handover);
    }

    /// Whether a successor continues this virtual router.
    pub(super) fn successor_continues(&self) -> bool {
        self.handover.as_ref().is_some_and(|h| h.same_router)
    }
}

/// The routes and rules `spec` holds while MASTER.
pub(super) fn virtual_routes(spec: &InstanceSpec) -> Held {
    let config = &spec.config;
    Held::new(
        &spec.name,
        &[],
        &config.virtual_routes,
        &config.virtual_rules,
    )
}

/// An instance that resumed as MASTER could not start: removes the
/// addresses its predecessor left to it, since nobody holds them now.
pub(super) async fn release_inherited(spec: &InstanceSpec, netlink: Netlink, record: VipRecord) {
    let own = netlink
        .interface(spec.vip_interface())
        .await
        .ok()
        .map(|i| i.index);
    Vips::new(spec, netlink, record).await.remove_all(own).await;
}

/// The effective priority right after a reload: the offset tracking added
/// to the old base priority carries over to the new base until the
/// restarted trackers report (they start without results); the address
/// owner's priority never changes.
fn carried_priority(old_base: u8, new_base: u8, effective: u8) -> u8 {
    if new_base == OWNER_PRIORITY || old_base == OWNER_PRIORITY {
        return new_base;
    }
    let offset = i16::from(effective) - i16::from(old_base);
    let carried = (i16::from(new_base) + offset).clamp(1, i16::from(OWNER_PRIORITY) - 1);
    u8::try_from(carried).unwrap_or(new_base)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{carried_priority, Handover};
    use crate::{config::parse_keepalived_str, vrrp::spec::InstanceSpec};

    fn spec(extra: &str) -> InstanceSpec {
        let text = format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{extra}\
             virtual_ipaddress {{\n 192.0.2.50/24\n }}\n}}\n"
        );
        let loaded = parse_keepalived_str(&text, Path::new("t.conf")).unwrap();
        InstanceSpec::new(&loaded.config.vrrp_instance[0], &loaded.config)
    }

    #[test]
    fn a_successor_on_the_same_macvlan_keeps_it_and_the_addresses_there() {
        let vmac = spec(" use_vmac\n");
        let xmit_base = spec(" use_vmac\n vmac_xmit_base\n");
        let handover = Handover::between(&vmac, &xmit_base, true);
        assert!(handover.keep_vmac && handover.same_router);
        assert_eq!(handover.keep.len(), 1);
        assert_eq!(handover.keep[0].0, "vrrp.51");
        // Another macvlan, or none: the old one goes, and its addresses.
        for other in [spec(" use_vmac vip51\n"), spec("")] {
            let handover = Handover::between(&vmac, &other, true);
            assert!(!handover.keep_vmac && handover.keep.is_empty());
        }
        assert!(!Handover::between(&spec(""), &spec(""), true).keep_vmac);
    }

    #[test]
    fn tracking_offset_carries_over_to_the_new_base() {
        assert_eq!(carried_priority(100, 150, 100), 150, "nothing tracked");
        assert_eq!(carried_priority(100, 150, 120), 170, "+20 from scripts");
        assert_eq!(carried_priority(100, 50, 60), 10, "-40 from scripts");
        assert_eq!(carried_priority(100, 20, 50), 1, "clamped at 1");
        assert_eq!(carried_priority(200, 250, 254), 254, "clamped at 254");
        assert_eq!(carried_priority(100, 255, 130), 255, "new owner");
        assert_eq!(carried_priority(255, 100, 255), 100, "former owner");
    }
}
