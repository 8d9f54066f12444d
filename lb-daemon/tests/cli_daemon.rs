//! The daemon's runtime behaviour through its real binary: runtime-directory
//! locking, stale files, signals and SIGHUP reloads. These tests need no
//! network: the configurations hold only parsed-but-not-run sections.
mod daemon_common;

use std::{fs, process::Command};

use daemon_common::{run, setup, status, wait, Running, BIN, CONFIG};
use nix::sys::signal::Signal;

const CONFIG_V2: &str = "global_defs {\n    router_id cli-test-reloaded\n}\n";
const BROKEN: &str = "global_defs {\n    router_idd cli-test\n}\n";

#[test]
fn sigterm_stops_cleanly_and_removes_pid_file_and_socket() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let daemon = Running::start(&config, &runtime);
    let st = status(&runtime).unwrap();
    assert_eq!(st["pid"], daemon.child.id());
    assert_eq!(st["config_generation"], 1);
    assert!(runtime.join("lb-daemon.pid").exists() && runtime.join("lb-daemon.sock").exists());
    daemon.signal(Signal::SIGTERM);
    let (ok, log) = daemon.finish();
    assert!(ok, "exit status after SIGTERM; log:\n{log}");
    assert!(
        log.contains("Received SIGTERM") && log.contains("Stopped"),
        "{log}"
    );
    assert!(!runtime.join("lb-daemon.pid").exists() && !runtime.join("lb-daemon.sock").exists());
}

#[test]
fn sigint_stops_cleanly() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let daemon = Running::start(&config, &runtime);
    daemon.signal(Signal::SIGINT);
    let (ok, log) = daemon.finish();
    assert!(ok && log.contains("Received SIGINT"), "{log}");
}

#[test]
fn second_live_instance_on_the_same_runtime_dir_is_refused() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let first = Running::start(&config, &runtime);
    let second = run(&[], &runtime, &config);
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!(
            "another lb-daemon (pid {}) is running",
            first.child.id()
        )),
        "{err}"
    );
    assert_eq!(
        status(&runtime).unwrap()["pid"],
        first.child.id(),
        "first instance unaffected"
    );
}

#[test]
fn files_left_by_a_killed_run_do_not_block_a_restart() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let killed = Running::start(&config, &runtime);
    killed.signal(Signal::SIGKILL);
    let (ok, _) = killed.finish();
    assert!(!ok);
    assert!(runtime.join("lb-daemon.pid").exists() && runtime.join("lb-daemon.sock").exists());
    let restarted = Running::start(&config, &runtime);
    assert_eq!(status(&runtime).unwrap()["pid"], restarted.child.id());
}

#[test]
fn sighup_applies_a_valid_config_and_keeps_the_running_one_when_invalid() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let daemon = Running::start(&config, &runtime);
    fs::write(&config, CONFIG_V2).unwrap();
    daemon.signal(Signal::SIGHUP);
    wait(
        || status(&runtime).unwrap()["config_generation"] == 2,
        "generation 2 after SIGHUP",
    );
    let st = status(&runtime).unwrap();
    assert_eq!(
        st["config"]["global_defs"]["router_id"],
        "cli-test-reloaded"
    );

    fs::write(&config, BROKEN).unwrap();
    daemon.signal(Signal::SIGHUP);
    wait(
        || !status(&runtime).unwrap()["last_reload_error"].is_null(),
        "reload failure reported",
    );
    let st = status(&runtime).unwrap();
    let why = st["last_reload_error"].as_str().unwrap();
    assert!(
        why.contains(":2:5: error:"),
        "reload error names the line: {why}"
    );
    assert_eq!(st["config_generation"], 2, "invalid config not applied");
    assert_eq!(
        st["config"]["global_defs"]["router_id"],
        "cli-test-reloaded"
    );
    daemon.signal(Signal::SIGTERM);
    let (ok, log) = daemon.finish();
    assert!(ok, "{log}");
    assert!(
        log.contains("Reload failed, keeping the running configuration (generation 2)"),
        "{log}"
    );
}

#[test]
fn invalid_config_at_start_exits_1_naming_the_line() {
    let (_tmp, config, runtime) = setup(BROKEN);
    let out = run(&[], &runtime, &config);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:5: error:", config.display())),
        "{err}"
    );
    assert!(
        !runtime.join("lb-daemon.sock").exists(),
        "nothing half-started"
    );
}

#[test]
fn status_without_a_daemon_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("status")
        .arg("--runtime-dir")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no lb-daemon answers"));
}
