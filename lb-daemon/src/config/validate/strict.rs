//! keepalived's strict mode (`vrrp_strict`, `strict_mode`) and its
//! nftables settings. Where keepalived refuses an instance in strict mode
//! this is an error; where it corrects a setting and goes on, a warning
//! naming the keyword (the correction itself is applied where the instance
//! is resolved, `vrrp::spec::strict`).

use std::net::IpAddr;

use super::Check;
use crate::config::model::{GlobalDefs, State, VrrpInstance};

/// Longest nftables table name accepted (keepalived: `NFT_TABLE_MAXNAMELEN`
/// is 256 with the NUL; kept shorter and to plain characters, as the name
/// is written into `nft` scripts).
const TABLE_NAME_MAX: usize = 64;

/// The `nftables*` settings of `global_defs`.
pub(super) fn globals(check: &mut Check, globals: &GlobalDefs) {
    if let Some(name) = &globals.nftables {
        let plain = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let starts = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if !(plain && starts && name.len() <= TABLE_NAME_MAX) {
            let message = format!(
                "nftables table name {name:?} must start with a letter and hold only \
                 letters, digits, `_` and `-` (at most {TABLE_NAME_MAX})"
            );
            check.error("global_defs.nftables", message);
        }
    }
}

/// The strict-mode rules of the instance at `path`.
pub(super) fn instance(check: &mut Check, path: &str, inst: &VrrpInstance, global: &GlobalDefs) {
    if !inst.strict(global) {
        return;
    }
    let at = |field: &str| format!("{path}.{field}");
    if !inst.unicast_peer.is_empty() {
        let message =
            "unicast peers are not supported in strict mode (`strict_mode`/`vrrp_strict`)";
        check.error(&at("unicast_peer"), message);
    }
    if inst.no_virtual_ipaddress {
        let message = "`no_virtual_ipaddress` and strict mode are incompatible; ignored";
        check.warning(&at("no_virtual_ipaddress"), message);
    }
    let owner = inst.base_priority() == 255;
    if inst.authentication.is_some() {
        let message = "strict mode does not support `authentication`; ignored";
        check.warning(&at("authentication"), message);
    }
    if inst.state == Some(State::Master) && !owner {
        let message = "in strict mode `state MASTER` needs priority 255 (the address owner); \
                       the instance starts as BACKUP";
        check.warning(&at("state"), message);
    }
    // In strict mode only the owner starts as MASTER (where keepalived
    // clears the delay anyway).
    if inst.preempt_delay.is_some_and(|d| d > 0) && !owner {
        let message = "`preempt_delay` is incompatible with strict mode; reset to 0";
        check.warning(&at("preempt_delay"), message);
    }
    for (field, value) in [
        ("garp_lower_prio_repeat", inst.garp_lower_prio_repeat),
        ("garp_lower_prio_delay", inst.garp_lower_prio_delay),
    ] {
        if value.is_some_and(|v| v > 0) {
            let message = format!("strict mode requires no `{field}`; reset to 0");
            check.warning(&at(field), message);
        }
    }
    if inst.accept == Some(true) && !owner && inst.resolved_version(global) == 2 {
        let message = "`accept` in VRRP version 2 does not comply with RFC 3768; \
                       strict mode resets it (the master drops traffic to its addresses)";
        check.warning(&at("accept"), message);
    }
    if inst.use_vmac && inst.vmac_xmit_base {
        let message = "`vmac_xmit_base` is incompatible with strict mode; reset";
        check.warning(&at("vmac_xmit_base"), message);
    }
    if inst.version == Some(2) && inst.is_ipv6() {
        let message = "IPv6 cannot use VRRP version 2; strict mode runs version 3";
        check.warning(&at("version"), message);
    }
    let first = inst.virtual_ipaddress.first().map(|v| v.address.addr());
    if let Some(IpAddr::V6(first)) = first {
        if !first.is_unicast_link_local() {
            let message = "in strict mode the first IPv6 virtual address must be link local";
            check.warning(&at("virtual_ipaddress.0"), message);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{parse_keepalived_str, parse_toml_str, to_toml};

    /// Every diagnostic of `text` (warnings of a valid configuration, or
    /// everything found in an invalid one) as `file:line:col: severity: …`.
    fn findings(text: &str) -> Vec<String> {
        match parse_keepalived_str(text, Path::new("k.conf")) {
            Ok(loaded) => loaded.warnings.iter().map(ToString::to_string).collect(),
            Err(diags) => diags.0.iter().map(ToString::to_string).collect(),
        }
    }

    /// keepalived.conf with `global` in global_defs and `extra` lines (from
    /// line 4) in one instance.
    fn conf(global: &str, extra: &str) -> String {
        format!(
            "global_defs {{\n{global}\n}}\nvrrp_instance VI_1 {{\n{extra}\n interface eth0\n \
             virtual_router_id 1\n virtual_ipaddress {{\n 192.0.2.50/24\n }}\n}}\n"
        )
    }

    #[test]
    fn non_strict_instances_are_left_alone() {
        let text = conf(
            "",
            " unicast_peer {\n 192.0.2.9\n }\n check_unicast_src\n preempt_delay 5",
        );
        assert!(findings(&text).is_empty(), "{:?}", findings(&text));
    }

    #[test]
    fn unicast_peers_are_an_error_in_strict_mode() {
        let peers = " unicast_peer {\n 192.0.2.9\n }\n check_unicast_src";
        let found = findings(&conf(" vrrp_strict", peers));
        assert_eq!(
            found,
            [
                "k.conf:5:2: error: unicast peers are not supported in strict mode \
              (`strict_mode`/`vrrp_strict`)"
            ]
        );
        // strict_mode off on the instance overrides vrrp_strict.
        let off = format!(" strict_mode off\n{peers}");
        assert!(findings(&conf(" vrrp_strict", &off)).is_empty());
        // strict_mode alone is enough.
        let on = format!(" strict_mode\n{peers}");
        assert_eq!(findings(&conf("", &on)).len(), 1);
    }

    #[test]
    fn corrected_settings_are_warnings_naming_the_keyword() {
        let extra = " strict_mode on\n state MASTER\n priority 150\n accept\n \
                     garp_lower_prio_repeat 2\n preempt_delay 3\n \
                     authentication {\n auth_type PASS\n auth_pass x\n }";
        let found = findings(&conf("", extra));
        // In file order, each at the keyword's value.
        assert_eq!(
            found,
            [
                "k.conf:6:8: warning: in strict mode `state MASTER` needs priority 255 \
                 (the address owner); the instance starts as BACKUP",
                "k.conf:8:2: warning: `accept` in VRRP version 2 does not comply with RFC 3768; \
                 strict mode resets it (the master drops traffic to its addresses)",
                "k.conf:9:25: warning: strict mode requires no `garp_lower_prio_repeat`; reset to 0",
                "k.conf:10:16: warning: `preempt_delay` is incompatible with strict mode; reset to 0",
                "k.conf:11:2: warning: strict mode does not support `authentication`; ignored",
            ]
        );
        // preempt_delay with state BACKUP: reset as well.
        let found = findings(&conf(" vrrp_strict", " preempt_delay 3"));
        assert_eq!(
            found,
            ["k.conf:5:16: warning: `preempt_delay` is incompatible with strict mode; reset to 0"]
        );
    }

    #[test]
    fn strict_needs_an_address_even_with_version_2() {
        let text = "global_defs {\n vrrp_strict\n}\nvrrp_instance VI_1 {\n interface eth0\n \
                    virtual_router_id 1\n}\n";
        let found = findings(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("error: no `virtual_ipaddress`; at least one is required"));
    }

    #[test]
    fn nftables_keywords_and_table_names() {
        let text = conf(
            " nftables lb_fw-1\n nftables_priority -5\n nftables_ifindex\n nftables_counters",
            " no_accept",
        );
        let loaded = parse_keepalived_str(&text, Path::new("k.conf")).unwrap();
        let g = &loaded.config.global_defs;
        assert_eq!(g.nftables.as_deref(), Some("lb_fw-1"));
        assert_eq!(g.nftables_priority, Some(-5));
        assert!(g.nftables_ifindex && g.nftables_counters);
        assert_eq!(loaded.config.vrrp_instance[0].accept, Some(false));
        let bare = parse_keepalived_str(&conf(" nftables", ""), Path::new("k.conf")).unwrap();
        assert_eq!(
            bare.config.global_defs.nftables.as_deref(),
            Some("keepalived")
        );
        let found = findings(&conf(" nftables \"a;b\"", ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("error: nftables table name"), "{found:?}");
    }

    #[test]
    fn the_toml_form_mirrors_the_keywords() {
        let text = conf(
            " vrrp_strict\n nftables fw\n nftables_priority 3\n nftables_ifindex\n nftables_counters",
            " strict_mode off\n no_accept",
        );
        let loaded = parse_keepalived_str(&text, Path::new("k.conf")).unwrap();
        let toml = to_toml(&loaded.config);
        for line in [
            "vrrp_strict = true",
            "nftables = \"fw\"",
            "nftables_priority = 3",
            "nftables_ifindex = true",
            "nftables_counters = true",
            "strict_mode = false",
            "accept = false",
        ] {
            assert!(toml.contains(line), "{line} in\n{toml}");
        }
        let back = parse_toml_str(&toml, Path::new("k.toml")).unwrap();
        assert_eq!(back.config, loaded.config);
    }
}
