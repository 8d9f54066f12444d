//! Resource bounds at scale (issue 16, part 4): the real `lb-daemon` checking
//! 10,000 real servers with mixed checkers (TCP_CHECK, HTTP_GET and
//! MISC_CHECK) at `delay_loop 1`, sampled every few seconds for RSS, open
//! file descriptors and CPU, with a checker storm in the middle: every real
//! server fails at once (listeners closed, the MISC_CHECK flag file
//! removed), then every one comes back. Prints a table of samples, how long
//! the daemon took to see all down and all up, and the first and last
//! steady samples, so that flatness can be read off.
//!
//! The real servers are listeners on 127.0.0.1 in this process (a tokio
//! runtime; HTTP_GET ones answer `200 OK`).
//!
//! `cargo build --release -p lb-daemon -p bench && target/release/scale --minutes 3`
//! (an hour: `--minutes 60`).
use std::{
    fs,
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use bench::procfs::{cpu_ticks, fds, rss_kib, ticks_per_second};
use clap::Parser;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    task::JoinHandle,
};

#[derive(Parser)]
struct Args {
    /// TCP_CHECK real servers.
    #[arg(long, default_value_t = 8000)]
    tcp: usize,
    /// HTTP_GET real servers.
    #[arg(long, default_value_t = 1900)]
    http: usize,
    /// MISC_CHECK real servers (one `test -e FLAG` process per check).
    #[arg(long, default_value_t = 100)]
    misc: usize,
    /// How long the run lasts, storm included.
    #[arg(long, default_value_t = 3)]
    minutes: u64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 10)]
    every: u64,
}

/// One real server this process plays.
struct Real {
    addr: SocketAddr,
    http: bool,
    task: Option<JoinHandle<()>>,
}

impl Real {
    /// Listens again on its port.
    async fn up(&mut self) -> Result<()> {
        let listener = TcpListener::bind(self.addr)
            .await
            .with_context(|| format!("binding {}", self.addr))?;
        self.addr = listener.local_addr()?;
        let http = self.http;
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                if http {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 1024];
                        let _ = stream.read(&mut buf).await;
                        let _ = stream
                            .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .await;
                    });
                }
            }
        }));
        Ok(())
    }

    /// Stops listening (checks are refused); returns the aborted task, to
    /// await before listening again.
    fn down(&mut self) -> Option<JoinHandle<()>> {
        let task = self.task.take()?;
        task.abort();
        Some(task)
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let tmp = tempfile::tempdir()?;
    let flag = tmp.path().join("healthy");
    fs::write(&flag, "")?;
    let mut reals: Vec<Real> = (0..args.tcp + args.http)
        .map(|i| Real {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            http: i >= args.tcp,
            task: None,
        })
        .collect();
    runtime.block_on(async {
        for r in &mut reals {
            r.up().await?;
        }
        anyhow::Ok(())
    })?;
    let config = config_text(&reals, args.misc, &flag);
    let total = reals.len() + args.misc;
    let path = tmp.path().join("keepalived.conf");
    fs::write(&path, config)?;
    let run = tmp.path().join("run");
    let bin = std::env::current_exe()?.with_file_name("lb-daemon");
    let daemon = Guard(
        Command::new(&bin)
            .args(["-n", "-f"])
            .arg(&path)
            .arg("--runtime-dir")
            .arg(&run)
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?,
    );
    let pid = daemon.0.id();
    println!(
        "scale: {} TCP_CHECK + {} HTTP_GET + {} MISC_CHECK real servers, delay_loop 1 s, {} min",
        args.tcp, args.http, args.misc, args.minutes
    );
    wait_up(&bin, &run, total, total, Duration::from_secs(60)).context("first round")?;
    println!(
        "{:>7} {:>9} {:>6} {:>9} {:>8}  phase",
        "t (s)", "RSS MiB", "fds", "CPU %", "up"
    );
    let started = Instant::now();
    let half = Duration::from_secs(args.minutes * 30);
    let end = Duration::from_secs(args.minutes * 60);
    let mut last = (cpu_ticks(pid)?, Instant::now());
    let mut stormed = false;
    let mut samples = Vec::new();
    while started.elapsed() < end {
        std::thread::sleep(Duration::from_secs(args.every));
        let cpu = cpu_ticks(pid)?;
        let share = (cpu - last.0) / ticks_per_second() / last.1.elapsed().as_secs_f64() * 100.0;
        last = (cpu, Instant::now());
        let up = up_count(&bin, &run)?;
        let sample = (
            started.elapsed().as_secs(),
            rss_kib(pid)? / 1024.0,
            fds(pid)?,
            share,
        );
        println!(
            "{:>7} {:>9.1} {:>6} {:>9.1} {:>8}  {}",
            sample.0,
            sample.1,
            sample.2,
            sample.3,
            up,
            if stormed { "after the storm" } else { "steady" }
        );
        samples.push(sample);
        if !stormed && started.elapsed() >= half {
            stormed = true;
            storm(&runtime, &mut reals, &flag, &bin, &run, total, pid)?;
            last = (cpu_ticks(pid)?, Instant::now());
        }
    }
    if let (Some(first), Some(final_)) = (samples.first(), samples.last()) {
        println!(
            "first steady sample: RSS {:.1} MiB, {} fds; last: RSS {:.1} MiB, {} fds",
            first.1, first.2, final_.1, final_.2
        );
    }
    Ok(())
}

