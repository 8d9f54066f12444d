//! Which objects each VRRP instance tracks, with which weight, derived from
//! the configuration the way keepalived 2.x resolves it:
//!
//! * `track_script` entries take the `vrrp_script`'s weight (default 0) and
//!   `reverse` unless the entry gives its own `weight`;
//! * `track_file` entries take the `track_file`'s weight (default 1);
//! * `track_process` entries take the `vrrp_track_process`'s weight
//!   (default 0) and `reverse` unless the entry gives its own `weight`;
//! * `track_interface` entries have weight 0 unless given;
//! * the instance's own `interface` (or `default_interface`) is tracked with
//!   weight 0 unless `dont_track_primary`;
//! * a sync group's `track_*` apply to every member; in a sync group, weights
//!   are not allowed: weighted scripts and files are ignored and interface
//!   weights become 0 ("ignoring tracked script … with weights due to SYNC
//!   group").

use serde::Serialize;

use crate::config::{Config, TrackRef, VrrpInstance};

/// Default priority of an instance (keepalived `VRRP_PRIO_DFL`).
pub const DEFAULT_PRIORITY: u8 = 100;

/// Kinds of tracked objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A `vrrp_script`.
    Script,
    /// A network interface.
    Interface,
    /// A `track_file`.
    File,
    /// A `vrrp_track_process`.
    Process,
}

/// A tracked object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// What it is.
    pub kind: Kind,
    /// Script, interface or track_file name.
    pub name: String,
}

/// One tracked object of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// The object.
    pub key: Key,
    /// Its weight for this instance.
    pub weight: i32,
    /// `reverse` for this instance.
    pub reverse: bool,
}

/// Everything that decides one instance's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePlan {
    /// Instance name.
    pub name: String,
    /// Configured priority.
    pub base: u8,
    /// Tracked objects.
    pub tracks: Vec<Track>,
}

/// The plans of all instances in `config`, and of every `bgp_announce`
/// that tracks something (named by [`announce_name`]).
pub fn plans(config: &Config) -> Vec<InstancePlan> {
    let instances = config
        .vrrp_instance
        .iter()
        .map(|instance| plan(config, instance));
    instances.chain(announce_plans(config)).collect()
}

/// The tracking verdict name of virtual server `vs`'s `bgp_announce`.
pub fn announce_name(vs: usize) -> String {
    format!("bgp_announce of virtual_server {vs}")
}

/// A `bgp_announce` tracks like an instance whose every weight is 0: any
/// tracked object down means FAULT, that is, withdraw.
fn announce_plans(config: &Config) -> impl Iterator<Item = InstancePlan> + '_ {
    config
        .virtual_server
        .iter()
        .enumerate()
        .filter_map(|(vs, server)| {
            let announce = server.bgp_announce.as_ref()?;
            let unweighted = |refs: &[TrackRef]| -> Vec<TrackRef> {
                refs.iter()
                    .map(|r| TrackRef {
                        weight: Some(0),
                        ..r.clone()
                    })
                    .collect()
            };
            let instance = VrrpInstance {
                name: announce_name(vs),
                track_script: unweighted(&announce.track_script),
                track_interface: unweighted(&announce.track_interface),
                track_file: unweighted(&announce.track_file),
                dont_track_primary: true,
                ..VrrpInstance::default()
            };
            let tracked = !instance.track_script.is_empty()
                || !instance.track_interface.is_empty()
                || !instance.track_file.is_empty();
            tracked.then(|| plan(config, &instance))
        })
}

