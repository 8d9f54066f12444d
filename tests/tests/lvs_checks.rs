//! The daemon runs health checks against real servers in the lab: a real
//! server whose check fails is marked down within one check cycle (after its
//! retries) and comes back when it recovers; `lb-daemon genhash` prints the
//! digest `HTTP_GET` expects.
use std::{fs, process::Command, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{daemon_binary, http_get, wait_until, Daemon, Lab, LabSpec, VrrpConf, VIP};
use serde_json::Value;

/// The desired state's view of virtual server 0 in the daemon's status.
fn virtual_server(daemon: &Daemon) -> Value {
    daemon
        .status()
        .map(|s| s["lvs"]["virtual_servers"][0].clone())
        .unwrap_or_default()
}

/// Each real server's verdict in a virtual server's status.
fn verdicts(vs: &Value) -> Vec<bool> {
    let reals = vs["real_servers"].as_array().cloned().unwrap_or_default();
    reals.iter().map(|r| r["up"] == true).collect()
}

/// Waits until virtual server 0 in the daemon's status satisfies `ready`.
fn wait_vs(daemon: &Daemon, what: &str, secs: u64, ready: impl Fn(&Value) -> bool) -> Result<()> {
    daemon.wait_status(what, Duration::from_secs(secs), |s| {
        ready(&s["lvs"]["virtual_servers"][0])
    })
}

/// Starts lb-daemon on dir1 with one virtual server whose real servers are
/// the lab's, each checked by HTTP_GET /health every 0.5 s; `vs_extra` and
/// `rs_extra(n)` add lines to the virtual server and to real server `n`.
fn start_checked(
    lab: &Lab,
    dir: &std::path::Path,
    vs_extra: &str,
    rs_extra: impl Fn(usize) -> String,
) -> Result<Daemon> {
    let reals: String = (1..=lab.real_servers().count())
        .map(|n| {
            format!(
                "    real_server {} 80 {{\n{}        HTTP_GET {{\n            url {{\n                path /health\n            }}\n            \
                 connect_timeout 1\n            retry 1\n            delay_before_retry 0.2\n            delay_loop 0.5\n            \
                 warmup 0\n        }}\n    }}\n",
                lab.real_server(n).ipv4(),
                rs_extra(n)
            )
        })
        .collect();
    let path = dir.join("dir1.conf");
    let config = format!("virtual_server 192.0.2.50 80 {{\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n{vs_extra}{reals}}}\n");
    fs::write(&path, config)?;
    Daemon::start(lab.director(1).ns(), &path, "dir1")
}

/// Also across a reload: the failed real server stays down (and is not
/// programmed again) until its checks pass.
#[test]
fn http_get_marks_a_failing_real_server_down_and_back_up() -> Result<()> {
    let lab = Lab::new(LabSpec::web(1, 2))?;
    let tmp = tempfile::tempdir()?;
    let daemon = start_checked(&lab, tmp.path(), "", |_| String::new())?;
    wait_vs(&daemon, "both real servers up", 5, |vs| {
        verdicts(vs) == [true, true]
    })?;

    lab.real_server(1)
        .web()
        .context("rs1 web")?
        .set_healthy(false)?;
    wait_vs(&daemon, "rs1 down within a check cycle", 4, |vs| {
        verdicts(vs) == [false, true]
    })?;
    daemon.wait_for_log("HTTP status code error", Duration::from_secs(1))?;

    daemon.signal(nix::sys::signal::Signal::SIGHUP)?;
    daemon.wait_for_log(
        "Configuration reloaded (generation 2)",
        Duration::from_secs(5),
    )?;
    let vs = virtual_server(&daemon);
    ensure!(
        verdicts(&vs) == [false, true] && vs["real_servers"][0]["programmed_weight"].is_null(),
        "right after the reload rs1 is still down and not programmed: {vs}"
    );

    lab.real_server(1)
        .web()
        .context("rs1 web")?
        .set_healthy(true)?;
    wait_vs(&daemon, "rs1 back up", 4, |vs| verdicts(vs) == [true, true])?;
    Ok(())
}

#[test]
fn genhash_prints_the_md5_of_the_body() -> Result<()> {
    let lab = Lab::new(LabSpec::web(0, 1))?;
    let rs = lab.real_server(1).ipv4().to_string();
    let (_, body) = http_get(
        lab.client().ns_name(),
        &format!("http://{rs}/"),
        Duration::from_secs(3),
    )?;
    let md5 = md5sum(&body)?;
    let out = lab.client().ns().run(&[
        daemon_binary()?.to_str().context("path")?,
        "genhash",
        "-s",
        &rs,
        "-p",
        "80",
        "-u",
        "/",
    ])?;
    ensure!(out.contains("HTTP status: 200"), "{out}");
    ensure!(out.contains(&format!("MD5SUM = {md5}")), "{out} vs {md5}");
    Ok(())
}

/// The hex MD5 digest of `text`, as coreutils' `md5sum` computes it.
fn md5sum(text: &str) -> Result<String> {
    use std::io::Write;
    let mut child = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    let digest = String::from_utf8_lossy(&out.stdout);
    Ok(digest
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned())
}

#[test]
fn inhibit_on_failure_and_sorry_server_in_the_running_daemon() -> Result<()> {
    let lab = Lab::new(LabSpec::web(1, 2))?;
    let tmp = tempfile::tempdir()?;
    // Both at weight 3; only rs1 is inhibited on failure.
    let extra = |n: usize| match n {
        1 => "        weight 3\n        inhibit_on_failure\n".to_owned(),
        _ => "        weight 3\n".to_owned(),
    };
    let daemon = start_checked(&lab, tmp.path(), "    sorry_server 192.0.2.99 80\n", extra)?;
    // (up, programmed weight; None when absent from the data planes)
    let weights = |vs: &Value| -> Vec<(bool, Option<u64>)> {
        let reals = vs["real_servers"].as_array().cloned().unwrap_or_default();
        reals
            .iter()
            .map(|r| (r["up"] == true, r["programmed_weight"].as_u64()))
            .collect()
    };
    wait_vs(&daemon, "both up at weight 3", 5, |vs| {
        weights(vs) == [(true, Some(3)), (true, Some(3))]
    })?;
    ensure!(virtual_server(&daemon)["sorry"] == false);

    // rs1 fails: inhibit_on_failure keeps it in the data planes, at weight 0.
    lab.real_server(1)
        .web()
        .context("rs1")?
        .set_healthy(false)?;
    wait_vs(&daemon, "rs1 inhibited", 4, |vs| {
        weights(vs) == [(false, Some(0)), (true, Some(3))] && vs["sorry"] == false
    })?;
    // rs2 fails too (no inhibit_on_failure: absent): the sorry server takes over.
    lab.real_server(2)
        .web()
        .context("rs2")?
        .set_healthy(false)?;
    wait_vs(&daemon, "sorry server in", 4, |vs| {
        vs["sorry"] == true && weights(vs)[1] == (false, None)
    })?;
    // One recovers: the sorry server leaves.
    lab.real_server(2).web().context("rs2")?.set_healthy(true)?;
    wait_vs(&daemon, "sorry server out", 4, |vs| vs["sorry"] == false)?;
    Ok(())
}

#[test]
fn ha_suspend_checks_only_on_the_node_holding_the_vip() -> Result<()> {
    let lab = Lab::new(LabSpec::web(2, 1))?;
    let tmp = tempfile::tempdir()?;
    let service = format!(
        "virtual_server {VIP} 80 {{\n    ha_suspend\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    \
         real_server {} 80 {{\n        TCP_CHECK {{\n            connect_timeout 1\n            delay_loop 0.5\n            \
         warmup 0\n        }}\n    }}\n}}\n",
        lab.real_server(1).ipv4()
    );
    let start = |n: usize, state: &'static str, priority: u8| -> Result<Daemon> {
        let path = tmp.path().join(format!("dir{n}.conf"));
        fs::write(&path, VrrpConf::fast(state, priority).render() + &service)?;
        Daemon::start(lab.director(n).ns(), &path, &format!("dir{n}"))
    };
    let mut d1 = start(1, "MASTER", 150)?;
    let d2 = start(2, "BACKUP", 100)?;
    let suspended = |d: &Daemon| {
        d.status()
            .ok()
            .map(|s| s["lvs"]["checkers"][0]["suspended"] == true)
    };
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        suspended(&d1) == Some(false) && suspended(&d2) == Some(true)
    })
    .with_context(|| {
        format!(
            "only the master checks: {:?} / {:?}",
            d1.status().ok(),
            d2.status().ok()
        )
    })?;

    // The backup takes over the VIP and resumes checking.
    d1.signal(nix::sys::signal::Signal::SIGKILL)?;
    d1.stop()?;
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        suspended(&d2) == Some(false)
    })
    .with_context(|| format!("dir2 resumed: {:?}", d2.status().ok()))?;
    d2.wait_for_log("Resuming healthchecker", Duration::from_secs(1))?;
    Ok(())
}

