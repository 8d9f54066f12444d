//! Announcing through the system's BIRD (`bird_include`), against a real
//! router: BIRD runs on its own, as a distribution runs it, and includes
//! the file lb-daemon writes; lb-daemon never starts or stops it. The
//! announced route goes through lb-daemon's liveness interface, so a
//! kill -9 of the daemon withdraws it within a second while BIRD and its
//! session stay up; a restarted daemon announces again, and a stopped one
//! leaves an include file BIRD still reads.
use std::{
    fs,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use lb_tests::{
    bgp_lab::{BgpLab, BGP_VIP as VIP, DIRECTORS_AS, ROUTER_AS},
    bird::{SystemBird, SystemBirdConf},
    http_get, Daemon,
};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};
use serde_json::Value;

fn announced(status: &Value) -> bool {
    status["bgp"]["announcements"][0]["state"] == "announced"
        && status["bgp"]["sessions"][0]["protocol"] == "routers"
        && status["bgp"]["sessions"][0]["bgp_state"] == "Established"
        && status["bgp"]["sessions"][0]["bfd_state"] == "Up"
}

/// The liveness interface exists in the director's namespace.
fn liveness_interface(bgp: &BgpLab) -> bool {
    bgp.lab
        .director(1)
        .ns()
        .ip(&["link", "show", "lb-alive"])
        .is_ok()
}

#[test]
fn a_system_bird_announces_for_the_daemon_and_withdraws_when_it_dies() -> Result<()> {
    let bgp = BgpLab::build(1)?;
    let director = bgp.lab.director(1);
    let mut bird = SystemBird::start(
        director.ns(),
        &SystemBirdConf {
            router_id: director.ipv4(),
            asn: DIRECTORS_AS,
            router: (bgp.lab.client().ipv4(), ROUTER_AS),
        },
    )?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("director.conf");
    let config = format!(
        "bgp_speaker {{\n    interface eth0\n    bird_include {}\n    bird_socket {}\n}}\n{}",
        bird.include().display(),
        bird.socket().display(),
        bgp.service(3, 1)
    );
    fs::write(&path, &config)?;
    let daemon = Daemon::start(director.ns(), &path, "dir1")?;
    let me = [director.ipv4()];
    bgp.wait_next_hops(&me, "announced through BIRD", Duration::from_secs(20))
        .with_context(|| {
            format!(
                "BIRD:\n{}\n{:?}\nrouter:\n{:?}\n{}",
                bird.log(),
                bird.birdc("show protocols all"),
                bgp.frr.vtysh("show bgp summary"),
                daemon.log()
            )
        })?;
    daemon.wait_status(
        "announced, with BIRD's own session",
        Duration::from_secs(10),
        announced,
    )?;
    let include = fs::read_to_string(bird.include())?;
    ensure!(
        include.contains("via \"lb-alive\"") && !include.contains("protocol bgp"),
        "include file:\n{include}"
    );
    let (status, _) = http_get(
        bgp.client.name(),
        &format!("http://{VIP}/"),
        Duration::from_secs(2),
    )?;
    ensure!(status == 200, "through the director: {status}");

    // kill -9: the liveness interface goes with the daemon, BIRD withdraws
    // the route at once, and BIRD itself and its session stay up.
    let pid = daemon.pid() as i32;
    let killed = Instant::now();
    kill(Pid::from_raw(pid), Signal::SIGKILL)?;
    bgp.wait_next_hops(&[], "withdrawn after kill -9", Duration::from_secs(5))
        .with_context(|| bird.log())?;
    let dropped = killed.elapsed();
    eprintln!("route withdrawn {dropped:?} after kill -9");
    ensure!(
        dropped < Duration::from_millis(1000),
        "withdrawn after {dropped:?}"
    );
    ensure!(bird.running(), "BIRD died with the daemon");
    let session = bird.birdc("show protocols routers")?;
    ensure!(session.contains("Established"), "session: {session}");
    ensure!(!liveness_interface(&bgp), "lb-alive outlived the daemon");
    drop(daemon);

    // A new daemon takes over the same BIRD and announces again.
    let mut daemon = Daemon::start(director.ns(), &path, "dir1-again")?;
    bgp.wait_next_hops(&me, "announced again", Duration::from_secs(20))
        .with_context(|| daemon.log())?;

    // A clean stop withdraws, takes the interface away and leaves a file
    // BIRD still reads.
    daemon.stop()?;
    bgp.wait_next_hops(&[], "withdrawn at stop", Duration::from_secs(5))?;
    ensure!(!liveness_interface(&bgp), "lb-alive outlived the stop");
    ensure!(bird.running(), "BIRD stopped with the daemon");
    let reread = bird.birdc("configure")?;
    ensure!(
        reread.contains("Reconfigured"),
        "BIRD does not read its configuration after the stop: {reread}"
    );
    Ok(())
}
