//! Director-only packet rate through `BPF_PROG_TEST_RUN` with
//! `BPF_F_TEST_XDP_LIVE_FRAMES`: the kernel runs the program on frames of
//! its own page pool and really transmits what it answers `XDP_TX` on a
//! veth whose peer drops it in XDP (`lb_drop`), so the figure is the
//! director's cost alone, not the lab's veth and bridge. Cases: the trivial
//! `lb_tx` program (the limit on this machine), the `lb_swap` program
//! (swaps the MAC addresses: the least a forwarder does, reading and
//! writing the frame), the `lb_flow_floor` program (also looks the frame's
//! flow up in the connection table first: the least a forwarder with a
//! flow table does), the fast path on an established DR flow (recycled
//! frames keep the MACs the program wrote, which it rewrites alike, and
//! the 5-tuple, so every frame but the first is the established path) and
//! on new flows (`lb_fresh` gives every frame a random source port and
//! last source address octet first, checksums kept: a miss and an insert
//! into a connection table of 65,536 entries each time; the feeding costs
//! a helper call and a few stores, counted in the figure).
//!
//! And the classic path on the same frames: `XDP_PASS` (`lb_replay`, or
//! `lb_fresh_pass` for new flows, both restoring the headers the stack
//! rewrote in the recycled frame) hands them to the stack of the director's
//! namespace, which DNATs them (nftables, round robin per flow, conntrack)
//! and forwards them out the same veth to the sink: what a director without
//! the fast path does (this kernel has no IPVS). Its frames counted by the
//! sink show how many the stack really forwarded.
//!
//! `cargo build --release -p bench --bin xdp-live && target/release/xdp-live`
use std::{net::Ipv4Addr, process::Command, time::Instant};

use anyhow::{ensure, Context, Result};
use aya::programs::{TestRun, TestRunAttrs, TestRunOptions, Xdp, XdpMode};
use bench::{
    fastpath::{backend, pin_to_cpu, Station},
    nft,
    stats::quantile,
};
use clap::Parser;
use lb_common::{
    PassReason, VipKey, DROP_PROGRAM, FEED_FRAME_LEN, FLOW_FLOOR_PROGRAM, FRESH_PASS_PROGRAM,
    FRESH_PROGRAM, FWD_DR, REPLAY_PROGRAM, SWAP_PROGRAM, TX_PROGRAM,
};
use lb_daemon::dataplane::xdp::{tables::Scheduler, FastPath, PassProgram, Programmer};
use lb_tests::{
    frames::{Frame, ACK, DIRECTOR_MAC, SYN},
    in_netns,
    netns::Netns,
};

const TCP: u8 = 6;
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
const DIRECTOR: Station = Station {
    addr: Ipv4Addr::new(192, 0, 2, 2),
    mac: DIRECTOR_MAC,
};
const REALS: u8 = 3;

/// Real server `n` (1-based).
fn real(n: u8) -> Station {
    Station {
        addr: Ipv4Addr::new(192, 0, 2, 10 + n),
        mac: [0x02, 0, 0, 0, 0, 0x10 + n],
    }
}

#[derive(Parser)]
struct Args {
    /// Frames per call.
    #[arg(long, default_value_t = 5_000_000)]
    frames: u32,
    /// Calls per case (the cases take turns); the figure is the median.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Frames the kernel runs per batch.
    #[arg(long, default_value_t = 64)]
    batch: u32,
    /// The CPU to run on.
    #[arg(long, default_value_t = 0)]
    cpu: usize,
    /// Frames per call of the classic path's cases (about 1 Mpps
    /// established, a quarter of that for new flows).
    #[arg(long, default_value_t = 1_000_000)]
    classic_frames: u32,
}

/// `struct xdp_md` for a frame of `len` bytes (the kernel wants `data_end`
/// to say so) received on interface `ifindex`.
fn xdp_md(len: usize, ifindex: u32) -> [u8; 24] {
    let mut ctx = [0u8; 24];
    ctx[4..8].copy_from_slice(&(len as u32).to_ne_bytes());
    ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
    ctx
}

/// Runs `program` on `frames` live frames: (kernel ns per frame, wall Mpps).
fn live(
    program: &mut Xdp,
    frame: &[u8],
    ctx: &[u8],
    frames: u32,
    batch: u32,
) -> Result<(f64, f64)> {
    let started = Instant::now();
    let result = program.test_run(TestRunOptions {
        data_in: Some(frame),
        ctx_in: Some(ctx),
        repeat: frames,
        attrs: TestRunAttrs::new().xdp_live_frames(batch),
        ..TestRunOptions::default()
    })?;
    let wall = started.elapsed().as_secs_f64();
    Ok((
        result.duration.as_nanos() as f64,
        f64::from(frames) / wall / 1e6,
    ))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let ns = Netns::new("live")?;
    ns.ip(&[
        "link", "add", "dir0", "type", "veth", "peer", "name", "sink0",
    ])?;
    ns.ip(&["link", "set", "dir0", "up"])?;
    ns.ip(&["link", "set", "sink0", "up"])?;
    classic_director(&ns)?;
    in_netns(ns.name(), || run(&args))??;
    // What reached the sink: the frames really left by XDP_TX.
    let stats = ns.run(&["ethtool", "-S", "sink0"])?;
    let seen: Vec<&str> = stats
        .lines()
        .filter(|l| l.contains("xdp_drops") || l.contains("xdp_packets"))
        .map(str::trim)
        .collect();
    println!("the sink's veth (ethtool -S sink0): {}", seen.join(", "));
    Ok(())
}