#[test]
fn quorum_down_and_up_run_their_commands() -> Result<()> {
    let lab = Lab::new(LabSpec::web(1, 2))?;
    let tmp = tempfile::tempdir()?;
    let log = tmp.path().join("quorum.log");
    let record = |word: &str| format!("\"/bin/sh -c 'echo {word} >> {}'\"", log.display());
    // Two real servers of weight 1; quorum 2 needs both.
    let vs_extra = format!(
        "    quorum 2\n    quorum_up {}\n    quorum_down {}\n",
        record("up"),
        record("down")
    );
    let daemon = start_checked(&lab, tmp.path(), &vs_extra, |_| String::new())?;
    let ran = || fs::read_to_string(&log).unwrap_or_default();
    wait_vs(&daemon, "quorum up at start", 5, |vs| {
        vs["quorum_up"] == true && ran() == "up\n"
    })?;

    lab.real_server(2)
        .web()
        .context("rs2")?
        .set_healthy(false)?;
    wait_vs(&daemon, "quorum lost", 4, |vs| {
        vs["quorum_up"] == false && ran() == "up\ndown\n"
    })?;

    lab.real_server(2).web().context("rs2")?.set_healthy(true)?;
    wait_vs(&daemon, "quorum back", 4, |vs| {
        vs["quorum_up"] == true && ran() == "up\ndown\nup\n"
    })?;
    Ok(())
}