/// Every real server fails at once, then every one returns; prints how
/// long the daemon took to see each, and its peak RSS and fds meanwhile.
fn storm(
    runtime: &tokio::runtime::Runtime,
    reals: &mut [Real],
    flag: &Path,
    bin: &Path,
    run: &Path,
    total: usize,
    pid: u32,
) -> Result<()> {
    let t0 = Instant::now();
    let stopped: Vec<JoinHandle<()>> = reals.iter_mut().filter_map(Real::down).collect();
    // The listeners close once their tasks have ended.
    runtime.block_on(async {
        for task in stopped {
            let _ = task.await;
        }
    });
    fs::remove_file(flag)?;
    let down = wait_up(bin, run, 0, total, Duration::from_secs(60))?;
    let peak_down = (rss_kib(pid)? / 1024.0, fds(pid)?);
    println!(
        "storm: all {total} down, seen by the daemon after {:.1} s (RSS {:.1} MiB, {} fds)",
        down.as_secs_f64(),
        peak_down.0,
        peak_down.1
    );
    let t1 = Instant::now();
    runtime.block_on(async {
        for r in reals.iter_mut() {
            r.up().await?;
        }
        anyhow::Ok(())
    })?;
    fs::write(flag, "")?;
    let up = wait_up(bin, run, total, total, Duration::from_secs(60))?;
    println!(
        "storm: all {total} up again, seen after {:.1} s (RSS {:.1} MiB, {} fds); storm took {:.1} s",
        up.as_secs_f64(),
        rss_kib(pid)? / 1024.0,
        fds(pid)?,
        (t1 - t0 + up).as_secs_f64()
    );
    Ok(())
}

/// The configuration: one virtual server per kind, each real server with
/// its checker.
fn config_text(reals: &[Real], misc: usize, flag: &Path) -> String {
    let mut text = String::from("global_defs {\n    script_user root\n}\n");
    let service = |vip: &str, body: String| {
        format!("virtual_server {vip} 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n{body}}}\n")
    };
    let tcp: String = reals
        .iter()
        .filter(|r| !r.http)
        .map(|r| format!("    real_server 127.0.0.1 {} {{\n        TCP_CHECK {{\n            connect_timeout 1\n        }}\n    }}\n", r.addr.port()))
        .collect();
    let http: String = reals
        .iter()
        .filter(|r| r.http)
        .map(|r| format!("    real_server 127.0.0.1 {} {{\n        HTTP_GET {{\n            url {{\n                path /\n                status_code 200\n            }}\n            connect_timeout 1\n        }}\n    }}\n", r.addr.port()))
        .collect();
    let script: String = (0..misc)
        .map(|i| format!("    real_server 127.0.1.{} 80 {{\n        MISC_CHECK {{\n            misc_path \"/usr/bin/test -e {}\"\n            misc_timeout 2\n        }}\n    }}\n", i % 250 + 1, flag.display()))
        .collect();
    text += &service("192.0.2.50", tcp);
    text += &service("192.0.2.51", http);
    if misc > 0 {
        text += &service("192.0.2.52", script);
    }
    text
}

/// Waits until the daemon reports `want` of `total` real servers up;
/// returns how long it took.
fn wait_up(bin: &Path, run: &Path, want: usize, total: usize, limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let up = up_count(bin, run).unwrap_or(usize::MAX);
        if up == want {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!("{up} of {total} real servers up after {limit:?}, waiting for {want}");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Real servers the daemon's status reports up.
fn up_count(bin: &Path, run: &Path) -> Result<usize> {
    let out = Command::new(bin)
        .args(["status", "--json", "--runtime-dir"])
        .arg(run)
        .output()?;
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).context("status JSON")?;
    Ok(status["lvs"]["virtual_servers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|vs| vs["real_servers"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["up"] == true)
        .count())
}

/// This process holds ~10,000 listeners: take the hard limit.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Kills the daemon when the bench ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
