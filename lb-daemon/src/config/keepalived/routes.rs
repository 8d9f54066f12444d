//! `static_routes` / `virtual_routes` and `static_rules` / `virtual_rules`
//! lines, read with the grammar of keepalived's `alloc_route` /
//! `alloc_rule` (which follow `ip route` / `ip rule`). Options that would
//! change forwarding and are not implemented are refused by name.

use std::net::IpAddr;

use ipnet::IpNet;

use super::args::{ArgError, FromArgs};
use super::parser::Word;
use crate::config::model::{parse_prefixed, NextHop, Route, RouteKind, Rule};

/// Route options keepalived accepts that lb-daemon refuses, with what they do.
const ROUTE_REFUSED: &[(&str, &str)] = &[
    ("append", "appending after a matching route"),
    ("prepend", "prepending before a matching route"),
    ("track_group", "routes tracked by a group"),
    ("vrf", "routes in a VRF"),
    ("encap", "encapsulating routes"),
    ("realms", "route realms"),
    ("expires", "expiring routes"),
    ("pref", "IPv6 router preference"),
    ("mtu", "route metrics"),
    ("hoplimit", "route metrics"),
    ("advmss", "route metrics"),
    ("rtt", "route metrics"),
    ("rttvar", "route metrics"),
    ("reordering", "route metrics"),
    ("window", "route metrics"),
    ("cwnd", "route metrics"),
    ("ssthresh", "route metrics"),
    ("rto_min", "route metrics"),
    ("initcwnd", "route metrics"),
    ("initrwnd", "route metrics"),
    ("features", "route metrics"),
    ("quickack", "route metrics"),
    ("congctl", "route metrics"),
    ("fastopen_no_cookie", "route metrics"),
    ("ttl-propagate", "MPLS TTL propagation"),
    ("local", "local routes"),
    ("broadcast", "broadcast routes"),
    ("anycast", "anycast routes"),
    ("multicast", "multicast routes"),
    ("nat", "NAT routes"),
];

/// Rule options keepalived accepts that lb-daemon refuses.
const RULE_REFUSED: &[(&str, &str)] = &[
    ("not", "inverted rules"),
    ("goto", "rule jumps"),
    ("nop", "rules without action"),
    ("realms", "rule realms"),
    ("uidrange", "rules by user id"),
    ("sport", "rules by port"),
    ("dport", "rules by port"),
    ("ip_proto", "rules by IP protocol"),
    ("ipproto", "rules by IP protocol"),
    ("l3mdev", "VRF rules"),
    ("protocol", "rule protocols"),
    ("suppress_prefixlength", "suppressed lookups"),
    ("suppress_ifgroup", "suppressed lookups"),
    ("track_group", "rules tracked by a group"),
    ("blackhole", "blackhole rules"),
    ("unreachable", "unreachable rules"),
    ("prohibit", "prohibit rules"),
    ("type", "rule types"),
    ("map-to", "NAT rules"),
    ("nat", "NAT rules"),
];

/// The words of one line, read left to right.
struct Cursor<'a> {
    args: &'a [Word],
    next: usize,
}

impl<'a> Cursor<'a> {
    /// The next word and its index.
    fn word(&mut self) -> Option<(usize, &'a str)> {
        let word = self.args.get(self.next)?;
        self.next += 1;
        Some((self.next - 1, word.text.as_str()))
    }

    /// The value after option `name`, parsed by `parse`.
    fn value<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ArgError> {
        let (index, text) = self
            .word()
            .ok_or_else(|| ArgError::at(self.next, format!("`{name}` needs a value")))?;
        parse(text).map_err(|m| ArgError::at(index, m))
    }
}

/// The refusal of `word` at `index` if `table` names it.
fn refused(table: &[(&str, &str)], word: &str, index: usize) -> Option<ArgError> {
    let (_, what) = table.iter().find(|(name, _)| *name == word)?;
    Some(ArgError::at(
        index,
        format!("unsupported: {word} ({what}) is not implemented"),
    ))
}

/// A whole number, decimal or `0x` hexadecimal.
fn number<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed
        .ok()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("`{text}` is not a number in range"))
}

/// A number or one of the `names` (`ip`'s well-known values).
fn named<T: TryFrom<u64> + Copy>(text: &str, names: &[(&str, T)], what: &str) -> Result<T, String> {
    if let Some((_, value)) = names.iter().find(|(name, _)| *name == text) {
        return Ok(*value);
    }
    number(text).map_err(|_| {
        let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
        format!(
            "`{text}` is not a {what} number or one of {}",
            known.join(", ")
        )
    })
}

