//! Scrape time of `/metrics` at scale: 1,000 virtual services x 16 real
//! servers (TCP_CHECK each), IPVS counters for every service and the XDP
//! fast path's for the 256 it can hold, 10 VRRP instances and 10 tracking
//! scripts. No kernel: the LVS part of the status document comes from the
//! real desired-state model of a parsed configuration, the checkers', IPVS's
//! and the fast path's parts are built in their status shapes; the figure
//! is what a scrape costs the metrics thread (status document to exposition
//! text), in both formats, what the daemon's main thread pays (a snapshot
//! of the desired-state model), and what building the desired-state and
//! configuration parts of the status document costs elsewhere.
//!
//! `cargo run --release -p bench --bin metrics-scrape`
use std::{path::Path, time::Instant};

use anyhow::{Context, Result};
use clap::Parser;
use lb_daemon::{
    config::parse_keepalived_str,
    metrics::{encode, families, Format},
    state::desired,
};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// Virtual services.
    #[arg(long, default_value_t = 1000)]
    virtual_servers: usize,
    /// Real servers per virtual service.
    #[arg(long, default_value_t = 16)]
    real_servers: usize,
    /// Scrapes timed per format.
    #[arg(long, default_value_t = 21)]
    runs: usize,
}

/// The fast path's service capacity (`lb_common::MAX_SERVICES`).
const XDP_SERVICES: usize = 256;
const INSTANCES: usize = 10;

fn vip(vs: usize) -> String {
    format!("10.{}.{}.1", vs / 256, vs % 256)
}

fn real(vs: usize, rs: usize) -> String {
    format!("10.{}.{}.{}", 100 + vs / 256, vs % 256, rs + 10)
}

fn config_text(args: &Args) -> String {
    let mut text = String::new();
    for vs in 0..args.virtual_servers {
        text += &format!(
            "virtual_server {} 80 {{\n lb_algo rr\n lb_kind DR\n protocol TCP\n",
            vip(vs)
        );
        for rs in 0..args.real_servers {
            text += &format!(
                " real_server {} 80 {{\n  TCP_CHECK {{\n   connect_timeout 1\n  }}\n }}\n",
                real(vs, rs)
            );
        }
        text += "}\n";
    }
    text
}

fn traffic(seed: usize) -> Value {
    let n = seed as u64 * 7919 + 1_000_003;
    json!({"conns": n / 100, "in_packets": n, "out_packets": n / 2, "in_bytes": n * 700, "out_bytes": n * 300})
}

