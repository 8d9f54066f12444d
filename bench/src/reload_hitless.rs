//! Hitless reload under traffic through the XDP fast path (issue 15): one
//! director, three DR real servers, kept-alive and new client connections
//! all along, while N SIGHUPs add and remove an unrelated service and real
//! server and change the VRRP instance's priority. Prints how long each
//! reload took to apply (SIGHUP until the daemon reports the generation and
//! the fast path shows the new service set), the requests served, and what
//! was lost: TCP segments the client retransmitted, connections reset, VRRP
//! transitions, gratuitous ARPs, XDP re-attachments.
//!
//! `cargo run --release -p bench --bin reload-hitless -- --reloads 100`
use std::{
    fs,
    time::{Duration, Instant},
};

use anyhow::Result;
use clap::Parser;
use lb_tests::{
    dr::{reload_config, xdp_prog_id},
    dr_lab, Continuous, Daemon, TcpCounters, VIP,
};
use nix::sys::signal::Signal;

#[derive(Parser)]
struct Args {
    /// How many reloads.
    #[arg(long, default_value_t = 100)]
    reloads: u64,
    /// Kept-alive client connections.
    #[arg(long, default_value_t = 6)]
    kept: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    lb_tests::install_cleanup_on_signals()?;
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, reload_config(&lab, 0))?;
    let daemon = Daemon::start(lab.director(1).ns(), &path, "dir1")?;
    daemon.wait_status("serving", Duration::from_secs(10), |s| {
        s["vrrp"][0]["state"] == "MASTER"
            && s["fast_path"]["services"][0]["backends"]
                .as_array()
                .is_some_and(|b| b.iter().all(|b| b["next_hop"]["mac"].is_string()))
    })?;
    // Past the second gratuitous ARP burst of becoming MASTER.
    std::thread::sleep(Duration::from_millis(1500));
    let director = lab.director(1).ns();
    let client = lab.client();
    let (vrrp, prog) = (daemon.status()?["vrrp"][0].clone(), xdp_prog_id(director)?);
    let garps = daemon.log().matches("gratuitous ARPs").count();
    let before = TcpCounters::of(client.ns())?;
    let started = Instant::now();
    let mut traffic = Continuous::start(client.ns_name(), &format!("{VIP}:80"), args.kept)?;
    let mut applied = Vec::new();
    for reload in 1..=args.reloads {
        fs::write(&path, reload_config(&lab, reload))?;
        let sent = Instant::now();
        daemon.signal(Signal::SIGHUP)?;
        let services = if reload % 4 == 0 { 1 } else { 2 };
        daemon.wait_status("reload applied", Duration::from_secs(10), |s| {
            s["config_generation"] == reload + 1
                && s["fast_path"]["services"].as_array().map(Vec::len) == Some(services)
        })?;
        applied.push(sent.elapsed());
        traffic.wait_rounds(1)?;
    }
    let asked = traffic.stop()?;
    let elapsed = started.elapsed();
    let after = TcpCounters::of(client.ns())?;
    let now = daemon.status()?["vrrp"][0].clone();
    applied.sort();
    let at = |q: f64| applied[((applied.len() - 1) as f64 * q).round() as usize];
    println!(
        "reload-hitless: {} reloads under traffic ({} kept-alive connections + new ones) through the XDP fast path",
        args.reloads, args.kept
    );
    println!(
        "  apply time (SIGHUP -> generation and fast path updated): median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(1.0))
    );
    println!(
        "  requests answered: {asked} in {:.1} s ({:.0}/s)",
        elapsed.as_secs_f64(),
        asked as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  lost: {} TCP segments retransmitted, {} connections reset",
        after.retransmitted - before.retransmitted,
        after.resets - before.resets
    );
    println!(
        "  VRRP: {} transitions, {} gratuitous ARP bursts; XDP re-attached: {}",
        u64::from(now["last_transition"] != vrrp["last_transition"]),
        daemon.log().matches("gratuitous ARPs").count() - garps,
        if xdp_prog_id(director)? == prog {
            "no"
        } else {
            "yes"
        }
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
