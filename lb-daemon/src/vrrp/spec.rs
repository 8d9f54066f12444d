//! What one VRRP instance runs with: the configuration model of a
//! `vrrp_instance` resolved against `global_defs` and keepalived's defaults.
//! Pure, so the defaults are tested without sockets.
use std::{net::IpAddr, time::Duration};

use crate::{
    config::{self, AuthType, UnicastPeer, VirtualIp, VrrpInstance},
    state::ownership::Owned,
};

use super::{
    fsm::{Params, State},
    io::Transport,
    packet::{Auth, VRRP_MCAST_V4, VRRP_MCAST_V6},
    vmac::{virtual_mac, Vmac},
    Version,
};

mod garp;
pub mod strict;

pub use garp::{ExtraGarp, Garp};

/// keepalived's defaults.
const DEFAULT_PRIORITY: u32 = 100;
const DEFAULT_ADVERT_INT: f64 = 1.0;

/// See [`InstanceSpec::identity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    interface: &'a str,
    vrid: u8,
    ipv6: bool,
    version: Version,
    /// `Some(unicast_ttl)` for unicast: the sending socket has that TTL.
    unicast: Option<Option<u8>>,
    group: Option<IpAddr>,
    src: Option<IpAddr>,
    vmac: Option<&'a Vmac>,
}

/// A `vrrp_instance` ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    /// Instance name, as logs print it: `(VI_1) ...`.
    pub name: String,
    /// Interface the instance advertises on.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Protocol version.
    pub version: Version,
    /// Configured priority.
    pub priority: u8,
    /// Advertisement interval.
    pub advert_int: Duration,
    /// `false` with `nopreempt`.
    pub preempt: bool,
    /// `preempt_delay`.
    pub preempt_delay: Duration,
    /// `state` from the configuration.
    pub initial: State,
    /// VRRPv2 authentication.
    pub auth: Auth,
    /// Addresses held while master and listed in adverts.
    pub vips: Vec<VirtualIp>,
    /// Addresses held while master but not advertised.
    pub excluded: Vec<VirtualIp>,
    /// Multicast group or unicast peers.
    pub transport: Transport,
    /// With unicast peers, accept adverts only from them
    /// (`check_unicast_src`, or `vrrp_check_unicast_src` in `global_defs`,
    /// or a peer's `min_ttl`/`max_ttl`), and within the peer's TTL range.
    pub check_unicast_src: bool,
    /// `unicast_fault_no_peer` without peers: the instance stays in FAULT.
    pub no_peer_fault: bool,
    /// Fixed source address (`unicast_src_ip` or `mcast_src_ip`).
    pub src: Option<IpAddr>,
    /// Gratuitous ARP / NA timing.
    pub garp: Garp,
    /// The `vrrp_sync_group` the instance belongs to, if any.
    pub sync_group: Option<String>,
    /// `use_vmac`: the macvlan the instance runs on.
    pub vmac: Option<Vmac>,
    /// keepalived's strict mode (see [`strict`]).
    pub strict: bool,
    /// Accept mode: when `false`, a master drops packets to its addresses
    /// (nftables, [`crate::firewall`]).
    pub accept: bool,
    /// The instance as configured (notify scripts, mail).
    pub config: VrrpInstance,
}

