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
        // Chains are declared first, in keepalived's order (`nft list`
        // shows them so), then filled: a `goto` needs its target declared.
        if let Some(v4) = &self.v4 {
            let _ = writeln!(script, "table ip {t} {{");
            let vips = v4.iter().map(ToString::to_string);
            set(&mut script, "vips", "ipv4_addr", "", vips);
            self.declare(
                &mut script,
                &[("out", Some("output")), ("in", Some("input"))],
            );
            let rules = |dir| vec![format!("ip {dir} @vips {counter}drop")];
            chain(&mut script, "in", &rules("daddr"));
            chain(&mut script, "out", &rules("saddr"));
            script.push_str("}\n");
        }
        if let Some(v6) = &self.v6 {
            let _ = writeln!(script, "table ip6 {t} {{");
            let vips = v6.vips.iter().map(ToString::to_string);
            set(&mut script, "vips", "ipv6_addr", "", vips);
            let discovery = ["nd-neighbor-solicit", "nd-neighbor-advert"].map(String::from);
            let constant = "flags constant; ";
            set(
                &mut script,
                "neighbor-discovery",
                "icmpv6_type",
                constant,
                discovery.into_iter(),
            );
            let linked = [
                (
                    "vips_link_local",
                    "ipv6_addr . iface_index",
                    &v6.by_index,
                    "",
                ),
                (
                    "vips_link_local_name",
                    "ipv6_addr . ifname",
                    &v6.by_name,
                    "name",
                ),
            ];
            for (name, kind, elements, _) in linked {
                if let Some(elements) = elements {
                    let elements = elements.iter().map(|(a, i)| format!("{a} . {}", quoted(i)));
                    set(&mut script, name, kind, "", elements);
                }
            }
            let chains = [
                ("out", Some("output")),
                ("in", Some("input")),
                ("in_link_local", None),
                ("out_link_local", None),
            ];
            self.declare(&mut script, &chains);
            for (chain_name, dir, iface) in [("in", "daddr", "iif"), ("out", "saddr", "oif")] {
                let rules = [
                    format!("icmpv6 type @neighbor-discovery {counter}accept"),
                    format!("ip6 {dir} fe80::/10 goto {chain_name}_link_local"),
                    format!("ip6 {dir} @vips {counter}drop"),
                ];
                chain(&mut script, chain_name, &rules);
                let local: Vec<String> = linked
                    .iter()
                    .filter(|(_, _, elements, _)| elements.is_some())
                    .map(|(set, _, _, by)| format!("ip6 {dir} . {iface}{by} @{set} {counter}drop"))
                    .collect();
                chain(&mut script, &format!("{chain_name}_link_local"), &local);
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

    /// Declares `chains`, those with a hook as base chains at the
    /// configured priority.
    fn declare(&self, script: &mut String, chains: &[(&str, Option<&str>)]) {
        for (name, hook) in chains {
            let _ = writeln!(script, "\tchain {name} {{");
            if let Some(hook) = hook {
                let priority = self.priority;
                let _ = writeln!(
                    script,
                    "\t\ttype filter hook {hook} priority {priority}; policy accept;"
                );
            }
            script.push_str("\t}\n");
        }
    }
}

/// Appends `rules` to chain `name` (nothing without rules).
fn chain(script: &mut String, name: &str, rules: &[String]) {
    if rules.is_empty() {
        return;
    }
    let _ = writeln!(script, "\tchain {name} {{");
    for rule in rules {
        let _ = writeln!(script, "\t\t{rule}");
    }
    script.push_str("\t}\n");
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
