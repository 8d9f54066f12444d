//! The keywords keepalived accepts that lb-daemon does not implement, by
//! block, with what each does in keepalived (see [`super::keywords`] for
//! the two classes). A keyword goes in a `REFUSED` list when running without
//! it would change failover, forwarding or security; in an `IGNORED` list
//! only when it is cosmetic, logging, SNMP/DBus or process tuning.

use super::keywords::Missing;

/// Top-level blocks.
pub const TOP_REFUSED: &[Missing] = &[
    ("bfd_instance", "BFD sessions"),
    ("garp_group", "gratuitous ARP/NA groups"),
    ("interface_up_down_delays", "debounced interface state"),
    ("namespace_with_ipsets", "ipsets inside a network namespace"),
    ("net_namespace_ipvs", "IPVS in another network namespace"),
    ("track_group", "tracking groups"),
];

/// `SSL`.
pub const SSL_REFUSED: &[Missing] = &[("password", "encrypted private keys")];

/// `SSL`: keepalived loads the file, but its SSL_GET verifies no server.
pub const SSL_IGNORED: &[Missing] = &[("ca", "verifying servers with a CA")];

/// Top-level keywords that only name files or tune the process.
pub const TOP_IGNORED: &[Missing] = &[
    ("child_wait_time", "child process shutdown wait"),
    ("linkbeat_interfaces", "link state by polling"),
    ("linkbeat_use_polling", "link state by polling"),
    ("use_pid_dir", "pid file directory"),
];

/// `global_defs`.
pub const GLOBAL_REFUSED: &[Missing] = &[
    (
        "dynamic_interfaces",
        "instances on interfaces created later",
    ),
    (
        "fifo_write_vrrp_states_on_reload",
        "state notifications through a FIFO",
    ),
    ("nftables_ipvs", "nftables rules for IPVS"),
    ("nftables_ipvs_priority", "nftables rules for IPVS"),
    ("nftables_ipvs_start_fwmark", "nftables rules for IPVS"),
    (
        "rs_init_notifies",
        "notify scripts for real servers' first state",
    ),
    (
        "set_supplementary_groups",
        "scripts with the user's supplementary groups",
    ),
    ("shutdown_script", "a script run at shutdown"),
    ("shutdown_script_timeout", "a script run at shutdown"),
    ("startup_script", "a script run at start-up"),
    ("startup_script_timeout", "a script run at start-up"),
    (
        "v3_checksum_as_v2",
        "VRRPv3 checksums of old keepalived versions",
    ),
    ("vrrp_delay_after_boot", "VRRP start delayed after boot"),
    (
        "vrrp_down_timer_adverts",
        "missed adverts before taking over",
    ),
    (
        "vrrp_higher_prio_send_advert",
        "adverts on higher-priority adverts",
    ),
    ("vrrp_ipsets", "ipsets for accept mode"),
    ("vrrp_iptables", "iptables rules for accept mode"),
    (
        "vrrp_lower_prio_no_advert",
        "silence on lower-priority adverts",
    ),
    (
        "vrrp_notify_priority_changes",
        "notifications of priority changes",
    ),
    (
        "vrrp_owner_ignore_adverts",
        "address owners ignoring adverts",
    ),
    (
        "vrrp_skip_check_adv_addr",
        "skipping the advert address check",
    ),
];

