//! The XDP fast path in the running daemon, with real traffic through the
//! lab: client -> VIP (director, XDP) -> three nginx real servers by direct
//! routing (VIP on their loopback, ARP for it suppressed), replies straight
//! back to the client.
use std::{
    collections::BTreeMap,
    fs,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use lb_tests::{dr_lab, http_get, in_netns, Daemon, KeptAlive, Lab, VrrpConf, VIP};
use serde_json::{json, Value};

/// The real servers' TCP_CHECK period.
const DELAY_LOOP: Duration = Duration::from_millis(500);

/// A director's configuration: VRRP instance VI_1 holding the VIP and one
/// `fast_path xdp` DR service over the real servers with these weights,
/// checked by TCP_CHECK.
fn config(vrrp: &VrrpConf, lab: &Lab, algo: &str, weights: &[u32]) -> String {
    let check = format!(
        "TCP_CHECK {{\n            connect_timeout 1\n            retry 0\n            delay_loop {}\n        }}",
        DELAY_LOOP.as_secs_f64()
    );
    config_checked(vrrp, lab, algo, weights, &check)
}

/// As [`config`], with `check` as every real server's checker block.
fn config_checked(vrrp: &VrrpConf, lab: &Lab, algo: &str, weights: &[u32], check: &str) -> String {
    let reals: String = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                "    real_server {} 80 {{\n        weight {w}\n        {check}\n    }}\n",
                lab.real_server(i + 1).ipv4(),
            )
        })
        .collect();
    format!(
        "{}virtual_server {VIP} 80 {{\n    lb_algo {algo}\n    lb_kind DR\n    protocol TCP\n    fast_path xdp\n{reals}}}\n",
        vrrp.render()
    )
}

fn start(lab: &Lab, dir: &Path, n: usize, conf: &str) -> Result<Daemon> {
    let path = dir.join(format!("dir{n}.conf"));
    fs::write(&path, conf)?;
    Daemon::start(lab.director(n).ns(), &path, &format!("dir{n}"))
}

/// As [`start`], in runtime directory `runtime` (a restarted daemon finds
/// there what its killed predecessor left, as under a service manager).
fn start_in(lab: &Lab, dir: &Path, n: usize, conf: &str, runtime: &Path) -> Result<Daemon> {
    let path = dir.join(format!("dir{n}.conf"));
    fs::write(&path, conf)?;
    let mut daemon = Daemon::spawn_in(lab.director(n).ns(), &path, &format!("dir{n}"), runtime)?;
    daemon.wait_ready(Duration::from_secs(10))?;
    Ok(daemon)
}

/// The daemon's fast-path status.
fn fast_path(daemon: &Daemon) -> Value {
    daemon
        .status()
        .map(|s| s["fast_path"].clone())
        .unwrap_or_default()
}

/// True when the program is attached to eth0 and `serving` real servers
/// have a MAC address and a weight.
fn serving(fp: &Value, serving: usize) -> bool {
    let attached = fp["interfaces"][0]["attached"] == true && fp["interfaces"][0]["name"] == "eth0";
    let ready = fp["services"][0]["backends"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter(|b| b["next_hop"]["mac"].is_string() && b["weight"].as_u64() > Some(0))
                .count()
        })
        .unwrap_or(0);
    attached && ready == serving
}

fn wait_serving(daemon: &Daemon, n: usize) -> Result<()> {
    daemon.wait_status(
        &format!("XDP attached with {n} real servers"),
        Duration::from_secs(10),
        |s| serving(&s["fast_path"], n),
    )
}

/// Which real server answered each of `flows` new connections.
fn spread(lab: &Lab, flows: usize) -> Result<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for _ in 0..flows {
        let (status, body) = http_get(
            lab.client().ns_name(),
            &format!("http://{VIP}/"),
            Duration::from_secs(2),
        )?;
        ensure!(status == 200, "status {status}");
        *counts.entry(body.trim().to_owned()).or_default() += 1;
    }
    Ok(counts)
}

fn ensure_near(
    counts: &BTreeMap<String, usize>,
    expected: &[(&str, usize)],
    slack: usize,
) -> Result<()> {
    for (name, want) in expected {
        let got = counts.get(*name).copied().unwrap_or(0);
        ensure!(
            got.abs_diff(*want) <= slack,
            "{name}: {got} flows, expected {want} +- {slack}: {counts:?}"
        );
    }
    Ok(())
}

/// A scheduler, the weights, how many flows, the expected spread, slack.
type SchedulerCase = (
    &'static str,
    &'static [u32],
    usize,
    &'static [(&'static str, usize)],
    usize,
);

