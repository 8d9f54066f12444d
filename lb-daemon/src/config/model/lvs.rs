//! Load-balancing blocks: `virtual_server_group`, `virtual_server`,
//! `real_server` and the health checkers.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::values::{
    Command, Endpoint, FastPath, HttpProtocol, LbAlgo, LbKind, Protocol, RunAs, StatusRange,
};

/// `lb_kind TUN type ipip|gue|gre [port N] [nocsum|csum|remcsum]`: how
/// IPVS encapsulates (Linux 5.2+ for GUE, 5.3+ for GRE and checksums).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelOptions {
    /// Encapsulation.
    #[serde(rename = "type")]
    pub kind: TunnelKind,
    /// GUE destination port (required for GUE, refused otherwise).
    pub port: Option<u16>,
    /// Checksum option (`nocsum` when absent).
    pub checksum: Option<TunnelChecksum>,
}

/// `type` of [`TunnelOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum TunnelKind {
    Ipip,
    Gue,
    Gre,
}

/// Checksum option of [`TunnelOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelChecksum {
    /// No checksum.
    Nocsum,
    /// Checksum in the encapsulation.
    Csum,
    /// Remote checksum offload (GUE only).
    Remcsum,
}

/// `virtual_server_group NAME { … }`: services that share one configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VirtualServerGroup {
    /// Group name, used by `virtual_server group NAME`.
    pub name: String,
    /// The services (`ADDR PORT`, `ADDR-END PORT`, `fwmark N`).
    pub member: Vec<GroupMember>,
}

/// One line of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupMember {
    /// First address of the service (absent for a fwmark).
    pub address: Option<IpAddr>,
    /// Last value of the final address part for a range (`192.0.2.1-10`).
    pub range_end: Option<u16>,
    /// Service port.
    pub port: Option<u16>,
    /// Firewall mark instead of an address.
    pub fwmark: Option<u32>,
}

/// `virtual_server ADDR PORT | fwmark N | group NAME { … }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VirtualServer {
    /// Virtual address (with `port`).
    pub address: Option<IpAddr>,
    /// Virtual port.
    pub port: Option<u16>,
    /// Firewall mark service instead of an address.
    pub fwmark: Option<u32>,
    /// `virtual_server_group` name instead of an address.
    pub group: Option<String>,
    /// Seconds between health checks.
    pub delay_loop: Option<f64>,
    /// Scheduler.
    pub lb_algo: Option<LbAlgo>,
    /// Forwarding method.
    pub lb_kind: Option<LbKind>,
    /// Tunnel options of `lb_kind TUN type …` (for real servers without
    /// their own, and the sorry server).
    pub tunnel: Option<TunnelOptions>,
    /// Seconds a client sticks to its real server.
    pub persistence_timeout: Option<u32>,
    /// Netmask (or prefix length) grouping clients for persistence.
    pub persistence_granularity: Option<String>,
    /// Transport protocol.
    pub protocol: Option<Protocol>,
    /// Suspend checks while the VRRP instance owning the address is backup.
    pub ha_suspend: bool,
    /// Host header for HTTP checks.
    pub virtualhost: Option<String>,
    /// Start real servers as failed until their first check succeeds.
    pub alpha: bool,
    /// Weight of real servers that do not set their own (1 when absent).
    pub weight: Option<u32>,
    /// Run `quorum_down` when the service is removed.
    pub omega: bool,
    /// Minimum total weight of live real servers.
    pub quorum: Option<u32>,
    /// Margin around `quorum` before the state flips.
    pub hysteresis: Option<u32>,
    /// Run when the quorum is met.
    pub quorum_up: Option<Command>,
    /// Run when the quorum is lost.
    pub quorum_down: Option<Command>,
    /// Server used when no real server is alive.
    pub sorry_server: Option<Endpoint>,
    /// Set the sorry server's weight to 0 instead of removing it.
    pub sorry_server_inhibit: bool,
    /// Forwarding method for the sorry server.
    pub sorry_server_lvs_method: Option<LbKind>,
    /// Set weight to 0 instead of removing a failed real server.
    pub inhibit_on_failure: bool,
    /// Checker retries before a real server is down.
    pub retry: Option<u32>,
    /// Seconds between retries.
    pub delay_before_retry: Option<f64>,
    /// Maximum random delay, in seconds, before the first check.
    pub warmup: Option<f64>,
    /// Seconds a checker connection may take.
    pub connect_timeout: Option<f64>,
    /// One-packet scheduling (UDP).
    pub ops: bool,
    /// `sh-port`: the `sh` scheduler hashes the source port too.
    #[serde(rename = "sh-port")]
    pub sh_port: bool,
    /// `sh-fallback`: `sh` picks another server when the hashed one is
    /// unavailable.
    #[serde(rename = "sh-fallback")]
    pub sh_fallback: bool,
    /// `mh-port`: the `mh` scheduler hashes the source port too.
    #[serde(rename = "mh-port")]
    pub mh_port: bool,
    /// `mh-fallback`: `mh` picks another server when the hashed one is
    /// unavailable.
    #[serde(rename = "mh-fallback")]
    pub mh_fallback: bool,
    /// `flag-1`: IPVS scheduler flag 1, whatever the scheduler.
    #[serde(rename = "flag-1")]
    pub flag_1: bool,
    /// `flag-2`: IPVS scheduler flag 2.
    #[serde(rename = "flag-2")]
    pub flag_2: bool,
    /// `flag-3`: IPVS scheduler flag 3.
    #[serde(rename = "flag-3")]
    pub flag_3: bool,
    /// Persistence engine (`sip`).
    pub persistence_engine: Option<String>,
    /// Data path (our extension); `global_defs.fast_path` when absent.
    pub fast_path: Option<FastPath>,
    /// Announce the address over BGP (our extension; needs `bgp_speaker`).
    pub bgp_announce: Option<super::BgpAnnounce>,
    /// The real servers behind the service.
    pub real_server: Vec<RealServer>,
}