/// `global_defs` keywords for logging, monitoring, dumps and process tuning.
pub const GLOBAL_IGNORED: &[Missing] = &[
    ("bfd_cpu_affinity", "BFD process tuning"),
    ("bfd_no_swap", "BFD process tuning"),
    ("bfd_priority", "BFD process tuning"),
    ("bfd_process_name", "BFD process name"),
    ("bfd_rlimit_rtime", "BFD process tuning"),
    ("bfd_rlimit_rttime", "BFD process tuning"),
    ("bfd_rt_priority", "BFD process tuning"),
    ("checker_cpu_affinity", "checker process tuning"),
    ("checker_log_all_failures", "logging every checker failure"),
    ("checker_no_swap", "checker process tuning"),
    ("checker_priority", "checker process tuning"),
    ("checker_process_name", "checker process name"),
    ("checker_rlimit_rtime", "checker process tuning"),
    ("checker_rlimit_rttime", "checker process tuning"),
    ("checker_rt_priority", "checker process tuning"),
    ("config_save_dir", "saving the configuration"),
    ("data_use_instance", "per-instance dump file names"),
    ("dbus_no_interface_name", "DBus"),
    ("dbus_service_name", "DBus"),
    ("disable_local_igmp", "IGMP reports on the interface"),
    ("enable_dbus", "DBus"),
    ("enable_snmp_checker", "SNMP"),
    ("enable_snmp_keepalived", "SNMP"),
    ("enable_snmp_rfc", "SNMP"),
    ("enable_snmp_rfcv2", "SNMP"),
    ("enable_snmp_rfcv3", "SNMP"),
    ("enable_snmp_vrrp", "SNMP"),
    ("enable_traps", "SNMP traps"),
    ("iproute_etc_dir", "iproute2 name tables"),
    ("iproute_usr_dir", "iproute2 name tables"),
    ("json_dump_file", "JSON state dumps"),
    ("json_version", "JSON state dumps"),
    ("log_unknown_vrids", "logging adverts of unknown VRIDs"),
    ("lvs_netlink_cmd_rcv_bufs", "netlink buffer sizes"),
    ("lvs_netlink_cmd_rcv_bufs_force", "netlink buffer sizes"),
    ("lvs_netlink_monitor_rcv_bufs", "netlink buffer sizes"),
    ("lvs_netlink_monitor_rcv_bufs_force", "netlink buffer sizes"),
    ("lvs_process_name", "checker process name"),
    ("max_auto_priority", "real-time scheduling"),
    ("min_auto_priority_delay", "real-time scheduling"),
    ("no_checker_emails", "checker email alerts"),
    ("no_email_faults", "email alerts on FAULT"),
    ("process_monitor_rcv_bufs", "netlink buffer sizes"),
    ("process_monitor_rcv_bufs_force", "netlink buffer sizes"),
    ("process_name", "process names"),
    ("process_names", "process names"),
    ("random_seed", "the random seed"),
    (
        "reload_check_config",
        "checking the configuration on reload",
    ),
    ("reload_file", "scheduled reloads"),
    ("reload_repeat", "scheduled reloads"),
    ("reload_time_file", "scheduled reloads"),
    ("smtp_alert", "email alerts by default"),
    ("smtp_alert_checker", "checker email alerts"),
    ("smtp_alert_vrrp", "VRRP email alerts by default"),
    ("snmp_rs_stats_update_interval", "SNMP"),
    ("snmp_socket", "SNMP"),
    ("snmp_vs_stats_update_interval", "SNMP"),
    ("state_dump_file", "state dumps"),
    ("stats_dump_file", "statistics dumps"),
    ("tmp_config_directory", "temporary configuration files"),
    ("umask", "the mode of files keepalived writes"),
    (
        "use_symlink_paths",
        "script paths checked without resolving links",
    ),
    ("vmac_addr_prefix", "virtual MAC interface names"),
    ("vmac_prefix", "virtual MAC interface names"),
    ("vrrp_cpu_affinity", "VRRP process tuning"),
    ("vrrp_netlink_cmd_rcv_bufs", "netlink buffer sizes"),
    ("vrrp_netlink_cmd_rcv_bufs_force", "netlink buffer sizes"),
    ("vrrp_netlink_monitor_rcv_bufs", "netlink buffer sizes"),
    (
        "vrrp_netlink_monitor_rcv_bufs_force",
        "netlink buffer sizes",
    ),
    ("vrrp_no_swap", "VRRP process tuning"),
    ("vrrp_priority", "VRRP process tuning"),
    ("vrrp_process_name", "VRRP process name"),
    ("vrrp_rlimit_rtime", "VRRP process tuning"),
    ("vrrp_rlimit_rttime", "VRRP process tuning"),
    ("vrrp_rt_priority", "VRRP process tuning"),
    ("vrrp_rx_bufs_multiplier", "receive buffer sizes"),
    ("vrrp_rx_bufs_policy", "receive buffer sizes"),
];

