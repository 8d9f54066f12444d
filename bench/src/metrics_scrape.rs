//! Scrape time of `/metrics` at scale: 1,000 virtual services x 16 real
//! servers (TCP_CHECK each), IPVS counters for every service and the XDP
//! fast path's for the 256 it can hold, 10 VRRP instances and 10 tracking
//! scripts. No kernel: the desired-state model is the real one of a parsed
//! configuration; the checkers' snapshot, IPVS's dumped counters and the
//! fast path's status are built in their shapes. The figures are what a
//! scrape costs the metrics thread (sources to exposition text) in both
//! formats, the first scrape of a configuration (which renders its label
//! sets) apart, and what the daemon's main thread pays per scrape (a copy
//! of the model and of the checkers' state). IPVS's dump itself (a
//! netlink round trip per service, on a blocking-pool thread) is not in
//! it: the bench cannot have a kernel IPVS.
//!
//! `cargo run --release -p bench --bin metrics-scrape`
use std::{collections::BTreeMap, path::Path, time::Duration, time::Instant};

use anyhow::{Context, Result};
use clap::Parser;
use lb_daemon::{
    check::{CheckerSnapshot, CheckerStatus, RealServerId, Reason},
    config::parse_keepalived_str,
    dataplane::ipvs::{
        DestCounters, Destination, Dumped, DumpedDest, DumpedService, Service, Stats,
    },
    metrics::{Format, Lvs, Renderer, Sources},
    state::desired::{self, ServiceKey},
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

fn stats(seed: usize) -> Stats {
    let n = seed as u64 * 7919 + 1_000_003;
    Stats {
        conns: n / 100,
        in_packets: n,
        out_packets: n / 2,
        in_bytes: n * 700,
        out_bytes: n * 300,
        ..Stats::default()
    }
}

/// The LVS part's snapshots besides the model: every checker's state and
/// IPVS's counters.
fn synthetic_lvs(args: &Args) -> (CheckerSnapshot, Dumped) {
    let mut checkers = Vec::new();
    let mut ipvs = Vec::new();
    for vs in 0..args.virtual_servers {
        let mut dests = Vec::new();
        for rs in 0..args.real_servers {
            checkers.push(CheckerStatus {
                id: RealServerId { vs, rs },
                checker: 0,
                kind: "TCP_CHECK",
                target: format!("{}:80", real(vs, rs)),
                up: true,
                running: true,
                suspended: false,
                last_change: None,
                consecutive_failures: 0,
                last_error: None,
                attempts: 5000,
                failures: 3,
                failures_by_reason: BTreeMap::from([(Reason::Timeout, 3)]),
                last_duration: Some(Duration::from_micros(412)),
            });
            dests.push(DumpedDest {
                dest: Destination::routed(real(vs, rs).parse().expect("address"), 80, 1),
                counters: DestCounters {
                    active_conns: 12,
                    inactive_conns: 40,
                    persistent_conns: 0,
                    stats: stats(vs * 16 + rs),
                },
            });
        }
        let key = ServiceKey::Addr {
            ip: vip(vs).parse().expect("address"),
            port: 80,
            protocol: lb_daemon::config::Protocol::Tcp,
        };
        let service = Service {
            key,
            scheduler: "rr".into(),
            flags: 0,
            timeout: 0,
            netmask: 32,
            pe_name: None,
        };
        let stats = stats(vs);
        ipvs.push((DumpedService { service, stats }, dests));
    }
    (CheckerSnapshot::from(checkers), ipvs)
}

/// The status document without its LVS part, as the daemon builds it.
fn synthetic_status(args: &Args) -> Value {
    let mut xdp = Vec::new();
    for vs in 0..args.virtual_servers.min(XDP_SERVICES) {
        let backends: Vec<Value> = (0..args.real_servers)
            .map(|rs| {
                json!({"address": real(vs, rs), "port": 80, "weight": 1, "forwarding": "DR",
                "real_id": vs * 16 + rs, "next_hop": {"mac": "02:00:00:00:00:01"},
                "traffic": {"packets": vs * 16 + rs, "bytes": (vs * 16 + rs) * 800}})
            })
            .collect();
        xdp.push(json!({"service": format!("TCP {}:80", vip(vs)), "scheduler": "rr",
            "interface": "eth0", "traffic": {"packets": vs, "bytes": vs * 800}, "backends": backends}));
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
    json!({
        "pid": 1, "config_generation": 3, "config_loaded_at": 1_700_000_000u64, "last_reload_error": null,
        "vrrp": vrrp, "tracking": {"tracked": scripts},
        "lvs": null,
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

fn main() -> Result<()> {
    let args = Args::parse();
    let text = config_text(&args);
    let config = parse_keepalived_str(&text, Path::new("bench.conf"))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("parsing the generated configuration")?
        .config;
    let (publisher, _stream) = desired::channel(&config);
    let (snapshot_ms, model) = median(args.runs, || publisher.snapshot());
    let (checkers, ipvs) = synthetic_lvs(&args);
    let (checkers_ms, checkers) = median(args.runs, || checkers.clone());
    let sources = Sources {
        status: synthetic_status(&args),
        lvs: Some(Lvs {
            model,
            checkers,
            ipvs,
        }),
    };
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
        let mut renderer = Renderer::default();
        let start = Instant::now();
        renderer.render(&sources, format);
        let first_ms = start.elapsed().as_secs_f64() * 1e3;
        let (ms, out) = median(args.runs, || renderer.render(&sources, format));
        let text = out.to_string();
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        println!(
            "  {name:<12} scrape: {ms:6.1} ms, {samples} samples, {:.1} MiB; the first of a configuration {first_ms:.1} ms",
            text.len() as f64 / (1024.0 * 1024.0)
        );
    }
    let model = &sources.lvs.as_ref().context("sources")?.model;
    let (model_ms, _) = median(args.runs, || model.status());
    let (config_ms, _) = median(args.runs, || serde_json::to_value(&config));
    println!("  on the daemon's main thread, per scrape: copies of the desired-state model {snapshot_ms:.1} ms and of the checkers' state {checkers_ms:.1} ms");
    println!("  per status request (not per scrape): the desired-state part {model_ms:.1} ms, the configuration part {config_ms:.1} ms");
    Ok(())
}
