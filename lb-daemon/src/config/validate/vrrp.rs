//! Checks of the VRRP side: scripts, tracked files and processes, instances, sync groups.

use std::collections::{HashMap, HashSet};

use super::{names, Check};
use crate::config::model::{
    vmac_names, Config, GlobalDefs, State, SyncGroup, TrackFile, TrackProcess, TrackRef,
    UnicastPeer, VirtualIp, VrrpInstance, VrrpScript,
};

/// Weight range of tracked scripts and interfaces.
const WEIGHT: (i32, i32) = (-253, 253);
/// Weight range of tracked files.
const FILE_WEIGHT: (i32, i32) = (-254, 254);
/// Range of an instance's `garp_extra_if` seconds (0 turns the global one off).
const GARP_EXTRA_IF: (u32, u32) = (0, 86_400);
/// Range of `vrrp_garp_extra_if` seconds.
const GARP_EXTRA_IF_GLOBAL: (u32, u32) = (1, 86_400);
/// Range of `vrrp_garp_interval` / `vrrp_gna_interval`: keepalived keeps
/// them as a 32-bit count of microseconds, at least one.
const PACING: (f64, f64) = (0.000001, 4294.967295);

pub(super) fn check(check: &mut Check, config: &Config) {
    let globals = &config.global_defs;
    check.range("global_defs", "vrrp_version", globals.vrrp_version, (2, 3));
    let delay = globals.vrrp_startup_delay;
    check.range(
        "global_defs",
        "vrrp_startup_delay",
        delay,
        (0.0, f64::from(u32::MAX)),
    );
    multicast_groups(check, globals);
    for (field, value) in [
        ("vrrp_garp_interval", globals.vrrp_garp_interval),
        ("vrrp_gna_interval", globals.vrrp_gna_interval),
    ] {
        check.seconds("global_defs", field, value);
        let valid = value.filter(|v| v.is_finite() && *v > 0.0);
        check.range("global_defs", field, valid, PACING);
    }
    if let Some(extra) = globals.vrrp_garp_extra_if {
        let (at, field) = ("global_defs", "vrrp_garp_extra_if");
        check.range(at, field, Some(extra.interval), GARP_EXTRA_IF_GLOBAL);
    }
    let mut seen = HashSet::new();
    for (i, script) in config.vrrp_script.iter().enumerate() {
        let path = format!("vrrp_script.{i}");
        check.unique_name(&mut seen, &path, &script.name);
        vrrp_script(check, &path, script);
    }
    let mut seen = HashSet::new();
    for (i, file) in config.track_file.iter().enumerate() {
        let path = format!("track_file.{i}");
        check.unique_name(&mut seen, &path, &file.name);
        track_file(check, &path, file);
    }
    let mut seen = HashSet::new();
    for (i, process) in config.vrrp_track_process.iter().enumerate() {
        let path = format!("vrrp_track_process.{i}");
        check.unique_name(&mut seen, &path, &process.name);
        track_process(check, &path, process);
    }
    let known = Known {
        scripts: names(&config.vrrp_script, |s| &s.name),
        files: names(&config.track_file, |f| &f.name),
        processes: names(&config.vrrp_track_process, |p| &p.name),
    };
    let mut seen = HashSet::new();
    let mut vrids = HashMap::new();
    for (i, instance) in config.vrrp_instance.iter().enumerate() {
        let path = format!("vrrp_instance.{i}");
        check.unique_name(&mut seen, &path, &instance.name);
        let interface = instance
            .interface
            .as_ref()
            .or(globals.default_interface.as_ref());
        check.required(&path, "interface", interface.is_some());
        let version = instance.version.or(globals.vrrp_version).unwrap_or(2);
        vrrp_instance(check, &path, instance, version, instance.strict(globals));
        super::strict::instance(check, &path, instance, globals);
        unicast_sources(check, &path, instance, globals.vrrp_check_unicast_src);
        known.tracks(
            check,
            &path,
            [
                &instance.track_script,
                &instance.track_interface,
                &instance.track_file,
            ],
        );
        known.processes(check, &path, &instance.track_process);
        let key = (interface, instance.virtual_router_id, instance.is_ipv6());
        if let (Some(interface), Some(vrid)) = (key.0, key.1) {
            if let Some(other) = vrids.insert(key, &instance.name) {
                let message = format!(
                    "virtual_router_id {vrid} is already used on {interface} by vrrp_instance `{other}`"
                );
                check.error(&format!("{path}.virtual_router_id"), message);
            }
        }
    }
    for (i, server) in config.virtual_server.iter().enumerate() {
        if let Some(announce) = &server.bgp_announce {
            known.tracks(
                check,
                &format!("virtual_server.{i}.bgp_announce"),
                [
                    &announce.track_script,
                    &announce.track_interface,
                    &announce.track_file,
                ],
            );
        }
    }
    vmacs(check, &config.vrrp_instance);
    let instances = names(&config.vrrp_instance, |i| &i.name);
    let mut seen = HashSet::new();
    let mut member_of = HashMap::new();
    for (i, group) in config.vrrp_sync_group.iter().enumerate() {
        let path = format!("vrrp_sync_group.{i}");
        check.unique_name(&mut seen, &path, &group.name);
        sync_group(check, &path, group, &instances, &mut member_of);
        known.tracks(
            check,
            &path,
            [
                &group.track_script,
                &group.track_interface,
                &group.track_file,
            ],
        );
        known.processes(check, &path, &group.track_process);
    }
}

