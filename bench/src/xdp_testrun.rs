//! Cost of the XDP fast path per packet as the kernel measures it through
//! `BPF_PROG_TEST_RUN`: a new flow (scheduler + flow-table insert) per
//! scheduler and forwarding kind, an established flow per forwarding kind,
//! and a packet for no VIP, each minus the trivial XDP_PASS program measured
//! the same way in the same run.
//!
//! Every call runs the program once (repeat = 1) on a fresh frame: with
//! repeat > 1 the kernel re-runs the program on the buffer it has just
//! rewritten, so an encapsulating program would time the wrong path. Each
//! new flow has a 5-tuple of its own (a miss, then an insert that overwrites
//! an entry of its set); the established cases' flows live in a program
//! instance of their own, whose flow table the new flows do not churn, sized
//! to hold them (how many were evicted anyway is checked at the end). The
//! cases take turns in rounds, so changing machine load weighs on all of
//! them alike; the figure per case is the median of the kernel-measured
//! durations.
//!
//! `cargo build --release -p bench && target/release/xdp-testrun`
use std::net::{IpAddr, Ipv4Addr};

use anyhow::{ensure, Result};
use aya::programs::{TestRun, TestRunOptions, Xdp};
use bench::{
    fastpath::{backend, pin_to_cpu, Station},
    stats::{interquartile_mean, quantile},
};
use clap::Parser;
use lb_common::{widen_v4, FlowKey, VipKey, FAMILY_IPV4, FWD_DR, FWD_TUN};
use lb_daemon::dataplane::xdp::{tables::Scheduler, Backend, FastPath, PassProgram, Programmer};
use lb_tests::frames::{Frame, ACK, DIRECTOR_MAC, SYN};

const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const TCP: u8 = 6;
/// `BPF_PROG_TEST_RUN` receives frames on the loopback device: real servers
/// "behind" it are sent to by `XDP_TX`, as behind a director's own link.
const LOOPBACK: u32 = 1;
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
/// A destination that is no VIP.
const ELSEWHERE: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 99);
const DIRECTOR: Station = Station {
    addr: Ipv4Addr::new(192, 0, 2, 2),
    mac: DIRECTOR_MAC,
};
/// The first VIP port; each case has a service of its own above it.
const FIRST_PORT: u16 = 1000;
/// Runs per call in the `repeat` cross-check.
const BATCH: u32 = 1000;

#[derive(Parser)]
struct Args {
    /// Timed calls per case, each on a frame of its own.
    #[arg(long, default_value_t = 200_000)]
    calls: usize,
    /// Rounds the calls are split into; every case takes a turn each round.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Real servers per service.
    #[arg(long, default_value_t = 3)]
    reals: u8,
    /// The CPU to run on.
    #[arg(long, default_value_t = 0)]
    cpu: usize,
    /// Flow-table entries of each program instance (default: four times the
    /// flows the established cases open).
    #[arg(long)]
    flow_entries: Option<u32>,
    /// Flow-table entries of the new flows' instance (default: as
    /// `--flow-entries`); a small table stays in cache, which shows what a
    /// new flow costs besides reading a cold line.
    #[arg(long)]
    new_flow_entries: Option<u32>,
}

/// What a case sends and what the program must answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    /// The reference program that passes everything.
    Reference,
    /// A packet for no VIP.
    NoVip,
    /// The first packet of a flow: scheduler and flow-table insert.
    New(Scheduler, u8),
    /// A packet of a flow already in the table: of one flow every call
    /// (`one_flow`, its entry stays in cache) or of another flow each call.
    Established { forward: u8, one_flow: bool },
}

/// One measured case: its frames (one per call) and the durations.
struct Case {
    path: Path,
    /// The VIP port of the case's service.
    port: u16,
    /// The distinct flows (clients `0..flows`) its frames belong to.
    flows: usize,
    frames: Vec<Vec<u8>>,
    samples: Vec<u64>,
}