fn plan(config: &Config, instance: &VrrpInstance) -> InstancePlan {
    let groups: Vec<_> = config
        .vrrp_sync_group
        .iter()
        .filter(|g| g.group.contains(&instance.name))
        .collect();
    let in_group = !groups.is_empty();
    let mut tracks = Vec::new();
    let scripts = instance
        .track_script
        .iter()
        .chain(groups.iter().flat_map(|g| &g.track_script));
    for entry in scripts {
        let Some(script) = config.vrrp_script.iter().find(|s| s.name == entry.name) else {
            tracing::warn!(
                "({}) track script {} not found, ignoring...",
                instance.name,
                entry.name
            );
            continue;
        };
        let (weight, reverse) = weight_of(entry, script.weight.unwrap_or(0), script.reverse);
        push(
            &mut tracks,
            instance,
            in_group,
            Kind::Script,
            entry,
            weight,
            reverse,
        );
    }
    let files = instance
        .track_file
        .iter()
        .chain(groups.iter().flat_map(|g| &g.track_file));
    for entry in files {
        let Some(file) = config.track_file.iter().find(|f| f.name == entry.name) else {
            tracing::warn!(
                "({}) track file {} not found, ignoring...",
                instance.name,
                entry.name
            );
            continue;
        };
        let (weight, reverse) = weight_of(entry, file.weight.unwrap_or(1), file.reverse);
        push(
            &mut tracks,
            instance,
            in_group,
            Kind::File,
            entry,
            weight,
            reverse,
        );
    }
    let processes = instance
        .track_process
        .iter()
        .chain(groups.iter().flat_map(|g| &g.track_process));
    for entry in processes {
        let found = config
            .vrrp_track_process
            .iter()
            .find(|p| p.name == entry.name);
        let Some(process) = found else {
            tracing::warn!(
                "({}) track process {} not found, ignoring...",
                instance.name,
                entry.name
            );
            continue;
        };
        let (weight, reverse) = weight_of(entry, process.weight.unwrap_or(0), process.reverse);
        push(
            &mut tracks,
            instance,
            in_group,
            Kind::Process,
            entry,
            weight,
            reverse,
        );
    }
    let interfaces: Vec<&TrackRef> = instance
        .track_interface
        .iter()
        .chain(groups.iter().flat_map(|g| &g.track_interface))
        .collect();
    for entry in &interfaces {
        let weight = if in_group {
            0
        } else {
            entry.weight.unwrap_or(0)
        };
        if in_group && entry.weight.unwrap_or(0) != 0 {
            tracing::warn!(
                "({}) ignoring weights of tracked interface due to SYNC group",
                instance.name
            );
        }
        push(
            &mut tracks,
            instance,
            false,
            Kind::Interface,
            entry,
            weight,
            entry.reverse,
        );
    }
    let primary = instance
        .interface
        .as_ref()
        .or(config.global_defs.default_interface.as_ref());
    if let Some(primary) = primary.filter(|_| !instance.dont_track_primary) {
        if !interfaces.iter().any(|t| &t.name == primary) {
            let own = TrackRef {
                name: primary.clone(),
                weight: None,
                reverse: false,
            };
            push(
                &mut tracks,
                instance,
                false,
                Kind::Interface,
                &own,
                0,
                false,
            );
        }
    }
    InstancePlan {
        name: instance.name.clone(),
        base: instance
            .priority
            .map_or(DEFAULT_PRIORITY, |p| p.clamp(1, 255) as u8),
        tracks,
    }
}

/// The weight and reverse flag of an entry: its own weight when given,
/// else the object's.
fn weight_of(entry: &TrackRef, weight: i32, reverse: bool) -> (i32, bool) {
    match entry.weight {
        Some(own) => (own, entry.reverse),
        None => (weight, reverse || entry.reverse),
    }
}

fn push(
    tracks: &mut Vec<Track>,
    instance: &VrrpInstance,
    in_group: bool,
    kind: Kind,
    entry: &TrackRef,
    weight: i32,
    reverse: bool,
) {
    if in_group && weight != 0 {
        tracing::warn!(
            "({}) ignoring tracked {} {} with weights due to SYNC group",
            instance.name,
            match kind {
                Kind::Script => "script",
                Kind::Process => "process",
                _ => "file",
            },
            entry.name
        );
        return;
    }
    let key = Key {
        kind,
        name: entry.name.clone(),
    };
    if tracks.iter().any(|t: &Track| t.key == key) {
        return;
    }
    tracks.push(Track {
        key,
        weight,
        reverse,
    });
}
