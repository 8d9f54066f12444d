//! `cargo xtask soak`: the chaos soak of `lb_tests::soak` (two lb-daemon
//! directors and keepalived under seeded faults), its table printed and
//! optionally written as markdown; fails when any goal was broken.
use std::{path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};
use lb_tests::soak::{self, Options};

use crate::{cmd, lab};

/// What `cargo xtask soak` was asked.
pub struct Args {
    /// How many faults.
    pub faults: usize,
    /// The seed.
    pub seed: u64,
    /// The advert interval in milliseconds.
    pub advert_ms: u64,
    /// Where to write the markdown table.
    pub report: Option<PathBuf>,
}

/// Builds what the soak needs and runs it.
pub fn run(args: &Args) -> Result<()> {
    if let lab::Prepared::RanAgain = lab::prepare()? {
        return Ok(());
    }
    cmd::step(&format!(
        "soak: {} faults, seed {}, advert_int {} ms",
        args.faults, args.seed, args.advert_ms
    ));
    let report = soak::run(&Options {
        faults: args.faults,
        seed: args.seed,
        advert: Duration::from_millis(args.advert_ms),
    })?;
    let table = report.markdown();
    println!("\n{table}");
    if let Some(path) = &args.report {
        std::fs::write(path, &table).with_context(|| format!("writing {}", path.display()))?;
        cmd::step(&format!("report written to {}", path.display()));
    }
    if !report.passed() {
        bail!("the soak broke {} goal(s)", report.violations().len());
    }
    Ok(())
}
