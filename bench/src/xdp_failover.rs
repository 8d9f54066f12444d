//! The share of established flows that keep their real server when the
//! director fails over, with lb-daemon's XDP fast path on both directors.
//!
//! Two directors run the same `fast_path xdp` DR service over three real
//! servers (VIP on their loopback, ARP for it suppressed). The client opens
//! many TCP connections through the master and asks each which real server
//! it reached; then the master is killed (kill -9). The backup has never
//! seen these flows: its flow table is empty, so it schedules each flow's
//! next packet afresh. Once it serves and the client has followed its
//! gratuitous ARP, every connection asks again. A flow kept its server when
//! the same server answers; one that moved meets a server without its
//! connection (reset) and is lost. With `mh` (Maglev over the same real
//! servers on both directors) the goal is all of them; `rr` is the control,
//! showing what the measurement gives when flows do move.
//!
//! `cargo build --release -p lb-daemon -p bench && target/release/xdp-failover`
use std::{
    fs,
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use clap::Parser;
use lb_tests::{
    in_netns, install_cleanup_on_signals, install_panic_cleanup_hook, wait_until, Daemon, Lab,
    LabSpec, NsChild, VrrpConf, VIP,
};
use nix::sys::signal::Signal;

/// The service's port on the VIP and on the real servers.
const PORT: u16 = 7000;

#[derive(Parser)]
struct Args {
    /// Established flows (client connections) through the failover.
    #[arg(long, default_value_t = 300)]
    flows: usize,
    /// Schedulers measured, in turn.
    #[arg(long, value_delimiter = ',', default_value = "mh,rr")]
    schedulers: Vec<String>,
    /// Internal: answer every line on TCP port PORT with NAME (run in a
    /// real server).
    #[arg(long, hide = true)]
    respond: Option<String>,
}

/// What became of the flows across one failover.
struct Outcome {
    kept: usize,
    moved: usize,
    lost: usize,
    /// From the kill until the backup's fast path served all three servers.
    takeover: Duration,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(name) = args.respond {
        return respond(&name);
    }
    install_cleanup_on_signals()?;
    install_panic_cleanup_hook();
    println!(
        "xdp-failover: {} established TCP flows through the master's XDP fast path (DR, \
         3 real servers); kill -9 of the master; the backup takes over",
        args.flows
    );
    println!(
        "\n{:<10} {:>8} {:>8} {:>8} {:>10} {:>14}",
        "scheduler", "kept", "moved", "lost", "kept %", "takeover ms"
    );
    for scheduler in &args.schedulers {
        let o = fail_over(scheduler, args.flows)?;
        println!(
            "{scheduler:<10} {:>8} {:>8} {:>8} {:>10.1} {:>14.0}",
            o.kept,
            o.moved,
            o.lost,
            100.0 * o.kept as f64 / args.flows as f64,
            o.takeover.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// One failover with `scheduler` on both directors.
fn fail_over(scheduler: &str, flows: usize) -> Result<Outcome> {
    let lab = Lab::new(LabSpec {
        directors: 2,
        real_servers: 3,
        web: false,
    })?;
    let exe = std::env::current_exe()?;
    let _responders: Vec<NsChild> = lab
        .real_servers()
        .map(|rs| {
            rs.accept_vip_on_loopback(VIP)?;
            rs.ns()
                .spawn(&[exe.as_os_str(), "--respond".as_ref(), rs.role().as_ref()])
        })
        .collect::<Result<_>>()?;
    let tmp = tempfile::tempdir()?;
    let start = |n: usize, vrrp: VrrpConf| -> Result<Daemon> {
        let path = tmp.path().join(format!("dir{n}.conf"));
        fs::write(&path, config(&lab, &vrrp, scheduler))?;
        Daemon::start(lab.director(n).ns(), &path, &format!("dir{n}"))
    };
    let master = start(1, VrrpConf::fast("MASTER", 150))?;
    let backup = start(2, VrrpConf::fast("BACKUP", 100))?;
    wait_serving(&master)?;
    backup.wait_status("dir2 BACKUP", Duration::from_secs(10), |s| {
        s["vrrp"][0]["state"] == "BACKUP"
    })?;

    let client = lab.client().ns_name();
    let mut connections = in_netns(client, || {
        (0..flows)
            .map(|_| Connection::open())
            .collect::<Result<Vec<_>>>()
    })??;
    let before = in_netns(client, || {
        connections
            .iter_mut()
            .map(Connection::ask)
            .collect::<Result<Vec<_>>>()
    })??;

    master.signal(Signal::SIGKILL)?;
    let killed = Instant::now();
    wait_serving(&backup)?;
    let takeover = killed.elapsed();
    client_follows(&lab, 2)?;
    let after: Vec<Result<String>> = in_netns(client, || {
        connections.iter_mut().map(Connection::ask).collect()
    })?;
    let mut outcome = Outcome {
        kept: 0,
        moved: 0,
        lost: 0,
        takeover,
    };
    for (was, now) in before.iter().zip(&after) {
        match now {
            Ok(now) if now == was => outcome.kept += 1,
            Ok(_) => outcome.moved += 1,
            Err(_) => outcome.lost += 1,
        }
    }
    Ok(outcome)
}

/// A director's configuration: VRRP instance VI_1 holding the VIP and the
/// `fast_path xdp` DR service over the three real servers.
fn config(lab: &Lab, vrrp: &VrrpConf, scheduler: &str) -> String {
    let reals: String = lab
        .real_servers()
        .map(|rs| {
            format!(
                "    real_server {} {PORT} {{\n        weight 1\n        TCP_CHECK {{\n            \
                 connect_timeout 1\n            retry 0\n            delay_loop 1\n        }}\n    }}\n",
                rs.ipv4()
            )
        })
        .collect();
    format!(
        "{}virtual_server {VIP} {PORT} {{\n    lb_algo {scheduler}\n    lb_kind DR\n    \
         protocol TCP\n    fast_path xdp\n{reals}}}\n",
        vrrp.render()
    )
}

/// Waits until the daemon's fast path is attached and serves the three
/// real servers (each with a MAC address and a weight).
fn wait_serving(daemon: &Daemon) -> Result<()> {
    daemon.wait_status(
        "fast path attached, serving 3 real servers",
        Duration::from_secs(15),
        |s| {
            let fp = &s["fast_path"];
            let serving = fp["services"][0]["backends"].as_array().map(|b| {
                b.iter()
                    .filter(|b| b["next_hop"]["mac"].is_string() && b["weight"].as_u64() > Some(0))
                    .count()
            });
            fp["interfaces"][0]["attached"] == true && serving == Some(3)
        },
    )
}

/// Waits until the client's neighbour entry for the VIP names director `n`.
fn client_follows(lab: &Lab, n: usize) -> Result<()> {
    let mac = lab.director(n).mac_string();
    wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
        lab.client()
            .ns()
            .ip(&["neigh", "show", VIP])
            .is_ok_and(|entry| entry.contains(&mac))
    })
    .with_context(|| format!("the client never followed dir{n}'s gratuitous ARP"))
}

/// A client connection to the VIP's service.
struct Connection(BufReader<TcpStream>);

impl Connection {
    fn open() -> Result<Connection> {
        let addr: SocketAddr = format!("{VIP}:{PORT}").parse()?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(Connection(BufReader::new(stream)))
    }

    /// The name of the real server answering on this connection.
    fn ask(&mut self) -> Result<String> {
        self.0.get_mut().write_all(b"?\n")?;
        let mut name = String::new();
        self.0.read_line(&mut name)?;
        anyhow::ensure!(name.ends_with('\n'), "connection closed");
        Ok(name.trim().to_owned())
    }
}

/// The real server's responder: each line received is answered with `name`.
fn respond(name: &str) -> Result<()> {
    let listener = TcpListener::bind(("0.0.0.0", PORT))?;
    for stream in listener.incoming() {
        let mut stream = stream?;
        let name = format!("{name}\n");
        thread::spawn(move || -> Result<()> {
            let mut lines = BufReader::new(stream.try_clone()?).lines();
            while lines.next().transpose()?.is_some() {
                stream.write_all(name.as_bytes())?;
            }
            Ok(())
        });
    }
    Ok(())
}
