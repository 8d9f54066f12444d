//! Receive-side safety settings in both front ends: `vrrp_mcast_group4/6`
//! (checked to be multicast of the right family), `check_unicast_src` and
//! `vrrp_check_unicast_src`, and the warning for unicast instances that
//! accept adverts from anyone.
use std::path::Path;

use lb_daemon::config::{self, Loaded};

const UNICAST: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                       unicast_peer {\n  192.0.2.3\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";

fn load(text: &str) -> Result<Loaded, String> {
    config::parse_keepalived_str(text, Path::new("t.conf")).map_err(|e| e.to_string())
}

fn warnings(text: &str) -> Vec<String> {
    let loaded = load(text).unwrap();
    loaded.warnings.iter().map(|w| w.to_string()).collect()
}

#[test]
fn multicast_groups_are_read_in_both_front_ends() {
    let text = "global_defs {\n vrrp_mcast_group4 224.0.0.20\n vrrp_mcast_group6 ff02::20\n}\n";
    let loaded = load(text).unwrap();
    let globals = &loaded.config.global_defs;
    assert_eq!(
        globals.vrrp_mcast_group4,
        Some("224.0.0.20".parse().unwrap())
    );
    assert_eq!(globals.vrrp_mcast_group6, Some("ff02::20".parse().unwrap()));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let toml = config::to_toml(&loaded.config);
    let back = config::parse_toml_str(&toml, Path::new("t.toml")).unwrap();
    assert_eq!(back.config, loaded.config, "{toml}");
}

#[test]
fn multicast_groups_must_be_multicast_of_their_family() {
    let not_multicast = load("global_defs {\n vrrp_mcast_group4 192.0.2.20\n}\n").unwrap_err();
    assert!(
        not_multicast.contains(
            "t.conf:2:20: error: `vrrp_mcast_group4` 192.0.2.20 is not a multicast address"
        ),
        "{not_multicast}"
    );
    let v6 = load("global_defs {\n vrrp_mcast_group6 2001:db8::20\n}\n").unwrap_err();
    assert!(
        v6.contains(
            "t.conf:2:20: error: `vrrp_mcast_group6` 2001:db8::20 is not a multicast address"
        ),
        "{v6}"
    );
    let wrong_family = load("global_defs {\n vrrp_mcast_group4 ff02::20\n}\n").unwrap_err();
    assert!(wrong_family.contains("t.conf:2:"), "{wrong_family}");
    let toml =
        "[global_defs]\nvrrp_mcast_group6 = \"ff02::20\"\nvrrp_mcast_group4 = \"ff02::20\"\n";
    let toml_error = config::parse_toml_str(toml, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(toml_error.starts_with("t.toml:3:"), "{toml_error}");
    let toml = "[global_defs]\nvrrp_mcast_group4 = \"192.0.2.20\"\n";
    let toml_error = config::parse_toml_str(toml, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        toml_error.contains(
            "t.toml:2:21: error: `vrrp_mcast_group4` 192.0.2.20 is not a multicast address"
        ),
        "{toml_error}"
    );
    // keepalived: an IPv6 group "should be link-local multicast".
    assert_eq!(
        warnings("global_defs {\n vrrp_mcast_group6 ff05::20\n}\n"),
        ["t.conf:2:20: warning: `vrrp_mcast_group6` ff05::20 should be a link-local multicast address (ff02::/16)"]
    );
}

#[test]
fn unicast_without_source_check_is_warned_about() {
    assert_eq!(
        warnings(UNICAST),
        ["t.conf:4:2: warning: vrrp_instance `VI_1` accepts adverts from any source address, \
          not only its `unicast_peer`s: add `check_unicast_src` (or `vrrp_check_unicast_src` in global_defs)"]
    );
    let checked = UNICAST.replace(" interface eth0", " interface eth0\n check_unicast_src");
    let loaded = load(&checked).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(loaded.config.vrrp_instance[0].check_unicast_src);
    let global = format!("global_defs {{\n vrrp_check_unicast_src\n}}\n{UNICAST}");
    let loaded = load(&global).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(loaded.config.global_defs.vrrp_check_unicast_src);
    // The TOML form carries both settings.
    for loaded in [load(&checked).unwrap(), loaded] {
        let toml = config::to_toml(&loaded.config);
        let back = config::parse_toml_str(&toml, Path::new("t.toml")).unwrap();
        assert_eq!(back.config, loaded.config, "{toml}");
        assert!(back.warnings.is_empty(), "{toml}: {:?}", back.warnings);
    }
    let multicast =
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n check_unicast_src\n \
                     virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
    assert_eq!(
        warnings(multicast),
        ["t.conf:4:2: warning: `check_unicast_src` has no effect without `unicast_peer`"]
    );
}
