//! The configuration model shared by both front ends. Field names are the
//! keepalived.conf keyword names, so the TOML form reads like keepalived.conf.

mod bgp;
mod lvs;
mod routes;
mod syncd;
mod unicast;
mod values;
mod vrrp;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

pub use bgp::{Bfd, BgpAnnounce, BgpSpeaker, Community, Neighbor, DEFAULT_BIRD_SOCKET};
pub use lvs::{
    Checker, CheckerKind, GroupMember, RealServer, TunnelChecksum, TunnelKind, TunnelOptions, Url,
    VirtualServer, VirtualServerGroup,
};
pub use routes::{NextHop, Route, RouteKind, Rule};
pub use syncd::{LvsSyncDaemon, SYNC_IFNAME_MAX};
pub use unicast::UnicastPeer;
pub use values::{
    parse_prefixed, AuthType, Command, Endpoint, FastPath, HttpProtocol, LbAlgo, LbKind,
    NotifyFifo, Protocol, RunAs, State, StatusRange, TrackRef, VirtualIp,
};
pub use vrrp::{
    vmac_names, Authentication, GarpExtraIf, InitFile, ParamMatch, SyncGroup, TrackFile,
    TrackProcess, VrrpInstance, VrrpScript,
};

/// keepalived's nftables table when `nftables` names none.
pub const DEFAULT_NFTABLES_TABLE: &str = "keepalived";

/// A whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The network namespace (`ip netns` name) the daemon runs in; the
    /// command line's `--namespace` wins. Read at start only.
    pub net_namespace: Option<String>,
    /// A name that keeps this daemon's runtime files apart from other
    /// daemons' in the same namespace. Read at start only.
    pub instance: Option<String>,
    /// Settings for the whole daemon.
    pub global_defs: GlobalDefs,
    /// Tracking scripts.
    pub vrrp_script: Vec<VrrpScript>,
    /// Tracked files.
    pub track_file: Vec<TrackFile>,
    /// Tracked processes.
    pub vrrp_track_process: Vec<TrackProcess>,
    /// Groups of instances that fail over together.
    pub vrrp_sync_group: Vec<SyncGroup>,
    /// Virtual routers.
    pub vrrp_instance: Vec<VrrpInstance>,
    /// Named sets of services.
    pub virtual_server_group: Vec<VirtualServerGroup>,
    /// Load-balanced services.
    pub virtual_server: Vec<VirtualServer>,
    /// BGP announcement of virtual servers (our extension).
    pub bgp_speaker: Option<BgpSpeaker>,
    /// Addresses held from start to stop, whatever the VRRP state.
    pub static_ipaddress: Vec<VirtualIp>,
    /// Routes held from start to stop.
    pub static_routes: Vec<Route>,
    /// Routing rules held from start to stop.
    pub static_rules: Vec<Rule>,
    /// keepalived's `SSL { … }`: the client certificate SSL_GET presents.
    #[serde(rename = "SSL")]
    pub ssl: Option<SslClient>,
}

/// `SSL { certificate FILE key FILE }`: the certificate (chain, PEM) and
/// private key (PEM, unencrypted) every SSL_GET presents to servers that
/// ask for a client certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SslClient {
    /// The certificate chain file.
    pub certificate: Option<String>,
    /// The private key file.
    pub key: Option<String>,
}

