//! Whether a route or rule the kernel reports is one lb-daemon adds: the
//! kernel's keys, compared as the kernel stores them (defaults filled in,
//! zero values left out).
use rtnetlink::packet_route::{
    route::{RouteAttribute, RouteMessage},
    rule::{RuleAttribute, RuleMessage},
    AddressFamily,
};

/// Whether the kernel's rule `existing` is `ours` (which may leave the
/// priority to the kernel).
pub(super) fn same_rule(existing: &RuleMessage, ours: &RuleMessage) -> bool {
    let (a, b) = (&existing.header, &ours.header);
    let header = (a.family, a.dst_len, a.src_len, a.tos, a.action)
        == (b.family, b.dst_len, b.src_len, b.tos, b.action);
    // The kernel leaves a zero priority or fwmark out of what it reports.
    let zero = |attribute: &RuleAttribute| {
        matches!(
            attribute,
            RuleAttribute::Priority(0) | RuleAttribute::FwMark(0)
        )
    };
    header
        && ours.attributes.iter().all(|attribute| {
            existing.attributes.contains(attribute)
                || zero(attribute)
                || (matches!(attribute, RuleAttribute::Table(t) if *t == u32::from(a.table)))
        })
}

/// The table of a kernel route message (the attribute, else the header's).
fn route_table(msg: &RouteMessage) -> u32 {
    let attribute = msg.attributes.iter().find_map(|a| match a {
        RouteAttribute::Table(table) => Some(*table),
        _ => None,
    });
    attribute.unwrap_or(u32::from(msg.header.table))
}

/// Whether the kernel's route `existing` is the one `ours` adds: the same
/// slot ([`same_slot`]) and type.
pub(super) fn same_route(existing: &RouteMessage, ours: &RouteMessage) -> bool {
    existing.header.kind == ours.header.kind && same_slot(existing, ours)
}

/// Whether the kernel's route `existing` sits where `ours` would: the same
/// family, destination, table, TOS and metric (what `ip route replace`
/// matches, whatever the type), as the kernel stores them: no metric is 0
/// for IPv4 and 1024 for IPv6, where 0 also means 1024. `ours` has its
/// destination masked.
pub(super) fn same_slot(existing: &RouteMessage, ours: &RouteMessage) -> bool {
    let (a, b) = (&existing.header, &ours.header);
    let destination = |m: &RouteMessage| {
        m.attributes.iter().find_map(|a| match a {
            RouteAttribute::Destination(d) => Some(d.clone()),
            _ => None,
        })
    };
    let metric = |m: &RouteMessage| {
        let given = m.attributes.iter().find_map(|a| match a {
            RouteAttribute::Priority(p) => Some(*p),
            _ => None,
        });
        match (m.header.address_family, given.unwrap_or(0)) {
            (AddressFamily::Inet6, 0) => IPV6_DEFAULT_METRIC,
            (_, metric) => metric,
        }
    };
    (a.address_family, a.destination_prefix_length, a.tos)
        == (b.address_family, b.destination_prefix_length, b.tos)
        && destination(existing) == destination(ours)
        && route_table(existing) == route_table(ours)
        && metric(existing) == metric(ours)
}

/// The metric the kernel gives an IPv6 route without one (or with 0).
const IPV6_DEFAULT_METRIC: u32 = 1024;

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use rtnetlink::packet_route::route::RouteAddress;

    use super::*;

    fn route(family: AddressFamily, metric: Option<u32>) -> RouteMessage {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family;
        msg.header.destination_prefix_length = 64;
        let destination = RouteAddress::Inet6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0));
        msg.attributes
            .push(RouteAttribute::Destination(destination));
        msg.attributes.push(RouteAttribute::Table(254));
        msg.attributes.extend(metric.map(RouteAttribute::Priority));
        msg
    }

    #[test]
    fn metrics_compare_as_the_kernel_stores_them() {
        let v6 = AddressFamily::Inet6;
        // IPv6: none and 0 are stored as 1024.
        assert!(same_route(&route(v6, Some(1024)), &route(v6, None)));
        assert!(same_route(&route(v6, Some(1024)), &route(v6, Some(0))));
        assert!(!same_route(&route(v6, Some(5)), &route(v6, None)));
        // IPv4: the kernel reports no metric for 0.
        let v4 = AddressFamily::Inet;
        assert!(same_route(&route(v4, None), &route(v4, Some(0))));
        assert!(!same_route(&route(v4, Some(7)), &route(v4, None)));
    }

    #[test]
    fn zero_priority_and_fwmark_rules_match_what_the_kernel_reports() {
        let mut ours = RuleMessage::default();
        ours.header.table = 200;
        ours.attributes.extend([
            RuleAttribute::Table(200),
            RuleAttribute::Priority(0),
            RuleAttribute::FwMark(0),
        ]);
        let mut kernel = RuleMessage::default();
        kernel.header.table = 200;
        kernel.attributes.push(RuleAttribute::Table(200));
        assert!(same_rule(&kernel, &ours));
        ours.attributes.push(RuleAttribute::Priority(7));
        assert!(!same_rule(&kernel, &ours));
    }
}