/// `vrrp_instance`.
pub const INSTANCE_REFUSED: &[Missing] = &[
    ("auth_hmac", "HMAC authentication of adverts"),
    ("down_timer_adverts", "missed adverts before taking over"),
    (
        "higher_prio_send_advert",
        "adverts on higher-priority adverts",
    ),
    ("lower_prio_no_advert", "silence on lower-priority adverts"),
    ("mcast_dst_ip", "adverts to another multicast group"),
    ("notify_deleted", "a script when the instance is deleted"),
    (
        "notify_master_rx_lower_pri",
        "a script on lower-priority adverts",
    ),
    (
        "notify_priority_changes",
        "notifications of priority changes",
    ),
    (
        "old_unicast_checksum",
        "unicast checksums of old keepalived versions",
    ),
    ("owner_ignore_adverts", "address owners ignoring adverts"),
    ("skip_check_adv_addr", "skipping the advert address check"),
    ("thread_timer_expired", "BACKUP after the master down timer"),
    ("timer_expired_backup", "BACKUP after the master down timer"),
    ("track_bfd", "failover on BFD state"),
    ("track_src_ip", "failover on the source address"),
    ("use_ipvlan", "ipvlan interfaces"),
    ("use_vmac_addr", "virtual MAC interfaces"),
    (
        "v3_checksum_as_v2",
        "VRRPv3 checksums of old keepalived versions",
    ),
    ("vrf", "running in a VRF"),
];

/// `vrrp_instance` keywords for logging and tuning.
pub const INSTANCE_IGNORED: &[Missing] = &[
    ("debug", "debug logging"),
    ("kernel_rx_buf_size", "receive buffer sizes"),
    ("linkbeat_use_polling", "link state by polling"),
];

/// `vrrp_sync_group`.
pub const SYNC_GROUP_REFUSED: &[Missing] = &[
    ("global_tracking", "group-wide tracking"),
    (
        "notify_priority_changes",
        "notifications of priority changes",
    ),
    (
        "sync_group_tracking_weight",
        "tracking weights in sync groups",
    ),
    ("track_bfd", "failover on BFD state"),
];

/// `virtual_server`.
pub const VIRTUAL_SERVER_REFUSED: &[Missing] = &[("ip_family", "IPv6 firewall-mark services")];

/// `virtual_server` keywords for monitoring and flags the kernel ignores.
pub const VIRTUAL_SERVER_IGNORED: &[Missing] = &[
    ("hashed", "the IPVS hashed flag"),
    ("smtp_alert", "checker email alerts"),
    ("snmp_name", "SNMP"),
];

/// `real_server`.
pub const REAL_SERVER_REFUSED: &[Missing] = &[("BFD_CHECK", "BFD health checks")];

/// `real_server` keywords for monitoring.
pub const REAL_SERVER_IGNORED: &[Missing] = &[
    ("smtp_alert", "checker email alerts"),
    ("snmp_name", "SNMP"),
];

/// Every checker block.
pub const CHECKER_REFUSED: &[Missing] = &[
    ("fast_recovery", "TCP fast recovery of HTTP checks"),
    ("fwmark", "marked checker traffic"),
    ("tls_compliant", "TLS-compliant connection shutdown"),
];

/// Checker keywords for logging.
pub const CHECKER_IGNORED: &[Missing] = &[("log_all_failures", "logging every failure")];

/// `url` of HTTP_GET / SSL_GET.
pub const URL_REFUSED: &[Missing] = &[
    ("regex_max_offset", "regex matching within an offset range"),
    ("regex_min_offset", "regex matching within an offset range"),
    ("regex_options", "regex options"),
    ("tls_compliant", "TLS-compliant connection shutdown"),
];

/// `url` keywords for tuning.
pub const URL_IGNORED: &[Missing] = &[("regex_stack", "regex JIT stack size")];
