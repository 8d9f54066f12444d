//! What an instance does when its state machine changes state: the log
//! lines keepalived prints, taking or giving up the addresses, routes and
//! fast-path ownership, the gratuitous ARP schedule of a new MASTER, the
//! notifications and the status counters.
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;
use tracing::info;

use super::Instance;
use crate::{
    notify::Target,
    vrrp::fsm::{Reason, State},
};

impl Instance {
    /// Carries out one state change of the state machine.
    pub(super) async fn transition(&mut self, from: State, to: State, reason: Reason) {
        let name = self.spec.name.clone();
        match reason {
            // keepalived: `(VI_1) Entering BACKUP STATE (init)`.
            Reason::Init => info!("({name}) Entering {to} STATE (init)"),
            // The classic phrase alerting rules match, then 2.x's detail.
            Reason::HigherPriority { .. } | Reason::HigherAddress { .. } => {
                info!("({name}) Received higher prio advert");
                info!("({name}) {reason}");
                info!("({name}) Entering {to} STATE");
            }
            _ => {
                info!("({name}) {reason}");
                info!("({name}) Entering {to} STATE");
            }
        }
        if to == State::Master {
            // The fast path attaches before the VIPs are announced.
            self.publish_ownership();
            self.shared.ownership.gated(&self.spec.name, true).await;
            self.vips.add_all(self.own_index()).await;
            self.routes.install(&self.shared.netlink).await;
            self.garp_burst(self.spec.garp.repeat);
            // keepalived: `garp_master_delay 0` means no second burst
            // (`vrrp_min_garp`: one gratuitous ARP/NA and no more).
            let garp = &self.spec.garp;
            let now = Instant::now();
            self.second_burst_pending = !garp.delay.is_zero();
            self.garp_due = match self.second_burst_pending {
                true => Some(now + garp.delay),
                false => garp.refresh.map(|period| now + period),
            };
            self.schedule_extra_garp(self.spec.garp.delay);
        } else if from == State::Master {
            self.garp_due = None;
            self.pending.cancel();
            self.routes.remove(&self.shared.netlink).await;
            // With the sockets closed (a macvlan set down) the interface
            // may still be there, holding the addresses.
            let own = match self.own_index() {
                Some(index) => Some(index),
                None => (self
                    .shared
                    .netlink
                    .interface(self.spec.vip_interface())
                    .await)
                    .ok()
                    .map(|iface| iface.index),
            };
            self.vips.remove_all(own).await;
        }
        if self.handover.is_some() {
            // The successor publishes ownership and notifies.
            return;
        }
        self.shared.notifier.transition(
            Target::Instance(&self.spec.config),
            to,
            self.fsm.priority(),
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .ok();
        self.shared.status.send_modify(|s| {
            s.last_transition = now;
            s.counts.transition(from, to);
        });
        self.publish_ownership();
    }
}
