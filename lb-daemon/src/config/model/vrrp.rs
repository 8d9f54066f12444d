//! VRRP blocks: `vrrp_script`, `track_file`, `vrrp_instance` and
//! `vrrp_sync_group`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::routes::{Route, Rule};
use super::unicast::UnicastPeer;
use super::values::{AuthType, Command, RunAs, State, TrackRef, VirtualIp};
use super::GlobalDefs;

/// `vrrp_script NAME { … }`: a command whose exit status adjusts priority.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VrrpScript {
    /// The name `track_script` refers to.
    pub name: String,
    /// Command line to run.
    pub script: Option<String>,
    /// Seconds between runs.
    pub interval: Option<u32>,
    /// Seconds after which a run counts as failed.
    pub timeout: Option<u32>,
    /// Priority change while the script fails (negative) or succeeds
    /// (positive); 0 means failure puts the instance in FAULT.
    pub weight: Option<i32>,
    /// Apply `weight` in reverse.
    pub reverse: bool,
    /// Failures in a row before the script is down.
    pub fall: Option<u32>,
    /// Successes in a row before the script is up.
    pub rise: Option<u32>,
    /// User (and group) to run as.
    pub user: Option<RunAs>,
    /// Start in the failed state.
    pub init_fail: bool,
}

/// `track_file NAME { … }` (also `vrrp_track_file`): a file holding a number
/// that adjusts priority.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackFile {
    /// The name `track_file` entries and FILE_CHECK refer to.
    pub name: String,
    /// Path of the watched file.
    pub file: Option<String>,
    /// Multiplier for the number in the file.
    pub weight: Option<i32>,
    /// Apply `weight` in reverse.
    pub reverse: bool,
    /// Create the file at start-up with this value (0 when empty).
    pub init_file: Option<InitFile>,
}

/// `init_file [VALUE] [overwrite]` of a `track_file`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitFile {
    /// Value to write.
    pub value: Option<i64>,
    /// Overwrite an existing file.
    pub overwrite: bool,
}

/// `vrrp_track_process NAME { … }`: how many processes of a command run
/// adjusts priority (or, with weight 0, puts instances in FAULT).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackProcess {
    /// The name `track_process` entries refer to.
    pub name: String,
    /// The command's name, then the parameters to match.
    pub process: Vec<String>,
    /// How the parameters match (exact when parameters are given).
    pub param_match: Option<ParamMatch>,
    /// Priority change while quorum is lost (negative) or held (positive);
    /// 0 means losing quorum puts the instance in FAULT.
    pub weight: Option<i32>,
    /// Apply `weight` in reverse.
    pub reverse: bool,
    /// Fewest matching processes for success (default 1).
    pub quorum: Option<u32>,
    /// Most matching processes for success (default unlimited).
    pub quorum_max: Option<u32>,
    /// Seconds quorum must hold before it counts as gained.
    pub fork_delay: Option<f64>,
    /// Seconds quorum must stay lost before it counts as lost.
    pub terminate_delay: Option<f64>,
    /// Match the command line's first word instead of the process name.
    pub full_command: bool,
}

/// `param_match` of a `vrrp_track_process`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamMatch {
    /// Exactly the parameters given (none when none are given).
    Exact,
    /// The parameters given first, then any others.
    Partial,
    /// As `partial`, the last one given only a prefix of the process's.
    Initial,
}

/// `garp_extra_if [all] N` of an instance, `vrrp_garp_extra_if` of
/// `global_defs`: while MASTER, one gratuitous ARP (or unsolicited NA) every
/// `interval` seconds on each interface holding the instance's addresses
/// that sends no adverts, so switches keep the MAC there. Without `all` only
/// the daemon's own `use_vmac` interfaces get them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GarpExtraIf {
    /// Seconds between two announcements, 0-86400 (0: none).
    pub interval: u32,
    /// Every interface, not only virtual MAC ones.
    pub all: bool,
}

/// `authentication { … }` of a VRRPv2 instance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Authentication {
    /// PASS or AH.
    pub auth_type: Option<AuthType>,
    /// The shared secret (first 8 characters are used).
    pub auth_pass: Option<String>,
}

