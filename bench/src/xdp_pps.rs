//! Packets per second through the veth lab: lb-daemon's XDP fast path (DR)
//! against the kernel's classic path on the same lab (nftables DNAT: this
//! kernel has no IPVS), in the same run.
//!
//! The client floods UDP to VIP:9 from an `AF_PACKET` socket: 256 flows,
//! 60-byte frames addressed to dir1's MAC (as its neighbour entry for the
//! VIP would be). dir1 forwards them to the three real servers either with
//! the XDP program (attached natively to its `eth0`, round robin, DR by
//! `XDP_TX`) or with an nftables DNAT rule (round robin per flow,
//! `ip_forward` on), never both: while XDP runs the DNAT table is gone and
//! forwarding is off, so only XDP can deliver, and its own counters must
//! account for what arrived. Each real server counts and drops the flood in
//! an nftables ingress hook, the same small cost for both paths. The paths
//! take turns for a number of rounds; the figure is the median over rounds
//! of the packets per second that reached the real servers.
//!
//! One change to this lab's switch namespace, the same for both paths: the
//! bridge does not hand frames to netfilter (`bridge-nf-call-*` = 0, as a
//! real switch): otherwise every bridge crossing pays a conntrack lookup,
//! which would drown the director's share of the cost. (The lab already runs
//! an XDP_PASS program on the directors' bridge ports, without which veth
//! would drop a flood sent by `XDP_TX`.)
//!
//! `cargo build --release -p bench && target/release/xdp-pps`
use std::{
    fs,
    net::{IpAddr, Ipv4Addr},
    thread,
    time::Duration,
};

use anyhow::{bail, ensure, Context, Result};
use bench::{
    fastpath::{backend, pin_to_cpu, Station},
    flood::{Flooded, FrameSender},
    nft,
    stats::quantile,
};
use clap::Parser;
use lb_common::{VipKey, FWD_DR};
use lb_daemon::dataplane::xdp::{tables::Scheduler, Backend, FastPath, Programmer, XdpAttachMode};
use lb_tests::{
    frames::{Frame, CLIENT_MAC, DIRECTOR_MAC, L4},
    in_netns, install_cleanup_on_signals, install_panic_cleanup_hook,
    lab::HOST_IF,
    Host, Lab, LabSpec, VIP,
};

const PORT: u16 = 9;
const UDP: u8 = 17;
/// Distinct client ports in the flood (a multiple of the sender's batch).
const FLOWS: usize = 256;
/// Payload that makes the smallest Ethernet frame (60 bytes before the FCS).
const PAYLOAD: usize = 60 - 14 - 20 - 8;
/// The real servers' sink: count and drop the flood at ingress.
const SINK_TABLE: &str = "bench";
const SINK_CHAIN: &str = "sink";
/// The director's classic path.
const DNAT_TABLE: &str = "lbbench";

#[derive(Parser)]
struct Args {
    /// Seconds each path floods per round.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Rounds (each path once per round).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The CPU the sender runs on.
    #[arg(long, default_value_t = 0)]
    cpu: usize,
}

/// How dir1 forwards the flood.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Forwarding {
    Xdp,
    Dnat,
}

impl Forwarding {
    fn label(self) -> &'static str {
        match self {
            Forwarding::Xdp => "XDP (DR)",
            Forwarding::Dnat => "nftables DNAT",
        }
    }
}

/// One flood through one path.
struct Phase {
    flooded: Flooded,
    /// Packets that reached the real servers.
    delivered: u64,
    /// CPU time the flood took on the sender's CPU: the sender's thread
    /// (with the softirq work run in its context) and that CPU's ksoftirqd.
    cpu: Duration,
}

impl Phase {
    /// Delivered packets per second of wall-clock time.
    fn pps(&self) -> f64 {
        self.delivered as f64 / self.flooded.elapsed.as_secs_f64()
    }

    /// CPU time per delivered packet (ns): the whole lab path, independent
    /// of how much of the CPU other work on the machine took meanwhile.
    fn cpu_ns(&self) -> f64 {
        self.cpu.as_nanos() as f64 / self.delivered.max(1) as f64
    }
}

