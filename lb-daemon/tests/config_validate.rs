//! Validation rules, through the keepalived.conf front end (and the TOML one
//! where its shape differs): each case gives a config and the located error.

use std::path::Path;

use lb_daemon::config;

const INSTANCE: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                        virtual_ipaddress {\n  192.0.2.1\n }\n}\n";

/// Asserts that `text` is refused with a diagnostic line ending in `expected`.
fn refused(text: &str, expected: &str) {
    let errors = config::parse_keepalived_str(text, Path::new("t.conf")).unwrap_err();
    let errors = errors.to_string();
    let wanted = format!("t.conf:{expected}");
    assert!(
        errors.lines().any(|l| l == wanted),
        "expected\n{wanted}\ngot\n{errors}"
    );
}

#[test]
fn sync_groups_name_existing_instances_once() {
    let groups = "vrrp_sync_group G1 {\n group {\n  VI_1\n  VI_9\n }\n}\n\
                  vrrp_sync_group G2 {\n group {\n  VI_1\n }\n}\n";
    let text = format!("{groups}{INSTANCE}");
    refused(
        &text,
        "4:3: error: sync group member `VI_9` is not a vrrp_instance",
    );
    refused(
        &text,
        "9:3: error: vrrp_instance `VI_1` is already in sync group `G1`",
    );
}

#[test]
fn address_families_agree_inside_an_instance() {
    let text = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n \
                unicast_peer {\n  2001:db8::2\n }\n virtual_ipaddress {\n  192.0.2.1\n  2001:db8::1\n }\n}\n";
    refused(
        text,
        "5:3: error: unicast peer 2001:db8::2 is IPv6, but this block uses IPv4",
    );
    refused(
        text,
        "9:3: error: virtual address 2001:db8::1 is IPv6, but this block uses IPv4",
    );
}

#[test]
fn advert_int_follows_the_vrrp_version() {
    let v2 = INSTANCE.replace(" interface eth0", " interface eth0\n advert_int 0.5");
    refused(
        &v2,
        "3:13: error: VRRPv2 `advert_int` must be whole seconds 1-255, not 0.5",
    );
    let v3 = v2.replace(" interface eth0", " interface eth0\n version 3");
    assert!(config::parse_keepalived_str(&v3, Path::new("t.conf")).is_ok());
}

#[test]
fn virtual_servers_are_checked() {
    let text = "virtual_server group WEB {\n real_server 192.0.2.5 80 {\n  FILE_CHECK {\n   track_file nope\n  }\n }\n}\n\
                virtual_server 192.0.2.1 80 {\n sorry_server 2001:db8::1 80\n \
                real_server 192.0.2.2 80 {\n }\n real_server 192.0.2.2 80 {\n }\n\
                 real_server 2001:db8::3 80 {\n }\n}\n";
    refused(text, "1:22: error: no virtual_server_group is named `WEB`");
    refused(
        text,
        "4:15: error: FILE_CHECK names unknown track_file `nope`",
    );
    refused(
        text,
        "9:15: error: sorry_server 2001:db8::1 is IPv6, but this block uses IPv4",
    );
    refused(text, "12:2: error: real_server 192.0.2.2 is listed twice");
    refused(
        text,
        "14:1: error: real_server 2001:db8::3 is IPv6, but this block uses IPv4",
    );
}

#[test]
fn checkers_are_checked() {
    let text = "virtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80 {\n  HTTP_GET {\n   url {\n    \
                digest abc\n    status_code 200-99\n   }\n  }\n  MISC_CHECK {\n  }\n  DNS_CHECK {\n   type BOGUS\n  }\n }\n}\n";
    refused(text, "4:4: error: `path` is required here");
    refused(
        text,
        "5:12: error: `digest` must be 32 hex digits (an MD5 sum)",
    );
    refused(
        text,
        "6:17: error: `status_code` 200-99 is not within 100-599",
    );
    refused(text, "9:3: error: `misc_path` is required here");
    refused(
        text,
        "12:4: error: DNS `type` BOGUS is not one of A, NS, CNAME, SOA, MX, TXT, AAAA",
    );
}

#[test]
fn toml_checkers_refuse_fields_of_other_kinds() {
    let text = "[[virtual_server]]\naddress = \"192.0.2.1\"\nport = 80\n\
                [[virtual_server.real_server]]\naddress = \"192.0.2.2\"\nport = 80\n\
                [[virtual_server.real_server.checker]]\ntype = \"TCP_CHECK\"\nmisc_path = \"/bin/true\"\n";
    let errors = config::parse_toml_str(text, Path::new("t.toml"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        errors,
        "t.toml:9:13: error: `misc_path` does not apply to TCP_CHECK"
    );
}

#[test]
fn duplicates_and_missing_names() {
    let text = format!(
        "{INSTANCE}{}vrrp_script {{\n script x\n}}\n",
        INSTANCE.replace("id 1", "id 2")
    );
    refused(&text, "8:1: error: vrrp_instance `VI_1` is defined twice");
    refused(&text, "15:1: error: `vrrp_script` needs a name");
}

#[test]
fn warnings_do_not_stop_a_load() {
    let text = INSTANCE.replace(
        " interface eth0",
        " interface eth0\n debug\n state BACKUP\n priority 255",
    );
    let loaded = config::parse_keepalived_str(&text, Path::new("t.conf")).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        [
            "t.conf:3:2: warning: `debug` (debug logging) is not implemented; ignored",
            "t.conf:5:11: warning: priority 255 makes this node the address owner; `state BACKUP` is ignored",
        ]
    );
}

#[test]
fn instances_without_addresses_need_no_virtual_ipaddress() {
    let bare = "vrrp_instance V {\n interface eth0\n virtual_router_id 1\n version 3\n}\n";
    refused(
        bare,
        "1:1: error: no `virtual_ipaddress`; at least one is required \
         (`no_virtual_ipaddress` if none is meant)",
    );
    let v2 = bare.replace(" version 3\n", "");
    let loaded = config::parse_keepalived_str(&v2, Path::new("t.conf")).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        [
            "t.conf:1:1: warning: no `virtual_ipaddress`; at least one is sensible \
          (`no_virtual_ipaddress` if none is meant)"
        ]
    );
    for text in [bare.to_string(), v2] {
        let meant = text.replace(" interface", " no_virtual_ipaddress\n interface");
        let loaded = config::parse_keepalived_str(&meant, Path::new("t.conf")).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
}

#[test]
fn garp_timing_values_are_checked() {
    let text =
        format!("global_defs {{\n vrrp_garp_interval 0\n vrrp_gna_interval 5000\n}}\n{INSTANCE}");
    refused(
        &text,
        "2:21: error: `vrrp_garp_interval` must be a number of seconds above 0",
    );
    refused(
        &text,
        "3:20: error: `vrrp_gna_interval` must be 0.000001-4294.967295, not 5000",
    );
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                garp_lower_prio_repeat -1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n";
    let errors = config::parse_keepalived_str(text, Path::new("t.conf")).unwrap_err();
    assert!(
        errors.to_string().contains("t.conf:4:"),
        "garp_lower_prio_repeat -1 must be refused at its line: {errors}"
    );
}