/// `vrrp_instance NAME { … }`: one virtual router.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VrrpInstance {
    /// Instance name.
    pub name: String,
    /// Initial state.
    pub state: Option<State>,
    /// Interface the instance runs on.
    pub interface: Option<String>,
    /// VRID, 1-255.
    pub virtual_router_id: Option<u32>,
    /// Priority, 1-255 (255 for the address owner).
    pub priority: Option<u32>,
    /// Seconds between advertisements (fractions allowed with VRRPv3).
    pub advert_int: Option<f64>,
    /// VRRP version, 2 or 3.
    pub version: Option<u8>,
    /// Use IPv6 for the instance even without IPv6 addresses.
    pub native_ipv6: bool,
    /// VRRPv2 authentication.
    pub authentication: Option<Authentication>,
    /// Addresses the master owns.
    pub virtual_ipaddress: Vec<VirtualIp>,
    /// Addresses the master owns but does not advertise.
    pub virtual_ipaddress_excluded: Vec<VirtualIp>,
    /// The instance deliberately has no `virtual_ipaddress`.
    pub no_virtual_ipaddress: bool,
    /// Set `promote_secondaries` on `interface` while the instance runs.
    pub promote_secondaries: bool,
    /// Routes held while MASTER.
    pub virtual_routes: Vec<Route>,
    /// Routing rules held while MASTER.
    pub virtual_rules: Vec<Rule>,
    /// Source address of unicast advertisements.
    pub unicast_src_ip: Option<IpAddr>,
    /// Peers to send unicast advertisements to.
    pub unicast_peer: Vec<UnicastPeer>,
    /// TTL (IPv4) or hop limit (IPv6) of unicast adverts (255 for IPv4,
    /// the kernel's default for IPv6, when absent).
    pub unicast_ttl: Option<u8>,
    /// Without `unicast_peer`: FAULT instead of falling back to multicast.
    pub unicast_fault_no_peer: bool,
    /// Source address of multicast advertisements.
    pub mcast_src_ip: Option<IpAddr>,
    /// With `unicast_peer`: accept adverts only from the listed peers.
    pub check_unicast_src: bool,
    /// Interfaces whose state affects this instance.
    pub track_interface: Vec<TrackRef>,
    /// `vrrp_script`s whose state affects this instance.
    pub track_script: Vec<TrackRef>,
    /// `track_file`s whose value affects this instance.
    pub track_file: Vec<TrackRef>,
    /// `vrrp_track_process`es whose state affects this instance.
    pub track_process: Vec<TrackRef>,
    /// Do not take over from a lower-priority master.
    pub nopreempt: bool,
    /// Seconds to wait after start-up before preempting.
    pub preempt_delay: Option<u32>,
    /// Seconds after becoming master before the second gratuitous ARP burst.
    pub garp_master_delay: Option<u32>,
    /// Gratuitous ARPs sent per burst.
    pub garp_master_repeat: Option<u32>,
    /// Seconds between repeated bursts while master.
    pub garp_master_refresh: Option<u32>,
    /// Gratuitous ARPs per refresh burst.
    pub garp_master_refresh_repeat: Option<u32>,
    /// Seconds after a lower-priority advert reached this MASTER before the
    /// second gratuitous ARP burst (0: none).
    pub garp_lower_prio_delay: Option<u32>,
    /// Gratuitous ARPs per burst when a lower-priority advert reaches this
    /// MASTER (0: none).
    pub garp_lower_prio_repeat: Option<u32>,
    /// `garp_extra_if [all] N` (alias `vmac_garp_intvl`): one gratuitous
    /// ARP/NA every N seconds on the other interfaces of the addresses.
    pub garp_extra_if: Option<GarpExtraIf>,
    /// Run on transition to MASTER.
    pub notify_master: Option<Command>,
    /// Run on transition to BACKUP.
    pub notify_backup: Option<Command>,
    /// Run on transition to FAULT.
    pub notify_fault: Option<Command>,
    /// Run when the instance stops.
    pub notify_stop: Option<Command>,
    /// Run on every transition, with the new state as argument.
    pub notify: Option<Command>,
    /// Send mail on transitions.
    pub smtp_alert: bool,
    /// Ignore the state of `interface` itself.
    pub dont_track_primary: bool,
    /// `accept` (`Some(true)`) / `no_accept` (`Some(false)`): whether a
    /// master that is not the address owner takes packets addressed to the
    /// virtual addresses; see [`VrrpInstance::accepts`] for the default.
    pub accept: Option<bool>,
    /// `strict_mode [on|off]`: RFC-strict VRRP for this instance (else
    /// `vrrp_strict` of `global_defs`).
    pub strict_mode: Option<bool>,
    /// `use_vmac`: run on a macvlan interface carrying the VRRP virtual MAC.
    pub use_vmac: bool,
    /// `use_vmac NAME`: the macvlan's name (keepalived's default,
    /// `vrrp.VRID`, when absent).
    pub vmac_name: Option<String>,
    /// `vmac_xmit_base`: with `use_vmac`, send and receive adverts on
    /// `interface` rather than on the macvlan.
    pub vmac_xmit_base: bool,
    /// Deprecated `lvs_sync_daemon_interface IF`: `lvs_sync_daemon IF
    /// THIS_INSTANCE id 0` (see [`super::Config::sync_daemon`]).
    pub lvs_sync_daemon_interface: Option<String>,
}