/// `real_server ADDR PORT { … }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealServer {
    /// Address of the server.
    pub address: IpAddr,
    /// Port of the server (the virtual port when absent).
    pub port: Option<u16>,
    /// Scheduling weight (the virtual server's `weight`, else 1, when absent).
    pub weight: Option<u32>,
    /// Set weight to 0 instead of removing it when it fails.
    #[serde(default)]
    pub inhibit_on_failure: bool,
    /// Checkers start failed (the virtual server's `alpha` when absent).
    pub alpha: Option<bool>,
    /// Host header for this server's HTTP checks that set none.
    pub virtualhost: Option<String>,
    /// Run when the server comes up.
    pub notify_up: Option<Command>,
    /// Run when the server goes down.
    pub notify_down: Option<Command>,
    /// Upper connection threshold.
    pub uthreshold: Option<u32>,
    /// Lower connection threshold.
    pub lthreshold: Option<u32>,
    /// Forwarding method for this server (alias `lb_kind`).
    pub lvs_method: Option<LbKind>,
    /// Tunnel options of `lvs_method TUN type …`.
    pub tunnel: Option<TunnelOptions>,
    /// Checker retries before the server is down.
    pub retry: Option<u32>,
    /// Seconds between retries.
    pub delay_before_retry: Option<f64>,
    /// Maximum random delay, in seconds, before the first check.
    pub warmup: Option<f64>,
    /// Seconds between checks.
    pub delay_loop: Option<f64>,
    /// Seconds a checker connection may take.
    pub connect_timeout: Option<f64>,
    /// Health checkers; the server is up while all of them pass.
    #[serde(default)]
    pub checker: Vec<Checker>,
}

impl RealServer {
    /// A real server at `address` and `port` with nothing else set.
    pub fn new(address: IpAddr, port: Option<u16>) -> RealServer {
        RealServer {
            address,
            port,
            weight: None,
            inhibit_on_failure: false,
            alpha: None,
            virtualhost: None,
            notify_up: None,
            notify_down: None,
            uthreshold: None,
            lthreshold: None,
            lvs_method: None,
            tunnel: None,
            retry: None,
            delay_before_retry: None,
            warmup: None,
            delay_loop: None,
            connect_timeout: None,
            checker: Vec::new(),
        }
    }

    /// Scheduling weight: the server's own, else `vs`'s default, else 1
    /// (keepalived's `effective_weight`).
    pub fn effective_weight(&self, vs: &VirtualServer) -> u32 {
        self.weight.or(vs.weight).unwrap_or(1)
    }
}

