//! Director-only packet rate through `BPF_PROG_TEST_RUN` with
//! `BPF_F_TEST_XDP_LIVE_FRAMES`: the kernel runs the program on frames of
//! its own page pool and really transmits what it answers `XDP_TX` on a
//! veth whose peer drops it in XDP (`lb_drop`), so the figure is the
//! director's cost alone, not the lab's veth and bridge. Cases: the trivial
//! `lb_tx` program (the limit on this machine), the `lb_swap` program
//! (swaps the MAC addresses: the least a forwarder does, reading and
//! writing the frame), and the fast path on an
//! established DR flow (recycled frames keep the MACs the program wrote,
//! which it rewrites alike, and the 5-tuple, so every frame but the first
//! is the established path). New flows need a fresh 5-tuple per recycled
//! frame (a feeding program) and are not measured here.
//!
//! `cargo build --release -p bench --bin xdp-live && target/release/xdp-live`
use std::{net::Ipv4Addr, time::Instant};

use anyhow::{ensure, Result};
use aya::programs::{TestRun, TestRunAttrs, TestRunOptions, Xdp, XdpMode};
use bench::{
    fastpath::{backend, pin_to_cpu, Station},
    stats::quantile,
};
use clap::Parser;
use lb_common::{VipKey, DROP_PROGRAM, FWD_DR, SWAP_PROGRAM, TX_PROGRAM};
use lb_daemon::dataplane::xdp::{tables::Scheduler, FastPath, PassProgram, Programmer};
use lb_tests::{
    frames::{Frame, ACK, DIRECTOR_MAC},
    in_netns,
    netns::Netns,
};

const TCP: u8 = 6;
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
const DIRECTOR: Station = Station {
    addr: Ipv4Addr::new(192, 0, 2, 2),
    mac: DIRECTOR_MAC,
};

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

fn run(args: &Args) -> Result<()> {
    pin_to_cpu(args.cpu)?;
    let dir = nix::net::if_::if_nametoindex("dir0")?;
    let sink = nix::net::if_::if_nametoindex("sink0")?;
    let mut drop = PassProgram::load_named(DROP_PROGRAM)?;
    drop.program()?.attach_to_if_index(sink, XdpMode::Driver)?;
    let mut tx = PassProgram::load_named(TX_PROGRAM)?;
    let mut swap = PassProgram::load_named(SWAP_PROGRAM)?;
    let mut lb = Programmer::new(FastPath::load(1 << 16)?);
    let backends: Vec<_> = (1..=3)
        .map(|n| {
            let real = Station {
                addr: Ipv4Addr::new(192, 0, 2, 10 + n),
                mac: [0x02, 0, 0, 0, 0, 0x10 + n],
            };
            backend(real, DIRECTOR, dir, 80, FWD_DR)
        })
        .collect();
    lb.set_service(VipKey::v4(VIP.octets(), 80, TCP), Scheduler::Rr, &backends)?;
    let frame = Frame::new(
        (Ipv4Addr::new(198, 51, 100, 1).into(), 40000),
        (VIP.into(), 80),
        ACK,
    )
    .bytes();
    let ctx = xdp_md(frame.len(), dir);
    let (mut limit, mut swapped, mut established) = (Vec::new(), Vec::new(), Vec::new());
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
    }
    let ids = lb
        .ids(&VipKey::v4(VIP.octets(), 80, TCP))
        .expect("programmed");
    let sent = lb.fast_path().maps().service_counters(ids.id)?.packets;
    ensure!(
        sent == u64::from(args.frames) * args.rounds as u64,
        "the fast path forwarded {sent} frames, not every one"
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
        "fast path, established, DR",
        &mut established,
        Some(limit_mpps),
    );
    println!("(medians over the calls; Mpps = 1000 / kernel ns per frame)");
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