/// The status document's parts the daemon builds from running tasks.
fn synthetic(args: &Args, lvs: Value) -> Value {
    let mut checkers = Vec::new();
    let mut ipvs = Vec::new();
    let mut xdp = Vec::new();
    for vs in 0..args.virtual_servers {
        let mut dests = Vec::new();
        let mut backends = Vec::new();
        for rs in 0..args.real_servers {
            checkers.push(json!({
                "virtual_server": vs, "real_server": rs, "checker": 0, "kind": "TCP_CHECK",
                "target": format!("{}:80", real(vs, rs)), "up": true, "running": true, "suspended": false,
                "last_change": 1.7e9, "consecutive_failures": 0, "last_error": null,
                "attempts": 5000, "failures": 3, "last_duration_seconds": 0.000412,
            }));
            dests.push(json!({"address": real(vs, rs), "port": 80, "forwarding": "Route", "weight": 1,
                "active_conns": 12, "inactive_conns": 40, "persistent_conns": 0, "stats": traffic(vs * 16 + rs)}));
            backends.push(
                json!({"address": real(vs, rs), "port": 80, "weight": 1, "forwarding": "DR",
                "real_id": vs * 16 + rs, "next_hop": {"mac": "02:00:00:00:00:01"},
                "traffic": {"packets": vs * 16 + rs, "bytes": (vs * 16 + rs) * 800}}),
            );
        }
        let service = format!("TCP {}:80", vip(vs));
        ipvs.push(json!({"vs": vs, "service": service, "desired": {},
            "programmed": {"scheduler": "rr", "destinations": dests, "stats": traffic(vs)}}));
        if vs < XDP_SERVICES {
            xdp.push(
                json!({"service": service, "scheduler": "rr", "interface": "eth0",
                "traffic": {"packets": vs, "bytes": vs * 800}, "backends": backends}),
            );
        }
    }
    let vrrp: Vec<Value> = (0..INSTANCES)
        .map(|i| json!({
            "name": format!("VI_{i}"), "interface": "eth0", "vrid": i + 1, "state": "MASTER",
            "priority": 150, "vips": [format!("192.0.2.{}/24", i + 10)], "last_transition": 1_700_000_000u64,
            "adverts_sent": 100_000, "adverts_received": 3, "become_master": 1, "release_master": 0,
            "priority_zero_sent": 0, "priority_zero_received": 0,
            "drops": {"ttl": 0, "truncated": 0, "checksum": 2, "vrid": 0, "auth_pass": 0},
        }))
        .collect();
    let scripts: Vec<Value> = (0..INSTANCES)
        .map(|i| json!({"name": format!("chk_{i}"), "kind": "script", "state": "up"}))
        .collect();
    let mut lvs = lvs;
    lvs["checkers"] = json!(checkers);
    lvs["ipvs"] = json!({"available": true, "services": ipvs});
    json!({
        "pid": 1, "config_generation": 3, "config_loaded_at": 1_700_000_000u64, "last_reload_error": null,
        "vrrp": vrrp, "tracking": {"tracked": scripts},
        "lvs": lvs,
        "fast_path": {"state": "running", "flow_capacity": 262_144,
            "interfaces": [{"name": "eth0", "attached": true}], "services": xdp},
    })
}

/// Median of `runs` timings of `f`, in milliseconds, and its last result.
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        last = Some(f());
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], last.expect("at least one run"))
}

fn middle(times: &mut [f64]) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<()> {
    let args = Args::parse();
    let text = config_text(&args);
    let config = parse_keepalived_str(&text, Path::new("bench.conf"))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("parsing the generated configuration")?
        .config;
    let (publisher, _stream) = desired::channel(&config);
    let (snapshot_ms, model) = median(args.runs, || publisher.snapshot());
    let (model_ms, lvs) = median(
        args.runs,
        || json!({"virtual_servers": model.status()["virtual_servers"]}),
    );
    let status = synthetic(&args, lvs);
    println!(
        "metrics-scrape: {} virtual services x {} real servers, {} on XDP, {INSTANCES} VRRP instances; median of {} runs",
        args.virtual_servers,
        args.real_servers,
        XDP_SERVICES.min(args.virtual_servers),
        args.runs
    );
    for (name, format) in [
        ("OpenMetrics", Format::OpenMetrics),
        ("text 0.0.4", Format::Text),
    ] {
        let mut build = Vec::with_capacity(args.runs);
        let mut write = Vec::with_capacity(args.runs);
        let (ms, out) = median(args.runs, || {
            let start = Instant::now();
            let all = families(&status);
            build.push(start.elapsed().as_secs_f64() * 1e3);
            let start = Instant::now();
            let out = encode(&all, format);
            write.push(start.elapsed().as_secs_f64() * 1e3);
            out
        });
        let samples = out.lines().filter(|l| !l.starts_with('#')).count();
        println!(
            "  {name:<12} scrape: {ms:6.1} ms (families {:5.1} ms + encoding {:5.1} ms), {samples} samples, {:.1} MiB",
            middle(&mut build),
            middle(&mut write),
            out.len() as f64 / (1024.0 * 1024.0)
        );
    }
    let (config_ms, _) = median(args.runs, || serde_json::to_value(&config));
    println!("  on the daemon's main thread, per scrape: a snapshot of the desired-state model {snapshot_ms:.1} ms");
    println!("  on a blocking-pool thread, per scrape: the desired-state part of the status document {model_ms:.1} ms");
    println!("  per status request (not per scrape): the configuration part {config_ms:.1} ms");
    Ok(())
}
