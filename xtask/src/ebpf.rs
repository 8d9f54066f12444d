//! `cargo xtask build-ebpf`: builds `lb-ebpf` for `bpfel-unknown-none` with
//! Debian's rustc-web (which ships a precompiled `core` for BPF targets; the
//! rustup toolchain has no rust-src, so `-Z build-std` is impossible here).
use std::{path::PathBuf, process::Command};

use anyhow::Result;

use crate::{cmd, setup::DEBIAN_RUSTC};

/// Where the object lands; `lb-daemon/build.rs` embeds it from there.
pub fn object_path() -> PathBuf {
    cmd::workspace_root().join("target/ebpf/bpfel-unknown-none/release/lb-xdp")
}

/// Builds the XDP object (setup must have run).
pub fn build() -> Result<()> {
    let root = cmd::workspace_root();
    cmd::step("building the XDP object (lb-ebpf) with Debian's rustc");
    cmd::run(
        Command::new("/usr/bin/cargo")
            .current_dir(root.join("lb-ebpf"))
            .args(["build", "--release", "--locked"])
            .env("CARGO_TARGET_DIR", root.join("target/ebpf"))
            .env("RUSTC", DEBIAN_RUSTC)
            // aya-ebpf uses unstable features; Debian's compiler is a stable one.
            .env("RUSTC_BOOTSTRAP", "1")
            // Misaligned access allowed: packet headers sit at 2-byte offsets
            // (after Ethernet's 14 bytes); without it LLVM splits every
            // unaligned word load or store into single bytes.
            .env(
                "RUSTFLAGS",
                "-C debuginfo=2 -C link-arg=--btf \
                 -C link-arg=--cpu-features=+allows-misaligned-mem-access",
            )
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("CARGO"),
    )?;
    cmd::step(&format!("XDP object: {}", object_path().display()));
    Ok(())
}
