//! `cargo xtask test`: the project's whole test suite, as CI runs it.
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};

use crate::{cmd, ebpf, setup};

/// Setup, eBPF build, formatting, lints, then unit and integration tests
/// (integration tests need root: they build network namespaces), then a
/// short run of the lab command. Ends with the suite's totals on one line.
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
    let totals = run_counting(cargo().args(["test", "--workspace"]).args(extra))?;
    if extra.is_empty() {
        // The lab command itself: builds, runs both daemons, tears down, and
        // fails if anything is left behind.
        cmd::step("cargo xtask lab --hold 1 (smoke run)");
        cmd::run(cargo().args(["xtask", "lab", "--hold", "1"]))?;
    }
    println!("{} passed, {} failed", totals.passed, totals.failed);
    if totals.failed > 0 {
        bail!("{} tests failed", totals.failed);
    }
    Ok(())
}

/// Passed and failed tests summed over every `test result:` line.
#[derive(Debug, Default, PartialEq)]
struct Totals {
    passed: u64,
    failed: u64,
}

impl Totals {
    /// Adds the counts of a libtest summary line such as
    /// `test result: ok. 7 passed; 0 failed; 0 ignored; ...`.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (what, count) = (
                words.next(),
                words.next().and_then(|n| n.parse::<u64>().ok()),
            );
            match (what, count) {
                (Some("passed"), Some(n)) => self.passed += n,
                (Some("failed"), Some(n)) => self.failed += n,
                _ => {}
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_libtest_summary_lines() {
        let mut t = Totals::default();
        t.add_line("test result: ok. 7 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.08s");
        t.add_line(
            "test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("test foo ... ok");
        assert_eq!(
            t,
            Totals {
                passed: 10,
                failed: 2
            }
        );
    }
}
