//! lb-daemon under a service manager (`Type=notify`), with a NOTIFY_SOCKET
//! the test owns: `READY=1` comes once the VRRP instance has started (never
//! with an instance still in INIT), `RELOADING=1` then `READY=1` around a
//! SIGHUP, `STOPPING=1` at SIGTERM, `STATUS=` follows the state; with
//! `WATCHDOG_USEC` the main loop pings `WATCHDOG=1` at half the period and
//! stops pinging while it is wedged (a reload blocked reading a FIFO); and
//! no script the daemon runs sees NOTIFY_SOCKET or WATCHDOG_*.
use std::{
    ffi::OsStr,
    fs,
    os::unix::{fs::PermissionsExt, net::UnixDatagram},
    path::Path,
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Lab, LabSpec, VrrpConf};
use nix::sys::signal::Signal;

/// Datagrams received on the test's NOTIFY_SOCKET, with their arrival time.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(Instant, String)>>>);

impl Received {
    fn all(&self) -> Vec<(Instant, String)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The messages, without those that only ping or update the status.
    fn events(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .map(|(_, m)| m)
            .filter(|m| {
                m.lines()
                    .any(|l| !l.starts_with("WATCHDOG=1") && !l.starts_with("STATUS="))
            })
            .collect()
    }

    /// Waits until some message received after the first `skip` satisfies `what`.
    fn wait_for(&self, skip: usize, what: &str, ok: impl Fn(&str) -> bool) -> Result<String> {
        let mut found = None;
        wait_until(Duration::from_secs(15), Duration::from_millis(20), || {
            found = self
                .all()
                .into_iter()
                .skip(skip)
                .map(|(_, m)| m)
                .find(|m| ok(m));
            found.is_some()
        })
        .with_context(|| format!("no {what} in {:?}", self.all()))?;
        Ok(found.unwrap_or_default())
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Arrival times of the `WATCHDOG=1` pings.
    fn pings(&self) -> Vec<Instant> {
        self.all()
            .into_iter()
            .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
            .map(|(at, _)| at)
            .collect()
    }
}

/// Binds a datagram socket at `path` and collects what arrives on it.
fn listen(path: &Path) -> Result<Received> {
    let socket = UnixDatagram::bind(path)?;
    let received = Received::default();
    let sink = received.clone();
    thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            sink.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((Instant::now(), text));
        }
    });
    Ok(received)
}

/// A script that writes its environment to `out`.
fn env_script(path: &Path, out: &Path) -> Result<()> {
    fs::write(path, format!("#!/bin/sh\nenv > {}\n", out.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Checks the environment a script wrote: PATH, and nothing of the service manager's.
fn check_env(out: &Path, who: &str) -> Result<()> {
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        fs::read_to_string(out).is_ok_and(|e| e.contains("PATH="))
    })
    .with_context(|| format!("the {who} script did not run"))?;
    let env = fs::read_to_string(out)?;
    for leak in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        ensure!(!env.contains(leak), "the {who} script got {leak}:\n{env}");
    }
    Ok(())
}

