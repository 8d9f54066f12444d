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
    let defined = Defined { instance, in_group };
    defined.push(&mut tracks, Kind::Script, scripts, |name| {
        let s = config.vrrp_script.iter().find(|s| s.name == name)?;
        Some((s.weight.unwrap_or(0), s.reverse))
    });
    let files = instance
        .track_file
        .iter()
        .chain(groups.iter().flat_map(|g| &g.track_file));
    defined.push(&mut tracks, Kind::File, files, |name| {
        let f = config.track_file.iter().find(|f| f.name == name)?;
        Some((f.weight.unwrap_or(1), f.reverse))
    });
    let processes = instance
        .track_process
        .iter()
        .chain(groups.iter().flat_map(|g| &g.track_process));
    defined.push(&mut tracks, Kind::Process, processes, |name| {
        let p = config.vrrp_track_process.iter().find(|p| p.name == name)?;
        Some((p.weight.unwrap_or(0), p.reverse))
    });
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

/// Tracking of objects defined at the top level (`vrrp_script`,
/// `track_file`, `vrrp_track_process`) by one instance.
struct Defined<'a> {
    instance: &'a VrrpInstance,
    in_group: bool,
}

impl Defined<'_> {
    /// One track per entry whose object `lookup` finds (its default weight
    /// and reverse flag); an entry naming no object is logged and skipped,
    /// as keepalived does.
    fn push<'e>(
        &self,
        tracks: &mut Vec<Track>,
        kind: Kind,
        entries: impl Iterator<Item = &'e TrackRef>,
        lookup: impl Fn(&str) -> Option<(i32, bool)>,
    ) {
        for entry in entries {
            let Some((weight, reverse)) = lookup(&entry.name) else {
                tracing::warn!(
                    "({}) track {} {} not found, ignoring...",
                    self.instance.name,
                    kind_name(kind),
                    entry.name
                );
                continue;
            };
            let (weight, reverse) = weight_of(entry, weight, reverse);
            push(
                tracks,
                self.instance,
                self.in_group,
                kind,
                entry,
                weight,
                reverse,
            );
        }
    }
}

/// How keepalived's log names a kind of tracked object.
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Script => "script",
        Kind::Process => "process",
        Kind::File => "file",
        Kind::Interface => "interface",
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
            kind_name(kind),
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
