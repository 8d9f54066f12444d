//! `cargo xtask test`: the project's whole test suite, as CI runs it.
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context, Result};

use crate::{cmd, ebpf, fuzz, guest, setup, totals::Totals};

/// Setup, eBPF build, formatting, lints, then unit and integration tests
/// (integration tests need root: they build network namespaces), then a
/// short run of the lab command and of every fuzz target, then the IPVS
/// tests in a qemu guest (this kernel has no IPVS). Ends with the suite's
/// totals on one line.
pub fn run(extra: &[String]) -> Result<()> {
    setup::run()?;
    ebpf::build()?;
    let root = cmd::workspace_root();
    let cargo = || {
        let mut c = Command::new(env!("CARGO"));
        c.current_dir(&root);
        c
    };
    cmd::step("cargo fmt --check");
    cmd::run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    cmd::step("cargo clippy --all-targets -- -D warnings");
    cmd::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    cmd::step("cargo test (unit and integration)");
    let mut totals = run_counting(cargo().args(["test", "--workspace"]).args(extra))?;
    if extra.is_empty() {
        // The lab command itself: builds, runs both daemons, tears down, and
        // fails if anything is left behind.
        cmd::step("cargo xtask lab --hold 1 (smoke run)");
        cmd::run(cargo().args(["xtask", "lab", "--hold", "1"]))?;
        // Every fuzz target, briefly: its seeds and regression inputs first;
        // one target per CPU at a time.
        cmd::step(&format!(
            "fuzz targets, {} s each (cargo xtask fuzz)",
            fuzz::CI_SECONDS
        ));
        fuzz::run(&fuzz::Options {
            seconds: fuzz::CI_SECONDS,
            target: None,
            seed: 1,
            trace_compares: true,
            runs: None,
            jobs: fuzz::default_jobs(),
        })?;
        // The IPVS tests, which the host ran as ignored, in the guest.
        cmd::step("IPVS tests in the guest (cargo xtask ipvs-test)");
        match guest::run_tests(&[], guest::DEFAULT_TIMEOUT) {
            Ok(guest) => totals.add(&guest),
            Err(e) => {
                println!("{} passed, {} failed", totals.passed, totals.failed + 1);
                return Err(e.context("running the IPVS tests in the guest"));
            }
        }
    }
    println!("{} passed, {} failed", totals.passed, totals.failed);
    if totals.failed > 0 {
        bail!("{} tests failed", totals.failed);
    }
    Ok(())
}

/// `cargo xtask ipvs-test`: the IPVS tests in the guest, on their own;
/// fails when any fails.
pub fn run_ipvs(libtest_args: &[String], timeout: Duration) -> Result<()> {
    setup::run()?;
    ebpf::build()?;
    let totals = guest::run_tests(libtest_args, timeout)?;
    println!("{} passed, {} failed", totals.passed, totals.failed);
    if totals.failed > 0 {
        bail!("{} IPVS tests failed", totals.failed);
    }
    Ok(())
}

/// Runs `cmd`, echoing its standard output while totalling test results.
fn run_counting(cmd: &mut Command) -> Result<Totals> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let mut totals = Totals::default();
    let stdout = child.stdout.take().context("test runner stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        totals.add_line(&line);
    }
    let status = child.wait()?;
    if !status.success() {
        println!("{} passed, {} failed", totals.passed, totals.failed.max(1));
        bail!("{cmd:?} failed: {status}");
    }
    Ok(totals)
}
