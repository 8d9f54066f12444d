//! keepalived's firewall for accept mode, with nftables: a MASTER that is
//! not in accept mode (`no_accept`, or strict mode's default) and not the
//! address owner drops packets to and from its virtual addresses.
//!
//! Data flows one way: the configuration gives the [`Settings`] (which
//! instances are guarded, the table), VIP ownership (which of them this
//! node is MASTER of) gives the addresses; [`ruleset`] turns both into the
//! table's desired content, which the [`reconciler`] programs with `nft`,
//! one transaction at a time, before a new MASTER adds its addresses (an
//! ownership gate).
//!
//! The layout is keepalived's (`vrrp_nftables.c`): tables `ip NAME` and
//! `ip6 NAME` (default `keepalived`), base chains `in` and `out` on the
//! input and output hooks at `nftables_priority` (-1), a `vips` set dropped
//! by destination in `in` and by source in `out`; for IPv6, neighbour
//! discovery accepted, link-local addresses matched with their interface
//! (`vips_link_local` by index, `vips_link_local_name` by name with
//! `dont_track_primary`) from chains `in_link_local` / `out_link_local`.

pub mod reconciler;
pub mod ruleset;

use std::collections::BTreeMap;

use crate::{
    config::{Config, DEFAULT_NFTABLES_TABLE},
    vrrp::spec::InstanceSpec,
};

pub use reconciler::Firewall;

/// keepalived's hook priority when `nftables_priority` is absent.
pub const DEFAULT_PRIORITY: i32 = -1;

/// What the configuration asks of the firewall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The table name (both families).
    pub table: String,
    /// Priority of the base chains' hooks.
    pub priority: i32,
    /// `nftables_counters`: rules count their matches.
    pub counters: bool,
    /// Guarded instances (not in accept mode), by name.
    pub guarded: BTreeMap<String, Guard>,
}

/// How one guarded instance's addresses are matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    /// Link-local addresses matched with the interface's name rather than
    /// its index (keepalived: `dont_track_primary` without
    /// `nftables_ifindex`, for addresses on the instance's interface or
    /// with `no_track`).
    pub by_name: Vec<ipnet::IpNet>,
    /// Every address the instance holds as MASTER, with its interface.
    pub addresses: Vec<(String, ipnet::IpNet)>,
}

/// The firewall `config` needs: `None` when every instance accepts (as in
/// keepalived, `nftables` alone creates nothing), else the table and the
/// guarded instances.
pub fn settings(config: &Config) -> Option<Settings> {
    let global = &config.global_defs;
    let guarded: BTreeMap<_, _> = config
        .vrrp_instance
        .iter()
        .map(|inst| InstanceSpec::new(inst, config))
        .filter(|spec| !spec.accept)
        .map(|spec| {
            let by_name = spec
                .all_vips()
                .filter(|vip| {
                    let own = vip.dev.as_ref().is_none_or(|dev| *dev == spec.interface);
                    !global.nftables_ifindex
                        && spec.config.dont_track_primary
                        && (own || vip.no_track)
                })
                .map(|vip| vip.address)
                .collect();
            let addresses = spec.owned(true).vips;
            (spec.name, Guard { by_name, addresses })
        })
        .collect();
    if guarded.is_empty() {
        return None;
    }
    Some(Settings {
        table: global
            .nftables
            .clone()
            .unwrap_or_else(|| DEFAULT_NFTABLES_TABLE.to_owned()),
        priority: global.nftables_priority.unwrap_or(DEFAULT_PRIORITY),
        counters: global.nftables_counters,
        guarded,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::parse_keepalived_str;

    fn settings_of(text: &str) -> Option<Settings> {
        let loaded = parse_keepalived_str(text, Path::new("k.conf")).unwrap();
        settings(&loaded.config)
    }

    const VI: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n%\n \
                      virtual_ipaddress {\n 192.0.2.50/24\n }\n \
                      virtual_ipaddress_excluded {\n fe80::50/64\n }\n}\n";

    #[test]
    fn only_instances_not_in_accept_mode_are_guarded() {
        assert_eq!(settings_of(&VI.replace('%', "")), None);
        assert_eq!(
            settings_of(&format!(
                "global_defs {{\n nftables\n}}\n{}",
                VI.replace('%', "")
            )),
            None
        );
        let strict = settings_of(&VI.replace('%', " strict_mode")).unwrap();
        assert_eq!(
            (strict.table.as_str(), strict.priority, strict.counters),
            ("keepalived", -1, false)
        );
        let guard = &strict.guarded["VI_1"];
        assert_eq!(guard.addresses.len(), 2);
        assert!(guard.by_name.is_empty());
        let named = settings_of(&format!(
            "global_defs {{\n nftables fw\n nftables_priority 7\n nftables_counters\n}}\n{}",
            VI.replace('%', " no_accept\n dont_track_primary")
        ))
        .unwrap();
        assert_eq!((named.table.as_str(), named.priority), ("fw", 7));
        assert_eq!(named.guarded["VI_1"].by_name.len(), 2);
        let by_index = settings_of(&format!(
            "global_defs {{\n nftables_ifindex\n}}\n{}",
            VI.replace('%', " no_accept\n dont_track_primary")
        ))
        .unwrap();
        assert!(by_index.guarded["VI_1"].by_name.is_empty());
        // The owner always accepts.
        assert_eq!(
            settings_of(&VI.replace('%', " strict_mode\n priority 255\n no_accept")),
            None
        );
    }
}