/// A routing table: a number, `main`, `local` or `default`.
fn table(text: &str) -> Result<u32, String> {
    let table = named(
        text,
        &[("main", 254), ("local", 255), ("default", 253)],
        "table",
    )?;
    match table {
        0 => Err("table 0 is not a routing table".into()),
        table => Ok(table),
    }
}

/// An address or prefix, or `default` / `all` (the all-zero prefix of the
/// family `inet6` selects).
fn prefix(text: &str, inet6: bool) -> Result<IpNet, String> {
    match text {
        "default" | "all" if inet6 => Ok("::/0".parse().expect("valid prefix")),
        "default" | "all" => Ok("0.0.0.0/0".parse().expect("valid prefix")),
        _ => parse_prefixed(text),
    }
}

fn address(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not an IP address"))
}

fn name(text: &str) -> Result<String, String> {
    Ok(text.to_owned())
}

impl FromArgs for Route {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let inet6 = args.iter().any(|w| w.text == "inet6");
        let mut route = Route {
            to: prefix("default", inet6).expect("valid prefix"),
            kind: RouteKind::Unicast,
            src: None,
            via: None,
            dev: None,
            scope: None,
            table: None,
            metric: None,
            protocol: None,
            tos: None,
            onlink: false,
            no_track: false,
            nexthop: Vec::new(),
        };
        let mut to = None;
        let mut words = Cursor { args, next: 0 };
        while let Some((index, word)) = words.word() {
            match word {
                "src" => route.src = Some(words.value(word, address)?),
                "to" => to = Some((words.next, words.value(word, |t| prefix(t, inet6))?)),
                "via" | "gw" => route.via = Some(words.value(word, address)?),
                "dev" | "oif" => route.dev = Some(words.value(word, name)?),
                "scope" => {
                    let names = [
                        ("global", 0),
                        ("universe", 0),
                        ("site", 200),
                        ("link", 253),
                        ("host", 254),
                        ("nowhere", 255),
                    ];
                    route.scope = Some(words.value(word, |t| named(t, &names, "scope"))?);
                }
                "table" => route.table = Some(words.value(word, table)?),
                "metric" | "priority" | "preference" => {
                    route.metric = Some(words.value(word, number)?)
                }
                "proto" | "protocol" => {
                    let names = [
                        ("kernel", 2),
                        ("boot", 3),
                        ("static", 4),
                        ("ra", 9),
                        ("zebra", 11),
                        ("bird", 12),
                        ("dhcp", 16),
                        ("keepalived", 18),
                    ];
                    route.protocol = Some(words.value(word, |t| named(t, &names, "protocol"))?);
                }
                "tos" | "dsfield" => route.tos = Some(words.value(word, number)?),
                "onlink" => route.onlink = true,
                "no_track" => route.no_track = true,
                "nexthop" => {
                    route.nexthop = next_hops(&mut words, index)?;
                }
                "or" => {
                    // keepalived's older form of two paths: `via A or B`.
                    let first = route.via.take().ok_or_else(|| {
                        ArgError::at(index, "`or` follows `via ADDRESS` (it adds a second path)")
                    })?;
                    let second = words.value(word, address)?;
                    route.nexthop = [first, second]
                        .map(|via| NextHop {
                            via: Some(via),
                            ..NextHop::default()
                        })
                        .to_vec();
                }
                "inet6" | "add" | "unicast" => {}
                "blackhole" => route.kind = RouteKind::Blackhole,
                "unreachable" => route.kind = RouteKind::Unreachable,
                "prohibit" => route.kind = RouteKind::Prohibit,
                "throw" => route.kind = RouteKind::Throw,
                _ => {
                    if let Some(err) = refused(ROUTE_REFUSED, word, index) {
                        return Err(err);
                    }
                    if to.is_some() {
                        return Err(ArgError::at(index, format!("unknown option `{word}`")));
                    }
                    to = Some((
                        index,
                        prefix(word, inet6).map_err(|m| ArgError::at(index, m))?,
                    ));
                }
            }
        }
        let (_, to) = to.ok_or_else(|| ArgError::at(args.len(), "the destination is missing"))?;
        route.to = to;
        if route.via.is_some() && !route.nexthop.is_empty() {
            return Err(ArgError::at(
                args.len(),
                "`via` and `nexthop` together: give each path its own `nexthop via`",
            ));
        }
        Ok(route)
    }
}