impl InstanceSpec {
    /// Resolves `inst` against `global` (the configuration was validated, so
    /// ranges hold; out-of-range values are clamped rather than trusted).
    pub fn new(inst: &VrrpInstance, config: &config::Config) -> InstanceSpec {
        let global = &config.global_defs;
        // VRRPv2 has no IPv6: keepalived runs IPv6 instances as v3.
        let version = match inst.resolved_version(global) {
            3 => Version::V3,
            _ => Version::V2,
        };
        let auth = match (&inst.authentication, version) {
            (Some(a), Version::V2) => match (a.auth_type, &a.auth_pass) {
                (Some(AuthType::Pass), Some(pass)) => Auth::pass(pass),
                (Some(AuthType::Ah), _) => Auth::Ah,
                _ => Auth::None,
            },
            _ => Auth::None,
        };
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        let vrid = clamp_u8(inst.virtual_router_id.unwrap_or(0));
        let vmac_names = config::vmac_names(&config.vrrp_instance);
        let vmac_name = config
            .vrrp_instance
            .iter()
            .position(|i| i.name == inst.name)
            .and_then(|at| vmac_names.get(at).cloned().flatten());
        let mut spec = InstanceSpec {
            name: inst.name.clone(),
            interface: inst
                .interface
                .clone()
                .or_else(|| global.default_interface.clone())
                .unwrap_or_default(),
            vrid,
            version,
            priority: clamp_u8(inst.priority.unwrap_or(DEFAULT_PRIORITY)),
            advert_int: Duration::from_secs_f64(
                inst.advert_int.unwrap_or(DEFAULT_ADVERT_INT).max(0.01),
            ),
            preempt: !inst.nopreempt,
            preempt_delay: secs(inst.preempt_delay.unwrap_or(0)),
            initial: match inst.state {
                Some(config::State::Master) => State::Master,
                _ => State::Backup,
            },
            auth,
            vips: inst.virtual_ipaddress.clone(),
            excluded: inst.virtual_ipaddress_excluded.clone(),
            transport: match inst.unicast_peer.is_empty() {
                true => Transport::Multicast(multicast_group(global, inst)),
                false => Transport::Unicast {
                    peers: inst.unicast_peer.clone(),
                    ttl: inst.unicast_ttl,
                },
            },
            check_unicast_src: inst.check_unicast_src
                || global.vrrp_check_unicast_src
                || inst.unicast_peer.iter().any(UnicastPeer::has_ttl_range),
            no_peer_fault: inst.unicast_fault_no_peer && inst.unicast_peer.is_empty(),
            src: inst.unicast_src_ip.or(inst.mcast_src_ip),
            garp: Garp::new(inst, global),
            sync_group: config
                .vrrp_sync_group
                .iter()
                .find(|g| g.group.contains(&inst.name))
                .map(|g| g.name.clone()),
            vmac: vmac_name.map(|name| Vmac {
                name,
                mac: virtual_mac(vrid, inst.is_ipv6()),
                // keepalived: unicast adverts leave from the base interface.
                xmit_base: inst.vmac_xmit_base || !inst.unicast_peer.is_empty(),
            }),
            strict: false,
            accept: true,
            config: inst.clone(),
        };
        strict::apply(&mut spec, global);
        let ours: Vec<&str> = vmac_names.iter().flatten().map(String::as_str).collect();
        spec.garp.extra = garp::extra_interfaces(&spec, global, &ours);
        spec
    }

