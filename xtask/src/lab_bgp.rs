//! `cargo xtask lab --bgp`: the active-active lab. An FRR router (the lab's
//! client host, on the directors' LAN), a client behind it, three directors
//! running lb-daemon with the embedded `examples/lab/bgp.conf` (each with
//! its BIRD), three nginx real servers. It shows the router's ECMP route
//! over the three directors, the directors agreeing on the Maglev table,
//! the client's requests, and a director killed with -9 leaving the route
//! within a fraction of a second; then it holds and tears everything down.
use std::{
    fs,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use lb_tests::{
    bgp_lab::{BgpLab, BGP_VIP},
    http_get, Daemon,
};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};

use crate::{cmd, lab_hold};

/// The directors' configuration (all three run it).
const CONFIG: &str = include_str!("../../examples/lab/bgp.conf");

/// Runs the lab (setup and builds are done by `cargo xtask lab`).
pub fn run(hold: Option<Duration>) -> Result<()> {
    cmd::step("building the BGP lab: switch, FRR router, client, dir1-dir3, rs1-rs3");
    let bgp = BgpLab::build(3)?;
    let configs = tempfile::Builder::new().prefix("lb-lab-bgp").tempdir()?;
    let path = configs.path().join("bgp.conf");
    fs::write(&path, CONFIG).with_context(|| format!("writing {}", path.display()))?;
    let mut daemons = Vec::new();
    for dir in bgp.lab.directors() {
        cmd::step(&format!("starting lb-daemon (with BIRD) on {}", dir.role()));
        daemons.push(Daemon::start(dir.ns(), &path, dir.role())?);
    }
    let all = bgp.directors();
    let started = Instant::now();
    bgp.wait_next_hops(&all, "the directors announce", Duration::from_secs(30))?;
    cmd::step(&format!(
        "the router has an ECMP route over the three directors (after {:.1} s)",
        started.elapsed().as_secs_f64()
    ));
    show(&bgp, &daemons)?;

    cmd::step("kill -9 of dir3's daemon: its BIRD dies with it, BFD tells the router");
    let pid = daemons[2].status()?["pid"].as_i64().context("no pid")? as i32;
    let killed = Instant::now();
    kill(Pid::from_raw(pid), Signal::SIGKILL)?;
    bgp.wait_next_hops(&all[..2], "dir3 leaves the route", Duration::from_secs(5))?;
    cmd::step(&format!(
        "the router dropped dir3 after {} ms",
        killed.elapsed().as_millis()
    ));
    daemons.pop();
    show(&bgp, &daemons)?;

    lab_hold::hold_up(hold);
    let BgpLab { frr, client, lab } = bgp;
    drop(frr);
    drop(client);
    lab_hold::tear_down(daemons, lab)
}

/// Prints the router's route and sessions, each director's announcement
/// and table digest, and where six client requests went.
fn show(bgp: &BgpLab, daemons: &[Daemon]) -> Result<()> {
    println!();
    print!("{}", bgp.lab.client().ns().ip(&["route", "show", BGP_VIP])?);
    print!("{}", bgp.frr.vtysh("show bgp summary")?);
    for d in daemons {
        let s = d.status()?;
        let a = &s["bgp"]["announcements"][0];
        let session = &s["bgp"]["sessions"][0];
        println!(
            "{}: {} {} (BGP {}, BFD {}), Maglev table digest {}",
            d.label(),
            a["prefix"].as_str().unwrap_or("?"),
            a["state"].as_str().unwrap_or("?"),
            session["bgp_state"].as_str().unwrap_or("?"),
            session["bfd_state"].as_str().unwrap_or("?"),
            s["fast_path"]["services"][0]["table_digest"]
                .as_str()
                .unwrap_or("?"),
        );
    }
    let url = format!("http://{BGP_VIP}/");
    let answers: Vec<String> = (0..6)
        .map(
            |_| match http_get(bgp.client.name(), &url, Duration::from_secs(3)) {
                Ok((code, body)) => format!("{code} {}", body.trim()),
                Err(e) => format!("{e:#}"),
            },
        )
        .collect();
    println!("client -> {url} six times: {}\n", answers.join(", "));
    Ok(())
}