/// The `nexthop …` groups that end a route line; `index` is the first
/// `nexthop`'s, already read.
fn next_hops(words: &mut Cursor<'_>, index: usize) -> Result<Vec<NextHop>, ArgError> {
    let mut hops = vec![NextHop::default()];
    while let Some((at, word)) = words.word() {
        let hop = hops.last_mut().expect("one hop at least");
        match word {
            "nexthop" => hops.push(NextHop::default()),
            "via" => hop.via = Some(words.value(word, address)?),
            "dev" => hop.dev = Some(words.value(word, name)?),
            "weight" => {
                hop.weight = Some(words.value(word, |t| match number::<u16>(t)? {
                    weight @ 1..=256 => Ok(weight),
                    _ => Err(format!("weight `{t}` is not from 1 to 256")),
                })?)
            }
            "onlink" => hop.onlink = true,
            _ => {
                return Err(refused(ROUTE_REFUSED, word, at).unwrap_or_else(|| {
                    ArgError::at(
                        at,
                        format!("unknown nexthop option `{word}` (nexthops end the line)"),
                    )
                }))
            }
        }
    }
    if let Some(n) = hops.iter().position(|h| h.via.is_none() && h.dev.is_none()) {
        return Err(ArgError::at(
            index,
            format!("nexthop {} has neither `via` nor `dev`", n + 1),
        ));
    }
    Ok(hops)
}

impl FromArgs for Rule {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let inet6 = args.iter().any(|w| w.text == "inet6");
        let mut rule = Rule {
            from: None,
            to: None,
            inet6,
            table: 0,
            priority: None,
            fwmark: None,
            fwmask: None,
            iif: None,
            oif: None,
            tos: None,
            no_track: false,
        };
        let mut words = Cursor { args, next: 0 };
        while let Some((index, word)) = words.word() {
            match word {
                "from" => rule.from = Some(words.value(word, |t| prefix(t, inet6))?),
                "to" => rule.to = Some(words.value(word, |t| prefix(t, inet6))?),
                "table" | "lookup" => rule.table = words.value(word, table)?,
                "priority" | "preference" | "pref" | "order" => {
                    rule.priority = Some(words.value(word, number)?)
                }
                "fwmark" => {
                    let (mark, mask) = words.value(word, |t| {
                        let (mark, mask) = t.split_once('/').unwrap_or((t, ""));
                        let mask = match mask {
                            "" => None,
                            mask => Some(number(mask)?),
                        };
                        Ok((number(mark)?, mask))
                    })?;
                    (rule.fwmark, rule.fwmask) = (Some(mark), mask);
                }
                "iif" | "dev" => rule.iif = Some(words.value(word, name)?),
                "oif" => rule.oif = Some(words.value(word, name)?),
                "tos" | "dsfield" => rule.tos = Some(words.value(word, number)?),
                "no_track" => rule.no_track = true,
                "inet6" => {}
                _ => {
                    return Err(refused(RULE_REFUSED, word, index).unwrap_or_else(|| {
                        ArgError::at(index, format!("unknown option `{word}`"))
                    }))
                }
            }
        }
        if rule.table == 0 {
            return Err(ArgError::at(args.len(), "a rule needs `table`"));
        }
        Ok(rule)
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::tests::read;
    use super::*;

