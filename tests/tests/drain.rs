//! `lb-daemon drain` / `undrain` on a running daemon whose service the XDP
//! fast path serves (this kernel has no IPVS): a drained real server gets
//! weight 0 in the fast path's maps, takes no new flow while its established
//! flows keep going to it, stays drained across a SIGHUP, and comes back
//! with its weight on undrain; unknown services and servers are clear
//! errors. The status (`status --json`) and the JSON dump show the drain
//! through one schema.
use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_tests::{dr_lab, http_get, in_netns, Daemon, KeptAlive, Lab, VrrpConf, VIP};
use nix::{libc, sys::signal::Signal};
use serde_json::Value;

/// VI_1 holding the VIP, and an `rr` DR service on the three real servers
/// (no checkers: always up) served by XDP.
fn config(lab: &Lab) -> String {
    let reals: String = (1..=3)
        .map(|n| {
            format!(
                "    real_server {} 80 {{\n        weight 2\n    }}\n",
                lab.real_server(n).ipv4()
            )
        })
        .collect();
    format!(
        "{}virtual_server {VIP} 80 {{\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    fast_path xdp\n{reals}}}\n",
        VrrpConf::fast("MASTER", 150).render()
    )
}

/// The fast path's weight for each real server, by address.
fn xdp_weights(status: &Value) -> BTreeMap<String, u64> {
    let backends = status["fast_path"]["services"][0]["backends"].as_array();
    backends
        .into_iter()
        .flatten()
        .filter(|b| b["next_hop"]["mac"].is_string())
        .filter_map(|b| Some((b["address"].as_str()?.to_owned(), b["weight"].as_u64()?)))
        .collect()
}

/// Waits until the fast path is attached and has these weights.
fn wait_weights(daemon: &Daemon, lab: &Lab, want: [u64; 3], what: &str) -> Result<()> {
    let want: BTreeMap<String, u64> = (1..=3)
        .map(|n| (lab.real_server(n).ipv4().to_string(), want[n - 1]))
        .collect();
    daemon.wait_status(what, Duration::from_secs(10), |s| {
        s["fast_path"]["interfaces"][0]["attached"] == true && xdp_weights(s) == want
    })
}

/// Which real server answered each of `flows` new connections.
fn spread(lab: &Lab, flows: usize) -> Result<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    for _ in 0..flows {
        let url = format!("http://{VIP}/");
        let (status, body) = http_get(lab.client().ns_name(), &url, Duration::from_secs(2))?;
        ensure!(status == 200, "status {status}");
        *counts.entry(body.trim().to_owned()).or_default() += 1;
    }
    Ok(counts)
}

/// Every path to a leaf of `v` (`lvs.virtual_servers.0.drained`).
fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| paths(v, &format!("{prefix}.{k}"), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| paths(v, &format!("{prefix}.{i}"), out)),
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

/// The JSON dump, written on keepalived's JSON signal.
fn json_dump(daemon: &Daemon) -> Result<Value> {
    let path = daemon.runtime_dir().join("keepalived.json");
    let _ = fs::remove_file(&path);
    let pid = daemon.status()?["pid"].as_i64().context("no pid")?;
    // SAFETY: kill(2) on the daemon's pid with keepalived's JSON signal.
    ensure!(
        unsafe { libc::kill(pid as i32, libc::SIGRTMIN() + 2) } == 0,
        "kill"
    );
    lb_tests::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        path.exists()
    })?;
    Ok(serde_json::from_str(&fs::read_to_string(&path)?)?)
}