    /// What makes this the same virtual router across a reload (keepalived
    /// `vrrp_exist`: VRID, family, interface, unicast or multicast, unicast
    /// source, multicast group; and the protocol version and `use_vmac`): an instance
    /// whose identity is unchanged is reconfigured in place, any other
    /// change starts a new instance.
    pub fn identity(&self) -> Identity<'_> {
        let (unicast, group) = match &self.transport {
            Transport::Multicast(group) => (None, Some(*group)),
            Transport::Unicast { ttl, .. } => (Some(*ttl), None),
        };
        Identity {
            interface: &self.interface,
            vrid: self.vrid,
            ipv6: self.is_ipv6(),
            version: self.version,
            unicast,
            group,
            src: self.src,
            vmac: self.vmac.as_ref(),
        }
    }

    /// Why the configuration alone keeps the instance in FAULT, if it does.
    pub fn config_fault(&self) -> Option<&'static str> {
        self.no_peer_fault
            .then_some("no unicast peers (unicast_fault_no_peer)")
    }

    /// Whether `other` is the same virtual router on the wire (interface,
    /// VRID, family), whatever else its identity changed.
    pub fn same_router(&self, other: &InstanceSpec) -> bool {
        (&self.interface, self.vrid, self.is_ipv6())
            == (&other.interface, other.vrid, other.is_ipv6())
    }

    /// The state machine's configuration, with `local_addr` our primary
    /// address on the interface.
    pub fn fsm_params(&self, local_addr: IpAddr) -> Params {
        Params {
            version: self.version,
            priority: self.priority,
            advert_int: self.advert_int,
            preempt: self.preempt,
            preempt_delay: self.preempt_delay,
            initial: self.initial,
            local_addr,
            strict: self.strict,
        }
    }

    /// Whether a tracked (not `no_track`) virtual route or rule is held
    /// while MASTER: the instance then follows route and rule changes.
    pub fn tracks_routes(&self) -> bool {
        let config = &self.config;
        (config.virtual_routes.iter().any(|r| !r.no_track))
            || config.virtual_rules.iter().any(|r| !r.no_track)
    }

    /// Every address the master holds: advertised ones, then excluded ones.
    pub fn all_vips(&self) -> impl Iterator<Item = &VirtualIp> {
        self.vips.iter().chain(&self.excluded)
    }

    /// What this instance owns when `master`: every address with the
    /// interface that holds it (see [`InstanceSpec::placed`]).
    pub fn owned(&self, master: bool) -> Owned {
        Owned {
            interface: self.interface.clone(),
            master,
            vips: self
                .all_vips()
                .map(|v| {
                    let dev = self.placed(v).dev;
                    (
                        dev.unwrap_or_else(|| self.vip_interface().to_owned()),
                        v.address,
                    )
                })
                .collect(),
        }
    }

    /// Where addresses without a `dev` of their own live: the `use_vmac`
    /// macvlan, else the instance's interface.
    pub fn vip_interface(&self) -> &str {
        self.vmac.as_ref().map_or(&self.interface, |v| &v.name)
    }

    /// `vip` with `dev` naming its interface when that is not
    /// [`InstanceSpec::vip_interface`]. With `use_vmac`, as keepalived
    /// does, addresses of the instance's family without `dev` or with the
    /// instance's interface as `dev` live on the macvlan, the others on
    /// their `dev` or the instance's interface.
    pub fn placed(&self, vip: &VirtualIp) -> VirtualIp {
        let mut vip = vip.clone();
        if self.vmac.is_some() {
            let own = vip.dev.as_ref().is_none_or(|dev| *dev == self.interface);
            let family = vip.address.addr().is_ipv6() == self.is_ipv6();
            vip.dev = match own && family {
                true => None,
                false => Some(vip.dev.unwrap_or_else(|| self.interface.clone())),
            };
        }
        vip
    }

    /// The addresses listed in adverts.
    pub fn advertised(&self) -> Vec<IpAddr> {
        self.vips.iter().map(|v| v.address.addr()).collect()
    }

    /// Whether the instance speaks IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.vips
            .first()
            .is_some_and(|v| v.address.addr().is_ipv6())
    }
}

/// The group a multicast instance uses: `vrrp_mcast_group4/6` for the
/// family of its first address (as [`InstanceSpec::is_ipv6`] decides), else
/// VRRP's own group.
fn multicast_group(global: &config::GlobalDefs, inst: &VrrpInstance) -> IpAddr {
    let ipv6 = inst
        .virtual_ipaddress
        .first()
        .is_some_and(|v| v.address.addr().is_ipv6());
    match ipv6 {
        true => IpAddr::V6(global.vrrp_mcast_group6.unwrap_or(VRRP_MCAST_V6)),
        false => IpAddr::V4(global.vrrp_mcast_group4.unwrap_or(VRRP_MCAST_V4)),
    }
}