impl Case {
    fn new(path: Path, index: usize, calls: usize) -> Case {
        let port = FIRST_PORT + index as u16;
        let (dst, l4, flows) = match path {
            Path::Reference | Path::NoVip => (ELSEWHERE, SYN, calls),
            Path::New(..) => (VIP, SYN, calls),
            Path::Established { one_flow, .. } => (VIP, ACK, if one_flow { 1 } else { calls }),
        };
        let frames = (0..calls)
            .map(|i| Frame::new(client(i % flows), (dst.into(), port), l4).bytes())
            .collect();
        Case {
            path,
            port,
            flows,
            frames,
            samples: Vec::with_capacity(calls),
        }
    }

    fn label(&self) -> String {
        match self.path {
            Path::Reference => "XDP_PASS program".into(),
            Path::NoVip => "no VIP (passed)".into(),
            Path::New(sched, fwd) => format!("new flow, {}, {sched:?}", kind(fwd)),
            Path::Established { forward, .. } if self.flows == 1 => {
                format!("established, {}, 1 flow", kind(forward))
            }
            Path::Established { forward, .. } => {
                format!("established, {}, {} flows", kind(forward), self.flows)
            }
        }
    }

    fn action(&self) -> u32 {
        match self.path {
            Path::Reference | Path::NoVip => XDP_PASS,
            _ => XDP_TX,
        }
    }
}

fn kind(forward: u8) -> &'static str {
    if forward == FWD_TUN {
        "TUN"
    } else {
        "DR"
    }
}

/// Client `i`'s address and port: distinct for every `i` below 254 x 64,512.
fn client(i: usize) -> (IpAddr, u16) {
    let host = (i % 254) as u8 + 1;
    let port = 1024 + (i / 254) as u16;
    (Ipv4Addr::new(198, 51, 100, host).into(), port)
}

/// The load balancer (one instance for the established flows and the
/// packets for no VIP, one for the new flows) and the reference program.
struct Programs {
    lb: Programmer,
    fresh: Programmer,
    pass: PassProgram,
}

impl Programs {
    /// The instance that serves `path`.
    fn lb(&mut self, path: Path) -> &mut Programmer {
        match path {
            Path::New(..) => &mut self.fresh,
            _ => &mut self.lb,
        }
    }

    fn get(&mut self, path: Path) -> Result<&mut Xdp> {
        match path {
            Path::Reference => self.pass.program(),
            _ => self.lb(path).fast_path().program(),
        }
    }
}

/// Runs `program` on `frame` `repeat` times: the action and the kernel's
/// duration per run in ns.
fn run(program: &mut Xdp, frame: &[u8], repeat: u32, out: &mut [u8]) -> Result<(u32, u64)> {
    let result = program.test_run(TestRunOptions {
        data_in: Some(frame),
        data_out: Some(out),
        repeat,
        ..TestRunOptions::default()
    })?;
    Ok((result.return_value, result.duration.as_nanos() as u64))
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.calls >= args.rounds && args.rounds > 0,
        "--calls >= --rounds > 0"
    );
    ensure!(args.calls <= 254 * 64_512, "at most {} calls", 254 * 64_512);
    pin_to_cpu(args.cpu)?;
    let paths = [
        Path::Reference,
        Path::NoVip,
        Path::Established {
            forward: FWD_DR,
            one_flow: true,
        },
        Path::Established {
            forward: FWD_DR,
            one_flow: false,
        },
        Path::Established {
            forward: FWD_TUN,
            one_flow: true,
        },
        Path::Established {
            forward: FWD_TUN,
            one_flow: false,
        },
        Path::New(Scheduler::Rr, FWD_DR),
        Path::New(Scheduler::Rr, FWD_TUN),
        Path::New(Scheduler::Wrr, FWD_DR),
        Path::New(Scheduler::Lc, FWD_DR),
        Path::New(Scheduler::Wlc, FWD_DR),
        Path::New(Scheduler::Sh, FWD_DR),
        Path::New(Scheduler::Mh, FWD_DR),
    ];
    let mut cases: Vec<Case> = paths
        .iter()
        .enumerate()
        .map(|(i, path)| Case::new(*path, i, args.calls))
        .collect();
    let flows = args.flow_entries.unwrap_or_else(|| flow_table_size(&cases));
    let mut programs = Programs {
        lb: Programmer::new(FastPath::load(flows)?),
        fresh: Programmer::new(FastPath::load(args.new_flow_entries.unwrap_or(flows))?),
        pass: PassProgram::load()?,
    };
    let flows = (
        programs.lb.fast_path().flow_capacity(),
        programs.fresh.fast_path().flow_capacity(),
    );
    for case in &cases {
        program_service(programs.lb(case.path), case, args.reals)?;
    }
    let mut out = vec![0u8; 4096];
    open_established_flows(&mut programs, &cases, &mut out)?;
    for round in 0..args.rounds {
        let calls = round * args.calls / args.rounds..(round + 1) * args.calls / args.rounds;
        for case in &mut cases {
            let program = programs.get(case.path)?;
            for frame in &case.frames[calls.clone()] {
                let (action, ns) = run(program, frame, 1, &mut out)?;
                ensure!(action == case.action(), "{}: action {action}", case.label());
                case.samples.push(ns);
            }
        }
    }
    let evicted = evicted_flows(&mut programs.lb, &cases)?;
    let batched = batched(&mut programs, &cases, &mut out)?;
    report(&args, flows, &mut cases, &batched);
    println!("established flows evicted by other flows of their set (their calls took the new-flow path): {evicted}");
    Ok(())
}

