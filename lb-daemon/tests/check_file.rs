//! FILE_CHECK on a real file: 0 is up, non-zero is down with weight 0;
//! with a weight the real server's weight moves by value × weight
//! (reversed: the opposite); a missing file reads as 0.

use std::fs;
use std::path::Path;
use std::time::Duration;

use lb_daemon::check::file::FileCheck;
use lb_daemon::check::{Check, Outcome, Target};
use lb_daemon::config::{Checker, TrackFile};

/// The real server's configured weight.
const RS_WEIGHT: u32 = 10;

fn track_file(path: &Path, weight: Option<i32>, reverse: bool) -> TrackFile {
    TrackFile {
        name: "tf".into(),
        file: Some(path.to_str().unwrap().into()),
        weight,
        reverse,
        init_file: None,
    }
}

fn check(def: TrackFile, weight: Option<i32>) -> FileCheck {
    let checker = Checker {
        track_file: Some("tf".into()),
        weight,
        ..Default::default()
    };
    FileCheck::new(&checker, &[def], RS_WEIGHT).unwrap()
}

/// Writes `value` to `path` and runs one attempt.
fn attempt(check: &FileCheck, path: &Path, value: &str) -> Outcome {
    fs::write(path, value).unwrap();
    run(check)
}

/// One attempt (the target is not used by FILE_CHECK).
fn run(check: &FileCheck) -> Outcome {
    let target = Target::new("127.0.0.1:1".parse().unwrap(), Duration::from_secs(1));
    lb_tests::block_on(check.check(&target))
}

#[test]
fn weight_zero_is_up_down_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    let check = check(track_file(&path, Some(0), false), None);
    assert_eq!(check.kind(), "FILE_CHECK");
    assert_eq!(attempt(&check, &path, "0\n"), Outcome::Up);
    assert!(matches!(attempt(&check, &path, "1\n"), Outcome::Down(_)));
    assert!(matches!(attempt(&check, &path, "0x10"), Outcome::Down(_)));
    assert_eq!(attempt(&check, &path, "0\n"), Outcome::Up);
    // Reversed: non-zero is up.
    let reversed = check_reversed(&path);
    assert!(matches!(attempt(&reversed, &path, "0"), Outcome::Down(_)));
    assert_eq!(attempt(&reversed, &path, "3"), Outcome::Up);
}

fn check_reversed(path: &Path) -> FileCheck {
    check(track_file(path, Some(0), true), None)
}

#[test]
fn weights_move_the_real_server_weight() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    // The track_file's default weight is 1.
    let default = check(track_file(&path, None, false), None);
    assert_eq!(attempt(&default, &path, "5"), Outcome::UpWithWeight(15));
    // The checker's weight wins over the track_file's.
    let own = check(track_file(&path, Some(1), true), Some(2));
    assert_eq!(attempt(&own, &path, "-3"), Outcome::UpWithWeight(4));
    // The track_file's reverse applies with its weight; never below 0.
    let reversed = check(track_file(&path, Some(4), true), None);
    assert_eq!(attempt(&reversed, &path, "2"), Outcome::UpWithWeight(2));
    assert_eq!(attempt(&reversed, &path, "9"), Outcome::UpWithWeight(0));
}

#[test]
fn missing_file_reads_zero_and_unknown_track_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent");
    let check = check(track_file(&path, Some(0), false), None);
    assert_eq!(run(&check), Outcome::Up);
    let checker = Checker {
        track_file: Some("other".into()),
        ..Default::default()
    };
    assert!(FileCheck::new(&checker, &[], 1).is_err());
}
