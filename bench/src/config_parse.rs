//! Configuration load time for a large keepalived.conf: `V` virtual servers
//! with `R` real servers each, every real server with an HTTP_GET checker
//! (the shape of big LVS installations). Prints the median of several runs
//! for parsing + validation and for the TOML round trip.
//!
//! `cargo run --release -p bench --bin config-parse -- --virtual-servers 1000 --real-servers 16`
use std::{fmt::Write, path::Path, time::Instant};

use anyhow::{ensure, Result};
use clap::Parser;
use lb_daemon::config;

#[derive(Parser)]
struct Args {
    /// Number of virtual servers.
    #[arg(long, default_value_t = 1000)]
    virtual_servers: usize,
    /// Real servers per virtual server.
    #[arg(long, default_value_t = 16)]
    real_servers: usize,
    /// Runs per measurement (the median is printed).
    #[arg(long, default_value_t = 7)]
    runs: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let text = generate(args.virtual_servers, args.real_servers);
    let origin = Path::new("bench.conf");
    let parse = median(args.runs, || {
        config::parse_keepalived_str(&text, origin)
            .map(drop)
            .map_err(|d| anyhow::anyhow!("{d}"))
    })?;
    let loaded = config::parse_keepalived_str(&text, origin).map_err(|d| anyhow::anyhow!("{d}"))?;
    ensure!(
        loaded.config.virtual_server.len() == args.virtual_servers,
        "all virtual servers parsed"
    );
    let toml = config::to_toml(&loaded.config);
    let toml_parse = median(args.runs, || {
        config::parse_toml_str(&toml, Path::new("bench.toml"))
            .map(drop)
            .map_err(|d| anyhow::anyhow!("{d}"))
    })?;
    let mib = |len: usize| len as f64 / (1024.0 * 1024.0);
    println!(
        "config-parse: {} virtual servers x {} real servers (HTTP_GET each), median of {} runs",
        args.virtual_servers, args.real_servers, args.runs
    );
    println!(
        "  keepalived.conf: {:.2} MiB parsed + validated in {:.1} ms ({:.1} MiB/s)",
        mib(text.len()),
        parse * 1e3,
        mib(text.len()) / parse
    );
    println!(
        "  TOML form:       {:.2} MiB parsed + validated in {:.1} ms ({:.1} MiB/s)",
        mib(toml.len()),
        toml_parse * 1e3,
        mib(toml.len()) / toml_parse
    );
    Ok(())
}

/// Median wall time of `runs` calls of `f`, in seconds.
fn median(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// A keepalived.conf with `vs` virtual servers of `rs` real servers each,
/// all on documentation addresses (198.51.100.0/24 VIPs, 203.0.113.0/24 and
/// 192.0.2.0/24 real servers, ports distinguishing the rest).
fn generate(vs: usize, rs: usize) -> String {
    let mut out = String::from("global_defs {\n    router_id bench\n}\n");
    for v in 0..vs {
        let _ = writeln!(
            out,
            "virtual_server 198.51.100.{} {} {{\n    delay_loop 6\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP",
            v % 250 + 1,
            1000 + v / 250
        );
        for r in 0..rs {
            let net = if r % 2 == 0 { "203.0.113" } else { "192.0.2" };
            let _ = writeln!(
                out,
                "    real_server {net}.{} {} {{\n        weight {}\n        HTTP_GET {{\n            url {{\n                path /health\n                status_code 200\n            }}\n            connect_timeout 3\n            retry 3\n            delay_before_retry 2\n        }}\n    }}",
                r / 2 % 250 + 1,
                8000 + v,
                r % 5 + 1
            );
        }
        out.push_str("}\n");
    }
    out
}