fn clamp_u8(v: u32) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_keepalived_str;
    use std::path::Path;

    /// The first instance of keepalived.conf `text`, resolved.
    pub(super) fn spec(text: &str) -> InstanceSpec {
        let loaded = parse_keepalived_str(text, Path::new("t.conf")).unwrap();
        InstanceSpec::new(&loaded.config.vrrp_instance[0], &loaded.config)
    }

    #[test]
    fn keepalived_defaults() {
        let s = spec("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 192.0.2.50\n }\n}\n");
        assert_eq!(
            (s.priority, s.advert_int, s.version),
            (100, Duration::from_secs(1), Version::V2)
        );
        assert_eq!(
            (s.preempt, s.initial, s.auth.clone()),
            (true, State::Backup, Auth::None)
        );
        assert_eq!(s.transport, Transport::Multicast(VRRP_MCAST_V4.into()));
        assert!(!s.check_unicast_src);
        assert_eq!(
            s.garp,
            Garp {
                delay: Duration::from_secs(5),
                repeat: 5,
                refresh: None,
                refresh_repeat: 1,
                lower_prio_delay: Duration::from_secs(5),
                lower_prio_repeat: 5,
                arp_interval: Duration::ZERO,
                na_interval: Duration::ZERO,
                extra: None,
            }
        );
    }

    #[test]
    fn instance_values_override_globals() {
        let s = spec(
            "global_defs {\n vrrp_version 3\n vrrp_garp_master_delay 1\n vrrp_garp_master_refresh 60\n}\n\
             vrrp_instance VI_1 {\n state MASTER\n interface eth0\n virtual_router_id 7\n priority 150\n\
             advert_int 0.05\n nopreempt\n garp_master_delay 2\n unicast_src_ip 192.0.2.2\n\
             unicast_ttl 5\n unicast_peer {\n 192.0.2.3\n }\n virtual_ipaddress {\n 192.0.2.50/24 dev eth0\n }\n}\n",
        );
        assert_eq!((s.version, s.priority, s.vrid), (Version::V3, 150, 7));
        assert_eq!(s.advert_int, Duration::from_millis(50));
        assert_eq!((s.preempt, s.initial), (false, State::Master));
        assert_eq!(s.garp.delay, Duration::from_secs(2));
        assert_eq!(s.garp.refresh, Some(Duration::from_secs(60)));
        assert_eq!(
            s.transport,
            Transport::Unicast {
                peers: vec![UnicastPeer::new("192.0.2.3".parse().unwrap())],
                ttl: Some(5),
            }
        );
        assert_eq!(s.config_fault(), None);
        assert_eq!(s.src, Some("192.0.2.2".parse().unwrap()));
    }

    #[test]
    fn multicast_group_per_family_and_unicast_source_check() {
        let globals =
            "global_defs {\n vrrp_mcast_group4 224.0.0.20\n vrrp_mcast_group6 ff02::20\n}\n";
        let s4 = spec(&format!("{globals}vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n 192.0.2.50\n }}\n}}\n"));
        assert_eq!(
            s4.transport,
            Transport::Multicast("224.0.0.20".parse().unwrap())
        );
        let s6 = spec(&format!("{globals}vrrp_instance VI_6 {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{\n 2001:db8::50/64\n }}\n}}\n"));
        assert_eq!(
            s6.transport,
            Transport::Multicast("ff02::20".parse().unwrap())
        );
        let default6 = spec("vrrp_instance VI_6 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 2001:db8::50/64\n }\n}\n");
        assert_eq!(
            default6.transport,
            Transport::Multicast(VRRP_MCAST_V6.into())
        );
        let unicast = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n unicast_peer {\n 192.0.2.3\n }\n virtual_ipaddress {\n 192.0.2.50\n }\n";
        assert!(spec(&format!("{unicast} check_unicast_src\n}}\n")).check_unicast_src);
        let global = format!("global_defs {{\n vrrp_check_unicast_src\n}}\n{unicast}}}\n");
        assert!(spec(&global).check_unicast_src);
        let ranged = unicast.replace("192.0.2.3\n", "192.0.2.3 max_ttl 64\n");
        assert!(spec(&format!("{ranged}}}\n")).check_unicast_src);
    }

    #[test]
    fn unicast_with_use_vmac_sends_from_the_base_interface() {
        let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n use_vmac\n \
                    unicast_peer {\n 192.0.2.3\n }\n}\n";
        assert!(spec(text).vmac.is_some_and(|v| v.xmit_base));
        let multicast = text.replace(" unicast_peer {\n 192.0.2.3\n }\n", "");
        assert!(spec(&multicast).vmac.is_some_and(|v| !v.xmit_base));
    }

    #[test]
    fn unicast_fault_no_peer_faults_only_without_peers() {
        let instance = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n \
                        unicast_src_ip 192.0.2.2\n unicast_fault_no_peer\n";
        let alone = spec(&format!("{instance}}}\n"));
        assert!(alone.config_fault().is_some());
        let peered = spec(&format!(
            "{instance} unicast_peer {{\n 192.0.2.3\n }}\n}}\n"
        ));
        assert_eq!(peered.config_fault(), None);
        let fallback = spec("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n}\n");
        assert_eq!(fallback.config_fault(), None);
    }

    #[test]
    fn v2_password_and_ipv6_forcing_v3() {
        let s = spec(
            "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n\
             authentication {\n auth_type PASS\n auth_pass lab-pass\n }\n virtual_ipaddress {\n 192.0.2.50\n }\n}\n",
        );
        assert_eq!(s.auth, Auth::pass("lab-pass"));
        let s6 = spec("vrrp_instance VI_6 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 2001:db8::50/64\n }\n}\n");
        assert_eq!(s6.version, Version::V3);
        assert!(s6.is_ipv6());
    }
}
