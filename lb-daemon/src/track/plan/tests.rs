//! The plan of one instance: weights of its own tracks, of its sync
//! group's, and of the address owner's.
use super::*;
use crate::config::{TrackFile, VrrpScript};

fn track(name: &str, weight: Option<i32>) -> TrackRef {
    TrackRef {
        name: name.into(),
        weight,
        reverse: false,
    }
}

/// VI_1 tracking file `f` (default weight), file `g` (weight 5), script
/// `s` (weight -20) and interface `eth9` (weight 10), at `priority`,
/// in a sync group when `grouped`: its tracks as (name, weight).
fn tracks(priority: u32, grouped: bool) -> Vec<(String, i32)> {
    let instance = VrrpInstance {
        name: "VI_1".into(),
        priority: Some(priority),
        dont_track_primary: true,
        track_file: vec![track("f", None), track("g", Some(5))],
        track_script: vec![track("s", None)],
        track_interface: vec![track("eth9", Some(10))],
        ..VrrpInstance::default()
    };
    let file = |name: &str| TrackFile {
        name: name.into(),
        ..TrackFile::default()
    };
    let config = Config {
        vrrp_instance: vec![instance],
        track_file: vec![file("f"), file("g")],
        vrrp_script: vec![VrrpScript {
            name: "s".into(),
            weight: Some(-20),
            ..VrrpScript::default()
        }],
        vrrp_sync_group: (grouped.then(|| SyncGroup {
            name: "G".into(),
            group: vec!["VI_1".into()],
            ..SyncGroup::default()
        }))
        .into_iter()
        .collect(),
        ..Config::default()
    };
    let plan = &plans(&config)[0];
    (plan.tracks.iter())
        .map(|t| (t.key.name.clone(), t.weight))
        .collect()
}

fn named(pairs: &[(&str, i32)]) -> Vec<(String, i32)> {
    pairs.iter().map(|(n, w)| (n.to_string(), *w)).collect()
}

#[test]
fn weights_apply_to_a_lone_instance() {
    let all = [("s", -20), ("f", 1), ("g", 5), ("eth9", 10)];
    assert_eq!(tracks(100, false), named(&all));
}

#[test]
fn a_sync_group_member_tracks_files_and_interfaces_unweighted() {
    assert_eq!(tracks(100, true), named(&[("f", 0), ("eth9", 0)]));
}

#[test]
fn the_address_owner_keeps_only_the_default_weight_file_unweighted() {
    assert_eq!(tracks(255, false), named(&[("f", 0)]));
}

/// The group's own tracks (script `s` weight -20, file `f` default
/// weight) as member VI_1 sees them, with the other member at
/// `other_priority`.
fn group_tracks(other_priority: u32) -> Vec<(String, i32)> {
    let member = |name: &str, priority| VrrpInstance {
        name: name.into(),
        priority: Some(priority),
        dont_track_primary: true,
        ..VrrpInstance::default()
    };
    let config = Config {
        vrrp_instance: vec![member("VI_1", 100), member("VI_2", other_priority)],
        track_file: vec![TrackFile {
            name: "f".into(),
            ..TrackFile::default()
        }],
        vrrp_script: vec![VrrpScript {
            name: "s".into(),
            weight: Some(-20),
            ..VrrpScript::default()
        }],
        vrrp_sync_group: vec![SyncGroup {
            name: "G".into(),
            group: vec!["VI_1".into(), "VI_2".into()],
            track_script: vec![track("s", None)],
            track_file: vec![track("f", None)],
            ..SyncGroup::default()
        }],
        ..Config::default()
    };
    (plans(&config)[0].tracks.iter())
        .map(|t| (t.key.name.clone(), t.weight))
        .collect()
}

#[test]
fn the_groups_own_tracks_keep_their_weights_unless_a_member_is_the_owner() {
    assert_eq!(group_tracks(90), named(&[("s", -20), ("f", 1)]));
    assert_eq!(group_tracks(255), named(&[("s", 0), ("f", 0)]));
}

#[test]
fn the_owner_still_tracks_its_own_interface_after_dropping_a_weighted_entry() {
    let instance = VrrpInstance {
        name: "VI_1".into(),
        priority: Some(255),
        interface: Some("eth0".into()),
        track_interface: vec![track("eth0", Some(10))],
        ..VrrpInstance::default()
    };
    let config = Config {
        vrrp_instance: vec![instance],
        ..Config::default()
    };
    let plan = &plans(&config)[0];
    let kept: Vec<_> = (plan.tracks.iter())
        .map(|t| (t.key.name.as_str(), t.weight))
        .collect();
    assert_eq!(kept, [("eth0", 0)]);
}
