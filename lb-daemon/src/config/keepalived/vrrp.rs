//! Keyword tables of `global_defs` and the VRRP blocks.

use super::args::Weight;
use super::bind::{flag, list, set, Binder, Block, Keyword};
use super::missing;
use super::parser::Stmt;
use super::vrrp_lines::{GarpExtraIfLine, NftTable, ParamMatchLine, PeerLine, UseVmac};
use crate::config::model::{
    Authentication, GlobalDefs, SyncGroup, TrackFile, TrackProcess, VrrpInstance, VrrpScript,
};

/// `global_defs`.
pub static GLOBAL: Block<GlobalDefs> = Block {
    name: "global_defs",
    keywords: &[
        set!(router_id),
        list!(notification_email),
        set!(notification_email_from),
        set!(smtp_server),
        set!(smtp_connect_timeout),
        set!(smtp_helo_name),
        flag!(enable_script_security),
        set!(script_user),
        set!(vrrp_version),
        set!(vrrp_mcast_group4),
        set!(vrrp_mcast_group6),
        flag!(vrrp_check_unicast_src),
        flag!(vrrp_strict),
        Keyword::new("nftables", |g, s, b| {
            if let Some(NftTable(name)) = b.value(s) {
                g.nftables = Some(name);
            }
        }),
        set!(nftables_priority),
        flag!(nftables_ifindex),
        flag!(nftables_counters),
        set!(vrrp_startup_delay),
        set!(vrrp_garp_master_delay),
        set!(vrrp_garp_master_repeat),
        set!(vrrp_garp_master_refresh),
        set!(vrrp_garp_master_refresh_repeat),
        set!(vrrp_garp_lower_prio_delay),
        set!(vrrp_garp_lower_prio_repeat),
        set!(vrrp_garp_interval),
        set!(vrrp_gna_interval),
        Keyword::aliased(
            "vrrp_garp_extra_if",
            &["vrrp_vmac_garp_intvl"],
            |g, s, b| {
                if let Some(GarpExtraIfLine(extra)) = b.value(s) {
                    g.vrrp_garp_extra_if = Some(extra);
                }
            },
        ),
        flag!(vrrp_min_garp),
        flag!(lvs_flush),
        set!(lvs_flush_onstop, "lvs_flush_on_stop"),
        set!(lvs_timeouts),
        set!(lvs_sync_daemon),
        set!(default_interface),
        set!(fast_path),
        set!(fast_path_flows),
        set!(metrics_listen),
        set!(notify_fifo),
        set!(notify_fifo_script),
        set!(vrrp_notify_fifo),
        set!(vrrp_notify_fifo_script),
        set!(lvs_notify_fifo),
        set!(lvs_notify_fifo_script),
        // The line reader applies it to the includes after it.
        Keyword::new("include_check", |_, _, _| {}),
    ],
    refused: missing::GLOBAL_REFUSED,
    ignored: missing::GLOBAL_IGNORED,
};

fn set_script_weight(script: &mut VrrpScript, statement: &Stmt, binder: &mut Binder) {
    if let Some(Weight { value, reverse }) = binder.value(statement) {
        (script.weight, script.reverse) = (Some(value), reverse);
    }
}

/// `vrrp_script NAME { … }`.
pub static SCRIPT: Block<VrrpScript> = Block {
    name: "vrrp_script",
    keywords: &[
        set!(script),
        set!(interval),
        set!(timeout),
        Keyword::new("weight", set_script_weight),
        set!(fall),
        set!(rise),
        set!(user),
        flag!(init_fail),
    ],
    refused: &[],
    ignored: &[],
};

fn set_file_weight(file: &mut TrackFile, statement: &Stmt, binder: &mut Binder) {
    if let Some(Weight { value, reverse }) = binder.value(statement) {
        (file.weight, file.reverse) = (Some(value), reverse);
    }
}

/// `track_file NAME { … }`.
pub static TRACK_FILE: Block<TrackFile> = Block {
    name: "track_file",
    keywords: &[
        set!(file),
        Keyword::new("weight", set_file_weight),
        set!(init_file),
    ],
    refused: &[],
    ignored: &[],
};