/// One director per scheduler in turn; 60 to 150 client flows each.
/// Tolerances: rr and wrr keep one cursor per CPU (2 here), so each server
/// may be off by one flow per CPU; mh spreads by hash (150 flows: 50 +- 20
/// is over 3 standard deviations); sh sends one client to one server; lc
/// with 30 connections held open gives exactly 10 each.
#[test]
fn xdp_schedulers_spread_client_flows() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let vrrp = VrrpConf::fast("MASTER", 150);
    let cases: [SchedulerCase; 3] = [
        (
            "rr",
            &[1, 1, 1],
            60,
            &[("rs1", 20), ("rs2", 20), ("rs3", 20)],
            2,
        ),
        (
            "wrr",
            &[1, 2, 3],
            60,
            &[("rs1", 10), ("rs2", 20), ("rs3", 30)],
            2,
        ),
        (
            "mh",
            &[1, 1, 1],
            150,
            &[("rs1", 50), ("rs2", 50), ("rs3", 50)],
            20,
        ),
    ];
    for (algo, weights, flows, expected, slack) in cases {
        let mut daemon = start(&lab, tmp.path(), 1, &config(&vrrp, &lab, algo, weights))?;
        wait_serving(&daemon, 3)?;
        let counts = spread(&lab, flows)?;
        ensure_near(&counts, expected, slack).with_context(|| algo.to_owned())?;
        // The status reads the counters once a second.
        let least = flows as u64 * 3; // SYN, ACK + request, FIN at least
        daemon.wait_status(
            &format!("{algo}: VIP counter"),
            Duration::from_secs(3),
            |s| s["fast_path"]["services"][0]["traffic"]["packets"].as_u64() >= Some(least),
        )?;
        daemon.stop()?;
    }

    let mut daemon = start(&lab, tmp.path(), 1, &config(&vrrp, &lab, "sh", &[1, 1, 1]))?;
    wait_serving(&daemon, 3)?;
    let counts = spread(&lab, 30)?;
    ensure!(
        counts.len() == 1 && counts.values().sum::<usize>() == 30,
        "sh: {counts:?}"
    );
    daemon.stop()?;

    let daemon = start(&lab, tmp.path(), 1, &config(&vrrp, &lab, "lc", &[1, 1, 1]))?;
    wait_serving(&daemon, 3)?;
    let counts = in_netns(
        lab.client().ns_name(),
        || -> Result<BTreeMap<String, usize>> {
            let mut kept: Vec<KeptAlive> = (0..30)
                .map(|_| KeptAlive::open(&format!("{VIP}:80")))
                .collect::<Result<_>>()?;
            let mut counts = BTreeMap::new();
            for k in &mut kept {
                *counts.entry(k.ask()?).or_default() += 1;
            }
            Ok(counts)
        },
    )??;
    ensure_near(&counts, &[("rs1", 10), ("rs2", 10), ("rs3", 10)], 0).context("lc")?;
    drop(daemon);
    Ok(())
}

/// Real servers the director never talked to (checked by a script): the
/// daemon asks the kernel to resolve their MAC addresses.
#[test]
fn xdp_resolves_real_servers_the_director_never_contacted() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let check = "MISC_CHECK {\n            misc_path /bin/true\n        }";
    let conf = config_checked(
        &VrrpConf::fast("MASTER", 150),
        &lab,
        "rr",
        &[1, 1, 1],
        check,
    );
    let neighbours = lab.director(1).ns().ip(&["neigh", "show", "dev", "eth0"])?;
    ensure!(
        !neighbours.contains("192.0.2.11"),
        "already known:\n{neighbours}"
    );
    let daemon = start(&lab, tmp.path(), 1, &conf)?;
    wait_serving(&daemon, 3)?;
    let macs: Vec<String> = fast_path(&daemon)["services"][0]["backends"]
        .as_array()
        .context("backends")?
        .iter()
        .map(|b| b["next_hop"]["mac"].as_str().unwrap_or_default().to_owned())
        .collect();
    let expected: Vec<String> = lab.real_servers().map(|rs| rs.mac_string()).collect();
    ensure!(macs == expected, "{macs:?} vs {expected:?}");
    let counts = spread(&lab, 30)?;
    ensure!(
        counts.len() == 3,
        "every real server is reached: {counts:?}"
    );
    Ok(())
}