/// Names that tracking entries may refer to.
struct Known<'c> {
    scripts: Vec<&'c str>,
    files: Vec<&'c str>,
    processes: Vec<&'c str>,
}

impl Known<'_> {
    /// Checks `track_script`, `track_interface` and `track_file` of a block.
    fn tracks(
        &self,
        check: &mut Check,
        path: &str,
        [scripts, interfaces, files]: [&Vec<TrackRef>; 3],
    ) {
        check.references(path, "track_script", scripts, Some(&self.scripts), WEIGHT);
        check.references(path, "track_interface", interfaces, None, WEIGHT);
        check.references(path, "track_file", files, Some(&self.files), FILE_WEIGHT);
    }

    /// Checks the `track_process` entries of a block.
    fn processes(&self, check: &mut Check, path: &str, processes: &[TrackRef]) {
        let known = Some(self.processes.as_slice());
        check.references(path, "track_process", processes, known, FILE_WEIGHT);
    }
}

/// `vrrp_mcast_group4/6` are multicast addresses (the family is the field's
/// type); an IPv6 group outside link scope is suspicious, as keepalived says.
fn multicast_groups(check: &mut Check, globals: &GlobalDefs) {
    if let Some(group) = globals.vrrp_mcast_group4.filter(|g| !g.is_multicast()) {
        let message = format!("`vrrp_mcast_group4` {group} is not a multicast address");
        check.error("global_defs.vrrp_mcast_group4", message);
    }
    match globals.vrrp_mcast_group6 {
        Some(group) if !group.is_multicast() => {
            let message = format!("`vrrp_mcast_group6` {group} is not a multicast address");
            check.error("global_defs.vrrp_mcast_group6", message);
        }
        // Scope nibble 2: link-local (ff02::/16 and ff12::/16...).
        Some(group) if group.segments()[0] & 0x000f != 2 => {
            let message = format!(
                "`vrrp_mcast_group6` {group} should be a link-local multicast address (ff02::/16)"
            );
            check.warning("global_defs.vrrp_mcast_group6", message);
        }
        _ => {}
    }
}

/// Unicast instances without `check_unicast_src` (here, as
/// `vrrp_check_unicast_src` in `global_defs`, or implied by a peer's TTL
/// range) accept adverts from any source, so anyone who can reach the node
/// can demote its master: say so loudly. Also the unicast settings that
/// need peers, and TTL ranges that admit nothing.
fn unicast_sources(check: &mut Check, path: &str, instance: &VrrpInstance, global: bool) {
    let peers = &instance.unicast_peer;
    let checked =
        instance.check_unicast_src || global || peers.iter().any(UnicastPeer::has_ttl_range);
    let name = &instance.name;
    if !peers.is_empty() && !checked {
        let message = format!(
            "vrrp_instance `{name}` accepts adverts from any source address, not only its \
             `unicast_peer`s: add `check_unicast_src` (or `vrrp_check_unicast_src` in global_defs)"
        );
        check.warning(&format!("{path}.unicast_peer"), message);
    }
    for (i, peer) in peers.iter().enumerate() {
        if peer.min_ttl > peer.max_ttl {
            let message = format!(
                "min_ttl {} > max_ttl {}: every advert from {} would be dropped",
                peer.min_ttl, peer.max_ttl, peer.address
            );
            check.error(&format!("{path}.unicast_peer.{i}"), message);
        }
    }
    if !peers.is_empty() {
        return;
    }
    if instance.check_unicast_src {
        let message = "`check_unicast_src` has no effect without `unicast_peer`";
        check.warning(&format!("{path}.check_unicast_src"), message);
    }
    if instance.unicast_ttl.is_some() {
        let message = "`unicast_ttl` has no effect without `unicast_peer`";
        check.warning(&format!("{path}.unicast_ttl"), message);
    }
    if instance.unicast_fault_no_peer {
        let message = format!(
            "vrrp_instance `{name}` has no `unicast_peer`: with `unicast_fault_no_peer` it \
             stays in FAULT"
        );
        check.warning(&format!("{path}.unicast_fault_no_peer"), message);
    }
}