#[test]
fn notify_sequence_status_and_scripts_without_the_socket() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let dir = tempfile::tempdir()?;
    let (check_sh, notify_sh) = (dir.path().join("check.sh"), dir.path().join("notify.sh"));
    let (check_env_out, notify_env_out) =
        (dir.path().join("check.env"), dir.path().join("notify.env"));
    env_script(&check_sh, &check_env_out)?;
    env_script(&notify_sh, &notify_env_out)?;
    let instance = VrrpConf {
        extra: format!(
            "    track_script {{\n        chk\n    }}\n    notify_master \"{}\"\n",
            notify_sh.display()
        ),
        ..VrrpConf::fast("MASTER", 150)
    };
    let conf = dir.path().join("lb.conf");
    fs::write(
        &conf,
        format!(
            "vrrp_script chk {{\n    script \"{}\"\n    interval 1\n}}\n{}",
            check_sh.display(),
            instance.render()
        ),
    )?;
    let socket = dir.path().join("notify.sock");
    let received = listen(&socket)?;
    let env: [(&str, &OsStr); 2] = [
        ("NOTIFY_SOCKET", socket.as_os_str()),
        // 10 s: pings every second, which the sequence below leaves out.
        ("WATCHDOG_USEC", OsStr::new("10000000")),
    ];
    let mut daemon = Daemon::start_with_env(lab.director(1).ns(), &conf, "dir1", &env)?;

    let ready = received.wait_for(0, "READY=1", |m| m.starts_with("READY=1\n"))?;
    ensure!(
        ready.contains("STATUS=VRRP: 1 instance (1 BACKUP)") && !ready.contains("INIT"),
        "READY=1 before the instance started: {ready:?}"
    );
    daemon.wait_status("MASTER", Duration::from_secs(10), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    received.wait_for(0, "STATUS with MASTER", |m| {
        m.contains("STATUS=VRRP: 1 instance (1 MASTER); LVS: 0 virtual servers")
    })?;
    check_env(&check_env_out, "vrrp_script")?;
    check_env(&notify_env_out, "notify_master")?;

    let before = received.len();
    daemon.signal(Signal::SIGHUP)?;
    received.wait_for(before, "READY=1 after the reload", |m| {
        m.starts_with("READY=1\n") && m.contains("configuration generation 2")
    })?;
    daemon.stop()?;
    received.wait_for(before, "STOPPING=1", |m| m.starts_with("STOPPING=1\n"))?;
    let events = received.events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|m| m.lines().next().unwrap_or_default())
        .collect();
    ensure!(
        kinds == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"],
        "sequence {events:?}"
    );
    ensure!(
        events[1].contains("\nMONOTONIC_USEC="),
        "RELOADING=1 without MONOTONIC_USEC: {:?}",
        events[1]
    );
    Ok(())
}

#[test]
fn watchdog_pings_from_the_main_loop_and_stop_while_it_is_wedged() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let dir = tempfile::tempdir()?;
    let conf = dir.path().join("lb.conf");
    let text = VrrpConf::fast("BACKUP", 100).render();
    fs::write(&conf, &text)?;
    let socket = dir.path().join("notify.sock");
    let received = listen(&socket)?;
    // 400 ms: a ping every 200 ms.
    let env: [(&str, &OsStr); 2] = [
        ("NOTIFY_SOCKET", socket.as_os_str()),
        ("WATCHDOG_USEC", OsStr::new("400000")),
    ];
    let daemon = Daemon::start_with_env(lab.director(1).ns(), &conf, "dir1", &env)?;
    received.wait_for(0, "READY=1", |m| m.starts_with("READY=1\n"))?;
    let since = Instant::now();
    thread::sleep(Duration::from_secs(2));
    let pings: Vec<Instant> = received
        .pings()
        .into_iter()
        .filter(|t| *t >= since)
        .collect();
    ensure!(pings.len() >= 7, "{} pings in 2 s", pings.len());
    let gaps = pings.windows(2).map(|w| w[1] - w[0]);
    ensure!(
        gaps.clone().all(|g| g < Duration::from_millis(400)),
        "a gap between pings reached the watchdog period: {:?}",
        gaps.max()
    );

    // Wedge the main loop: the reload blocks reading a FIFO.
    fs::remove_file(&conf)?;
    nix::unistd::mkfifo(&conf, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
    let before = received.len();
    daemon.signal(Signal::SIGHUP)?;
    received.wait_for(before, "RELOADING=1", |m| m.starts_with("RELOADING=1\n"))?;
    let wedged = Instant::now();
    thread::sleep(Duration::from_millis(1500));
    let during = received.pings().into_iter().filter(|t| *t > wedged).count();
    ensure!(during == 0, "{during} pings while the main loop was wedged");

    // Unwedge it: the reload reads the configuration and pinging resumes.
    fs::write(&conf, &text)?;
    let resumed = received.len();
    received.wait_for(resumed, "READY=1 after the reload", |m| {
        m.starts_with("READY=1\n")
    })?;
    received.wait_for(resumed, "a ping after the reload", |m| m == "WATCHDOG=1\n")?;
    daemon.wait_status("reloaded", Duration::from_secs(5), |s| {
        s["config_generation"] == 2
    })?;
    Ok(())
}
