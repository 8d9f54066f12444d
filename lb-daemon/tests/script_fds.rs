//! The daemon's descriptor count stays flat over many script runs, even when
//! every run leaves a background child holding its output pipes. Alone in
//! its own test binary: other tests running alongside would change the
//! count.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use lb_daemon::script::{run, ScriptEnv};

fn open_descriptors() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test]
async fn descriptors_stay_flat_over_fifty_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bg.sh");
    fs::write(&path, "#!/bin/sh\nsleep 1000 &\nexit 0\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    let line = path.display().to_string();
    let env = ScriptEnv::default();
    let once = || run(&line, &[], None, &env, Duration::from_secs(10));
    // The first run sets up what tokio keeps for child processes.
    assert!(once().await.unwrap().success());
    let before = open_descriptors();
    for _ in 0..50 {
        assert!(once().await.unwrap().success());
    }
    let after = open_descriptors();
    assert!(
        after <= before,
        "descriptors grew from {before} to {after} over 50 runs"
    );
}