fn vrrp_script(check: &mut Check, path: &str, script: &VrrpScript) {
    check.required(path, "script", script.script.is_some());
    check.range(path, "interval", script.interval, (1, u32::MAX));
    check.range(path, "timeout", script.timeout, (1, u32::MAX));
    check.range(path, "weight", script.weight, WEIGHT);
    check.range(path, "fall", script.fall, (1, u32::MAX));
    check.range(path, "rise", script.rise, (1, u32::MAX));
}

fn track_process(check: &mut Check, path: &str, process: &TrackProcess) {
    check.required(path, "process", !process.process.is_empty());
    check.range(path, "weight", process.weight, FILE_WEIGHT);
    for (field, delay) in [
        ("fork_delay", process.fork_delay),
        ("terminate_delay", process.terminate_delay),
    ] {
        check.range(path, field, delay, (0.0, f64::from(u32::MAX)));
    }
    let quorum = process.quorum.unwrap_or(1);
    if process.quorum_max.is_some_and(|max| max < quorum) {
        let message = format!("`quorum_max` is below `quorum` ({quorum})");
        check.error(&format!("{path}.quorum_max"), message);
    }
}

fn track_file(check: &mut Check, path: &str, file: &TrackFile) {
    check.required(path, "file", file.file.is_some());
    check.range(path, "weight", file.weight, FILE_WEIGHT);
}

/// `use_vmac` names are valid interface names that no other instance and
/// no instance's own interface use; `vmac_xmit_base` and `vmac_name` need
/// `use_vmac`; unicast implies `vmac_xmit_base`.
fn vmacs(check: &mut Check, instances: &[VrrpInstance]) {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (i, (instance, name)) in instances.iter().zip(vmac_names(instances)).enumerate() {
        let path = format!("vrrp_instance.{i}");
        for (field, set) in [
            ("vmac_xmit_base", instance.vmac_xmit_base),
            ("vmac_name", instance.vmac_name.is_some()),
        ] {
            if set && !instance.use_vmac {
                let message = format!("`{field}` is only valid with `use_vmac`");
                check.error(&format!("{path}.{field}"), message);
            }
        }
        let Some(name) = name else {
            continue;
        };
        let at = format!("{path}.use_vmac");
        if !instance.unicast_peer.is_empty() && !instance.vmac_xmit_base {
            let message =
                "unicast with `use_vmac` requires `vmac_xmit_base`: set, as keepalived does";
            check.warning(&at, message);
        }
        let valid = !name.is_empty()
            && name.len() <= 15
            && name != "."
            && name != ".."
            && !name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace());
        if !valid {
            let message = format!("`use_vmac` name `{name}` is not a valid interface name");
            check.error(&at, message);
        } else if instances
            .iter()
            .any(|i| i.interface.as_deref() == Some(&name))
        {
            let message = format!("`use_vmac` name `{name}` is a vrrp_instance's interface");
            check.error(&at, message);
        } else if let Some(other) = seen.insert(name.clone(), &instance.name) {
            let message =
                format!("`use_vmac` name `{name}` is already used by vrrp_instance `{other}`");
            check.error(&at, message);
        }
    }
}

