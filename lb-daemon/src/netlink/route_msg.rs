//! The kernel's messages for a configured route or rule, as lb-daemon adds
//! and deletes them (`ip route` / `ip rule` defaults filled in).
use std::net::IpAddr;

use rtnetlink::packet_route::{
    route::{
        RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteNextHop,
        RouteNextHopFlags, RouteProtocol, RouteScope, RouteType,
    },
    rule::{RuleAction, RuleAttribute, RuleMessage},
    AddressFamily,
};

use crate::config::{Route, RouteKind, Rule};

pub(super) fn family(ipv6: bool) -> AddressFamily {
    match ipv6 {
        true => AddressFamily::Inet6,
        false => AddressFamily::Inet,
    }
}

fn route_address(addr: IpAddr) -> RouteAddress {
    match addr {
        IpAddr::V4(v4) => RouteAddress::Inet(v4),
        IpAddr::V6(v6) => RouteAddress::Inet6(v6),
    }
}

/// The table in a header (tables above 255 go in an attribute only).
fn header_table(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC)
}

/// The interface indexes a route names: its own `dev`'s, and each
/// nexthop's (the route's when the nexthop names none).
#[derive(Debug, Default)]
pub(super) struct Oifs {
    /// The route's own `dev`.
    pub route: Option<u32>,
    /// Each nexthop's `dev`.
    pub hops: Vec<Option<u32>>,
}

/// The netlink message adding or deleting `route`.
pub(super) fn route_message(route: &Route, oifs: &Oifs) -> RouteMessage {
    let mut msg = RouteMessage::default();
    let header = &mut msg.header;
    header.address_family = family(route.to.addr().is_ipv6());
    header.destination_prefix_length = route.to.prefix_len();
    let table = route.table.unwrap_or(u32::from(RouteHeader::RT_TABLE_MAIN));
    header.table = header_table(table);
    header.protocol = route
        .protocol
        .map_or(RouteProtocol::Boot, RouteProtocol::from);
    header.kind = match route.kind {
        RouteKind::Unicast => RouteType::Unicast,
        RouteKind::Blackhole => RouteType::BlackHole,
        RouteKind::Unreachable => RouteType::Unreachable,
        RouteKind::Prohibit => RouteType::Prohibit,
        RouteKind::Throw => RouteType::Throw,
    };
    // `ip route`'s default: link scope for a unicast route without gateway.
    let gateway = route.via.is_some() || route.nexthop.iter().any(|h| h.via.is_some());
    let link = route.kind == RouteKind::Unicast && !gateway;
    header.scope = match route.scope {
        Some(scope) => RouteScope::from(scope),
        None if link => RouteScope::Link,
        None => RouteScope::Universe,
    };
    header.tos = route.tos.unwrap_or(0);
    if route.onlink {
        header.flags.insert(RouteFlags::Onlink);
    }
    let attributes = &mut msg.attributes;
    attributes.push(RouteAttribute::Table(table));
    if route.to.prefix_len() > 0 {
        attributes.push(RouteAttribute::Destination(route_address(route.to.addr())));
    }
    if let Some(via) = route.via {
        attributes.push(RouteAttribute::Gateway(route_address(via)));
    }
    if let Some(src) = route.src {
        attributes.push(RouteAttribute::PrefSource(route_address(src)));
    }
    if let Some(oif) = oifs.route {
        attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(metric) = route.metric {
        attributes.push(RouteAttribute::Priority(metric));
    }
    if !route.nexthop.is_empty() {
        let hops = route.nexthop.iter().zip(&oifs.hops).map(|(hop, oif)| {
            let mut next = RouteNextHop::default();
            // The kernel stores weight - 1.
            next.hops = u8::try_from(hop.weight.unwrap_or(1).saturating_sub(1)).unwrap_or(255);
            next.interface_index = oif.or(oifs.route).unwrap_or(0);
            if hop.onlink {
                next.flags.insert(RouteNextHopFlags::Onlink);
            }
            if let Some(via) = hop.via {
                next.attributes
                    .push(RouteAttribute::Gateway(route_address(via)));
            }
            next
        });
        attributes.push(RouteAttribute::MultiPath(hops.collect()));
    }
    msg
}

/// The netlink message adding or deleting `rule`.
pub(super) fn rule_message(rule: &Rule) -> RuleMessage {
    let mut msg = RuleMessage::default();
    let header = &mut msg.header;
    header.family = family(rule.is_ipv6());
    header.action = RuleAction::ToTable;
    header.table = header_table(rule.table);
    header.tos = rule.tos.unwrap_or(0);
    let attributes = &mut msg.attributes;
    attributes.push(RuleAttribute::Table(rule.table));
    for (prefix, len, attribute) in [
        (
            rule.from,
            &mut header.src_len,
            RuleAttribute::Source as fn(IpAddr) -> _,
        ),
        (rule.to, &mut header.dst_len, RuleAttribute::Destination),
    ] {
        if let Some(prefix) = prefix.filter(|p| p.prefix_len() > 0) {
            *len = prefix.prefix_len();
            attributes.push(attribute(prefix.addr()));
        }
    }
    let optional = [
        rule.priority.map(RuleAttribute::Priority),
        rule.fwmark.map(RuleAttribute::FwMark),
        rule.fwmask.map(RuleAttribute::FwMask),
        rule.iif.clone().map(RuleAttribute::Iifname),
        rule.oif.clone().map(RuleAttribute::Oifname),
    ];
    attributes.extend(optional.into_iter().flatten());
    msg
}
