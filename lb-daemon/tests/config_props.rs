//! Property tests: no input makes the front ends panic, and whatever loads
//! from keepalived.conf survives the trip through TOML unchanged.

use std::path::Path;

use lb_daemon::config;
use proptest::prelude::*;

/// Words that make random text look like keepalived.conf.
const VOCABULARY: &[&str] = &[
    "global_defs",
    "router_id",
    "vrrp_script",
    "script",
    "interval",
    "weight",
    "fall",
    "rise",
    "vrrp_instance",
    "VRRP_instance",
    "state",
    "MASTER",
    "BACKUP",
    "interface",
    "eth0",
    "virtual_router_id",
    "priority",
    "advert_int",
    "authentication",
    "auth_type",
    "PASS",
    "auth_pass",
    "virtual_ipaddress",
    "dev",
    "label",
    "track_script",
    "track_interface",
    "unicast_peer",
    "notify_master",
    "nopreempt",
    "vrrp_sync_group",
    "group",
    "use_vmac",
    "virtual_server",
    "fwmark",
    "delay_loop",
    "lb_algo",
    "rr",
    "lb_kind",
    "DR",
    "protocol",
    "TCP",
    "real_server",
    "TCP_CHECK",
    "HTTP_GET",
    "url",
    "path",
    "status_code",
    "200-299",
    "connect_timeout",
    "nb_get_retry",
    "sorry_server",
    "include",
    "fast_path",
    "xdp",
    "192.0.2.1",
    "192.0.2.2/24",
    "2001:db8::1",
    "80",
    "0",
    "1",
    "100",
    "255",
    "-20",
    "0.5",
    "{",
    "}",
    "{ }",
    "\"a b\"",
    "\"",
    "#",
    "!",
    "\n",
    "\n",
    "\n",
    "\n",
    "VI_1",
    "chk",
    "reverse",
    "root",
    "weight",
    "x{",
    "}y",
];

fn keepalived_ish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCABULARY), 0..120)
        .prop_map(|words| words.join(" "))
}

/// Optional settings of generated configs, per block.
const GLOBAL_LINES: &[&str] = &[
    "fast_path none",
    "lvs_timeouts tcp 10 udp 5",
    "script_user root wheel",
    "vrrp_mcast_group4 224.0.0.18",
    "notification_email {\n a@example.org\n}",
    "smtp_server 192.0.2.25 2525",
    "enable_script_security",
];
const INSTANCE_LINES: &[&str] = &[
    "nopreempt",
    "smtp_alert",
    "advert_int 3",
    "notify_master \"/x.sh a\" root",
    "track_interface {\n eth1 weight -5\n}",
    "track_script {\n chk weight 10 reverse\n}",
    "track_file {\n tf\n}",
    "unicast_src_ip 192.0.2.9",
    "unicast_peer {\n 192.0.2.7\n}",
    "virtual_ipaddress_excluded {\n 198.51.100.1/24 dev eth1 scope link no_track\n}",
    "authentication {\n auth_type AH\n auth_pass secret\n}",
    "garp_master_refresh 60",
    "accept",
    "dont_track_primary",
    "preempt_delay 10",
];
const SERVER_LINES: &[&str] = &[
    "lb_algo wlc",
    "lvs_method NAT",
    "persistence_timeout 300",
    "quorum_up /bin/true",
    "sorry_server 192.0.2.200 8080",
    "ha_suspend",
    "fast_path xdp",
    "delay_loop 2.5",
    "alpha",
    "hysteresis 2",
];
const REAL_LINES: &[&str] = &[
    "inhibit_on_failure",
    "notify_down \"/x down\"",
    "TCP_CHECK {\n connect_port 81\n}",
    "HTTP_GET {\n url {\n path /\n status_code 200 300-399\n }\n http_protocol 1.1\n}",
    "MISC_CHECK {\n misc_path \"/bin/check a\"\n misc_dynamic\n user nobody nogroup\n}",
    "DNS_CHECK {\n type AAAA\n name example.org\n}",
    "UDP_CHECK {\n payload 0a0b\n require_reply\n}",
    "FILE_CHECK {\n track_file tf\n weight 2\n}",
];

fn some_of(lines: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::subsequence(lines, 0..=lines.len()).prop_map(|lines| lines.join("\n"))
}

/// A valid keepalived.conf using a random selection of settings.
fn valid_config() -> impl Strategy<Value = String> {
    let instance = (1u32..=255, 1u32..=254, some_of(INSTANCE_LINES));
    let real = (0u32..=1000, some_of(REAL_LINES));
    (some_of(GLOBAL_LINES), instance, some_of(SERVER_LINES), real).prop_map(
        |(global, (vrid, priority, instance), server, (weight, real))| {
            format!(
                "global_defs {{\n{global}\n}}\nvrrp_script chk {{\n script \"pidof x\"\n}}\n\
                 track_file tf {{\n file /run/tf\n}}\n\
                 vrrp_instance VI {{\n interface eth0\n virtual_router_id {vrid}\n \
                 priority {priority}\n virtual_ipaddress {{\n 192.0.2.1/24\n }}\n{instance}\n}}\n\
                 virtual_server 192.0.2.1 80 {{\n{server}\n real_server 192.0.2.10 80 {{\n \
                 weight {weight}\n{real}\n }}\n}}\n"
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = config::parse_keepalived_str(&text, Path::new("fuzz.conf"));
        let _ = config::parse_toml_str(&text, Path::new("fuzz.toml"));
    }

    #[test]
    fn generated_configs_load_and_round_trip(text in valid_config()) {
        let loaded = config::parse_keepalived_str(&text, Path::new("gen.conf"));
        let loaded = loaded.map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let toml = config::to_toml(&loaded.config);
        let back = config::parse_toml_str(&toml, Path::new("gen.toml"));
        let back = back.map_err(|e| TestCaseError::fail(format!("{e}\n{toml}")))?;
        prop_assert_eq!(back.config, loaded.config, "{}", toml);
    }

    #[test]
    fn keepalived_like_text_never_panics_and_round_trips(text in keepalived_ish()) {
        if let Ok(loaded) = config::parse_keepalived_str(&text, Path::new("fuzz.conf")) {
            let toml = config::to_toml(&loaded.config);
            let back = config::parse_toml_str(&toml, Path::new("fuzz.toml"));
            let back = back.map_err(|e| TestCaseError::fail(format!("{e}\n{toml}")))?;
            prop_assert_eq!(back.config, loaded.config, "{}", toml);
        }
    }
}
