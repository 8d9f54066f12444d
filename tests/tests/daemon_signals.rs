//! keepalived's signals never kill lb-daemon: a MASTER that receives SIGUSR1,
//! SIGUSR2, the JSON signal (SIGRTMIN+2), STATS_CLEAR (SIGRTMAX-1) or a
//! signal keepalived ignores (SIGQUIT, SIGTRAP, SIGABRT, SIGSYS, SIGALRM,
//! another real-time signal; SIGTSTP and SIGTTIN, which would stop it) stays
//! up, stays MASTER and keeps its VIP (before, each of them killed or stopped
//! the daemon and left the VIP behind: split brain). The dumps land in the
//! runtime directory, mode 0600, without the VRRP password (whose drop
//! counter stays a number).
use std::{fs, os::unix::fs::PermissionsExt, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Lab, LabSpec, VrrpConf};
use nix::libc;

const SECRET: &str = "s3cretpw";

fn send(daemon: &Daemon, raw: i32) -> Result<()> {
    let pid = daemon.status()?["pid"].as_i64().context("pid in status")? as i32;
    // SAFETY: kill(2) with a pid read from the daemon's own status.
    let rc = unsafe { libc::kill(pid, raw) };
    ensure!(
        rc == 0,
        "kill({pid}, {raw}): {}",
        std::io::Error::last_os_error()
    );
    Ok(())
}

#[test]
fn keepalived_signals_keep_the_master_and_write_dumps() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let vrrp = VrrpConf {
        version: 2,
        advert_int: "1",
        auth_pass: Some(SECRET),
        ..VrrpConf::fast("MASTER", 150)
    };
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, vrrp.render())?;
    let director = lab.director(1);
    let daemon = Daemon::start(director.ns(), &path, "dir1")?;
    daemon.wait_status("MASTER", Duration::from_secs(10), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    let dir = daemon.runtime_dir().to_owned();
    let signals = [
        ("SIGUSR1", libc::SIGUSR1, Some("keepalived.data")),
        ("SIGUSR2", libc::SIGUSR2, Some("keepalived.stats")),
        ("JSON", libc::SIGRTMIN() + 2, Some("keepalived.json")),
        ("STATS_CLEAR", libc::SIGRTMAX() - 1, None),
        ("SIGQUIT", libc::SIGQUIT, None),
        ("SIGTRAP", libc::SIGTRAP, None),
        ("SIGABRT", libc::SIGABRT, None),
        ("SIGSYS", libc::SIGSYS, None),
        ("SIGTSTP", libc::SIGTSTP, None),
        ("SIGTTIN", libc::SIGTTIN, None),
        ("SIGALRM", libc::SIGALRM, None),
        ("SIGRTMIN+5", libc::SIGRTMIN() + 5, None),
    ];
    for (name, raw, file) in signals {
        if let Some(file) = file {
            let _ = fs::remove_file(dir.join(file));
        }
        send(&daemon, raw)?;
        if let Some(file) = file {
            let path = dir.join(file);
            wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
                path.exists()
            })
            .with_context(|| format!("{name}: no {}", path.display()))?;
            let mode = fs::metadata(&path)?.permissions().mode() & 0o777;
            ensure!(mode == 0o600, "{name}: {file} has mode {mode:o}");
            let content = fs::read_to_string(&path)?;
            ensure!(
                !content.contains(SECRET),
                "{name}: {file} shows the password"
            );
            ensure!(content.contains("VI_1"), "{name}: {file}:\n{content}");
        }
        std::thread::sleep(Duration::from_millis(200));
        let status = daemon
            .status()
            .with_context(|| format!("the daemon died on {name}:\n{}", daemon.log()))?;
        ensure!(status["vrrp"][0]["state"] == "MASTER", "{name}: {status}");
        ensure!(vrrp.held_by(director.ns()), "{name}: the VIP is gone");
        ensure!(
            !status.to_string().contains(SECRET),
            "status shows the password"
        );
    }
    let data = fs::read_to_string(dir.join("keepalived.data"))?;
    ensure!(
        data.contains("------< VRRP Topology >------") && data.contains("   State = MASTER"),
        "{data}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("keepalived.json"))?)?;
    ensure!(json["vrrp"][0]["name"] == "VI_1", "{json}");
    // The JSON dump is the `status --json` document, IPVS part included.
    let status = daemon.status()?;
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect()
    };
    ensure!(
        status["vrrp"][0]["drops"]["auth_pass"].is_u64(),
        "the wrong-password counter is not a number: {status}"
    );
    ensure!(
        keys(&json) == keys(&status) && keys(&json["lvs"]) == keys(&status["lvs"]),
        "JSON dump {json}\nstatus --json {status}"
    );
    let stats = fs::read_to_string(dir.join("keepalived.stats"))?;
    ensure!(
        stats.contains("VRRP Instance: VI_1\n  Advertisements:"),
        "{stats}"
    );
    Ok(())
}