    #[test]
    fn routes_of_the_manual() {
        let route: Route =
            read("src 192.0.2.1 to 198.51.100.0/24 via 192.0.2.254 dev eth1 table 100").unwrap();
        assert_eq!(route.to.to_string(), "198.51.100.0/24");
        assert_eq!(route.src, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(route.via, Some("192.0.2.254".parse().unwrap()));
        assert_eq!(
            (route.dev.as_deref(), route.table),
            (Some("eth1"), Some(100))
        );
        let route: Route = read("blackhole 203.0.113.0/24").unwrap();
        assert_eq!(route.kind, RouteKind::Blackhole);
        let route: Route = read("0.0.0.0/0 gw 192.0.2.1 table main metric 7 onlink").unwrap();
        assert_eq!(
            (route.table, route.metric, route.onlink),
            (Some(254), Some(7), true)
        );
        let route: Route = read("2001:db8:1::/64 dev eth0 scope link proto bird no_track").unwrap();
        assert_eq!(
            (route.scope, route.protocol, route.no_track),
            (Some(253), Some(12), true)
        );
        let route: Route = read("default inet6 via 2001:db8::1 dev eth0").unwrap();
        assert_eq!(route.to.to_string(), "::/0");
        let route: Route = read("unreachable 192.0.2.0/25 table 7 proto 99 tos 0x10").unwrap();
        assert_eq!((route.protocol, route.tos), (Some(99), Some(16)));
    }

    #[test]
    fn multipath_routes_as_the_manual_writes_them() {
        let route: Route = read(
            "192.168.100.0/24 table 6909 nexthop via 192.168.101.1 dev wlan0 onlink weight 1 \
             nexthop via 192.168.101.2 dev wlan0 onlink weight 2",
        )
        .unwrap();
        assert_eq!(route.table, Some(6909));
        let hop = |via: &str, weight| NextHop {
            via: Some(via.parse().unwrap()),
            dev: Some("wlan0".into()),
            weight: Some(weight),
            onlink: true,
        };
        assert_eq!(
            route.nexthop,
            [hop("192.168.101.1", 1), hop("192.168.101.2", 2)]
        );
        // keepalived's older form (doc/samples/keepalived.conf.vrrp.routes).
        let route: Route = read("192.168.113.0/24 via 192.168.100.252 or 192.168.100.253").unwrap();
        let vias: Vec<_> = route.nexthop.iter().map(|h| h.via.unwrap()).collect();
        assert_eq!(
            (route.via, vias.len(), vias[1].to_string()),
            (None, 2, "192.168.100.253".to_owned())
        );
    }

    #[test]
    fn bad_routes_name_the_word_at_fault() {
        let at = |text: &str| {
            let err = read::<Route>(text).unwrap_err();
            (err.index, err.message)
        };
        assert_eq!(at("192.0.2.0/24 via x dev eth0").0, 2);
        assert_eq!(at("192.0.2.0/24 dev eth0 table").0, 4);
        assert_eq!(at("192.0.2.0/24 dev eth0 table 0").0, 4);
        assert_eq!(at("192.0.2.0/24 dev eth0 colour red").0, 3);
        assert_eq!(at("dev eth0").1, "the destination is missing");
        assert_eq!(at("192.0.2.0/24 dev eth0 192.0.2.9").0, 3);
        assert_eq!(at("192.0.2.0/24 dev eth0 scope galaxy").0, 4);
        assert_eq!(at("192.0.2.0/24 dev eth0 or 192.0.2.2").0, 3);
        assert_eq!(at("192.0.2.0/24 nexthop via 192.0.2.1 weight 0").0, 5);
        assert_eq!(at("192.0.2.0/24 nexthop via 192.0.2.1 realms 3").0, 4);
        assert_eq!(at("192.0.2.0/24 nexthop via 192.0.2.1 table 3").0, 4);
        assert_eq!(
            at("192.0.2.0/24 nexthop weight 2"),
            (1, "nexthop 1 has neither `via` nor `dev`".into())
        );
        assert!(at("192.0.2.0/24 via 192.0.2.9 nexthop via 192.0.2.1")
            .1
            .contains("`via` and `nexthop` together"));
        assert_eq!(at("192.0.2.0/24 dev eth0 mtu 1400").0, 3);
    }

    #[test]
    fn rules_of_the_manual() {
        let rule: Rule = read("from 192.0.2.0/24 table 1").unwrap();
        assert_eq!(rule.from.unwrap().to_string(), "192.0.2.0/24");
        assert_eq!(rule.table, 1);
        let rule: Rule = read(
            "from 192.0.2.0/24 to 198.51.100.0/26 table 100 iif eth0 oif eth1 tos 22 \
             fwmark 24/0xff preference 39 no_track",
        )
        .unwrap();
        assert_eq!(
            (rule.fwmark, rule.fwmask, rule.priority),
            (Some(24), Some(255), Some(39))
        );
        assert_eq!(
            (rule.iif.as_deref(), rule.oif.as_deref()),
            (Some("eth0"), Some("eth1"))
        );
        assert!(rule.no_track && !rule.is_ipv6());
        let rule: Rule = read("to 2001:db8::/32 table 6908").unwrap();
        assert!(rule.is_ipv6());
        assert!(read::<Rule>("fwmark 3 table main inet6").unwrap().is_ipv6());
    }

    #[test]
    fn bad_rules_name_the_word_at_fault() {
        let at = |text: &str| {
            let err = read::<Rule>(text).unwrap_err();
            (err.index, err.message)
        };
        assert_eq!(at("from 192.0.2.0/24"), (2, "a rule needs `table`".into()));
        assert_eq!(at("from x table 1").0, 1);
        assert_eq!(at("from 192.0.2.0/24 table 1 fwmark 1/x").0, 5);
        assert_eq!(at("table 1 colour red").1, "unknown option `colour`");
        assert_eq!(
            at("table 1 uidrange 1-2"),
            (
                2,
                "unsupported: uidrange (rules by user id) is not implemented".into()
            )
        );
    }
}