impl VrrpInstance {
    /// Whether the instance runs in strict mode: `strict_mode`, else
    /// `vrrp_strict` of `global_defs`.
    pub fn strict(&self, global: &GlobalDefs) -> bool {
        self.strict_mode.unwrap_or(global.vrrp_strict)
    }

    /// The configured priority as lb-daemon runs it (100 when absent).
    pub fn base_priority(&self) -> u32 {
        self.priority.unwrap_or(100)
    }

    /// The VRRP version the instance speaks: `version`, else
    /// `vrrp_version`; IPv6 instances always speak version 3.
    pub fn resolved_version(&self, global: &GlobalDefs) -> u8 {
        let has_v6 = self
            .virtual_ipaddress
            .iter()
            .any(|v| v.address.addr().is_ipv6());
        match self.version.or(global.vrrp_version) {
            Some(3) => 3,
            _ if has_v6 || self.native_ipv6 => 3,
            _ => 2,
        }
    }

    /// keepalived's accept mode: the address owner (priority 255) always
    /// accepts; else `accept`/`no_accept`, by default on except in strict
    /// mode; strict VRRPv2 never accepts (RFC 3768 has no accept mode).
    pub fn accepts(&self, global: &GlobalDefs) -> bool {
        if self.base_priority() == 255 {
            return true;
        }
        let strict = self.strict(global);
        let accept = self.accept.unwrap_or(!strict);
        accept && !(strict && self.resolved_version(global) == 2)
    }

    /// Whether the instance speaks IPv6: its first virtual address says so
    /// (`native_ipv6` without addresses).
    pub fn is_ipv6(&self) -> bool {
        match self.virtual_ipaddress.first() {
            Some(vip) => vip.address.addr().is_ipv6(),
            None => self.native_ipv6,
        }
    }
}

/// The macvlan name of each instance (`None` without `use_vmac`), as
/// keepalived picks them: a configured name, else the first of `vrrp.VRID`,
/// `vrrp1.VRID`, `vrrp2.VRID`… (for IPv6 `vrrp6.VRID` comes second) that
/// no configured name and no earlier instance took.
pub fn vmac_names(instances: &[VrrpInstance]) -> Vec<Option<String>> {
    let mut taken: Vec<String> = instances
        .iter()
        .filter(|i| i.use_vmac)
        .filter_map(|i| i.vmac_name.clone())
        .collect();
    let mut names = Vec::with_capacity(instances.len());
    for instance in instances {
        let name = instance.use_vmac.then(|| match &instance.vmac_name {
            Some(name) => name.clone(),
            None => {
                let vrid = instance.virtual_router_id.unwrap_or(0);
                let second = instance.is_ipv6().then_some(6);
                let numbers = std::iter::once(None)
                    .chain(second.map(Some))
                    .chain((1..).filter(move |n| Some(*n) != second).map(Some));
                let candidate = |n: Option<u32>| match n {
                    None => format!("vrrp.{vrid}"),
                    Some(n) => format!("vrrp{n}.{vrid}"),
                };
                let name = numbers
                    .map(candidate)
                    .find(|c| !taken.contains(c))
                    .unwrap_or_default(); // the candidates never end
                taken.push(name.clone());
                name
            }
        });
        names.push(name);
    }
    names
}

/// `vrrp_sync_group NAME { … }`: instances that change state together.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncGroup {
    /// Group name.
    pub name: String,
    /// Names of member `vrrp_instance`s.
    pub group: Vec<String>,
    /// Run on transition to MASTER.
    pub notify_master: Option<Command>,
    /// Run on transition to BACKUP.
    pub notify_backup: Option<Command>,
    /// Run on transition to FAULT.
    pub notify_fault: Option<Command>,
    /// Run when the group stops.
    pub notify_stop: Option<Command>,
    /// Run on every transition.
    pub notify: Option<Command>,
    /// Send mail on transitions.
    pub smtp_alert: bool,
    /// Interfaces tracked by every member.
    pub track_interface: Vec<TrackRef>,
    /// Scripts tracked by every member.
    pub track_script: Vec<TrackRef>,
    /// Files tracked by every member.
    pub track_file: Vec<TrackRef>,
    /// Processes tracked by every member.
    pub track_process: Vec<TrackRef>,
}