/// The director's stack for the classic path: dir0 has the director's
/// address and MAC (the frames' destination), the real servers are static
/// neighbours on it, and nftables DNATs the VIP's port 80 to them in turn.
fn classic_director(ns: &Netns) -> Result<()> {
    let mac = |m: [u8; 6]| m.map(|b| format!("{b:02x}")).join(":");
    ns.ip(&["link", "set", "dir0", "address", &mac(DIRECTOR.mac)])?;
    ns.ip(&[
        "addr",
        "add",
        &format!("{}/24", DIRECTOR.addr),
        "dev",
        "dir0",
    ])?;
    let mut map = Vec::new();
    for n in 1..=REALS {
        let r = real(n);
        let (addr, lladdr) = (r.addr.to_string(), mac(r.mac));
        ns.ip(&[
            "neigh",
            "replace",
            &addr,
            "lladdr",
            &lladdr,
            "nud",
            "permanent",
            "dev",
            "dir0",
        ])?;
        map.push(format!("{} : {addr}", n - 1));
    }
    ns.sysctl(&[
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.dir0.rp_filter", "0"),
        // Out the interface it came in on: no ICMP redirects.
        ("net.ipv4.conf.all.send_redirects", "0"),
        ("net.ipv4.conf.dir0.send_redirects", "0"),
    ])?;
    nft::load(
        ns,
        &format!(
            "table ip classic {{\n\tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat;\n\
             \t\tip daddr {VIP} tcp dport 80 dnat to numgen inc mod {REALS} map {{ {} }}\n\t}}\n}}\n",
            map.join(", ")
        ),
    )
}

/// Frames the sink has dropped so far (every frame that reached it).
fn sink_frames() -> Result<u64> {
    let out = Command::new("ethtool").args(["-S", "sink0"]).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let counts = text.lines().filter(|l| l.contains("xdp_drops")).map(|l| {
        l.rsplit(':')
            .next()
            .unwrap_or_default()
            .trim()
            .parse::<u64>()
    });
    counts.sum::<Result<u64, _>>().context("ethtool -S sink0")
}

/// Runs `program` like [`live`] and also counts the frames that reached
/// the sink: (kernel ns per frame, wall Mpps, share forwarded).
fn forwarded(
    program: &mut Xdp,
    frame: &[u8],
    ctx: &[u8],
    frames: u32,
    batch: u32,
) -> Result<(f64, f64, f64)> {
    let before = sink_frames()?;
    let (ns, mpps) = live(program, frame, ctx, frames, batch)?;
    let reached = sink_frames()? - before;
    Ok((ns, mpps, reached as f64 / f64::from(frames)))
}

