//! Scripts run by a real lb-daemon: `enable_script_security` refuses
//! scripts a non-root user could change however they would run (shell,
//! world-writable directory, interpreter), scripts get none of the daemon's
//! environment, and neither their background children nor daemon
//! descriptors pile up over many runs.
use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Lab, LabSpec, VrrpConf};
use tempfile::TempDir;

/// Writes `body` to `path` with `mode`.
fn write(path: &Path, body: &str, mode: u32) -> Result<PathBuf> {
    fs::write(path, body)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(path.to_owned())
}

/// A `vrrp_script` block running `path` every second.
fn vrrp_script(name: &str, path: &Path) -> String {
    format!(
        "vrrp_script {name} {{\n    script \"{}\"\n    interval 1\n}}\n",
        path.display()
    )
}

/// Starts one director with `globals`, `scripts` (tracked by VI_1) and
/// `extra` lines in VI_1.
fn start(lab: &Lab, dir: &TempDir, text: &str, extra: &str, names: &[&str]) -> Result<Daemon> {
    let track = format!(
        "    track_script {{\n        {}\n    }}\n",
        names.join("\n        ")
    );
    let instance = VrrpConf {
        extra: track + extra,
        ..VrrpConf::fast("MASTER", 150)
    }
    .render();
    let conf = dir.path().join("lb.conf");
    fs::write(&conf, format!("{text}{instance}"))?;
    Daemon::start(lab.director(1).ns(), &conf, "dir1")
}

fn lines(path: &Path) -> usize {
    fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

#[test]
fn script_security_refuses_whatever_would_run_a_writable_file() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let runs = d.join("good-runs");
    let marker = d.join("insecure-ran");
    let touch = format!("touch {}\n", marker.display());
    let good = write(
        &d.join("good.sh"),
        &format!("#!/bin/sh\necho run >> {}\n", runs.display()),
        0o755,
    )?;
    // No #!, so the shell would run it; world-writable.
    let plain = write(&d.join("plain.sh"), &touch, 0o777)?;
    // Safe file in a world-writable directory.
    let open = d.join("open");
    fs::create_dir(&open)?;
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777))?;
    let in_open = write(&open.join("x.sh"), &format!("#!/bin/sh\n{touch}"), 0o755)?;
    // Safe #! script whose interpreter is world-writable.
    let interpreter = d.join("sh");
    fs::copy("/bin/sh", &interpreter)?;
    fs::set_permissions(&interpreter, fs::Permissions::from_mode(0o777))?;
    let interpreted = write(
        &d.join("interp.sh"),
        &format!("#!{}\n{touch}", interpreter.display()),
        0o755,
    )?;

    let globals = "global_defs {\n    enable_script_security\n    script_user root\n}\n";
    let text = [
        ("good", &good),
        ("plain", &plain),
        ("in_open", &in_open),
        ("interp", &interpreted),
    ]
    .iter()
    .map(|(name, path)| vrrp_script(name, path))
    .collect::<String>();
    let daemon = start(
        &lab,
        &dir,
        &(globals.to_owned() + &text),
        "",
        &["good", "plain", "in_open", "interp"],
    )?;

    let refusals = [
        format!("Unsafe permissions found for script '{}'", plain.display()),
        format!(
            "Unsafe permissions found for script '{}' - disabling: '{}' is world-writable",
            in_open.display(),
            open.display()
        ),
        format!(
            "Unsafe permissions found for interpreter '{}' of script",
            interpreter.display()
        ),
    ];
    for refusal in &refusals {
        daemon.wait_for_log(refusal, Duration::from_secs(10))?;
    }
    // The secure script keeps running; the others had as many chances.
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        lines(&runs) >= 3
    })
    .with_context(|| format!("the secure script did not run:\n{}", daemon.log()))?;
    ensure!(
        !marker.exists(),
        "an insecure script ran:\n{}",
        daemon.log()
    );
    Ok(())
}

/// The daemon's open descriptors, the fewest of a few looks (a script
/// running at that moment holds two pipes).
fn daemon_descriptors(pid: &str) -> Result<usize> {
    let mut fewest = usize::MAX;
    for _ in 0..10 {
        fewest = fewest.min(fs::read_dir(format!("/proc/{pid}/fd"))?.count());
        std::thread::sleep(Duration::from_millis(30));
    }
    Ok(fewest)
}

/// Gone, or a zombie its new parent has not reaped yet.
fn dead(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
    })
}

#[test]
fn scripts_are_isolated_from_the_daemon_and_leave_nothing_behind() -> Result<()> {
    // What systemd (or anything else) gave the daemon is not for scripts.
    std::env::set_var("NOTIFY_SOCKET", "/run/lb-test-notify-socket");
    std::env::set_var("LB_TEST_DAEMON_SECRET", "leaked");
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let (script_env, notify_env) = (d.join("script.env"), d.join("notify.env"));
    let env_script = write(
        &d.join("env.sh"),
        &format!("#!/bin/sh\nenv > {}\n", script_env.display()),
        0o755,
    )?;
    let notify = write(
        &d.join("notify.sh"),
        &format!("#!/bin/sh\nenv > {}\n", notify_env.display()),
        0o755,
    )?;
    // Ten scripts a second, each leaving `sleep 1000` behind.
    let pids = d.join("bg.pids");
    let bg = write(
        &d.join("bg.sh"),
        &format!("#!/bin/sh\nsleep 1000 &\necho $! >> {}\n", pids.display()),
        0o755,
    )?;
    let mut names = vec!["envdump".to_owned()];
    let mut text = vrrp_script("envdump", &env_script);
    for n in 0..10 {
        names.push(format!("bg{n}"));
        text += &vrrp_script(&format!("bg{n}"), &bg);
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let extra = format!("    notify_master \"{}\"\n", notify.display());
    let daemon = start(&lab, &dir, &text, &extra, &names)?;

    wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        lines(&script_env) > 0 && lines(&notify_env) > 0
    })
    .with_context(|| format!("env scripts did not run:\n{}", daemon.log()))?;
    for file in [&script_env, &notify_env] {
        let env = fs::read_to_string(file)?;
        ensure!(
            !env.contains("NOTIFY_SOCKET") && !env.contains("LB_TEST_DAEMON_SECRET"),
            "{} has the daemon's environment:\n{env}",
            file.display()
        );
        ensure!(env.contains("PATH="), "{}: no PATH:\n{env}", file.display());
    }

    let pid = fs::read_to_string(daemon.runtime_dir().join("lb-daemon.pid"))?;
    let pid = pid.trim();
    let enough = |n| {
        wait_until(Duration::from_secs(30), Duration::from_millis(50), || {
            lines(&pids) >= n
        })
        .with_context(|| format!("fewer than {n} background runs:\n{}", daemon.log()))
    };
    enough(10)?;
    let before = daemon_descriptors(pid)?;
    enough(60)?;
    let after = daemon_descriptors(pid)?;
    ensure!(
        after <= before,
        "daemon descriptors grew from {before} to {after} over 50 runs"
    );
    let recorded = fs::read_to_string(&pids)?;
    let left = || {
        recorded
            .split_whitespace()
            .filter(|p| !dead(p))
            .collect::<Vec<_>>()
    };
    wait_until(Duration::from_secs(3), Duration::from_millis(50), || {
        left().is_empty()
    })
    .with_context(|| format!("background children outlived their scripts: {:?}", left()))?;
    Ok(())
}
