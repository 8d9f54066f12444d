//! What an instance announces: its adverts, and a MASTER's gratuitous ARP
//! / unsolicited NA bursts (on becoming master, the delayed second burst,
//! and periodic refreshes, `garp_master_*`; on lower-priority adverts,
//! `garp_lower_prio_*`; and every `garp_extra_if` seconds one on each
//! interface that sends no adverts).
use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use tokio::{task::AbortHandle, time::Instant};
use tracing::{debug, info, warn};

use super::Instance;
use crate::vrrp::{
    fsm::State,
    garp::{self, Burst},
    io::Transport,
    link::Endpoint,
    packet::{self, Advert},
};

/// A MASTER's pending announcements besides the `garp_master_*` timer.
#[derive(Default)]
pub(super) struct Pending {
    /// When the second burst after a lower-priority advert is due.
    lower_prio_due: Option<Instant>,
    /// When the last lower-priority burst went out.
    lower_prio_sent: Option<Instant>,
    /// When the next `garp_extra_if` round is due.
    extra_due: Option<Instant>,
    /// Paced bursts still sending.
    paced: Vec<AbortHandle>,
}

impl Pending {
    /// When [`Instance::lower_prio_timer`] is due.
    pub(super) fn lower_prio_due(&self) -> Option<Instant> {
        self.lower_prio_due
    }

    /// When [`Instance::extra_garp_timer`] is due.
    pub(super) fn extra_due(&self) -> Option<Instant> {
        self.extra_due
    }

    /// Leaving MASTER: nothing more is announced, not even the rest of a
    /// paced burst (the addresses are someone else's now).
    pub(super) fn cancel(&mut self) {
        self.lower_prio_due = None;
        self.extra_due = None;
        self.paced.drain(..).for_each(|task| task.abort());
    }
}

impl Instance {
    pub(super) async fn send_advert(&mut self, priority: u8) {
        let advert = Advert {
            version: self.spec.version,
            vrid: self.spec.vrid,
            priority,
            max_advert_int: self.spec.advert_int,
            addresses: self.spec.advertised(),
            auth: self.spec.auth.clone(),
        };
        let Some(endpoint) = self.link.endpoint() else {
            return debug!("({}) no interface: advert not sent", self.spec.name);
        };
        let destinations = match &self.spec.transport {
            Transport::Multicast(group) => vec![*group],
            Transport::Unicast { peers, .. } => peers.iter().map(|p| p.address).collect(),
        };
        for dst in destinations {
            let message = packet::encode(&advert, endpoint.primary, dst);
            match endpoint.socket.send(&message, dst).await {
                Ok(()) => self.shared.status.send_modify(|s| {
                    s.adverts_sent += 1;
                    s.counts.priority_zero_sent += u64::from(priority == 0);
                }),
                Err(e) => warn!("({}) sending advert to {dst}: {e}", self.spec.name),
            }
        }
    }

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

    /// keepalived: a lower-priority advert reaching a MASTER means another
    /// node may have announced the addresses meanwhile (split brain): a
    /// burst of `garp_lower_prio_repeat` at once, and another one
    /// `garp_lower_prio_delay` later.
    ///
    /// At most one burst per advert interval: a peer sends one advert per
    /// interval, so this loses nothing, while a flood of forged
    /// lower-priority adverts cannot turn into a gratuitous ARP storm (nor
    /// hold the receive loop up until the socket drops adverts).
    pub(super) fn on_lower_priority(&mut self) {
        let garp = &self.spec.garp;
        if self.fsm.state() != State::Master || garp.lower_prio_repeat == 0 {
            return;
        }
        let now = Instant::now();
        let recent = self
            .pending
            .lower_prio_sent
            .is_some_and(|at| now.duration_since(at) < self.spec.advert_int);
        if recent {
            return;
        }
        self.pending.lower_prio_sent = Some(now);
        self.garp_burst(garp.lower_prio_repeat);
        let delay = self.spec.garp.lower_prio_delay;
        if self.pending.lower_prio_due.is_none() {
            self.pending.lower_prio_due = (!delay.is_zero()).then(|| now + delay);
        }
    }

    /// The delayed second lower-priority burst.
    pub(super) fn lower_prio_timer(&mut self) {
        self.pending.lower_prio_due = None;
        self.garp_burst(self.spec.garp.lower_prio_repeat);
    }

