//! Keyword tables of `global_defs` and the VRRP blocks.

use std::net::IpAddr;

use super::args::{ArgError, FromArgs, Weight};
use super::bind::{flag, list, set, Binder, Block, Keyword};
use super::missing;
use super::parser::{Stmt, Word};
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
        set!(vrrp_startup_delay),
        set!(vrrp_garp_master_delay),
        set!(vrrp_garp_master_repeat),
        set!(vrrp_garp_master_refresh),
        set!(vrrp_garp_master_refresh_repeat),
        set!(vrrp_garp_lower_prio_delay),
        set!(vrrp_garp_lower_prio_repeat),
        set!(vrrp_garp_interval),
        set!(vrrp_gna_interval),
        flag!(lvs_flush),
        set!(lvs_flush_onstop, "lvs_flush_on_stop"),
        set!(lvs_timeouts),
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
        set!(mcast_src_ip),
        flag!(check_unicast_src),
        list!(track_interface),
        list!(track_script),
        list!(track_file),
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
        set!(notify_master),
        set!(notify_backup),
        set!(notify_fault),
        set!(notify_stop),
        set!(notify),
        flag!(smtp_alert),
        flag!(dont_track_primary),
        flag!(accept),
    ],
    refused: missing::INSTANCE_REFUSED,
    ignored: missing::INSTANCE_IGNORED,
};

/// A `unicast_peer` line. keepalived's `min_ttl` / `max_ttl` options would
/// drop adverts whose TTL is out of range: they are refused by name.
struct PeerLine(IpAddr);

impl FromArgs for PeerLine {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let ttl = args
            .iter()
            .position(|w| w.text == "min_ttl" || w.text == "max_ttl");
        if let Some(index) = ttl {
            let message = format!(
                "unsupported: {} (a TTL range for the peer's adverts) is not implemented",
                args[index].text
            );
            return Err(ArgError::at(index, message));
        }
        IpAddr::from_args(args).map(PeerLine)
    }
}

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
    refused: missing::SYNC_GROUP_REFUSED,
    ignored: &[],
};