fn vrrp_instance(
    check: &mut Check,
    path: &str,
    instance: &VrrpInstance,
    version: u8,
    strict: bool,
) {
    check.required(
        path,
        "virtual_router_id",
        instance.virtual_router_id.is_some(),
    );
    check.range(
        path,
        "virtual_router_id",
        instance.virtual_router_id,
        (1, 255),
    );
    check.range(path, "priority", instance.priority, (1, 255));
    check.range(path, "version", instance.version, (2, 3));
    if instance.priority == Some(255) && instance.state == Some(State::Backup) {
        let message = "priority 255 makes this node the address owner; `state BACKUP` is ignored";
        check.warning(&format!("{path}.priority"), message);
    }
    if instance.nopreempt && instance.state == Some(State::Master) {
        let message = "`nopreempt` only works with `state BACKUP`; keepalived ignores it here";
        check.warning(&format!("{path}.nopreempt"), message);
    }
    advert_int(check, path, instance.advert_int, version);
    if let Some(extra) = instance.garp_extra_if {
        check.range(path, "garp_extra_if", Some(extra.interval), GARP_EXTRA_IF);
    }
    if instance.virtual_ipaddress.is_empty() && (strict || !instance.no_virtual_ipaddress) {
        // keepalived: an error for VRRPv3 and in strict mode, a warning for VRRPv2.
        let message = |need| {
            format!("no `virtual_ipaddress`; at least one is {need} (`no_virtual_ipaddress` if none is meant)")
        };
        match version == 3 || instance.native_ipv6 || strict {
            true => check.error(path, message("required")),
            false => check.warning(path, message("sensible")),
        }
    }
    if let Some(auth) = &instance.authentication {
        let at = format!("{path}.authentication");
        if version == 3 {
            check.warning(
                &at,
                "VRRPv3 has no authentication; `authentication` is ignored",
            );
        }
        check.required(&at, "auth_type", auth.auth_type.is_some());
        if auth
            .auth_pass
            .as_ref()
            .is_some_and(|pass| pass.chars().count() > 8)
        {
            let message = "`auth_pass` is longer than 8 characters; only the first 8 are used";
            check.warning(&format!("{at}.auth_pass"), message);
        }
    }
    addresses(check, path, instance);
    check.commands(
        path,
        &[
            ("notify_master", &instance.notify_master),
            ("notify_backup", &instance.notify_backup),
            ("notify_fault", &instance.notify_fault),
            ("notify_stop", &instance.notify_stop),
            ("notify", &instance.notify),
        ],
    );
}

fn advert_int(check: &mut Check, path: &str, value: Option<f64>, version: u8) {
    check.seconds(path, "advert_int", value);
    let Some(value) = value.filter(|v| v.is_finite() && *v > 0.0) else {
        return;
    };
    let at = format!("{path}.advert_int");
    if version == 2 && (value.fract() != 0.0 || value > 255.0) {
        check.error(
            &at,
            format!("VRRPv2 `advert_int` must be whole seconds 1-255, not {value}"),
        );
    }
    if version == 3 && (value > 40.95 || (value * 100.0).fract() > 1e-9) {
        let message =
            format!("VRRPv3 `advert_int` must be 0.01-40.95 in steps of 0.01, not {value}");
        check.error(&at, message);
    }
}

/// Address families inside an instance agree.
fn addresses(check: &mut Check, path: &str, instance: &VrrpInstance) {
    let ipv6 = instance.is_ipv6();
    let vips: &[VirtualIp] = &instance.virtual_ipaddress;
    for (i, vip) in vips.iter().enumerate() {
        let at = format!("{path}.virtual_ipaddress.{i}");
        check.family(&at, "virtual address", vip.address.addr(), ipv6);
    }
    for (i, peer) in instance.unicast_peer.iter().enumerate() {
        check.family(
            &format!("{path}.unicast_peer.{i}"),
            "unicast peer",
            peer.address,
            ipv6,
        );
    }
    let sources = [
        ("unicast_src_ip", instance.unicast_src_ip),
        ("mcast_src_ip", instance.mcast_src_ip),
    ];
    for (field, address) in sources {
        if let Some(address) = address {
            check.family(&format!("{path}.{field}"), "source address", address, ipv6);
        }
    }
}

fn sync_group<'c>(
    check: &mut Check,
    path: &str,
    group: &'c SyncGroup,
    instances: &[&str],
    member_of: &mut HashMap<&'c str, &'c str>,
) {
    if group.group.is_empty() {
        check.error(path, "`group` lists no vrrp_instance");
    }
    for (i, member) in group.group.iter().enumerate() {
        let at = format!("{path}.group.{i}");
        if !instances.contains(&member.as_str()) {
            check.error(
                &at,
                format!("sync group member `{member}` is not a vrrp_instance"),
            );
        } else if let Some(other) = member_of.insert(member, &group.name) {
            let message = format!("vrrp_instance `{member}` is already in sync group `{other}`");
            check.error(&at, message);
        }
    }
    check.commands(
        path,
        &[
            ("notify_master", &group.notify_master),
            ("notify_backup", &group.notify_backup),
            ("notify_fault", &group.notify_fault),
            ("notify_stop", &group.notify_stop),
            ("notify", &group.notify),
        ],
    );
}
