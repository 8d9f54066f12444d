//! `cargo xtask test`: the project's whole test suite, as CI runs it.
use std::process::Command;

use anyhow::Result;

use crate::{cmd, ebpf, setup};

/// Setup, eBPF build, formatting, lints, then unit and integration tests
/// (integration tests need root: they build network namespaces), then a
/// short run of the lab command.
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
    cmd::run(cargo().args(["test", "--workspace"]).args(extra))?;
    if extra.is_empty() {
        // The lab command itself: builds, runs both daemons, tears down, and
        // fails if anything is left behind.
        cmd::step("cargo xtask lab --hold 1 (smoke run)");
        cmd::run(cargo().args(["xtask", "lab", "--hold", "1"]))?;
    }
    Ok(())
}