    /// Starts the `garp_extra_if` rounds of a new MASTER (keepalived: the
    /// first `garp_master_delay` plus the interval later), or after a reload
    /// changed them.
    pub(super) fn schedule_extra_garp(&mut self, delay: Duration) {
        let extra = self.spec.garp.extra.as_ref();
        self.pending.extra_due = extra.map(|e| Instant::now() + delay + e.interval);
    }

    /// One `garp_extra_if` round: one gratuitous ARP/NA on each interface
    /// that sends no adverts, so its switch keeps the MAC.
    pub(super) fn extra_garp_timer(&mut self) {
        let Some(extra) = self.spec.garp.extra.clone() else {
            return self.pending.extra_due = None;
        };
        self.pending.extra_due = Some(Instant::now() + extra.interval);
        for (interface, address) in extra.announce {
            let (v4, v6) = match address {
                IpAddr::V4(a) => (vec![a], vec![]),
                IpAddr::V6(a) => (vec![], vec![a]),
            };
            self.announce_on(&interface, v4, v6, 1);
        }
    }

    /// Announces every address `repeat` times, paced per interface.
    pub(super) fn garp_burst(&mut self, repeat: u32) {
        let Some(Endpoint { iface, .. }) = self.link.endpoint() else {
            return;
        };
        let own = iface.name.clone();
        // As keepalived: each address is announced on the interface it
        // lives on (`dev`), so the hosts of that link learn the MAC there.
        let mut by_interface: BTreeMap<String, (Vec<Ipv4Addr>, Vec<Ipv6Addr>)> = BTreeMap::new();
        for vip in self.spec.all_vips() {
            let dev = self.spec.placed(vip).dev;
            let lists = by_interface
                .entry(dev.unwrap_or_else(|| own.clone()))
                .or_default();
            match vip.address.addr() {
                IpAddr::V4(a) => lists.0.push(a),
                IpAddr::V6(a) => lists.1.push(a),
            }
        }
        for (interface, (v4, v6)) in by_interface {
            self.announce_on(&interface, v4, v6, repeat);
        }
    }

    /// Sends `repeat` gratuitous ARPs for `v4` and unsolicited NAs for `v6`
    /// on `interface`, from its MAC, paced as configured.
    fn announce_on(&mut self, interface: &str, v4: Vec<Ipv4Addr>, v6: Vec<Ipv6Addr>, repeat: u32) {
        let Some(Endpoint { iface, mac, .. }) = self.link.endpoint() else {
            return;
        };
        let name = &self.spec.name;
        let (ifindex, mac) = match interface == iface.name {
            true => (iface.index, *mac),
            false => match garp::interface(interface) {
                Ok(found) => found,
                Err(e) => return warn!("({name}) gratuitous ARP/NA on {interface}: {e}"),
            },
        };
        let listed: Vec<String> = v4
            .iter()
            .map(ToString::to_string)
            .chain(v6.iter().map(ToString::to_string))
            .collect();
        info!(
            "({name}) Sending/queueing gratuitous ARPs on {interface} for {}",
            listed.join(", ")
        );
        let garp = &self.spec.garp;
        let mut paced = Vec::new();
        if !v4.is_empty() {
            let context = format!("({name}) gratuitous ARP on {interface}");
            match garp::ArpSocket::open(ifindex) {
                Ok(announcer) => paced.extend(
                    Burst {
                        announcer,
                        ifindex,
                        mac,
                        addrs: v4,
                        count: repeat,
                        interval: garp.arp_interval,
                    }
                    .send(context),
                ),
                Err(e) => warn!("{context}: {e}"),
            }
        }
        if !v6.is_empty() {
            let context = format!("({name}) unsolicited NA on {interface}");
            match garp::NaSocket::open(interface, ifindex) {
                Ok(announcer) => paced.extend(
                    Burst {
                        announcer,
                        ifindex,
                        mac,
                        addrs: v6,
                        count: repeat,
                        interval: garp.na_interval,
                    }
                    .send(context),
                ),
                Err(e) => warn!("{context}: {e}"),
            }
        }
        let running = &mut self.pending.paced;
        running.retain(|task| !task.is_finished());
        running.extend(paced);
    }
}
