//! Health checking at scale, and the desired-state stream's latency.
//!
//! 1. CPU and memory of the real `lb-daemon` checking 2,000 real servers
//!    with TCP_CHECK at `delay_loop 1` (the real servers are 2,000 TCP
//!    listeners on 127.0.0.1 in this process); measured from /proc over a
//!    steady-state window.
//! 2. Time from a verdict entering the desired-state model to the change
//!    being visible on its watch stream (p50/p99), with the same 2,000 real
//!    servers configured.
//!
//! `cargo build --release -p lb-daemon -p bench && target/release/checkers`
use std::{
    fs,
    net::{Ipv4Addr, TcpListener},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use bench::procfs::{cpu_ticks, rss_kib, ticks_per_second};
use clap::Parser;
use lb_daemon::{
    check::{RealServerId, VerdictChange},
    config::parse_keepalived_str,
    script::ScriptEnv,
    state::desired,
};

#[derive(Parser)]
struct Args {
    /// Number of real servers.
    #[arg(long, default_value_t = 2000)]
    real_servers: usize,
    /// Steady-state window measured (seconds).
    #[arg(long, default_value_t = 20)]
    window: u64,
    /// Verdicts timed through the desired-state stream.
    #[arg(long, default_value_t = 20000)]
    verdicts: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let listeners: Vec<TcpListener> = (0..args.real_servers)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<std::io::Result<_>>()?;
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<_>>()?;
    // Accept and close (counting), so the backlog never fills and the
    // number of checks per second is measured, not assumed.
    let accepted = Arc::new(AtomicU64::new(0));
    for listener in listeners {
        let accepted = Arc::clone(&accepted);
        thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                for stream in listener.incoming() {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                }
            })?;
    }
    let config = config_text(&ports);
    daemon_cost(&config, args.window, &accepted)?;
    stream_latency(&config, args.verdicts)
}

/// One virtual server with a TCP_CHECK (delay_loop 1 s) per real server.
fn config_text(ports: &[u16]) -> String {
    let mut text = String::from("virtual_server 192.0.2.50 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n");
    for port in ports {
        text += &format!(
            "    real_server 127.0.0.1 {port} {{\n        TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}\n"
        );
    }
    text + "}\n"
}

/// Runs lb-daemon on `config` and prints its CPU share and memory.
fn daemon_cost(config: &str, window: u64, accepted: &AtomicU64) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("keepalived.conf");
    fs::write(&path, config)?;
    let bin = std::env::current_exe()?.with_file_name("lb-daemon");
    let mut daemon = Guard(
        Command::new(&bin)
            .args(["-n", "-f"])
            .arg(&path)
            .arg("--runtime-dir")
            .arg(tmp.path().join("run"))
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?,
    );
    // Warm-up spreads the first checks over delay_loop + 1 s; let it settle.
    thread::sleep(Duration::from_secs(5));
    let pid = daemon.0.id();
    let (cpu0, conns0, t0) = (
        cpu_ticks(pid)?,
        accepted.load(Ordering::Relaxed),
        Instant::now(),
    );
    thread::sleep(Duration::from_secs(window));
    let (cpu1, elapsed) = (cpu_ticks(pid)?, t0.elapsed().as_secs_f64());
    let checks = (accepted.load(Ordering::Relaxed) - conns0) as f64;
    let ticks = ticks_per_second();
    let rss = rss_kib(pid)?;
    let up = real_servers_up(&bin, &tmp.path().join("run"))?;
    println!(
        "checkers: {} real servers, TCP_CHECK, delay_loop 1 s, {elapsed:.0} s window",
        ports_checked(config)
    );
    println!(
        "  lb-daemon CPU: {:.1} % of one core ({:.1} us per check)",
        100.0 * (cpu1 - cpu0) / ticks / elapsed,
        1e6 * (cpu1 - cpu0) / ticks / checks
    );
    println!("  checks answered: {:.0} per second", checks / elapsed);
    println!("  lb-daemon RSS: {:.1} MiB", rss / 1024.0);
    println!("  real servers up at the end (checks succeeding): {up}");
    daemon.0.kill().ok();
    Ok(())
}

/// How many real servers the daemon's status reports up.
fn real_servers_up(bin: &std::path::Path, runtime_dir: &std::path::Path) -> Result<usize> {
    let out = Command::new(bin)
        .args(["status", "--json", "--runtime-dir"])
        .arg(runtime_dir)
        .output()?;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).context("status JSON")?;
    let reals = status["lvs"]["virtual_servers"][0]["real_servers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(reals.iter().filter(|r| r["up"] == true).count())
}

fn ports_checked(config: &str) -> usize {
    config.matches("TCP_CHECK").count()
}

/// Times verdicts through the desired-state task to its watch stream.
fn stream_latency(config: &str, verdicts: usize) -> Result<()> {
    let config = parse_keepalived_str(config, std::path::Path::new("bench.conf"))
        .map_err(|d| anyhow::anyhow!("{d}"))?
        .config;
    let reals = config.virtual_server[0].real_server.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut samples = runtime.block_on(async {
        let (publisher, mut stream) = desired::channel(&config);
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let task = publisher.spawn(rx, ScriptEnv::default());
        let mut samples = Vec::with_capacity(verdicts);
        for i in 0..verdicts {
            // Alternate one real server down and up: every verdict changes the state.
            let change = VerdictChange {
                id: RealServerId {
                    vs: 0,
                    rs: i % reals,
                },
                checker: 0,
                up: (i / reals) % 2 == 1,
                weight: None,
            };
            stream.borrow_and_update();
            let sent = Instant::now();
            tx.send(change).await?;
            stream.changed().await?;
            samples.push(sent.elapsed());
        }
        drop(tx);
        task.await?;
        anyhow::Ok(samples)
    })?;
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!("desired-state stream: {verdicts} verdicts over {reals} real servers");
    println!(
        "  verdict -> change on the stream: p50 {:?}, p99 {:?}, max {:?}",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}

/// Kills the daemon on every exit path.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
