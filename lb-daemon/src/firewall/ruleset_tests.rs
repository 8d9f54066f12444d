//! Tests of [`super`]: the rules keepalived creates, and which addresses
//! are in the sets for which ownership.
use std::collections::BTreeMap;

use super::*;
use crate::{
    firewall::{Guard, Settings},
    state::ownership::Owned,
};

fn settings(addresses: &[(&str, &str)], by_name: &[&str]) -> Settings {
    let net = |a: &str| a.parse::<ipnet::IpNet>().unwrap();
    let guard = Guard {
        by_name: by_name.iter().map(|a| net(a)).collect(),
        addresses: addresses
            .iter()
            .map(|(i, a)| (i.to_string(), net(a)))
            .collect(),
    };
    Settings {
        table: "keepalived".into(),
        priority: -1,
        counters: false,
        guarded: BTreeMap::from([("VI_1".to_string(), guard)]),
    }
}

fn ownership(master: bool) -> Ownership {
    let owned = Owned {
        interface: "eth0".into(),
        master,
        vips: Vec::new(),
    };
    Ownership::from([("VI_1".to_string(), owned)])
}

#[test]
fn ipv4_master_drops_to_and_from_its_addresses() {
    let s = settings(
        &[("eth0", "192.0.2.50/24"), ("eth1", "198.51.100.7/32")],
        &[],
    );
    let master = Ruleset::new(&s, &ownership(true));
    assert_eq!(
        master.replace(None),
        "add table ip keepalived\ndelete table ip keepalived\n\
         add table ip6 keepalived\ndelete table ip6 keepalived\n\
         table ip keepalived {\n\
         \tset vips { type ipv4_addr; elements = { 192.0.2.50, 198.51.100.7 }; }\n\
         \tchain out {\n\t\ttype filter hook output priority -1; policy accept;\n\t}\n\
         \tchain in {\n\t\ttype filter hook input priority -1; policy accept;\n\t}\n\
         \tchain in {\n\t\tip daddr @vips drop\n\t}\n\
         \tchain out {\n\t\tip saddr @vips drop\n\t}\n\
         }\n"
    );
    assert!(master.v6.is_none(), "no IPv6 table without IPv6 addresses");
    // A BACKUP keeps the table with an empty set.
    let backup = Ruleset::new(&s, &ownership(false));
    assert_eq!(backup.v4, Some(BTreeSet::new()));
    assert_eq!(backup.layout(), master.layout());
    assert_eq!(
        backup.refill(),
        "flush set ip keepalived vips\n",
        "a transition only refills the sets"
    );
    assert_eq!(
        master.refill(),
        "flush set ip keepalived vips\n\
         add element ip keepalived vips { 192.0.2.50, 198.51.100.7 }\n"
    );
    // No ownership yet (the instance has not started): nothing held.
    assert_eq!(
        Ruleset::new(&s, &Ownership::new()).v4,
        Some(BTreeSet::new())
    );
}

#[test]
fn counters_priority_and_a_renamed_table() {
    let mut s = settings(&[("eth0", "192.0.2.50/24")], &[]);
    (s.counters, s.priority, s.table) = (true, 10, "fw".into());
    let script = Ruleset::new(&s, &ownership(true)).replace(Some("keepalived"));
    assert!(script.starts_with(
        "add table ip fw\ndelete table ip fw\nadd table ip6 fw\ndelete table ip6 fw\n\
         add table ip keepalived\ndelete table ip keepalived\n\
         add table ip6 keepalived\ndelete table ip6 keepalived\n"
    ));
    assert!(script.contains("type filter hook input priority 10; policy accept;"));
    assert!(script.contains("\t\tip daddr @vips counter drop\n"));
    assert!(script.contains("\t\tip saddr @vips counter drop\n"));
}

#[test]
fn ipv6_accepts_neighbour_discovery_and_matches_link_local_with_the_interface() {
    let s = settings(
        &[
            ("eth0", "2001:db8::50/64"),
            ("eth0", "fe80::50/64"),
            ("eth1", "fe80::51/64"),
        ],
        &["fe80::51/64"],
    );
    let ruleset = Ruleset::new(&s, &ownership(true));
    assert!(ruleset.v4.is_none());
    let script = ruleset.replace(None);
    let table = &script[script.find("table ip6 keepalived {").unwrap()..];
    assert_eq!(
        table,
        "table ip6 keepalived {\n\
         \tset vips { type ipv6_addr; elements = { 2001:db8::50 }; }\n\
         \tset neighbor-discovery { type icmpv6_type; flags constant; \
         elements = { nd-neighbor-solicit, nd-neighbor-advert }; }\n\
         \tset vips_link_local { type ipv6_addr . iface_index; elements = { fe80::50 . \"eth0\" }; }\n\
         \tset vips_link_local_name { type ipv6_addr . ifname; elements = { fe80::51 . \"eth1\" }; }\n\
         \tchain out {\n\t\ttype filter hook output priority -1; policy accept;\n\t}\n\
         \tchain in {\n\t\ttype filter hook input priority -1; policy accept;\n\t}\n\
         \tchain in_link_local {\n\t}\n\
         \tchain out_link_local {\n\t}\n\
         \tchain in {\n\
         \t\ticmpv6 type @neighbor-discovery accept\n\
         \t\tip6 daddr fe80::/10 goto in_link_local\n\
         \t\tip6 daddr @vips drop\n\t}\n\
         \tchain in_link_local {\n\
         \t\tip6 daddr . iif @vips_link_local drop\n\
         \t\tip6 daddr . iifname @vips_link_local_name drop\n\t}\n\
         \tchain out {\n\
         \t\ticmpv6 type @neighbor-discovery accept\n\
         \t\tip6 saddr fe80::/10 goto out_link_local\n\
         \t\tip6 saddr @vips drop\n\t}\n\
         \tchain out_link_local {\n\
         \t\tip6 saddr . oif @vips_link_local drop\n\
         \t\tip6 saddr . oifname @vips_link_local_name drop\n\t}\n\
         }\n"
    );
    assert_eq!(
        Ruleset::new(&s, &ownership(false)).refill(),
        "flush set ip6 keepalived vips\nflush set ip6 keepalived vips_link_local\n\
         flush set ip6 keepalived vips_link_local_name\n"
    );
}

#[test]
fn interface_names_cannot_break_out_of_their_string() {
    assert_eq!(quoted("eth0"), "\"eth0\"");
    assert_eq!(quoted("a\"; flush ruleset"), "\"a;flushruleset\"");
}

#[test]
fn removal_covers_both_families() {
    assert_eq!(
        remove("keepalived"),
        "add table ip keepalived\ndelete table ip keepalived\n\
         add table ip6 keepalived\ndelete table ip6 keepalived\n"
    );
}
