//! `script::run` with real processes: exit codes, arguments, output, shell
//! syntax, timeouts and cancellation (no process left behind), users and
//! `enable_script_security`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lb_daemon::config::RunAs;
use lb_daemon::script::{run, Outcome, ScriptEnv};

const LONG: Duration = Duration::from_secs(10);

async fn run_line(line: &str) -> Outcome {
    run(line, &[], None, &ScriptEnv::default(), LONG)
        .await
        .unwrap()
}

/// Writes an executable script into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A process that is gone or a zombie waiting for its new parent.
fn dead(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap()
            .trim_start()
            .starts_with('Z'),
    }
}

/// The pids written in `pidfile` so far (none while it does not exist).
fn recorded(pidfile: &Path) -> Vec<i32> {
    fs::read_to_string(pidfile)
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// Waits (up to 10 s: a loaded machine forks slowly) until the script and
/// its child have written their pids into `pidfile`.
async fn wait_until_recorded(pidfile: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while recorded(pidfile).len() < 2 {
        assert!(Instant::now() < deadline, "the script did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits up to a second for every pid written in `pidfile` to be dead.
async fn assert_all_dead(pidfile: &Path) {
    let pids = recorded(pidfile);
    assert_eq!(pids.len(), 2, "script and its child recorded");
    let deadline = Instant::now() + Duration::from_secs(1);
    while !pids.iter().all(|&p| dead(p)) {
        assert!(Instant::now() < deadline, "left behind: {pids:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn exit_codes_and_output() {
    assert_eq!(run_line("true").await.code, Some(0));
    assert_eq!(run_line("/bin/false").await.code, Some(1));
    let out = run_line("sh -c 'echo out; echo err >&2; exit 3'").await;
    assert_eq!(out.code, Some(3));
    assert!(!out.timed_out);
    assert!(out.output.contains("out") && out.output.contains("err"));
}

#[tokio::test]
async fn extra_args_are_appended_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "args.sh", r#"printf '%s|' "$@""#);
    let line = format!("{} 'first arg' MASTER", path.display());
    let args = ["VI_1".to_string(), "it's $HOME".to_string()];
    let out = run(&line, &args, None, &ScriptEnv::default(), LONG)
        .await
        .unwrap();
    assert_eq!(out.output, "first arg|MASTER|VI_1|it's $HOME|");
}

#[tokio::test]
async fn tutorial_shell_lines_work() {
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("httpd.pid");
    let check = format!("if [ -f {} ]; then exit 0; else exit 1; fi", pid.display());
    assert_eq!(run_line(&check).await.code, Some(1));
    fs::write(&pid, "1").unwrap();
    assert_eq!(run_line(&check).await.code, Some(0));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tcp = format!("</dev/tcp/127.0.0.1/{port}");
    assert_eq!(run_line(&tcp).await.code, Some(0));
    drop(listener);
    assert_ne!(run_line(&tcp).await.code, Some(0));
}

#[tokio::test]
async fn missing_program_is_an_error() {
    let err = run(
        "lb-no-such-check --x",
        &[],
        None,
        &ScriptEnv::default(),
        LONG,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("lb-no-such-check"), "{err}");
}

#[tokio::test]
async fn timeout_kills_the_whole_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let body = format!(
        "echo $$ > {0}; sleep 10 & echo $! >> {0}; wait",
        pids.display()
    );
    let path = script(dir.path(), "hang.sh", &body);
    let started = Instant::now();
    // Long enough for the script to record its pids on a loaded machine.
    let timeout = Duration::from_millis(1500);
    let out = run(
        path.to_str().unwrap(),
        &[],
        None,
        &ScriptEnv::default(),
        timeout,
    )
    .await
    .unwrap();
    assert!(started.elapsed() < timeout + Duration::from_millis(500));
    assert!(out.timed_out);
    assert_eq!(out.code, None);
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn plain_sleep_is_killed_within_the_timeout() {
    let started = Instant::now();
    let out = run(
        "sleep 10",
        &[],
        None,
        &ScriptEnv::default(),
        Duration::from_millis(300),
    )
    .await
    .unwrap();
    assert!(out.timed_out);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn cancelled_run_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let body = format!(
        "echo $$ > {0}; sleep 10 & echo $! >> {0}; wait",
        pids.display()
    );
    let line = script(dir.path(), "hang.sh", &body).display().to_string();
    let task =
        tokio::spawn(async move { run(&line, &[], None, &ScriptEnv::default(), LONG).await });
    wait_until_recorded(&pids).await;
    task.abort();
    let _ = task.await;
    assert_all_dead(&pids).await;
}

#[tokio::test]
async fn runs_as_the_configured_user() {
    let nobody = RunAs {
        user: "nobody".into(),
        group: None,
    };
    let env = ScriptEnv::default();
    let out = run("id -u", &[], Some(&nobody), &env, LONG).await.unwrap();
    assert_eq!(out.output.trim(), "65534");

    let env = ScriptEnv {
        security: true,
        default_user: Some(nobody),
    };
    let out = run("id -un", &[], None, &env, LONG).await.unwrap();
    assert_eq!(out.output.trim(), "nobody");

    let ghost = RunAs {
        user: "lb-no-such-user".into(),
        group: None,
    };
    assert!(run("true", &[], Some(&ghost), &env, LONG).await.is_err());
}

#[tokio::test]
async fn script_security_refuses_writable_paths_run_as_root() {
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let path = script(&open, "chk.sh", "exit 0");
    let line = path.display().to_string();

    let secure = ScriptEnv {
        security: true,
        default_user: None,
    };
    let err = run(&line, &[], None, &secure, LONG).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&line) && msg.contains("Unsafe permissions"),
        "{msg}"
    );

    // keepalived only logs it without enable_script_security...
    let lax = ScriptEnv::default();
    assert!(run(&line, &[], None, &lax, LONG).await.unwrap().success());
    // ...and a non-root user needs no protection.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = RunAs {
        user: "nobody".into(),
        group: None,
    };
    let out = run(&line, &[], Some(&nobody), &secure, LONG).await.unwrap();
    assert!(out.success());
}

/// `enable_script_security` with the daemon's own (root) user.
fn secure() -> ScriptEnv {
    ScriptEnv {
        security: true,
        default_user: None,
    }
}

/// Runs `line` with script security and expects it refused with a message
/// naming `culprit`, without the script having run (`marker` not created).
async fn assert_refused(line: &str, culprit: &Path, marker: &Path) {
    let err = run(line, &[], None, &secure(), LONG).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("Unsafe permissions") && msg.contains(&culprit.display().to_string()),
        "{msg}"
    );
    assert!(!marker.exists(), "the refused script ran");
}

#[tokio::test]
async fn script_security_covers_scripts_the_shell_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    // No `#!`: the shell runs it, and it is world-writable.
    let plain = dir.path().join("plain.sh");
    fs::write(&plain, format!("touch {}\n", marker.display())).unwrap();
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o777)).unwrap();
    let line = plain.display().to_string();
    assert_refused(&line, &plain, &marker).await;
    // Without enable_script_security it runs (keepalived only logs it).
    let out = run(&line, &[], None, &ScriptEnv::default(), LONG)
        .await
        .unwrap();
    assert!(out.success() && marker.exists(), "{out:?}");
    fs::remove_file(&marker).unwrap();

    // Safe itself, but in a world-writable directory.
    let open = dir.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let inside = open.join("plain.sh");
    fs::write(&inside, format!("touch {}\n", marker.display())).unwrap();
    fs::set_permissions(&inside, fs::Permissions::from_mode(0o755)).unwrap();
    assert_refused(&inside.display().to_string(), &open, &marker).await;
}