fn set_process_weight(process: &mut TrackProcess, statement: &Stmt, binder: &mut Binder) {
    if let Some(Weight { value, reverse }) = binder.value(statement) {
        (process.weight, process.reverse) = (Some(value), reverse);
    }
}

/// `vrrp_track_process NAME { … }`.
pub static TRACK_PROCESS: Block<TrackProcess> = Block {
    name: "vrrp_track_process",
    keywords: &[
        Keyword::new("process", |p, s, b| {
            p.process = b.value(s).unwrap_or_default()
        }),
        Keyword::new("param_match", |p, s, b| {
            p.param_match = b.value(s).map(|ParamMatchLine(m)| m)
        }),
        Keyword::new("weight", set_process_weight),
        set!(quorum),
        set!(quorum_max),
        set!(fork_delay),
        set!(terminate_delay),
        Keyword::new("delay", |p, s, b| {
            let delay: Option<f64> = b.value(s);
            (p.fork_delay, p.terminate_delay) = (delay, delay);
        }),
        flag!(full_command),
    ],
    refused: &[],
    ignored: &[],
};

static AUTHENTICATION: Block<Authentication> = Block {
    name: "authentication",
    keywords: &[set!(auth_type), set!(auth_pass)],
    refused: &[],
    ignored: &[],
};

/// `vrrp_instance NAME { … }`.
pub static INSTANCE: Block<VrrpInstance> = Block {
    name: "vrrp_instance",
    keywords: &[
        set!(state),
        set!(interface),
        set!(virtual_router_id),
        set!(priority),
        set!(advert_int),
        set!(version),
        flag!(native_ipv6),
        Keyword::new("authentication", |i, s, b| {
            let auth = i.authentication.get_or_insert_with(Default::default);
            b.body(s, "authentication", &AUTHENTICATION, auth)
        }),
        list!(virtual_ipaddress),
        list!(virtual_ipaddress_excluded),
        flag!(no_virtual_ipaddress),
        flag!(promote_secondaries),
        list!(virtual_routes),
        list!(virtual_rules),
        set!(unicast_src_ip),
        Keyword::new("unicast_peer", |i, s, b| {
            let peers = b.items::<PeerLine>(s, "unicast_peer", i.unicast_peer.len());
            i.unicast_peer
                .extend(peers.into_iter().map(|PeerLine(peer)| peer))
        }),
        set!(unicast_ttl),
        flag!(unicast_fault_no_peer),
        set!(mcast_src_ip),
        flag!(check_unicast_src),
        list!(track_interface),
        list!(track_script),
        list!(track_file),
        list!(track_process),
        flag!(nopreempt),
        Keyword::new("preempt", |i, s, b| {
            i.nopreempt = !b.value(s).unwrap_or(true)
        }),
        set!(preempt_delay),
        set!(garp_master_delay),
        set!(garp_master_repeat),
        set!(garp_master_refresh),
        set!(garp_master_refresh_repeat),
        set!(garp_lower_prio_delay),
        set!(garp_lower_prio_repeat),
        Keyword::aliased("garp_extra_if", &["vmac_garp_intvl"], |i, s, b| {
            if let Some(GarpExtraIfLine(extra)) = b.value(s) {
                i.garp_extra_if = Some(extra);
            }
        }),
        set!(notify_master),
        set!(notify_backup),
        set!(notify_fault),
        set!(notify_stop),
        set!(notify),
        flag!(smtp_alert),
        flag!(dont_track_primary),
        Keyword::new("accept", |i, s, b| i.accept = b.value(s).or(i.accept)),
        Keyword::new("no_accept", |i, s, b| {
            i.accept = b.value::<bool>(s).map(|no| !no).or(i.accept)
        }),
        set!(strict_mode),
        Keyword::new("use_vmac", |i, s, b| {
            if let Some(UseVmac(name)) = b.value(s) {
                (i.use_vmac, i.vmac_name) = (true, name);
            }
        }),
        flag!(vmac_xmit_base),
        set!(lvs_sync_daemon_interface),
    ],
    refused: missing::INSTANCE_REFUSED,
    ignored: missing::INSTANCE_IGNORED,
};

