//! Fuzzes the XDP fast path's packet parser through `BPF_PROG_TEST_RUN`
//! (aya's `TestRun`) with seeded random frames ([`gen`]) and checks each
//! run against an independent oracle ([`oracle`]): never a wrong forward
//! (a frame for no VIP, to a real server of another service, a flow moved,
//! a wrong rewrite), every frame for no VIP passed unchanged. Not libFuzzer:
//! the program runs in the kernel, where coverage cannot be collected.
//!
//! Needs root and lb-daemon built with its XDP object. Prints runs, frames
//! forwarded and passed, and exits non-zero at the first failure, with the
//! seed and run number that reproduce it.
//!
//! `cargo run -p bench --bin xdp-fuzz -- --seconds 60 --seed 1`
mod gen;
mod oracle;
mod services;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use aya::programs::{TestRun, TestRunOptions};
use clap::Parser;

use oracle::{Flows, Verdict};

/// The connection table's size (2^18 sets of 4 entries).
const FLOWS: u32 = 1 << 20;
/// The program is reloaded (table emptied) before more flows were seen: with
/// 4,096 flows in 2^18 sets, the chance that five fall into one set (and
/// one is evicted, which the oracle would report) is about 2 x 10^-6.
const RELOAD_AFTER: u32 = 4096;

#[derive(Parser)]
struct Args {
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seed of the frame generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut rng = gen::Rng::new(args.seed);
    let mut lb = services::load(FLOWS)?;
    let mut flows = Flows::default();
    let mut seen = HashSet::new();
    let (mut runs, mut forwarded, mut passed) = (0u64, 0u64, 0u64);
    let mut out = vec![0u8; 2048];
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    while Instant::now() < deadline {
        for _ in 0..1000 {
            let frame = gen::frame(&mut rng);
            if let Some(parsed) = oracle::parse(&frame) {
                if seen.insert(parsed.flow) && seen.len() as u32 > RELOAD_AFTER {
                    lb = services::load(FLOWS)?;
                    flows.0.clear();
                    seen.clear();
                }
            }
            let result = lb.fast_path().program()?.test_run(TestRunOptions {
                data_in: Some(&frame),
                data_out: Some(&mut out),
                ..TestRunOptions::default()
            })?;
            let got = &out[..result.data_size_out as usize];
            runs += 1;
            match oracle::check(&frame, result.return_value, got, &mut flows) {
                Ok(Verdict::Forwarded) => forwarded += 1,
                Ok(Verdict::Passed) => passed += 1,
                Err(failure) => bail!(
                    "xdp-fuzz: run {runs} of seed {}: {failure}\n  frame {frame:02x?}",
                    args.seed
                ),
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "xdp-fuzz: seed {}: {runs} runs in {secs:.0} s ({:.0}/s): {forwarded} forwarded, \
         {passed} passed, 0 failures",
        args.seed,
        runs as f64 / secs
    );
    Ok(())
}
