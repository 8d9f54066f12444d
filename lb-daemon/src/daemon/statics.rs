//! `static_ipaddress`, `static_routes` and `static_rules`: held from start
//! to stop, replaced when a reload changes them, and, as keepalived does,
//! reinstated when someone deletes one (unless it is `no_track`).
use futures::future::pending;
use rtnetlink::MulticastGroup;

use crate::{
    config::Config,
    netlink::{Changes, Held, Netlink},
    track::interface::Notifications,
};

/// The static items and the notifications that tell when one may be gone.
pub(super) struct Statics {
    held: Held,
    /// `None` when nothing static is tracked.
    events: Option<Notifications>,
}

impl Statics {
    /// Adds what `config` holds statically.
    pub(super) async fn install(config: &Config, netlink: &Netlink) -> Statics {
        let mut held = Held::new(
            "static",
            &config.static_ipaddress,
            &config.static_routes,
            &config.static_rules,
        );
        held.install(netlink).await;
        Statics {
            held,
            events: notifications(config),
        }
    }

    /// A reload: when the static items changed, removes what lb-daemon
    /// added for the old ones and adds the new ones.
    pub(super) async fn follow(&mut self, old: &Config, new: &Config, netlink: &Netlink) {
        let items = |c: &Config| {
            (
                c.static_ipaddress.clone(),
                c.static_routes.clone(),
                c.static_rules.clone(),
            )
        };
        if items(old) != items(new) {
            self.held.remove(netlink).await;
            *self = Statics::install(new, netlink).await;
        }
    }

    /// Waits until a static item may have been deleted (never, when none is
    /// tracked); what may have been.
    pub(super) async fn changed(&mut self) -> Changes {
        match self.events.as_mut() {
            Some(events) => events.next().await,
            None => pending().await,
        }
    }

    /// Adds back the tracked items that `changes` deleted.
    pub(super) async fn reinstate(&mut self, netlink: &Netlink, changes: &Changes) {
        self.held.reinstate(netlink, changes).await;
    }

    /// Removes what lb-daemon added (at stop).
    pub(super) async fn remove(&mut self, netlink: &Netlink) {
        self.held.remove(netlink).await;
    }
}

/// Subscribes to the changes that can delete a tracked static item of
/// `config` (none when nothing is tracked): link and address changes
/// (addresses go with them, and IPv4 routes without a notification of
/// their own; an interface back up lets a failed re-add succeed), and
/// route and rule changes when routes or rules are tracked.
fn notifications(config: &Config) -> Option<Notifications> {
    let addresses = config.static_ipaddress.iter().any(|a| !a.no_track);
    let routes = config.static_routes.iter().any(|r| !r.no_track);
    let rules = config.static_rules.iter().any(|r| !r.no_track);
    if !(addresses || routes || rules) {
        return None;
    }
    let mut groups = vec![
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ];
    if routes {
        groups.extend([MulticastGroup::Ipv4Route, MulticastGroup::Ipv6Route]);
    }
    if rules {
        groups.extend([MulticastGroup::Ipv4Rule, MulticastGroup::Ipv6Rule]);
    }
    Some(Notifications::subscribe(&groups))
}