/// A `fast_path xdp` service with NAT is left to IPVS classic mode: said
/// once in the log (not again on a reload), and nothing is attached.
#[test]
fn xdp_nat_services_are_left_to_ipvs_and_said_once() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let conf = config(&VrrpConf::fast("MASTER", 150), &lab, "rr", &[1, 1, 1])
        .replace("lb_kind DR", "lb_kind NAT");
    let daemon = start(&lab, tmp.path(), 1, &conf)?;
    daemon.wait_status("VI_1 MASTER", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    let said = "(TCP 192.0.2.50:80) fast_path xdp: served by IPVS classic mode: lb_kind NAT";
    daemon.wait_for_log(said, Duration::from_secs(5))?;
    daemon.signal(nix::sys::signal::Signal::SIGHUP)?;
    daemon.wait_for_log(
        "Configuration reloaded (generation 2)",
        Duration::from_secs(5),
    )?;
    std::thread::sleep(Duration::from_millis(1500)); // a few reconciler rounds
    ensure!(
        daemon.log().matches(said).count() == 1,
        "said more than once:\n{}",
        daemon.log()
    );
    let fp = fast_path(&daemon);
    ensure!(
        fp["interfaces"].as_array().is_some_and(Vec::is_empty),
        "{fp}"
    );
    ensure!(
        fp["not_served"][0]["reason"] == "lb_kind NAT is not forwarded in XDP",
        "{fp}"
    );
    let link = lab.director(1).ns().ip(&["-d", "link", "show", "eth0"])?;
    ensure!(
        !link.contains("prog/xdp"),
        "XDP attached for a NAT service:\n{link}"
    );
    Ok(())
}

#[test]
fn xdp_a_stopped_real_server_takes_no_new_flows_and_others_keep_theirs() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let conf = config(&VrrpConf::fast("MASTER", 150), &lab, "rr", &[1, 1, 1]);
    let daemon = start(&lab, tmp.path(), 1, &conf)?;
    wait_serving(&daemon, 3)?;
    let client = lab.client().ns_name().to_owned();
    // Six kept-alive connections, two per real server.
    let mut kept = in_netns(&client, || {
        (0..6)
            .map(|_| KeptAlive::open(&format!("{VIP}:80")))
            .collect::<Result<Vec<_>>>()
    })??;
    let owners: Vec<String> = in_netns(&client, || {
        kept.iter_mut()
            .map(KeptAlive::ask)
            .collect::<Result<Vec<_>>>()
    })??;
    ensure!(
        owners.iter().filter(|o| *o == "rs2").count() == 2,
        "{owners:?}"
    );

    let rs2 = lab.real_server(2).web().context("rs2 web")?.pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(rs2 as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let stopped = Instant::now();
    daemon.wait_status("rs2 out of the fast path", Duration::from_secs(5), |s| {
        serving(&s["fast_path"], 2)
    })?;
    // TCP_CHECK: the next check (within one delay_loop) fails at once
    // (connection refused); retry 0.
    let took = stopped.elapsed();
    ensure!(
        took <= DELAY_LOOP + Duration::from_millis(400),
        "rs2 left after {took:?}"
    );

    let counts = spread(&lab, 30)?;
    ensure!(
        !counts.contains_key("rs2"),
        "new flows reached the stopped server: {counts:?}"
    );
    ensure_near(&counts, &[("rs1", 15), ("rs3", 15)], 2)?;
    let again: Vec<Result<String>> = in_netns(&client, || {
        kept.iter_mut()
            .zip(&owners)
            .filter(|(_, o)| *o != "rs2")
            .map(|(k, _)| k.ask())
            .collect()
    })?;
    let expected: Vec<&String> = owners.iter().filter(|o| *o != "rs2").collect();
    let again: Vec<String> = again.into_iter().collect::<Result<_>>()?;
    ensure!(
        again.iter().collect::<Vec<_>>() == expected,
        "established flows moved: {again:?} vs {expected:?}"
    );
    Ok(())
}

