//! Keyword tables of `global_defs` and the VRRP blocks.

use super::args::Weight;
use super::bind::{flag, list, set, Binder};
use super::keywords::{Block, Keyword};
use super::parser::Stmt;
use crate::config::model::{
    Authentication, GlobalDefs, SyncGroup, TrackFile, VrrpInstance, VrrpScript,
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
        set!(vrrp_garp_master_delay),
        set!(vrrp_garp_master_repeat),
        set!(vrrp_garp_master_refresh),
        set!(vrrp_garp_master_refresh_repeat),
        flag!(vrrp_strict),
        flag!(lvs_flush),
        set!(lvs_flush_onstop, "lvs_flush_on_stop"),
        set!(lvs_timeouts),
        flag!(checker_log_all_failures),
        set!(default_interface),
        set!(fast_path),
        set!(metrics_listen),
        set!(notify_fifo),
        set!(notify_fifo_script),
        set!(vrrp_notify_fifo),
        set!(vrrp_notify_fifo_script),
        set!(lvs_notify_fifo),
        set!(lvs_notify_fifo_script),
    ],
    unsupported: &[
        "bfd_priority",
        "bfd_rlimit_rttime",
        "checker_cpu_affinity",
        "checker_no_swap",
        "checker_priority",
        "checker_rlimit_rttime",
        "checker_rt_priority",
        "dbus_service_name",
        "dynamic_interfaces",
        "enable_dbus",
        "enable_snmp_checker",
        "enable_snmp_keepalived",
        "enable_snmp_rfc",
        "enable_snmp_rfcv2",
        "enable_snmp_rfcv3",
        "enable_snmp_vrrp",
        "enable_traps",
        "fifo_write_vrrp_states_on_reload",
        "linkbeat_use_polling",
        "local_name",
        "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs",
        "lvs_sync_daemon",
        "max_auto_priority",
        "min_auto_priority_delay",
        "namespace_with_ipsets",
        "net_namespace",
        "nftables",
        "nftables_counters",
        "nftables_ifindex",
        "nftables_priority",
        "no_email_faults",
        "process_monitor_rcv_bufs",
        "random_seed",
        "reload_check_config",
        "reload_time_file",
        "script_security",
        "smtp_alert",
        "smtp_alert_checker",
        "smtp_alert_vrrp",
        "snmp_socket",
        "startup_script",
        "shutdown_script",
        "tmp_config_directory",
        "umask",
        "vmac_xmit_base",
        "vrrp_cpu_affinity",
        "vrrp_garp_extra_if",
        "vrrp_garp_interval",
        "vrrp_garp_lower_prio_delay",
        "vrrp_garp_lower_prio_repeat",
        "vrrp_gna_interval",
        "vrrp_higher_prio_send_advert",
        "vrrp_ipsets",
        "vrrp_iptables",
        "vrrp_lower_prio_no_advert",
        "vrrp_min_garp",
        "vrrp_netlink_cmd_rcv_bufs",
        "vrrp_netlink_monitor_rcv_bufs",
        "vrrp_no_swap",
        "vrrp_priority",
        "vrrp_rlimit_rttime",
        "vrrp_rt_priority",
        "vrrp_skip_check_adv_addr",
        "vrrp_startup_delay",
    ],
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
    unsupported: &[],
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
    unsupported: &[],
};

static AUTHENTICATION: Block<Authentication> = Block {
    name: "authentication",
    keywords: &[set!(auth_type), set!(auth_pass)],
    unsupported: &[],
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
        set!(unicast_src_ip),
        list!(unicast_peer),
        set!(mcast_src_ip),
        flag!(check_unicast_src),
        list!(track_interface),
        list!(track_script),
        list!(track_file),
        flag!(nopreempt),
        set!(preempt_delay),
        set!(garp_master_delay),
        set!(garp_master_repeat),
        set!(garp_master_refresh),
        set!(garp_master_refresh_repeat),
        set!(notify_master),
        set!(notify_backup),
        set!(notify_fault),
        set!(notify_stop),
        set!(notify),
        flag!(smtp_alert),
        flag!(dont_track_primary),
        flag!(accept),
        flag!(no_accept),
        flag!(strict_mode),
    ],
    unsupported: &[
        "debug",
        "down_timer_adverts",
        "garp_extra_if",
        "garp_lower_prio_delay",
        "garp_lower_prio_repeat",
        "higher_prio_send_advert",
        "kernel_rx_buf_size",
        "linkbeat_use_polling",
        "lower_prio_no_advert",
        "lvs_sync_daemon_interface",
        "mcast_dst_ip",
        "notify_deleted",
        "notify_master_rx_lower_pri",
        "old_unicast_checksum",
        "preempt",
        "skip_check_adv_addr",
        "track_bfd",
        "track_process",
        "track_src_ip",
        "unicast_fault_no_peer",
        "unicast_ttl",
        "use_ipvlan",
        "use_vmac",
        "virtual_routes",
        "virtual_rules",
        "vmac_xmit_base",
    ],
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
    ],
    unsupported: &[
        "global_tracking",
        "notify_priority_changes",
        "sync_group_tracking_weight",
        "track_bfd",
        "track_process",
    ],
};
