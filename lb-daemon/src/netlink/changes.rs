//! What a burst of rtnetlink notifications may have deleted, for whoever
//! looks at the kernel again after it.
//!
//! A link going down or away and a deleted address can take addresses and
//! routes with them without a word (IPv4 flushes the routes of an interface
//! that goes down without a notification), so they mean "look at
//! everything". Route and rule notifications name what they deleted or
//! replaced, so a follower looks only when one of its own is among them;
//! additions delete nothing. On a host that carries a full BGP
//! table, routes change all the time: before, every burst of them was a
//! dump of the whole table, by every instance tracking a virtual route.
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_REPLACE};
use rtnetlink::packet_route::{
    link::{LinkFlags, LinkMessage},
    route::RouteMessage,
    rule::RuleMessage,
    RouteNetlinkMessage,
};

use super::route_match::{same_route, same_rule, same_slot};

/// Route and rule deletions kept per burst; a burst with more counts as
/// one that may have deleted anything (a look at everything costs less
/// than comparing them all).
pub const MAX_KEPT: usize = 256;

/// What a wake-up may have deleted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Anything may be gone: a safety poll or the second look after a
    /// flush ([`Changes::may_flush`]), a link down or gone, a deleted
    /// address, a lost or unknown notification, or more deletions than are
    /// kept.
    pub everything: bool,
    /// The routes the notifications deleted.
    pub routes: Vec<RouteMessage>,
    /// The routes that replaced another in place (`ip route replace`): the
    /// kernel says nothing of the one replaced, which may be ours.
    pub replacing: Vec<RouteMessage>,
    /// The rules the notifications deleted.
    pub rules: Vec<RuleMessage>,
}

impl Changes {
    /// Anything may be gone.
    pub fn everything() -> Changes {
        Changes {
            everything: true,
            ..Changes::default()
        }
    }

    /// Takes one notification of the burst into account.
    pub fn add(&mut self, message: &NetlinkMessage<RouteNetlinkMessage>) {
        if self.everything {
            return;
        }
        let NetlinkPayload::InnerMessage(inner) = &message.payload else {
            // An overrun or error: notifications were lost.
            return self.anything();
        };
        match inner {
            RouteNetlinkMessage::NewRoute(route) if message.header.flags & NLM_F_REPLACE != 0 => {
                self.replacing.push(route.clone())
            }
            // An addition, or a link that is up, deletes nothing.
            RouteNetlinkMessage::NewRoute(_)
            | RouteNetlinkMessage::NewRule(_)
            | RouteNetlinkMessage::NewAddress(_) => {}
            RouteNetlinkMessage::NewLink(link) if working(link) => {}
            RouteNetlinkMessage::DelRoute(route) => self.routes.push(route.clone()),
            RouteNetlinkMessage::DelRule(rule) => self.rules.push(rule.clone()),
            _ => return self.anything(),
        }
        if self.routes.len() + self.replacing.len() + self.rules.len() > MAX_KEPT {
            self.anything();
        }
    }

    /// Whether the kernel may delete routes after `message` without a
    /// notification of their own: a link down or gone, or a deleted address
    /// (IPv4 flushes the routes of a downed interface or removed address
    /// silently, and after sending the notification that caused it).
    pub fn may_flush(message: &NetlinkMessage<RouteNetlinkMessage>) -> bool {
        let NetlinkPayload::InnerMessage(inner) = &message.payload else {
            return false;
        };
        match inner {
            RouteNetlinkMessage::NewLink(link) => !working(link),
            RouteNetlinkMessage::DelLink(_) | RouteNetlinkMessage::DelAddress(_) => true,
            _ => false,
        }
    }

    fn anything(&mut self) {
        *self = Changes::everything();
    }

    /// Whether the route `ours` (as lb-daemon adds it, its destination
    /// masked) may be gone.
    pub(super) fn may_delete_route(&self, ours: &RouteMessage) -> bool {
        self.everything
            || self.routes.iter().any(|gone| same_route(gone, ours))
            || self.replacing.iter().any(|new| same_slot(new, ours))
    }

    /// Whether the rule `ours` (as lb-daemon adds it) may be gone.
    pub(super) fn may_delete_rule(&self, ours: &RuleMessage) -> bool {
        self.everything || self.rules.iter().any(|gone| same_rule(gone, ours))
    }
}

/// Whether the link is up with carrier (nothing of it is being flushed).
fn working(link: &LinkMessage) -> bool {
    link.header
        .flags
        .contains(LinkFlags::Up | LinkFlags::LowerUp)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use rtnetlink::packet_route::{
        address::AddressMessage,
        route::{RouteAddress, RouteAttribute},
        AddressFamily,
    };

    use super::*;

    fn route(last: u8) -> RouteMessage {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = 32;
        msg.header.table = 254;
        msg.attributes = vec![
            RouteAttribute::Table(254),
            RouteAttribute::Destination(RouteAddress::Inet(Ipv4Addr::new(198, 51, 100, last))),
        ];
        msg
    }

    fn note(inner: RouteNetlinkMessage) -> NetlinkMessage<RouteNetlinkMessage> {
        NetlinkMessage::from(inner)
    }

    #[test]
    fn only_deletions_of_our_own_routes_call_for_a_look() {
        let mut changes = Changes::default();
        changes.add(&note(RouteNetlinkMessage::NewRoute(route(1))));
        changes.add(&note(RouteNetlinkMessage::NewAddress(
            AddressMessage::default(),
        )));
        changes.add(&note(RouteNetlinkMessage::DelRoute(route(2))));
        assert!(!changes.everything);
        assert!(!changes.may_delete_route(&route(1)), "added, not deleted");
        assert!(changes.may_delete_route(&route(2)));
        assert!(!changes.may_delete_route(&route(3)));
        assert!(!changes.may_delete_rule(&RuleMessage::default()));
    }

    #[test]
    fn a_replacement_in_our_slot_calls_for_a_look_whatever_its_type() {
        let mut blackhole = route(4);
        blackhole.header.kind = rtnetlink::packet_route::route::RouteType::BlackHole;
        let mut replace = note(RouteNetlinkMessage::NewRoute(blackhole));
        replace.header.flags |= NLM_F_REPLACE;
        let mut changes = Changes::default();
        changes.add(&replace);
        assert!(changes.may_delete_route(&route(4)));
        assert!(!changes.may_delete_route(&route(5)));
        assert!(!Changes::may_flush(&replace));
    }

    #[test]
    fn address_changes_and_big_bursts_call_for_a_look_at_everything() {
        let mut changes = Changes::default();
        changes.add(&note(RouteNetlinkMessage::DelAddress(
            AddressMessage::default(),
        )));
        assert_eq!(changes, Changes::everything());
        assert!(
            changes.may_delete_route(&route(9)) && changes.may_delete_rule(&RuleMessage::default())
        );

        let mut burst = Changes::default();
        for n in 0..=MAX_KEPT {
            burst.add(&note(RouteNetlinkMessage::DelRoute(route(n as u8))));
        }
        assert_eq!(burst, Changes::everything(), "nothing kept past the bound");
    }
}
