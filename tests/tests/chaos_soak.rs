//! The chaos soak's CI run: 20 seeded faults (seed 1) on two lb-daemon
//! directors and keepalived, every goal held (no two masters longer than
//! an advert interval after a heal, convergence after every heal, nothing
//! leaked). `cargo xtask soak --faults 200` is the long run.
use anyhow::{ensure, Result};
use lb_tests::soak::{self, Options};

#[test]
fn twenty_seeded_faults_break_no_goal() -> Result<()> {
    let report = soak::run(&Options::default())?;
    println!("{}", report.markdown());
    ensure!(
        report.passed(),
        "the soak failed:\n{}",
        report.violations().join("\n")
    );
    Ok(())
}