/// `vrrp_sync_group NAME { … }`.
pub static SYNC_GROUP: Block<SyncGroup> = Block {
    name: "vrrp_sync_group",
    keywords: &[
        list!(group),
        set!(notify_master),
        set!(notify_backup),
        set!(notify_fault),
        set!(notify_stop),
        set!(notify),
        flag!(smtp_alert),
        list!(track_interface),
        list!(track_script),
        list!(track_file),
        list!(track_process),
    ],
    refused: missing::SYNC_GROUP_REFUSED,
    ignored: &[],
};

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{parse_keepalived_str, parse_toml_str, to_toml};

    fn instance(name: &str, extra: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id 51\n{extra}\
             virtual_ipaddress {{\n 192.0.2.50\n }}\n}}\n"
        )
    }

    /// The errors reading `text` gives, as printed.
    fn errors(text: &str) -> Vec<String> {
        match parse_keepalived_str(text, Path::new("k.conf")) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn use_vmac_with_and_without_a_name() {
        let text = [
            instance("A", " use_vmac\n vmac_xmit_base\n"),
            instance("B", " use_vmac name vmac-b\n").replace("eth0", "eth1"),
            instance("C", " use_vmac vmac-c\n").replace("eth0", "eth2"),
        ]
        .concat();
        let loaded = parse_keepalived_str(&text, Path::new("k.conf")).unwrap();
        let instances = &loaded.config.vrrp_instance;
        let vmac = |i: usize| {
            let instance = &instances[i];
            let name = instance.vmac_name.as_deref();
            (instance.use_vmac, name, instance.vmac_xmit_base)
        };
        assert_eq!(vmac(0), (true, None, true));
        assert_eq!(vmac(1), (true, Some("vmac-b"), false));
        assert_eq!(vmac(2), (true, Some("vmac-c"), false));
        // The TOML form carries the same.
        let again = parse_toml_str(&to_toml(&loaded.config), Path::new("k.toml")).unwrap();
        assert_eq!(again.config.vrrp_instance, *instances);
    }

    #[test]
    fn garp_extra_if_lines_and_their_errors() {
        let text = format!(
            "global_defs {{\n vrrp_vmac_garp_intvl 30\n}}\n{}",
            instance("A", " garp_extra_if 5 all\n")
        );
        let loaded = parse_keepalived_str(&text, Path::new("k.conf")).unwrap();
        let global = loaded.config.global_defs.vrrp_garp_extra_if.unwrap();
        let own = loaded.config.vrrp_instance[0].garp_extra_if.unwrap();
        assert_eq!((global.interval, global.all), (30, false));
        assert_eq!((own.interval, own.all), (5, true));
        let again = parse_toml_str(&to_toml(&loaded.config), Path::new("k.toml")).unwrap();
        assert_eq!(again.config, loaded.config);
        let one = |extra: &str| errors(&instance("A", extra));
        assert_eq!(
            one(" garp_extra_if all\n"),
            ["k.conf:4:2: error: `garp_extra_if`: the interval is missing"]
        );
        assert_eq!(
            one(" garp_extra_if 5 6\n"),
            ["k.conf:4:18: error: `garp_extra_if`: unexpected `6`"]
        );
        assert_eq!(
            one(" garp_extra_if 86401\n"),
            ["k.conf:4:16: error: `garp_extra_if` must be 0-86400, not 86401"]
        );
        let global_zero = format!(
            "global_defs {{\n vrrp_garp_extra_if 0\n}}\n{}",
            instance("A", "")
        );
        assert_eq!(
            errors(&global_zero),
            ["k.conf:2:21: error: `vrrp_garp_extra_if` must be 1-86400, not 0"]
        );
    }

    #[test]
    fn keepalived_options_not_implemented_are_refused_by_name() {
        for (option, what) in [
            ("00:00:5e:00:01:", "with a MAC address of its own"),
            ("netlink_notify_msg", "netlink_notify_msg"),
            ("group 2", "group (the macvlan's link group)"),
        ] {
            let text = instance("A", &format!(" use_vmac vmac-a {option}\n"));
            assert_eq!(
                errors(&text),
                [format!(
                    "k.conf:4:18: error: `use_vmac`: unsupported: use_vmac {what} is not implemented"
                )],
                "{option}"
            );
        }
    }

    #[test]
    fn bad_names_and_lone_xmit_base_are_errors_naming_the_field() {
        let one = |extra: &str| errors(&instance("A", extra));
        let two = |a: &str, b: &str| {
            let b = instance("B", b).replace("eth0", "eth1");
            errors(&(instance("A", a) + &b))
        };
        let expect = |line: usize, col: usize, message: &str| {
            vec![format!("k.conf:{line}:{col}: error: {message}")]
        };
        assert_eq!(
            one(" use_vmac a-name-far-too-long\n"),
            expect(
                4,
                11,
                "`use_vmac` name `a-name-far-too-long` is not a valid interface name"
            )
        );
        assert_eq!(
            one(" use_vmac eth0\n"),
            expect(
                4,
                11,
                "`use_vmac` name `eth0` is a vrrp_instance's interface"
            )
        );
        assert_eq!(
            two(" use_vmac v\n", " use_vmac v\n"),
            expect(
                12,
                11,
                "`use_vmac` name `v` is already used by vrrp_instance `A`"
            )
        );
        assert_eq!(
            one(" vmac_xmit_base\n"),
            expect(4, 2, "`vmac_xmit_base` is only valid with `use_vmac`")
        );
        assert!(one(" use_vmac\n").is_empty());
    }
}