#[test]
fn drain_stops_new_flows_keeps_established_ones_and_survives_a_reload() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, config(&lab))?;
    let daemon = Daemon::start(lab.director(1).ns(), &path, "dir1")?;
    wait_weights(
        &daemon,
        &lab,
        [2, 2, 2],
        "XDP serving the three real servers",
    )?;
    let client = lab.client().ns_name().to_owned();
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

    let rs2 = format!("{}:80", lab.real_server(2).ipv4());
    let out = daemon.control("drain", &[&format!("{VIP}:80"), &rs2])?;
    ensure!(
        out.status.success(),
        "drain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    ensure!(
        said.contains(&format!("{rs2} drained in TCP {VIP}:80")),
        "{said}"
    );
    wait_weights(&daemon, &lab, [2, 0, 2], "rs2 at weight 0 in the fast path")?;
    let status = daemon.status()?;
    let real = &status["lvs"]["virtual_servers"][0]["real_servers"][1];
    ensure!(
        real["drained"] == true
            && real["programmed_weight"] == 0
            && real["weight"] == 2
            && real["up"] == true,
        "{real}"
    );
    ensure!(status["schema_version"] == 1, "{status}");
    let text = daemon.status_text()?;
    ensure!(
        text.contains(&format!("{rs2} up, drained (weight 0)")),
        "{text}"
    );

    let counts = spread(&lab, 20)?;
    ensure!(
        !counts.contains_key("rs2"),
        "new flows reached the drained server: {counts:?}"
    );
    let again: Vec<String> = in_netns(&client, || {
        kept.iter_mut()
            .map(KeptAlive::ask)
            .collect::<Result<Vec<_>>>()
    })??;
    ensure!(
        again == owners,
        "established flows moved: {again:?} vs {owners:?}"
    );

    // The JSON dump is the status document: same schema, same fields, the
    // same drained real server.
    let dump = json_dump(&daemon)?;
    let status = daemon.status()?;
    let (mut a, mut b) = (BTreeSet::new(), BTreeSet::new());
    paths(&dump, "", &mut a);
    paths(&status, "", &mut b);
    ensure!(
        a == b,
        "dump and status differ in fields: {:?}",
        a.symmetric_difference(&b).collect::<Vec<_>>()
    );
    for key in ["schema_version", "config_generation", "config"] {
        ensure!(
            dump[key] == status[key],
            "{key}: {} vs {}",
            dump[key],
            status[key]
        );
    }
    ensure!(
        dump["lvs"]["virtual_servers"] == status["lvs"]["virtual_servers"],
        "{}\nvs\n{}",
        dump["lvs"],
        status["lvs"]
    );

    daemon.signal(Signal::SIGHUP)?;
    daemon.wait_for_log(
        "Configuration reloaded (generation 2)",
        Duration::from_secs(5),
    )?;
    let status = daemon.status()?;
    ensure!(
        status["last_reload"]["result"] == "ok",
        "{}",
        status["last_reload"]
    );
    ensure!(
        status["lvs"]["virtual_servers"][0]["real_servers"][1]["drained"] == true,
        "drain lost by the reload"
    );
    wait_weights(&daemon, &lab, [2, 0, 2], "rs2 still drained after SIGHUP")?;
    let counts = spread(&lab, 10)?;
    ensure!(!counts.contains_key("rs2"), "after SIGHUP: {counts:?}");

    let out = daemon.control("undrain", &[&format!("{VIP}:80"), &rs2])?;
    ensure!(
        out.status.success(),
        "undrain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_weights(&daemon, &lab, [2, 2, 2], "rs2 back at weight 2")?;
    let counts = spread(&lab, 30)?;
    ensure!(
        counts.get("rs2").copied().unwrap_or(0) >= 8,
        "rs2 takes new flows again: {counts:?}"
    );
    Ok(())
}

#[test]
fn drain_names_unknown_services_and_servers_and_checks_its_arguments() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, config(&lab))?;
    let daemon = Daemon::start(lab.director(1).ns(), &path, "dir1")?;
    wait_weights(
        &daemon,
        &lab,
        [2, 2, 2],
        "XDP serving the three real servers",
    )?;
    let rs1 = format!("{}:80", lab.real_server(1).ipv4());
    let cases = [
        (
            vec!["192.0.2.99:80".to_owned(), rs1.clone()],
            "no virtual server serves 192.0.2.99:80",
        ),
        (
            vec![format!("{VIP}:80"), "203.0.113.77:80".into()],
            "203.0.113.77:80 is not a real server of 192.0.2.50:80",
        ),
        (
            vec![format!("{VIP}:80"), lab.real_server(1).ipv4().to_string()],
            "(a port is required",
        ),
        (
            vec!["2001:db8::50".into(), rs1.clone()],
            "[2001:db8::50]:PORT",
        ),
        (
            vec!["fwmark:7".into(), rs1.clone()],
            "no virtual server serves fwmark:7",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = daemon.control("drain", &args)?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(
            !out.status.success() && err.contains(expected),
            "{args:?}: {err}"
        );
    }
    let status = daemon.status()?;
    let reals = status["lvs"]["virtual_servers"][0]["real_servers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(reals.iter().all(|r| r["drained"] == false), "{reals:?}");
    let out = daemon.control("undrain", &[&format!("{VIP}:80"), &rs1])?;
    let said = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success() && said.contains("was not drained"),
        "{said}"
    );
    Ok(())
}