#[tokio::test]
async fn script_security_covers_the_interpreter() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let interpreter = dir.path().join("sh");
    fs::copy("/bin/sh", &interpreter).unwrap();
    fs::set_permissions(&interpreter, fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.path().join("chk.sh");
    fs::write(
        &path,
        format!("#!{}\ntouch {}\n", interpreter.display(), marker.display()),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    assert_refused(&path.display().to_string(), &interpreter, &marker).await;

    // The same interpreter, safe: the script runs.
    fs::set_permissions(&interpreter, fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(path.to_str().unwrap(), &[], None, &secure(), LONG)
        .await
        .unwrap();
    assert!(out.success() && marker.exists(), "{out:?}");
}

#[tokio::test]
async fn scripts_get_none_of_the_daemons_environment() {
    std::env::set_var("NOTIFY_SOCKET", "/run/lb-test-notify-socket");
    std::env::set_var("LB_TEST_DAEMON_SECRET", "leaked");
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "env.sh", "env");
    for line in [path.display().to_string(), "env".into()] {
        let out = run(&line, &[], None, &ScriptEnv::default(), LONG)
            .await
            .unwrap();
        assert!(out.success(), "{out:?}");
        let vars: Vec<&str> = out.output.lines().collect();
        assert!(
            !out.output.contains("NOTIFY_SOCKET") && !out.output.contains("LB_TEST_DAEMON_SECRET"),
            "{vars:?}"
        );
        assert!(
            vars.contains(&format!("PATH={}", lb_daemon::script::SCRIPT_PATH).as_str()),
            "{vars:?}"
        );
    }
}

#[tokio::test]
async fn no_daemon_descriptor_reaches_a_script() {
    // A descriptor opened without O_CLOEXEC, as some libraries do.
    let file = fs::File::open("/dev/null").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    // SAFETY: clears FD_CLOEXEC on a descriptor this test owns.
    assert_eq!(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }, 0);
    let line =
        format!("sh -c 'if [ -e /proc/$$/fd/{fd} ]; then echo inherited; else echo closed; fi'");
    let out = run_line(&line).await;
    assert_eq!(out.output.trim(), "closed");
}

/// The process group of `pid` while it is alive (not a zombie).
fn live_pgrp(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    (fields[0] != "Z").then(|| fields[2].parse().unwrap())
}

/// Whether any live process belongs to process group `pgid`.
fn group_has_members(pgid: i32) -> bool {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .any(|pid| live_pgrp(pid) == Some(pgid))
}

#[tokio::test]
async fn background_children_die_with_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let body = format!("sleep 1000 &\necho $! $$ > {}", pids.display());
    let path = script(dir.path(), "bg.sh", &body);
    let out = run(
        path.to_str().unwrap(),
        &[],
        None,
        &ScriptEnv::default(),
        LONG,
    )
    .await
    .unwrap();
    assert!(out.success(), "{out:?}");
    let (sleeper, leader) = match recorded(&pids)[..] {
        [sleeper, leader] => (sleeper, leader),
        ref other => panic!("pids: {other:?}"),
    };
    // Already gone when run() returns: it waited for the group to die.
    assert!(dead(sleeper), "the background sleep survived the script");
    assert!(
        !group_has_members(leader),
        "process group {leader} left behind"
    );
}
