//! The runtime directory's files and who may use the control socket (issue
//! 12, items 7 and 13b). Under `umask 000` the directory was 0777 and the
//! pid file and socket world-writable, so any local user could read the
//! status (with the VRRP password) or send requests; now the modes are set
//! explicitly (0700, 0600) and clients are admitted by uid. A full disk
//! made the daemon say `No space left on device` without the file and leave
//! an empty pid file; now the error names the pid file and none is left.
mod daemon_common;

use std::{
    fs,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::Path,
    process::{Command, Output},
};

use daemon_common::{setup, Options, Running, BIN, CONFIG};

const NOBODY: u32 = 65534;

/// The mode of `path` in octal, as `ls` and chmod spell it.
fn mode(path: &Path) -> String {
    format!(
        "{:o}",
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    )
}

/// `lb-daemon status` run as `uid`.
fn status_as(uid: u32, runtime: &Path) -> Output {
    Command::new(BIN)
        .args(["status", "--json", "--runtime-dir"])
        .arg(runtime)
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap()
}

#[test]
fn files_are_private_under_umask_000_and_other_users_are_refused() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let options = Options {
        umask: Some(0),
        ..Options::default()
    };
    let _daemon = Running::start_with(&config, &runtime, &options);
    assert_eq!(mode(&runtime), "700", "runtime directory");
    assert_eq!(mode(&runtime.join("lb-daemon.pid")), "600", "pid file");
    assert_eq!(mode(&runtime.join("lb-daemon.sock")), "600", "socket");
    let out = status_as(NOBODY, &runtime);
    assert!(!out.status.success(), "nobody got the status");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied"), "{err}");
}

#[test]
fn allowed_uids_are_admitted_by_peer_credentials_and_others_refused() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let options = Options {
        args: vec!["--control-allow-uid".into(), "65533".into()],
        umask: Some(0o077),
        ..Options::default()
    };
    let _daemon = Running::start_with(&config, &runtime, &options);
    assert_eq!(
        (mode(&runtime), mode(&runtime.join("lb-daemon.sock"))),
        ("711".into(), "666".into())
    );
    let allowed = status_as(65533, &runtime);
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let refused = status_as(NOBODY, &runtime);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("permission denied: uid 65534 may not use the control socket"),
        "{err}"
    );
}

/// The daemon on a runtime directory in a full tmpfs (mounted in a mount
/// namespace of its own).
#[test]
fn a_full_disk_names_the_pid_file_and_leaves_none() {
    let (tmp, config, _) = setup(CONFIG);
    let disk = tmp.path().join("disk");
    fs::create_dir(&disk).unwrap();
    let script = r#"
        mount -t tmpfs -o size=64k tmpfs "$1" || exit 99
        dd if=/dev/zero of="$1/fill" bs=4096 2>/dev/null
        "$2" -n -l -f "$3" --runtime-dir "$1/run"
        echo "rc=$?"
        ls -A "$1/run"
    "#;
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&disk)
        .arg(BIN)
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.starts_with("rc=1\n"), "{stdout}\n{stderr}");
    let pid_file = disk.join("run/lb-daemon.pid");
    assert!(
        stderr.contains(&format!(
            "writing pid file {}: No space left on device",
            pid_file.display()
        )),
        "{stderr}"
    );
    assert_eq!(stdout, "rc=1\n", "the runtime directory is left empty");
}
