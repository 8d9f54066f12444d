//! Routes and routing rules: `static_routes` / `static_rules` (held while
//! the daemon runs) and an instance's `virtual_routes` / `virtual_rules`
//! (held while it is MASTER).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::values::prefixed;

/// What a route does with matching packets (`ip route`'s TYPE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    /// Forward (the default).
    #[default]
    Unicast,
    /// Drop silently.
    Blackhole,
    /// Drop with ICMP "host unreachable".
    Unreachable,
    /// Drop with ICMP "administratively prohibited".
    Prohibit,
    /// Continue the lookup in the next rule's table.
    Throw,
}

/// One `static_routes` / `virtual_routes` line: `[TYPE] [src ADDR] [to]
/// DEST [via|gw ADDR] [dev IF] [scope S] [table T] [metric N] [proto P]
/// [tos N] [onlink] [inet6] [no_track] [nexthop …]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Destination prefix (`default` is the all-zero prefix).
    #[serde(with = "prefixed")]
    pub to: IpNet,
    /// Route type.
    #[serde(default)]
    pub kind: RouteKind,
    /// Preferred source address.
    pub src: Option<IpAddr>,
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Output interface.
    pub dev: Option<String>,
    /// Route scope number (`host` 254, `link` 253, `global` 0 …).
    pub scope: Option<u8>,
    /// Routing table number (`main` 254 when absent).
    pub table: Option<u32>,
    /// Route priority (`metric`).
    pub metric: Option<u32>,
    /// Routing protocol number (`boot` 3 when absent).
    pub protocol: Option<u8>,
    /// Type of service matched.
    pub tos: Option<u8>,
    /// The gateway is on the link even if no prefix matches it.
    #[serde(default)]
    pub onlink: bool,
    /// keepalived's `no_track`: deleting the route does not cause FAULT.
    #[serde(default)]
    pub no_track: bool,
    /// The paths of a multipath route (`nexthop …` groups, or keepalived's
    /// older `via A or B`); none for a single-path route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nexthop: Vec<NextHop>,
}

/// One path of a multipath route: `nexthop [via ADDR] [dev IF] [weight
/// N] [onlink]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextHop {
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Output interface (the route's `dev` when absent).
    pub dev: Option<String>,
    /// Share of the flows, 1 to 256 (1 when absent).
    pub weight: Option<u16>,
    /// The gateway is on the link even if no prefix matches it.
    #[serde(default)]
    pub onlink: bool,
}

/// One `static_rules` / `virtual_rules` line: `[from P] [to P] table T
/// [priority N] [fwmark M[/MASK]] [iif IF] [oif IF] [tos N] [inet6]
/// [no_track]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Source prefix matched (`all` when absent).
    pub from: Option<IpNet>,
    /// Destination prefix matched (`all` when absent).
    pub to: Option<IpNet>,
    /// An IPv6 rule (when neither `from` nor `to` says so).
    #[serde(default)]
    pub inet6: bool,
    /// Table looked up.
    pub table: u32,
    /// Rule priority (`preference`); the kernel picks one when absent.
    pub priority: Option<u32>,
    /// Firewall mark matched.
    pub fwmark: Option<u32>,
    /// Mask of the firewall mark.
    pub fwmask: Option<u32>,
    /// Input interface matched.
    pub iif: Option<String>,
    /// Output interface matched.
    pub oif: Option<String>,
    /// Type of service matched.
    pub tos: Option<u8>,
    /// keepalived's `no_track`: deleting the rule does not cause FAULT.
    #[serde(default)]
    pub no_track: bool,
}

impl Route {
    /// What the kernel would reject in this route, if anything.
    pub fn problem(&self) -> Option<String> {
        let v6 = self.to.addr().is_ipv6();
        let hops = self.nexthop.iter().map(|h| ("nexthop via", h.via));
        for (what, addr) in [("via", self.via), ("src", self.src)]
            .into_iter()
            .chain(hops)
        {
            if addr.is_some_and(|a| a.is_ipv6() != v6) {
                return Some(format!(
                    "`{what}` and the destination {} are of different families",
                    self.to
                ));
            }
        }
        let unicast = self.kind == RouteKind::Unicast;
        let multipath = !self.nexthop.is_empty();
        if !unicast && (self.via.is_some() || self.dev.is_some() || multipath) {
            return Some(
                "a blackhole/unreachable/prohibit/throw route takes no `via`, `dev` or `nexthop`"
                    .into(),
            );
        }
        if unicast && self.via.is_none() && self.dev.is_none() && !multipath {
            return Some(format!("the route to {} needs `via` or `dev`", self.to));
        }
        if self.onlink && self.via.is_none() {
            return Some("`onlink` needs `via`".into());
        }
        None
    }
}

impl Rule {
    /// Whether the rule is an IPv6 rule.
    pub fn is_ipv6(&self) -> bool {
        self.inet6 || matches!(self.from.or(self.to), Some(IpNet::V6(_)))
    }

    /// What the kernel would reject in this rule, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.table == 0 {
            return Some("a rule needs `table` (not 0)".into());
        }
        let v6 = self.is_ipv6();
        let families = [self.from, self.to].into_iter().flatten();
        if families.into_iter().any(|p| p.addr().is_ipv6() != v6) {
            return Some("`from`, `to` and `inet6` name different families".into());
        }
        None
    }
}
