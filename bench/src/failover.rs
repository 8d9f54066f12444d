//! Failover and graceful handover time of a VRRP pair, lb-daemon against
//! keepalived in the same lab and run.
//!
//! A client sends a UDP probe to the VIP every millisecond; each director
//! runs a responder that answers with its own name. The time measured is from
//! killing (kill -9) or stopping (SIGTERM) the master until the first answer
//! from the backup: detection, VIP takeover, gratuitous ARP and the client's
//! neighbour update. A killed master still holds the VIP and keeps answering,
//! so only the backup's answer counts.
//!
//! `cargo run --release -p bench --bin failover -- --runs 5`
use std::{
    fs,
    net::UdpSocket,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use clap::Parser;
use lb_tests::{
    in_netns, wait_until, Daemon, Keepalived, Lab, LabSpec, Netns, NsChild, VrrpConf, VIP,
};
use nix::sys::signal::Signal;

const PORT: u16 = 7777;

#[derive(Parser)]
struct Args {
    /// Measurements per combination (the median is printed).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Internal: answer UDP probes on port 7777 with NAME (run in a director).
    #[arg(long, hide = true)]
    respond: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Implementation {
    LbDaemon,
    Keepalived,
}

/// A running VRRP node of either implementation.
enum Node {
    Lb(Daemon),
    Ka(Keepalived),
}

impl Node {
    fn start(
        imp: Implementation,
        ns: &Netns,
        conf: &VrrpConf,
        dir: &Path,
        label: &str,
    ) -> Result<Node> {
        Ok(match imp {
            Implementation::LbDaemon => {
                let path = dir.join(format!("{label}.conf"));
                fs::write(&path, conf.render())?;
                Node::Lb(Daemon::start(ns, &path, label)?)
            }
            Implementation::Keepalived => Node::Ka(Keepalived::start(ns, &conf.render(), label)?),
        })
    }

    fn signal(&self, signal: Signal) -> Result<()> {
        match self {
            Node::Lb(d) => d.signal(signal),
            Node::Ka(k) => k.signal(signal),
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            Node::Lb(mut d) => d.stop().map(drop),
            Node::Ka(mut k) => k.wait(Duration::from_secs(5)),
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(name) = args.respond {
        return respond(&name);
    }
    println!("failover: kill -9 / SIGTERM of the master until the client's 1 ms UDP probe is answered by the backup");
    println!(
        "median of {} runs each; ratio = keepalived / lb-daemon\n",
        args.runs
    );
    println!(
        "{:<14} {:<10} {:>14} {:>14} {:>8}",
        "advert_int", "event", "lb-daemon ms", "keepalived ms", "ratio"
    );
    for (label, version, interval) in [("1 s (v2)", 2, "1"), ("0.05 s (v3)", 3, "0.05")] {
        for (event, signal) in [("kill -9", Signal::SIGKILL), ("SIGTERM", Signal::SIGTERM)] {
            let lb = median(measure(
                Implementation::LbDaemon,
                version,
                interval,
                signal,
                args.runs,
            )?);
            let ka = median(measure(
                Implementation::Keepalived,
                version,
                interval,
                signal,
                args.runs,
            )?);
            println!(
                "{label:<14} {event:<10} {:>14.1} {:>14.1} {:>8.2}",
                lb * 1e3,
                ka * 1e3,
                ka / lb
            );
        }
    }
    Ok(())
}

/// `runs` takeover times (seconds) of one implementation.
fn measure(
    imp: Implementation,
    version: u8,
    interval: &'static str,
    signal: Signal,
    runs: usize,
) -> Result<Vec<f64>> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let tmp = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let _responders: Vec<NsChild> = (1..=2)
        .map(|n| {
            lab.director(n).ns().spawn(&[
                exe.as_os_str(),
                "--respond".as_ref(),
                format!("dir{n}").as_ref(),
            ])
        })
        .collect::<Result<_>>()?;
    let conf = |state, priority| VrrpConf {
        version,
        advert_int: interval,
        ..VrrpConf::fast(state, priority)
    };
    let (c1, c2) = (conf("MASTER", 150), conf("BACKUP", 100));
    let mut times = Vec::new();
    for _ in 0..runs {
        let n1 = Node::start(imp, lab.director(1).ns(), &c1, tmp.path(), "dir1")?;
        let n2 = Node::start(imp, lab.director(2).ns(), &c2, tmp.path(), "dir2")?;
        wait_until(Duration::from_secs(15), Duration::from_millis(20), || {
            c1.held_by(lab.director(1).ns()) && !c2.held_by(lab.director(2).ns())
        })
        .context("dir1 never became master")?;
        // The client has talked to dir1 for a while (neighbour entry settled).
        in_netns(lab.client().ns_name(), || {
            probe_until("dir1", Duration::from_secs(5))
        })??;
        std::thread::sleep(Duration::from_millis(1100));
        let taken = in_netns(lab.client().ns_name(), || -> Result<f64> {
            let started = Instant::now();
            n1.signal(signal)?;
            probe_until("dir2", Duration::from_secs(20))?;
            Ok(started.elapsed().as_secs_f64())
        })??;
        times.push(taken);
        n1.finish()?;
        n2.finish()?;
        // A killed master leaves its VIP behind; the next start removes it.
    }
    Ok(times)
}

/// Probes the VIP every millisecond until `name` answers.
fn probe_until(name: &str, timeout: Duration) -> Result<()> {
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    socket.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 64];
    while Instant::now() < deadline {
        let _ = socket.send_to(b"probe", (VIP, PORT));
        let tick = Instant::now() + Duration::from_millis(1);
        while Instant::now() < tick {
            if let Ok((len, _)) = socket.recv_from(&mut buf) {
                if &buf[..len] == name.as_bytes() {
                    return Ok(());
                }
            }
            std::hint::spin_loop();
        }
    }
    bail!("{name} never answered within {timeout:?}")
}

/// The responder: answers every probe with `name`.
fn respond(name: &str) -> Result<()> {
    let socket = UdpSocket::bind(("0.0.0.0", PORT))?;
    let mut buf = [0u8; 64];
    loop {
        let (_, from) = socket.recv_from(&mut buf)?;
        socket.send_to(name.as_bytes(), from)?;
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}