/// Which health check a [`Checker`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum CheckerKind {
    #[default]
    TcpCheck,
    HttpGet,
    SslGet,
    MiscCheck,
    SmtpCheck,
    DnsCheck,
    UdpCheck,
    PingCheck,
    FileCheck,
}

/// One health-check block (`TCP_CHECK { … }`, `HTTP_GET { … }` …); in TOML a
/// `[[…real_server.checker]]` table with `type = "HTTP_GET"`. Settings that do
/// not belong to the kind are rejected by validation. `type` is required in
/// TOML; `Default` exists only to build checkers with `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checker {
    /// The kind of check, spelled as the keepalived block keyword.
    #[serde(rename = "type")]
    pub kind: CheckerKind,
    /// Address to check (the real server's by default).
    pub connect_ip: Option<IpAddr>,
    /// Port to check (the real server's by default).
    pub connect_port: Option<u16>,
    /// Source address of checks.
    pub bindto: Option<IpAddr>,
    /// Source port of checks.
    pub bind_port: Option<u16>,
    /// Source interface of checks.
    pub bind_if: Option<String>,
    /// Seconds a connection may take.
    pub connect_timeout: Option<f64>,
    /// Retries before the check fails (alias `nb_get_retry`).
    pub retry: Option<u32>,
    /// Seconds between retries.
    pub delay_before_retry: Option<f64>,
    /// Maximum random delay, in seconds, before the first check.
    pub warmup: Option<f64>,
    /// Seconds between checks.
    pub delay_loop: Option<f64>,
    /// Start failed until the first success (the real server's `alpha`,
    /// else the virtual server's, when absent).
    pub alpha: Option<bool>,
    /// HTTP_GET / SSL_GET: URLs to fetch.
    #[serde(default)]
    pub url: Vec<Url>,
    /// HTTP_GET / SSL_GET: protocol version.
    pub http_protocol: Option<HttpProtocol>,
    /// HTTP_GET / SSL_GET: Host header.
    pub virtualhost: Option<String>,
    /// SSL_GET: send SNI.
    #[serde(default)]
    pub enable_sni: bool,
    /// SSL_GET: the name SNI sends (instead of the `virtualhost`); in
    /// keepalived.conf it also turns `enable_sni` on.
    pub sni_name: Option<String>,
    /// MISC_CHECK: command to run.
    pub misc_path: Option<String>,
    /// MISC_CHECK: seconds the command may run.
    pub misc_timeout: Option<u32>,
    /// MISC_CHECK: exit codes above 1 set the weight.
    #[serde(default)]
    pub misc_dynamic: bool,
    /// MISC_CHECK: user (and group) to run as.
    pub user: Option<RunAs>,
    /// SMTP_CHECK: HELO name.
    pub helo_name: Option<String>,
    /// DNS_CHECK: query type (keyword `type` in keepalived.conf).
    pub dns_type: Option<String>,
    /// DNS_CHECK: name to query.
    pub name: Option<String>,
    /// UDP_CHECK: payload to send, in hex.
    pub payload: Option<String>,
    /// UDP_CHECK: a reply is required; when non-empty, it must match this hex.
    pub require_reply: Option<String>,
    /// UDP_CHECK: shortest acceptable reply.
    pub min_reply_length: Option<u32>,
    /// UDP_CHECK: longest acceptable reply.
    pub max_reply_length: Option<u32>,
    /// FILE_CHECK: the `track_file` to follow.
    pub track_file: Option<String>,
    /// FILE_CHECK: multiplier for the file's value.
    pub weight: Option<i32>,
}

impl Checker {
    /// Whether the checker starts failed: its own `alpha`, else the real
    /// server's, else the virtual server's (keepalived's defaults chain).
    pub fn starts_down(&self, rs: &RealServer, vs: &VirtualServer) -> bool {
        self.alpha.or(rs.alpha).unwrap_or(vs.alpha)
    }
}

/// `url { … }` of an HTTP_GET / SSL_GET checker.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Url {
    /// Path to request.
    pub path: Option<String>,
    /// Expected MD5 of the body, in hex.
    pub digest: Option<String>,
    /// Accepted status codes (any 2xx when empty).
    pub status_code: Vec<StatusRange>,
    /// Regular expression the body must match.
    pub regex: Option<String>,
    /// Succeed when `regex` does not match.
    pub regex_no_match: bool,
    /// Host header for this URL.
    pub virtualhost: Option<String>,
}
