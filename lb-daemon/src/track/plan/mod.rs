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
//! * a sync group's `track_*` apply to every member with their weights,
//!   which become 0 when a member is the address owner (keepalived
//!   `sync_group_tracking_init`);
//! * for a group member's own `track_*`, and the address owner's (priority
//!   255), weights are not allowed: weighted scripts and processes are
//!   ignored ("ignoring tracked script … with weights due to SYNC group"), a
//!   tracked file's default weight 1 becomes 0 (other weights are ignored),
//!   and interface weights become 0 for a member while the owner stops
//!   tracking weighted interfaces (keepalived `vrrp_complete_instance`).

use serde::Serialize;

use crate::config::{Config, SyncGroup, TrackRef, VrrpInstance};

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

fn plan<'a>(config: &'a Config, instance: &'a VrrpInstance) -> InstancePlan {
    let groups: Vec<_> = config
        .vrrp_sync_group
        .iter()
        .filter(|g| g.group.contains(&instance.name))
        .collect();
    let owner = |i: &VrrpInstance| i.priority == Some(255);
    // keepalived (vrrp_complete_instance) ignores the weights of a group
    // member's and of the address owner's own tracks; the group's tracks
    // keep theirs unless a member is the owner (sync_group_tracking_init).
    let own_rule = match (groups.is_empty(), owner(instance)) {
        (false, _) => Some(Unweighted::SyncGroup),
        (true, true) => Some(Unweighted::Owner),
        (true, false) => None,
    };
    let group_has_owner = groups
        .iter()
        .flat_map(|g| &g.group)
        .any(|member| (config.vrrp_instance.iter()).any(|i| &i.name == member && owner(i)));
    let group_rule = group_has_owner.then_some(Unweighted::GroupWithOwner);
    let lists = |own: &'a [TrackRef], of_group: fn(&'a SyncGroup) -> &'a [TrackRef]| {
        [
            (own_rule, own.iter().collect::<Vec<_>>()),
            (
                group_rule,
                groups.iter().flat_map(|g| of_group(g)).collect(),
            ),
        ]
    };
    let mut tracks = Vec::new();
    type Lookup<'l> = &'l dyn Fn(&str) -> Option<(i32, bool)>;
    let mut defined = |kind, own, of_group, lookup: Lookup| {
        for (unweighted, entries) in lists(own, of_group) {
            let defined = Defined {
                instance,
                unweighted,
            };
            defined.push(&mut tracks, kind, entries, lookup);
        }
    };
    defined(
        Kind::Script,
        &instance.track_script,
        |g| &g.track_script,
        &|name| {
            let s = config.vrrp_script.iter().find(|s| s.name == name)?;
            Some((s.weight.unwrap_or(0), s.reverse))
        },
    );
    defined(
        Kind::File,
        &instance.track_file,
        |g| &g.track_file,
        &|name| {
            let f = config.track_file.iter().find(|f| f.name == name)?;
            Some((f.weight.unwrap_or(1), f.reverse))
        },
    );
    defined(
        Kind::Process,
        &instance.track_process,
        |g| &g.track_process,
        &|name| {
            let p = config.vrrp_track_process.iter().find(|p| p.name == name)?;
            Some((p.weight.unwrap_or(0), p.reverse))
        },
    );
    for (unweighted, interfaces) in lists(&instance.track_interface, |g| &g.track_interface) {
        for entry in interfaces {
            let mut weight = entry.weight.unwrap_or(0);
            if let Some(why) = unweighted.filter(|_| weight != 0) {
                tracing::warn!(
                    "({}) ignoring {} tracked interface weight due to {}",
                    instance.name,
                    entry.name,
                    why.name()
                );
                // keepalived: tracked unweighted, except that the owner
                // stops tracking its own weighted entries.
                match why {
                    Unweighted::Owner => continue,
                    Unweighted::SyncGroup | Unweighted::GroupWithOwner => weight = 0,
                }
            }
            push(
                &mut tracks,
                instance,
                None,
                Kind::Interface,
                entry,
                weight,
                entry.reverse,
            );
        }
    }
    let primary = instance
        .interface
        .as_ref()
        .or(config.global_defs.default_interface.as_ref());
    if let Some(primary) = primary.filter(|_| !instance.dont_track_primary) {
        let tracked = |t: &Track| t.key.kind == Kind::Interface && &t.key.name == primary;
        // Against the tracks kept: the owner drops a weighted entry for
        // its own interface, which is then tracked unweighted.
        if !tracks.iter().any(tracked) {
            let own = TrackRef {
                name: primary.clone(),
                weight: None,
                reverse: false,
            };
            push(&mut tracks, instance, None, Kind::Interface, &own, 0, false);
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
    unweighted: Option<Unweighted>,
}

/// Why an instance's tracking weights are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unweighted {
    /// It is in a `vrrp_sync_group`.
    SyncGroup,
    /// It is the address owner (priority 255).
    Owner,
    /// A track of its sync group, a member of which is the owner.
    GroupWithOwner,
}

impl Unweighted {
    /// As keepalived's log says it.
    fn name(self) -> &'static str {
        match self {
            Unweighted::SyncGroup => "SYNC group",
            Unweighted::Owner => "address owner",
            Unweighted::GroupWithOwner => "a SYNC group member having priority 255",
        }
    }
}

impl Defined<'_> {
    /// One track per entry whose object `lookup` finds (its default weight
    /// and reverse flag); an entry naming no object is logged and skipped,
    /// as keepalived does.
    fn push<'e>(
        &self,
        tracks: &mut Vec<Track>,
        kind: Kind,
        entries: impl IntoIterator<Item = &'e TrackRef>,
        lookup: &dyn Fn(&str) -> Option<(i32, bool)>,
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
                self.unweighted,
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
    unweighted: Option<Unweighted>,
    kind: Kind,
    entry: &TrackRef,
    mut weight: i32,
    reverse: bool,
) {
    if let Some(why) = unweighted.filter(|_| weight != 0) {
        let (iname, name, reason) = (&instance.name, &entry.name, why.name());
        // keepalived: the group's own tracks, and a tracked file's default
        // weight (1), become unweighted (a failure is a fault); other
        // weighted tracks are dropped.
        if why == Unweighted::GroupWithOwner {
            let kind = kind_name(kind);
            tracing::warn!(
                "({iname}) cannot have weighted track {kind} {name} with {reason} - setting weight 0"
            );
            weight = 0;
        } else if kind == Kind::File && weight == 1 {
            tracing::warn!(
                "({iname}) ignoring weight from tracked file {name} due to {reason}. specify weight 0"
            );
            weight = 0;
        } else {
            let kind = kind_name(kind);
            tracing::warn!("({iname}) ignoring tracked {kind} {name} with weights due to {reason}");
            return;
        }
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

#[cfg(test)]
mod tests;