/// Four entries for every flow the established cases open: a table sized
/// to that working set, in which few sets overflow.
fn flow_table_size(cases: &[Case]) -> u32 {
    let opened: usize = cases
        .iter()
        .filter(|c| matches!(c.path, Path::Established { .. }))
        .map(|c| c.flows)
        .sum();
    (4 * opened) as u32
}

/// The service a case sends to: `reals` real servers behind the test run's
/// ingress device (weights 1, 2, 3... for `wrr` and `wlc`).
fn program_service(lb: &mut Programmer, case: &Case, reals: u8) -> Result<()> {
    let (sched, forward) = match case.path {
        Path::Reference | Path::NoVip => return Ok(()),
        Path::New(sched, forward) => (sched, forward),
        Path::Established { forward, .. } => (Scheduler::Rr, forward),
    };
    let backends: Vec<Backend> = (1..=reals)
        .map(|n| {
            let real = Station {
                addr: Ipv4Addr::new(192, 0, 2, 10 + n),
                mac: [0x02, 0, 0, 0, 0, 0x10 + n],
            };
            let mut b = backend(real, DIRECTOR, LOOPBACK, 80, forward);
            if matches!(sched, Scheduler::Wrr | Scheduler::Wlc) {
                b.weight = u32::from(n);
            }
            b
        })
        .collect();
    lb.set_service(VipKey::v4(VIP.octets(), case.port, TCP), sched, &backends)
}

/// Sends the SYN of every flow the established cases time (untimed).
fn open_established_flows(programs: &mut Programs, cases: &[Case], out: &mut [u8]) -> Result<()> {
    let program = programs.lb.fast_path().program()?;
    for case in cases
        .iter()
        .filter(|c| matches!(c.path, Path::Established { .. }))
    {
        for i in 0..case.flows {
            let syn = Frame::new(client(i), (VIP.into(), case.port), SYN).bytes();
            let (action, _) = run(program, &syn, 1, out)?;
            ensure!(action == XDP_TX, "opening flow {i} of {}", case.label());
        }
    }
    Ok(())
}

/// How many flows of the established cases are no longer in the table (a
/// set-associative table evicts a flow when more flows than ways fall into
/// its set); fails when so many were that the figures would not be those
/// of established flows.
fn evicted_flows(lb: &mut Programmer, cases: &[Case]) -> Result<usize> {
    let mut evicted = 0;
    let mut opened = 0;
    for case in cases
        .iter()
        .filter(|c| matches!(c.path, Path::Established { .. }))
    {
        for i in 0..case.flows {
            let (src, sport) = client(i);
            let IpAddr::V4(src) = src else {
                unreachable!("clients are IPv4")
            };
            let key = FlowKey {
                src: widen_v4(src.octets()),
                dst: widen_v4(VIP.octets()),
                sport,
                dport: case.port,
                proto: TCP,
                family: FAMILY_IPV4,
                pad: [0; 2],
            };
            opened += 1;
            if lb.fast_path().maps().flow(&key)?.is_none() {
                evicted += 1;
            }
        }
    }
    ensure!(
        evicted * 100 <= opened,
        "{evicted} of {opened} established flows were evicted: make the table larger"
    );
    Ok(evicted)
}