/// `global_defs { … }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalDefs {
    /// Name of this node in mails and logs.
    pub router_id: Option<String>,
    /// Mail recipients.
    pub notification_email: Vec<String>,
    /// Mail sender.
    pub notification_email_from: Option<String>,
    /// Mail relay.
    pub smtp_server: Option<SmtpServer>,
    /// Seconds to wait for the mail relay.
    pub smtp_connect_timeout: Option<u32>,
    /// HELO name sent to the mail relay.
    pub smtp_helo_name: Option<String>,
    /// Refuse scripts writable by non-root users.
    pub enable_script_security: bool,
    /// Default user (and group) for scripts.
    pub script_user: Option<RunAs>,
    /// Default VRRP version, 2 or 3.
    pub vrrp_version: Option<u8>,
    /// IPv4 multicast group adverts are sent to and received on
    /// (224.0.0.18 when absent).
    pub vrrp_mcast_group4: Option<Ipv4Addr>,
    /// IPv6 multicast group adverts are sent to and received on (ff02::12
    /// when absent).
    pub vrrp_mcast_group6: Option<Ipv6Addr>,
    /// `check_unicast_src` for every instance.
    pub vrrp_check_unicast_src: bool,
    /// `vrrp_strict`: every instance without `strict_mode` runs RFC-strict
    /// VRRP (no accept mode by default, no authentication, no unicast...).
    pub vrrp_strict: bool,
    /// `nftables [TABLE]`: the nftables table (families `ip` and `ip6`)
    /// holding the drop rules of instances not in accept mode
    /// (`keepalived`, the default, is also used when such an instance
    /// exists and this is absent).
    pub nftables: Option<String>,
    /// `nftables_priority N`: the priority of the input/output hooks of
    /// that table (-1 when absent).
    pub nftables_priority: Option<i32>,
    /// `nftables_ifindex`: link-local IPv6 addresses are matched with the
    /// interface's index even with `dont_track_primary`.
    pub nftables_ifindex: bool,
    /// `nftables_counters`: the drop rules count what they drop.
    pub nftables_counters: bool,
    /// Seconds after start-up before VRRP instances start.
    pub vrrp_startup_delay: Option<f64>,
    /// Default `garp_master_delay` of instances.
    pub vrrp_garp_master_delay: Option<u32>,
    /// Default `garp_master_repeat` of instances.
    pub vrrp_garp_master_repeat: Option<u32>,
    /// Default `garp_master_refresh` of instances.
    pub vrrp_garp_master_refresh: Option<u32>,
    /// Default `garp_master_refresh_repeat` of instances.
    pub vrrp_garp_master_refresh_repeat: Option<u32>,
    /// Default `garp_lower_prio_delay` of instances (else `vrrp_garp_master_delay`).
    pub vrrp_garp_lower_prio_delay: Option<u32>,
    /// Default `garp_lower_prio_repeat` of instances (else `vrrp_garp_master_repeat`).
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    /// Default `garp_extra_if` of instances.
    pub vrrp_garp_extra_if: Option<GarpExtraIf>,
    /// `vrrp_min_garp`: the `vrrp_garp_master_*` defaults not set here
    /// become one gratuitous ARP/NA, no second burst, no refresh.
    pub vrrp_min_garp: bool,
    /// Minimum seconds between two gratuitous ARPs sent on one interface.
    pub vrrp_garp_interval: Option<f64>,
    /// Minimum seconds between two unsolicited NAs sent on one interface.
    pub vrrp_gna_interval: Option<f64>,
    /// Flush all IPVS rules at start-up.
    pub lvs_flush: bool,
    /// What to remove from IPVS at shutdown (alias `lvs_flush_on_stop`);
    /// the services this daemon programmed when absent.
    pub lvs_flush_onstop: Option<LvsFlushOnStop>,
    /// IPVS connection timeouts.
    pub lvs_timeouts: Option<LvsTimeouts>,
    /// IPVS connection synchronisation.
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    /// Interface for instances that do not name one.
    pub default_interface: Option<String>,
    /// Data path for virtual servers that do not choose one (our extension).
    pub fast_path: Option<FastPath>,
    /// Entries of the XDP fast path's connection table (our extension;
    /// `lb_common::DEFAULT_FLOWS` when absent; rounded up to a power of two
    /// of 4-entry sets; read at start).
    pub fast_path_flows: Option<u32>,
    /// Where to serve Prometheus `/metrics` (our extension; off when
    /// absent; `--metrics-listen` overrides it).
    pub metrics_listen: Option<SocketAddr>,
    /// FIFO receiving every VRRP and LVS state-change line.
    pub notify_fifo: Option<NotifyFifo>,
    /// Started with `notify_fifo`'s path as its last argument, to read it.
    pub notify_fifo_script: Option<Command>,
    /// FIFO receiving the VRRP lines (`INSTANCE`/`GROUP`).
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    /// Started with `vrrp_notify_fifo`'s path as its last argument.
    pub vrrp_notify_fifo_script: Option<Command>,
    /// FIFO receiving the LVS lines (`VS`/`RS`).
    pub lvs_notify_fifo: Option<NotifyFifo>,
    /// Started with `lvs_notify_fifo`'s path as its last argument.
    pub lvs_notify_fifo_script: Option<Command>,
}

/// `smtp_server HOST [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpServer {
    /// Address or host name.
    pub host: String,
    /// Port (25 when absent).
    pub port: Option<u16>,
}

/// `lvs_flush_onstop [VS]`: what goes from IPVS when the daemon stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LvsFlushOnStop {
    /// `lvs_flush_onstop`: every IPVS service, ours or not.
    #[serde(rename = "full")]
    Full,
    /// `lvs_flush_onstop VS`: the virtual servers this daemon programmed.
    #[serde(rename = "VS")]
    Vs,
}

/// `lvs_timeouts [tcp N] [tcpfin N] [udp N]`, in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LvsTimeouts {
    /// Established TCP connections.
    pub tcp: Option<u32>,
    /// TCP connections after FIN.
    pub tcpfin: Option<u32>,
    /// UDP flows.
    pub udp: Option<u32>,
}
