//! The table's desired content ([`Ruleset`]) from the [`Settings`] and VIP
//! ownership, and the `nft` scripts that program it. Each script is one
//! `nft -f` transaction: it applies whole or not at all.
use std::{
    collections::BTreeSet,
    fmt::Write,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use crate::state::ownership::Ownership;

use super::Settings;

/// The content of the firewall tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    /// Table name (both families).
    pub table: String,
    /// Base chain priority.
    pub priority: i32,
    /// Rules count their matches.
    pub counters: bool,
    /// Table `ip NAME`, when a guarded instance has IPv4 addresses: the
    /// addresses of those this node is MASTER of.
    pub v4: Option<BTreeSet<Ipv4Addr>>,
    /// Table `ip6 NAME`, when a guarded instance has IPv6 addresses.
    pub v6: Option<V6>,
}

/// The sets of table `ip6 NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct V6 {
    /// Global addresses (`vips`).
    pub vips: BTreeSet<Ipv6Addr>,
    /// Link-local addresses with their interface, matched by index
    /// (`vips_link_local`), when some guarded address needs it.
    pub by_index: Option<BTreeSet<(Ipv6Addr, String)>>,
    /// Link-local addresses matched by interface name
    /// (`vips_link_local_name`).
    pub by_name: Option<BTreeSet<(Ipv6Addr, String)>>,
}

impl Ruleset {
    /// The tables `settings` needs, holding the addresses of the guarded
    /// instances `ownership` says this node is MASTER of.
    pub fn new(settings: &Settings, ownership: &Ownership) -> Ruleset {
        let mut ruleset = Ruleset {
            table: settings.table.clone(),
            priority: settings.priority,
            counters: settings.counters,
            v4: None,
            v6: None,
        };
        for (name, guard) in &settings.guarded {
            let master = ownership.get(name).filter(|o| o.master);
            for (interface, address) in &guard.addresses {
                let by_name = guard.by_name.contains(address);
                ruleset.add(address.addr(), interface, by_name, master.is_some());
            }
        }
        ruleset
    }

    /// Creates the set `address` belongs in; puts it there when `held`.
    fn add(&mut self, address: IpAddr, interface: &str, by_name: bool, held: bool) {
        match address {
            IpAddr::V4(a) => {
                let set = self.v4.get_or_insert_with(BTreeSet::new);
                if held {
                    set.insert(a);
                }
            }
            IpAddr::V6(a) => {
                let v6 = self.v6.get_or_insert_with(V6::default);
                let set = match (a.is_unicast_link_local(), by_name) {
                    (false, _) => {
                        if held {
                            v6.vips.insert(a);
                        }
                        return;
                    }
                    (true, false) => v6.by_index.get_or_insert_with(BTreeSet::new),
                    (true, true) => v6.by_name.get_or_insert_with(BTreeSet::new),
                };
                if held {
                    set.insert((a, interface.to_owned()));
                }
            }
        }
    }

    /// The same tables with every set empty: what a change of addresses
    /// alone keeps.
    pub fn layout(&self) -> Ruleset {
        let empty =
            |set: &Option<BTreeSet<(Ipv6Addr, String)>>| set.as_ref().map(|_| BTreeSet::new());
        Ruleset {
            v4: self.v4.as_ref().map(|_| BTreeSet::new()),
            v6: self.v6.as_ref().map(|v6| V6 {
                vips: BTreeSet::new(),
                by_index: empty(&v6.by_index),
                by_name: empty(&v6.by_name),
            }),
            ..self.clone()
        }
    }