#[test]
fn xdp_follows_vrrp_ownership_and_survives_a_failover() -> Result<()> {
    let lab = dr_lab(2)?;
    let tmp = tempfile::tempdir()?;
    let master = VrrpConf::fast("MASTER", 150);
    let backup = VrrpConf::fast("BACKUP", 100);
    // dir1 sizes its connection table; dir2 keeps the default.
    let sized = format!(
        "global_defs {{\n    fast_path_flows 65536\n}}\n{}",
        config(&master, &lab, "mh", &[1, 1, 1])
    );
    let runtime1 = lb_tests::daemon::runtime_dir()?;
    let mut dir1 = start_in(&lab, tmp.path(), 1, &sized, runtime1.path())?;
    let dir2 = start(
        &lab,
        tmp.path(),
        2,
        &config(&backup, &lab, "mh", &[1, 1, 1]),
    )?;
    wait_serving(&dir1, 3)?;
    dir2.wait_status("dir2 BACKUP", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "BACKUP"
    })?;
    // The backup has no XDP attached anywhere.
    let link2 = lab.director(2).ns().ip(&["-d", "link", "show", "eth0"])?;
    ensure!(
        !link2.contains("prog/xdp"),
        "backup has XDP attached:\n{link2}"
    );
    ensure!(fast_path(&dir2)["interfaces"]
        .as_array()
        .is_some_and(Vec::is_empty));
    let link1 = lab.director(1).ns().ip(&["-d", "link", "show", "eth0"])?;
    ensure!(
        link1.contains("prog/xdp") && !link1.contains("xdpgeneric"),
        "master: native XDP:\n{link1}"
    );
    check_pinned_maps(&dir1)?;
    let capacities = [&dir1, &dir2].map(|d| fast_path(d)["flow_capacity"].clone());
    ensure!(
        capacities == [json!(65536), json!(lb_common::DEFAULT_FLOWS)],
        "fast_path_flows sizes the connection table: {capacities:?}"
    );

    let client = lab.client().ns_name().to_owned();
    let mut kept = in_netns(&client, || {
        (0..12)
            .map(|_| KeptAlive::open(&format!("{VIP}:80")))
            .collect::<Result<Vec<_>>>()
    })??;
    let before: Vec<String> = in_netns(&client, || {
        kept.iter_mut()
            .map(KeptAlive::ask)
            .collect::<Result<Vec<_>>>()
    })??;

    dir1.signal(nix::sys::signal::Signal::SIGKILL)?;
    wait_serving(&dir2, 3)?;
    let log = dir2.log();
    let attached = log
        .find("XDP fast path attached to eth0")
        .context("dir2 attached")?;
    let garp = log
        .find("Sending/queueing gratuitous ARPs")
        .context("dir2 sent GARPs")?;
    ensure!(attached < garp, "XDP attached after the GARP:\n{log}");
    // The client follows the GARP; new flows work through dir2.
    let counts = lb_tests::retry(Duration::from_secs(5), Duration::from_millis(100), || {
        spread(&lab, 30)
    })?;
    ensure!(
        counts.values().sum::<usize>() == 30 && counts.len() == 3,
        "{counts:?}"
    );
    // Maglev on both directors: established flows keep their server.
    let after: Vec<String> = in_netns(&client, || {
        kept.iter_mut()
            .map(KeptAlive::ask)
            .collect::<Result<Vec<_>>>()
    })??;
    ensure!(
        after == before,
        "flows moved on failover: {before:?} -> {after:?}"
    );
    let _ = dir1.stop();

    // dir1 returns and preempts: it takes over the link its predecessor
    // left pinned; dir2 leaves MASTER and detaches.
    let dir1 = start_in(
        &lab,
        tmp.path(),
        1,
        &config(&master, &lab, "mh", &[1, 1, 1]),
        runtime1.path(),
    )?;
    wait_serving(&dir1, 3)?;
    dir2.wait_status(
        "dir2 back to BACKUP, detached",
        Duration::from_secs(5),
        |s| {
            s["vrrp"][0]["state"] == "BACKUP"
                && s["fast_path"]["interfaces"]
                    .as_array()
                    .is_some_and(Vec::is_empty)
        },
    )?;
    let link2 = lab.director(2).ns().ip(&["-d", "link", "show", "eth0"])?;
    ensure!(
        !link2.contains("prog/xdp"),
        "dir2 kept XDP after leaving MASTER:\n{link2}"
    );
    dir2.wait_for_log("XDP fast path detached from eth0", Duration::from_secs(1))?;
    let log = dir2.log();
    let left = log
        .rfind("Entering BACKUP STATE")
        .context("dir2 left MASTER")?;
    let detached = log
        .rfind("XDP fast path detached from eth0")
        .context("detached")?;
    ensure!(left < detached, "detached before leaving MASTER:\n{log}");
    Ok(())
}

/// The maps are pinned under the daemon's directory in /sys/fs/bpf and
/// `bpftool` prints their named fields.
fn check_pinned_maps(daemon: &Daemon) -> Result<()> {
    let pins = daemon.status()?["fast_path"]["pin_dir"]
        .as_str()
        .map(str::to_owned)
        .context("pin_dir in status")?;
    let dump = lb_tests::bpf::dump_pinned(Path::new(&pins), "lb_vips")?;
    let entry = &dump[0]["formatted"];
    ensure!(
        entry["key"]["port"] == 80 && entry["key"]["proto"] == 6,
        "{dump}"
    );
    if !entry["value"]["sched"].is_number() {
        bail!("lb_vips value has no named fields: {dump}");
    }
    Ok(())
}
