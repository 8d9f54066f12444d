//! MISC_CHECK with real scripts: exit codes 0/1/7, with and without
//! `misc_dynamic`, a script that sleeps past `misc_timeout`, one that
//! cannot start, and recovery once the script succeeds again.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use lb_daemon::check::misc::MiscCheck;
use lb_daemon::check::{Check, Outcome, Target};
use lb_daemon::config::Checker;
use lb_daemon::script::ScriptEnv;

/// The real server's configured weight.
const RS_WEIGHT: u32 = 3;

/// Writes an executable script exiting with `code` (after `sleep` seconds).
fn script(dir: &Path, code: u8, sleep: u32) -> String {
    let path = dir.join(format!("exit{code}-{sleep}.sh"));
    fs::write(&path, format!("#!/bin/sh\nsleep {sleep}\nexit {code}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

/// One attempt of MISC_CHECK running `path`, and how long it took.
fn attempt(path: &str, dynamic: bool, timeout: Option<u32>) -> (Outcome, Duration) {
    let checker = Checker {
        misc_path: Some(path.into()),
        misc_dynamic: dynamic,
        misc_timeout: timeout,
        ..Default::default()
    };
    let check = MiscCheck::new(
        &checker,
        ScriptEnv::default(),
        Duration::from_secs(5),
        RS_WEIGHT,
    )
    .unwrap();
    assert_eq!(check.kind(), "MISC_CHECK");
    let target = Target::new("127.0.0.1:1".parse().unwrap(), Duration::from_secs(5));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let outcome = rt.block_on(check.check(&target));
    (outcome, start.elapsed())
}

fn is_down(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Down(_))
}

#[test]
fn exit_codes_without_misc_dynamic() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        attempt(&script(dir.path(), 0, 0), false, None).0,
        Outcome::Up
    );
    assert!(is_down(&attempt(&script(dir.path(), 1, 0), false, None).0));
    // keepalived: any non-zero code is a failure without misc_dynamic.
    assert!(is_down(&attempt(&script(dir.path(), 7, 0), false, None).0));
}

#[test]
fn exit_codes_with_misc_dynamic() {
    let dir = tempfile::tempdir().unwrap();
    let up = attempt(&script(dir.path(), 0, 0), true, None).0;
    assert_eq!(up, Outcome::UpWithWeight(RS_WEIGHT));
    assert!(is_down(&attempt(&script(dir.path(), 1, 0), true, None).0));
    let weighted = attempt(&script(dir.path(), 7, 0), true, None).0;
    assert_eq!(weighted, Outcome::UpWithWeight(5));
    let zero = attempt(&script(dir.path(), 2, 0), true, None).0;
    assert_eq!(zero, Outcome::UpWithWeight(0));
}

#[test]
fn slow_script_is_down_within_misc_timeout_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, took) = attempt(&script(dir.path(), 0, 30), false, Some(1));
    assert!(is_down(&outcome), "{outcome:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // Recovery: the script answers in time again.
    assert_eq!(
        attempt(&script(dir.path(), 0, 0), false, Some(1)).0,
        Outcome::Up
    );
}

#[test]
fn missing_script_is_down_and_empty_path_rejected() {
    assert!(is_down(&attempt("/nonexistent/check.sh", false, None).0));
    assert!(MiscCheck::new(
        &Checker::default(),
        ScriptEnv::default(),
        Duration::from_secs(1),
        1
    )
    .is_err());
}