    /// A script replacing both tables (and those of `old_table`, a name
    /// used before) with this content: leftovers of a daemon that was
    /// killed go in the same transaction.
    pub fn replace(&self, old_table: Option<&str>) -> String {
        let mut script = remove(&self.table);
        if let Some(old) = old_table.filter(|old| *old != self.table) {
            script.push_str(&remove(old));
        }
        let counter = if self.counters { "counter " } else { "" };
        let t = &self.table;
        if let Some(v4) = &self.v4 {
            let _ = writeln!(script, "table ip {t} {{");
            set(
                &mut script,
                "vips",
                "ipv4_addr",
                "",
                v4.iter().map(ToString::to_string),
            );
            self.base(
                &mut script,
                "in",
                "input",
                &[&format!("ip daddr @vips {counter}drop")],
            );
            self.base(
                &mut script,
                "out",
                "output",
                &[&format!("ip saddr @vips {counter}drop")],
            );
            script.push_str("}\n");
        }
        if let Some(v6) = &self.v6 {
            let _ = writeln!(script, "table ip6 {t} {{");
            set(
                &mut script,
                "vips",
                "ipv6_addr",
                "",
                v6.vips.iter().map(ToString::to_string),
            );
            let discovery = ["nd-neighbor-solicit", "nd-neighbor-advert"].map(String::from);
            set(
                &mut script,
                "neighbor-discovery",
                "icmpv6_type",
                "flags constant; ",
                discovery.into_iter(),
            );
            let mut linked = |name, kind, elements: &Option<BTreeSet<(Ipv6Addr, String)>>| {
                let elements = elements.iter().flatten();
                let elements = elements.map(|(a, i)| format!("{a} . {}", quoted(i)));
                set(&mut script, name, kind, "", elements);
            };
            if v6.by_index.is_some() {
                linked("vips_link_local", "ipv6_addr . iface_index", &v6.by_index);
            }
            if v6.by_name.is_some() {
                linked("vips_link_local_name", "ipv6_addr . ifname", &v6.by_name);
            }
            for (chain, dir, iface) in [
                ("in_link_local", "daddr", "iif"),
                ("out_link_local", "saddr", "oif"),
            ] {
                let mut rules = Vec::new();
                if v6.by_index.is_some() {
                    rules.push(format!(
                        "ip6 {dir} . {iface} @vips_link_local {counter}drop"
                    ));
                }
                if v6.by_name.is_some() {
                    rules.push(format!(
                        "ip6 {dir} . {iface}name @vips_link_local_name {counter}drop"
                    ));
                }
                let _ = writeln!(script, "\tchain {chain} {{");
                rules.iter().for_each(|r| {
                    let _ = writeln!(script, "\t\t{r}");
                });
                script.push_str("\t}\n");
            }
            for (chain, hook, dir) in [("in", "input", "daddr"), ("out", "output", "saddr")] {
                let rules = [
                    format!("icmpv6 type @neighbor-discovery {counter}accept"),
                    format!("ip6 {dir} fe80::/10 goto {chain}_link_local"),
                    format!("ip6 {dir} @vips {counter}drop"),
                ];
                let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
                self.base(&mut script, chain, hook, &rules);
            }
            script.push_str("}\n");
        }
        script
    }

    /// A script that only refills the sets (the layout is unchanged), so
    /// the rules and their counters stay.
    pub fn refill(&self) -> String {
        let mut script = String::new();
        let t = &self.table;
        let mut fill = |family, name, elements: Vec<String>| {
            let _ = writeln!(script, "flush set {family} {t} {name}");
            if !elements.is_empty() {
                let _ = writeln!(
                    script,
                    "add element {family} {t} {name} {{ {} }}",
                    elements.join(", ")
                );
            }
        };
        if let Some(v4) = &self.v4 {
            fill("ip", "vips", v4.iter().map(ToString::to_string).collect());
        }
        if let Some(v6) = &self.v6 {
            fill(
                "ip6",
                "vips",
                v6.vips.iter().map(ToString::to_string).collect(),
            );
            for (name, set) in [
                ("vips_link_local", &v6.by_index),
                ("vips_link_local_name", &v6.by_name),
            ] {
                if let Some(set) = set {
                    fill(
                        "ip6",
                        name,
                        set.iter()
                            .map(|(a, i)| format!("{a} . {}", quoted(i)))
                            .collect(),
                    );
                }
            }
        }
        script
    }

    /// A base chain `name` on `hook` at the configured priority.
    fn base(&self, script: &mut String, name: &str, hook: &str, rules: &[&str]) {
        let _ = writeln!(script, "\tchain {name} {{");
        let _ = writeln!(
            script,
            "\t\ttype filter hook {hook} priority {}; policy accept;",
            self.priority
        );
        for rule in rules {
            let _ = writeln!(script, "\t\t{rule}");
        }
        script.push_str("\t}\n");
    }
}

/// A script removing table `name` of both families, whether it exists or
/// not (`add` first, so `delete` cannot fail).
pub fn remove(name: &str) -> String {
    ["ip", "ip6"]
        .map(|family| format!("add table {family} {name}\ndelete table {family} {name}\n"))
        .concat()
}

/// A set declaration with its elements.
fn set(
    script: &mut String,
    name: &str,
    kind: &str,
    flags: &str,
    elements: impl Iterator<Item = String>,
) {
    let elements: Vec<String> = elements.collect();
    let _ = write!(script, "\tset {name} {{ type {kind}; {flags}");
    if !elements.is_empty() {
        let _ = write!(script, "elements = {{ {} }}; ", elements.join(", "));
    }
    script.push_str("}\n");
}

/// An interface name as an `nft` string. Linux names hold no quote,
/// whitespace or `/`; anything else unusual is escaped away so that a
/// name can never end the string.
fn quoted(name: &str) -> String {
    let safe: String = name
        .chars()
        .filter(|c| !matches!(c, '"' | '\\') && !c.is_whitespace())
        .collect();
    format!("\"{safe}\"")
}

#[cfg(test)]
#[path = "ruleset_tests.rs"]
mod tests;