fn main() -> Result<()> {
    install_cleanup_on_signals()?;
    install_panic_cleanup_hook();
    let args = Args::parse();
    let lab = Lab::new(LabSpec {
        directors: 1,
        real_servers: 3,
        web: false,
    })?;
    let director = lab.director(1);
    ensure!(
        director.mac() == DIRECTOR_MAC && lab.client().mac() == CLIENT_MAC,
        "the frames' MACs are the lab's"
    );
    for rs in lab.real_servers() {
        nft::load(rs.ns(), &sink_ruleset())?;
    }
    director.ns().sysctl(&[
        ("net.ipv4.conf.all.send_redirects", "0"),
        ("net.ipv4.conf.eth0.send_redirects", "0"),
    ])?;
    prepare_switch(&lab)?;
    let mut lb = Programmer::new(FastPath::load(lb_common::DEFAULT_FLOWS)?);
    let vip = VipKey::v4(vip()?.octets(), PORT, UDP);
    lb.set_service(vip, Scheduler::Rr, &backends(&lab))?;
    let vip_id = lb.ids(&vip).context("the VIP was just programmed")?.id;
    let frames = flood_frames(&lab)?;
    let duration = Duration::from_secs_f64(args.seconds);
    println!(
        "xdp-pps: UDP flood of {FLOWS} flows, 60-byte frames, client -> bridge -> dir1 -> \
         bridge -> 3 real servers (counted and dropped at their ingress)"
    );
    println!(
        "sender on CPU {}; {:.1} s per path per round, {} rounds, paths alternating\n",
        args.cpu, args.seconds, args.rounds
    );
    println!(
        "{:<6} {:<14} {:>10} {:>8} {:>14} {:>8} {:>12}",
        "round", "path", "sent pps", "refused", "delivered pps", "CPU %", "CPU ns/pkt"
    );
    let mut phases: [Vec<Phase>; 2] = [Vec::new(), Vec::new()];
    for round in 0..args.rounds {
        let mut order = [Forwarding::Xdp, Forwarding::Dnat];
        if round % 2 == 1 {
            order.reverse();
        }
        for path in order {
            let phase = match path {
                Forwarding::Xdp => via_xdp(&lab, &mut lb, vip_id, &frames, duration, args.cpu)?,
                Forwarding::Dnat => via_dnat(&lab, &frames, duration, args.cpu)?,
            };
            let elapsed = phase.flooded.elapsed.as_secs_f64();
            println!(
                "{:<6} {:<14} {:>10.0} {:>8} {:>14.0} {:>8.0} {:>12.0}",
                round + 1,
                path.label(),
                phase.flooded.sent as f64 / elapsed,
                phase.flooded.refused,
                phase.pps(),
                100.0 * phase.cpu.as_secs_f64() / elapsed,
                phase.cpu_ns()
            );
            phases[usize::from(path == Forwarding::Dnat)].push(phase);
        }
    }
    report(&phases);
    Ok(())
}

/// The switch namespace's change (see the module documentation): no
/// netfilter on bridged frames.
fn prepare_switch(lab: &Lab) -> Result<()> {
    lab.switch().sysctl(&[
        ("net.bridge.bridge-nf-call-iptables", "0"),
        ("net.bridge.bridge-nf-call-ip6tables", "0"),
        ("net.bridge.bridge-nf-call-arptables", "0"),
    ])
}

fn vip() -> Result<Ipv4Addr> {
    VIP.parse().context("the lab's VIP")
}

/// The real servers as dir1's XDP program sees them: DR out of its `eth0`.
fn backends(lab: &Lab) -> Vec<Backend> {
    let director = station(lab.director(1));
    lab.real_servers()
        .map(|rs| {
            backend(
                station(rs),
                director,
                lab.director(1).ifindex(),
                PORT,
                FWD_DR,
            )
        })
        .collect()
}

fn station(host: &Host) -> Station {
    Station {
        addr: host.ipv4(),
        mac: host.mac(),
    }
}

/// One frame per flow: client ports 10000.. to VIP:9.
fn flood_frames(lab: &Lab) -> Result<Vec<Vec<u8>>> {
    let client = IpAddr::from(lab.client().ipv4());
    let vip = IpAddr::from(vip()?);
    Ok((0..FLOWS as u16)
        .map(|i| {
            let mut frame = Frame::new((client, 10_000 + i), (vip, PORT), L4::Udp);
            frame.payload = PAYLOAD;
            frame.bytes()
        })
        .collect())
}

/// A real server's sink: UDP to port 9 is counted and dropped on arrival.
fn sink_ruleset() -> String {
    format!(
        "table netdev {SINK_TABLE} {{\n\
         \tchain {SINK_CHAIN} {{\n\
         \t\ttype filter hook ingress device \"{HOST_IF}\" priority 0;\n\
         \t\tudp dport {PORT} counter drop\n\
         \t}}\n\
         }}\n"
    )
}

/// dir1's classic path: DNAT of VIP:9, round robin per flow (conntrack
/// keeps a flow on its server).
fn dnat_ruleset(lab: &Lab) -> Result<String> {
    let map = lab
        .real_servers()
        .enumerate()
        .map(|(i, rs)| format!("{i} : {}", rs.ipv4()))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(format!(
        "table ip {DNAT_TABLE} {{\n\
         \tchain prerouting {{\n\
         \t\ttype nat hook prerouting priority dstnat;\n\
         \t\tip daddr {} udp dport {PORT} dnat to numgen inc mod {} map {{ {map} }}\n\
         \t}}\n\
         }}\n",
        vip()?,
        lab.spec().real_servers
    ))
}