fn run(args: &Args) -> Result<()> {
    pin_to_cpu(args.cpu)?;
    let dir = nix::net::if_::if_nametoindex("dir0")?;
    let sink = nix::net::if_::if_nametoindex("sink0")?;
    let mut drop = PassProgram::load_named(DROP_PROGRAM)?;
    drop.program()?.attach_to_if_index(sink, XdpMode::Driver)?;
    let mut tx = PassProgram::load_named(TX_PROGRAM)?;
    let mut swap = PassProgram::load_named(SWAP_PROGRAM)?;
    let mut lb = Programmer::new(FastPath::load(1 << 16)?);
    let backends: Vec<_> = (1..=REALS)
        .map(|n| backend(real(n), DIRECTOR, dir, 80, FWD_DR))
        .collect();
    lb.set_service(VipKey::v4(VIP.octets(), 80, TCP), Scheduler::Rr, &backends)?;
    let frame = Frame::new(
        (Ipv4Addr::new(198, 51, 100, 1).into(), 40000),
        (VIP.into(), 80),
        ACK,
    )
    .bytes();
    let syn = Frame::new(
        (Ipv4Addr::new(198, 51, 100, 1).into(), 40000),
        (VIP.into(), 80),
        SYN,
    )
    .bytes();
    let ctx = xdp_md(frame.len(), dir);
    let syn_ctx = xdp_md(syn.len(), dir);
    let template =
        |f: &[u8]| -> Result<[u8; FEED_FRAME_LEN]> { Ok(f[..FEED_FRAME_LEN].try_into()?) };
    let mut replay = PassProgram::load_feeder(REPLAY_PROGRAM, &template(&frame)?)?;
    let mut fresh_pass = PassProgram::load_feeder(FRESH_PASS_PROGRAM, &template(&syn)?)?;
    let (mut limit, mut swapped, mut established) = (Vec::new(), Vec::new(), Vec::new());
    let mut looked_up = Vec::new();
    let (mut new_flows, mut classic, mut classic_new) = (Vec::new(), Vec::new(), Vec::new());
    let mut shares = (Vec::new(), Vec::new());
    for _ in 0..args.rounds {
        limit.push(live(tx.program()?, &frame, &ctx, args.frames, args.batch)?);
        swapped.push(live(
            swap.program()?,
            &frame,
            &ctx,
            args.frames,
            args.batch,
        )?);
        established.push(live(
            lb.fast_path().program()?,
            &frame,
            &ctx,
            args.frames,
            args.batch,
        )?);
        // After the fast path's call: the flow is in the table.
        looked_up.push(live(
            lb.fast_path().companion(FLOW_FLOOR_PROGRAM)?,
            &frame,
            &ctx,
            args.frames,
            args.batch,
        )?);
        new_flows.push(live(
            lb.fast_path().companion(FRESH_PROGRAM)?,
            &syn,
            &syn_ctx,
            args.frames,
            args.batch,
        )?);
        let (frames, batch) = (args.classic_frames, args.batch);
        let (ns, mpps, share) = forwarded(replay.program()?, &frame, &ctx, frames, batch)?;
        classic.push((ns, mpps));
        shares.0.push(share);
        let (ns, mpps, share) = forwarded(fresh_pass.program()?, &syn, &syn_ctx, frames, batch)?;
        classic_new.push((ns, mpps));
        shares.1.push(share);
    }
    let ids = lb
        .ids(&VipKey::v4(VIP.octets(), 80, TCP))
        .expect("programmed");
    let sent = lb.fast_path().maps().service_counters(ids.id)?.packets;
    let counts = lb.fast_path().maps().packet_counts()?;
    let fed = u64::from(args.frames) * args.rounds as u64;
    let passed: Vec<String> = PassReason::ALL
        .iter()
        .map(|&r| format!("{r:?} {}", counts.passed(r)))
        .collect();
    ensure!(
        sent == 2 * fed,
        "the fast path forwarded {sent} of {} frames (passed: {})",
        2 * fed,
        passed.join(", ")
    );
    println!(
        "xdp-live: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, {} frames x {} calls per case, \
         batch {}, CPU {}; XDP_TX out of a veth whose peer drops in XDP; 70-byte TCP frames",
        args.frames, args.rounds, args.batch, args.cpu
    );
    println!();
    println!(
        "{:<34} {:>10} {:>8} {:>12} {:>10}",
        "case", "ns/frame", "Mpps", "wall Mpps", "x limit"
    );
    let limit_mpps = report("trivial XDP_TX program (limit)", &mut limit, None);
    report("MAC swap, XDP_TX (floor)", &mut swapped, Some(limit_mpps));
    report(
        "flow lookup + MAC swap (floor)",
        &mut looked_up,
        Some(limit_mpps),
    );
    let fast = report(
        "fast path, established, DR",
        &mut established,
        Some(limit_mpps),
    );
    let fast_new = report(
        "fast path, new flows, DR rr",
        &mut new_flows,
        Some(limit_mpps),
    );
    let slow = report("classic path, established", &mut classic, Some(limit_mpps));
    let slow_new = report(
        "classic path, new flows",
        &mut classic_new,
        Some(limit_mpps),
    );
    println!("(medians over the calls; Mpps = 1000 / kernel ns per frame)");
    let least = |s: &[f64]| s.iter().copied().fold(f64::INFINITY, f64::min) * 100.0;
    println!(
        "classic path: the stack forwarded at least {:.1} % (established) and {:.1} % (new flows) \
         of the frames of every call to the sink",
        least(&shares.0),
        least(&shares.1)
    );
    println!(
        "fast path: {} new flows in {fed} frames fed new sources (and the one established flow)",
        counts.new_flows()
    );
    println!(
        "fast path over classic path: {:.1}x established, {:.1}x new flows",
        fast / slow,
        fast_new / slow_new
    );
    Ok(())
}

/// Prints one case; returns its Mpps.
fn report(label: &str, samples: &mut [(f64, f64)], limit: Option<f64>) -> f64 {
    let mut ns: Vec<u64> = samples.iter().map(|s| (s.0 * 10.0) as u64).collect();
    let mut wall: Vec<u64> = samples.iter().map(|s| (s.1 * 1000.0) as u64).collect();
    let ns = quantile(&mut ns, 0.5).unwrap_or(0) as f64 / 10.0;
    let wall = quantile(&mut wall, 0.5).unwrap_or(0) as f64 / 1000.0;
    let mpps = 1000.0 / ns.max(0.1);
    let ratio = limit.map_or("1.00".to_owned(), |l| format!("{:.2}", mpps / l));
    println!("{label:<34} {ns:>10.1} {mpps:>8.2} {wall:>12.2} {ratio:>10}");
    mpps
}