/// Cross-check of the repeat = 1 figures: the kernel's own average over
/// [`BATCH`] runs per call, for the cases whose re-runs on the rewritten
/// buffer take the same path (the reference, no VIP, established DR).
fn batched(programs: &mut Programs, cases: &[Case], out: &mut [u8]) -> Result<Vec<(String, u64)>> {
    let same_path = [
        Path::Reference,
        Path::NoVip,
        Path::Established {
            forward: FWD_DR,
            one_flow: true,
        },
    ];
    let mut figures = Vec::new();
    for case in cases.iter().filter(|c| same_path.contains(&c.path)) {
        let program = programs.get(case.path)?;
        let mut samples = case.frames[..200]
            .iter()
            .map(|frame| run(program, frame, BATCH, out).map(|(_, ns)| ns))
            .collect::<Result<Vec<_>>>()?;
        figures.push((case.label(), quantile(&mut samples, 0.5).unwrap_or(0)));
    }
    Ok(figures)
}

fn report(args: &Args, flows: (u32, u32), cases: &mut [Case], batched: &[(String, u64)]) {
    println!(
        "xdp-testrun: BPF_PROG_TEST_RUN, repeat = 1, a fresh frame per call, CPU {}",
        args.cpu
    );
    println!(
        "{} calls per case in {} interleaved rounds; {} real servers per service; \
         flow tables of {} entries (established flows) and {} entries (new flows); \
         70-byte TCP frames",
        args.calls, args.rounds, args.reals, flows.0, flows.1
    );
    println!(
        "durations on a 10 ns grid (k x 10 or k x 10 + 1 ns): {:.1} % of them",
        on_ten_ns_grid(cases)
    );
    let reference = quantile(&mut cases[0].samples, 0.5).unwrap_or(0);
    let reference_iqm = interquartile_mean(&mut cases[0].samples).unwrap_or(0.0);
    println!();
    println!(
        "{:<30} {:>6} {:>6} {:>6} {:>6} {:>12} {:>12}",
        "case", "action", "p10", "median", "p90", "median-PASS", "IQmean-PASS"
    );
    for case in cases.iter_mut() {
        let action = if case.action() == XDP_TX {
            "TX"
        } else {
            "PASS"
        };
        let label = case.label();
        let p10 = quantile(&mut case.samples, 0.1).unwrap_or(0);
        let p50 = quantile(&mut case.samples, 0.5).unwrap_or(0);
        let p90 = quantile(&mut case.samples, 0.9).unwrap_or(0);
        let net = p50 as i64 - reference as i64;
        let net_iqm = interquartile_mean(&mut case.samples).unwrap_or(0.0) - reference_iqm;
        println!("{label:<30} {action:>6} {p10:>6} {p50:>6} {p90:>6} {net:>12} {net_iqm:>12.1}");
    }
    println!("(ns; IQmean: mean of the middle half of the samples)");
    println!();
    println!("cross-check, the kernel's average over repeat = {BATCH} (median of 200 calls):");
    for (label, ns) in batched {
        println!("  {label:<30} {ns:>5} ns");
    }
    println!();
    println!(
        "reference (issues 5, 13): Katran's balancer measured this way on this machine kind: \
         ~113 ns established, 137-303 ns new flow; issue 13's goals: no VIP <= 20, established \
         <= 55 (TUN <= 75), 200,000 flows <= 130, new flow <= 150"
    );
}

/// The share (%) of durations that are a multiple of 10 ns or one more:
/// how coarse the kernel's clock is here.
fn on_ten_ns_grid(cases: &[Case]) -> f64 {
    let samples = cases.iter().flat_map(|c| c.samples.iter());
    let (on, all) = samples.fold((0u64, 0u64), |(on, all), ns| {
        (on + u64::from(ns % 10 <= 1), all + 1)
    });
    100.0 * on as f64 / all.max(1) as f64
}
