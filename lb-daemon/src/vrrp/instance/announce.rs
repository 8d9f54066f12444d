//! Gratuitous ARP / unsolicited NA bursts of a MASTER: on becoming master,
//! the delayed second burst, and periodic refreshes (`garp_master_*`).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tokio::time::Instant;
use tracing::{info, warn};

use super::Instance;
use crate::vrrp::{garp, link::Endpoint};

impl Instance {
    /// The delayed second burst after becoming master, then periodic refreshes.
    pub(super) fn garp_timer(&mut self) {
        let (repeat, next) = match self.second_burst_pending {
            true => (self.spec.garp.repeat, self.spec.garp.refresh),
            false => (self.spec.garp.refresh_repeat, self.spec.garp.refresh),
        };
        self.second_burst_pending = false;
        self.garp_due = next.map(|period| Instant::now() + period);
        self.garp_burst(repeat);
    }

    pub(super) fn garp_burst(&self, repeat: u32) {
        let Some(Endpoint { iface, mac, .. }) = self.link.endpoint() else {
            return;
        };
        let (mut v4, mut v6) = (Vec::<Ipv4Addr>::new(), Vec::<Ipv6Addr>::new());
        for vip in self.spec.all_vips() {
            match vip.address.addr() {
                IpAddr::V4(a) => v4.push(a),
                IpAddr::V6(a) => v6.push(a),
            }
        }
        let name = &self.spec.name;
        let listed: Vec<String> = self
            .spec
            .all_vips()
            .map(|v| v.address.addr().to_string())
            .collect();
        info!(
            "({name}) Sending/queueing gratuitous ARPs on {} for {}",
            self.spec.interface,
            listed.join(", ")
        );
        if let Err(e) = garp::send_arps(iface.index, *mac, &v4, repeat) {
            warn!("({name}) gratuitous ARP on {}: {e}", self.spec.interface);
        }
        if let Err(e) = garp::send_nas(&self.spec.interface, iface.index, *mac, &v6, repeat) {
            warn!("({name}) unsolicited NA on {}: {e}", self.spec.interface);
        }
    }
}