/// Packets the real servers have counted so far.
fn delivered(lab: &Lab) -> Result<u64> {
    lab.real_servers()
        .map(|rs| nft::counted_packets(rs.ns(), "netdev", SINK_TABLE, SINK_CHAIN))
        .sum()
}

/// Floods from the client with the sender pinned to `cpu`, after a short
/// warm-up (neighbour resolution, conntrack entries, flow-table entries);
/// what reached the real servers during the flood.
fn flood(lab: &Lab, frames: &[Vec<u8>], duration: Duration, cpu: usize) -> Result<Phase> {
    let client = lab.client().ns_name();
    let send = |for_how_long| {
        in_netns(client, || -> Result<Flooded> {
            pin_to_cpu(cpu)?;
            FrameSender::bind(HOST_IF)?.flood(frames, for_how_long)
        })?
    };
    send(Duration::from_millis(300))?;
    thread::sleep(Duration::from_millis(200));
    let before = delivered(lab)?;
    let softirqd = ksoftirqd(cpu)?;
    let softirqd_before = run_time(softirqd)?;
    let flooded = send(duration)?;
    let softirqd_cpu = run_time(softirqd)? - softirqd_before;
    thread::sleep(Duration::from_millis(200));
    Ok(Phase {
        flooded,
        delivered: delivered(lab)? - before,
        cpu: flooded.cpu + softirqd_cpu,
    })
}

/// The pid of `ksoftirqd/<cpu>`.
fn ksoftirqd(cpu: usize) -> Result<u32> {
    let name = format!("ksoftirqd/{cpu}");
    for entry in fs::read_dir("/proc")? {
        let entry = entry?;
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        if fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == name) {
            return Ok(pid);
        }
    }
    bail!("no {name} thread")
}

/// The CPU time task `pid` has run (ns precision, from its schedstat).
fn run_time(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/schedstat");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no run time in {path}: {text}"))?;
    Ok(Duration::from_nanos(ns))
}

/// The flood through dir1's XDP program; checks that the program's own
/// counters account for every packet delivered.
fn via_xdp(
    lab: &Lab,
    lb: &mut Programmer,
    vip_id: u32,
    frames: &[Vec<u8>],
    duration: Duration,
    cpu: usize,
) -> Result<Phase> {
    let director = lab.director(1);
    director.ns().sysctl(&[("net.ipv4.ip_forward", "0")])?;
    let ifindex = director.ifindex();
    in_netns(director.ns_name(), || {
        lb.fast_path().attach(ifindex, XdpAttachMode::Native)
    })??;
    let counted_before = lb.fast_path().maps().service_counters(vip_id)?.packets;
    let phase = flood(lab, frames, duration, cpu);
    let forwarded = lb.fast_path().maps().service_counters(vip_id)?.packets - counted_before;
    in_netns(director.ns_name(), || lb.fast_path().detach(ifindex))??;
    let phase = phase?;
    ensure!(
        forwarded >= phase.delivered,
        "XDP forwarded {forwarded} packets but {} arrived: another path delivered some",
        phase.delivered
    );
    Ok(phase)
}

/// The flood through dir1's nftables DNAT rule.
fn via_dnat(lab: &Lab, frames: &[Vec<u8>], duration: Duration, cpu: usize) -> Result<Phase> {
    let ns = lab.director(1).ns();
    nft::load(ns, &dnat_ruleset(lab)?)?;
    ns.sysctl(&[("net.ipv4.ip_forward", "1")])?;
    let phase = flood(lab, frames, duration, cpu);
    ns.sysctl(&[("net.ipv4.ip_forward", "0")])?;
    nft::delete_table(ns, "ip", DNAT_TABLE)?;
    phase
}

fn report(phases: &[Vec<Phase>; 2]) {
    let median = |path: usize, f: fn(&Phase) -> f64| {
        let mut v: Vec<u64> = phases[path].iter().map(|p| f(p) as u64).collect();
        quantile(&mut v, 0.5).unwrap_or(0) as f64
    };
    let (xdp_pps, dnat_pps) = (median(0, Phase::pps), median(1, Phase::pps));
    let (xdp_ns, dnat_ns) = (median(0, Phase::cpu_ns), median(1, Phase::cpu_ns));
    println!();
    println!("medians over the rounds       XDP (DR)   nftables DNAT   XDP / DNAT");
    println!(
        "delivered, wall clock    {:>9.0} pps {:>11.0} pps {:>12.2}",
        xdp_pps,
        dnat_pps,
        xdp_pps / dnat_pps
    );
    println!(
        "delivered per CPU second {:>9.0} pps {:>11.0} pps {:>12.2}",
        1e9 / xdp_ns,
        1e9 / dnat_ns,
        dnat_ns / xdp_ns
    );
    println!(
        "CPU per packet, whole lab path: XDP {xdp_ns:.0} ns, DNAT {dnat_ns:.0} ns; \
         the classic director costs {:.0} ns more per packet",
        dnat_ns - xdp_ns
    );
}