#[cfg(test)]
mod track_process_tests {
    use std::path::Path;

    use crate::config::{parse_keepalived_str, ParamMatch};

    fn read(body: &str) -> Result<crate::config::Loaded, Vec<String>> {
        let text = format!(
            "vrrp_track_process p {{\n{body}}}\nvrrp_instance V {{\n interface eth0\n \
             virtual_router_id 1\n track_process {{\n  p weight -10\n }}\n \
             virtual_ipaddress {{\n  192.0.2.50\n }}\n}}\n"
        );
        parse_keepalived_str(&text, Path::new("k.conf"))
            .map_err(|errors| errors.0.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn blocks_and_references_bind() {
        let loaded = read(
            " process /usr/sbin/haproxy -f \"/etc/a b.cfg\"\n param_match initial\n \
             weight -20 reverse\n quorum 2\n quorum_max 3\n delay 1.5\n full_command\n",
        )
        .unwrap();
        let p = &loaded.config.vrrp_track_process[0];
        assert_eq!(p.process, ["/usr/sbin/haproxy", "-f", "/etc/a b.cfg"]);
        assert_eq!(p.param_match, Some(ParamMatch::Initial));
        assert_eq!((p.weight, p.reverse), (Some(-20), true));
        assert_eq!((p.quorum, p.quorum_max), (Some(2), Some(3)));
        assert_eq!((p.fork_delay, p.terminate_delay), (Some(1.5), Some(1.5)));
        assert!(p.full_command);
        let entry = &loaded.config.vrrp_instance[0].track_process[0];
        assert_eq!((entry.name.as_str(), entry.weight), ("p", Some(-10)));
        let bare = read(" process x\n param_match\n").unwrap();
        let exact = bare.config.vrrp_track_process[0].param_match;
        assert_eq!(exact, Some(ParamMatch::Exact));
    }

    #[test]
    fn bad_blocks_are_errors_naming_the_field() {
        assert_eq!(
            read(" weight 5\n").unwrap_err(),
            ["k.conf:1:1: error: `process` is required here"]
        );
        assert_eq!(
            read(" process x\n param_match whole\n").unwrap_err(),
            ["k.conf:3:14: error: `param_match`: `whole` is not `initial` or `partial`"]
        );
        assert_eq!(
            read(" process x\n quorum 3\n quorum_max 2\n").unwrap_err(),
            ["k.conf:4:13: error: `quorum_max` is below `quorum` (3)"]
        );
    }
}
