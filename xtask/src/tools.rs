//! Every program the build, the lab and the tests call, with the package that
//! provides it, checked after setup so that a missing one is named at once
//! instead of failing later inside a build or a test.
use std::{path::Path, process::Command};

use anyhow::{bail, Result};

/// How a program is checked.
#[derive(Clone, Copy)]
pub enum Probe {
    /// Runs it with these arguments; it must exit 0.
    Runs(&'static [&'static str]),
    /// Found on PATH (or at its absolute path) and executable; for programs
    /// that cannot succeed on this host (ipvsadm without kernel IPVS).
    Present,
}

/// One program the project relies on.
pub struct Tool {
    /// Program name or absolute path.
    pub program: &'static str,
    /// How to check it.
    pub probe: Probe,
    /// Where it comes from (a Debian package, or how setup installs it).
    pub provider: &'static str,
    /// What calls it.
    pub used_by: &'static str,
}

const fn tool(
    program: &'static str,
    probe: Probe,
    provider: &'static str,
    used_by: &'static str,
) -> Tool {
    Tool {
        program,
        probe,
        provider,
        used_by,
    }
}

const VERSION: Probe = Probe::Runs(&["--version"]);

/// cargo-fuzz, which setup installs with `cargo install`.
pub const CARGO_FUZZ: Tool = tool(
    "cargo-fuzz",
    VERSION,
    "`cargo install cargo-fuzz --locked` (setup installs it)",
    "cargo xtask fuzz",
);

/// The programs, in the order a build then the tests need them.
pub const TOOLS: &[Tool] = &[
    tool(
        "/usr/bin/cargo",
        VERSION,
        "Debian package cargo-web",
        "the eBPF build",
    ),
    tool(
        "/usr/bin/rustc",
        VERSION,
        "Debian package rustc-web",
        "the eBPF build",
    ),
    tool(
        "bpf-linker",
        VERSION,
        "`cargo install bpf-linker` (setup builds it against llvm-22-dev)",
        "the eBPF build",
    ),
    CARGO_FUZZ,
    tool(
        "bpftool",
        Probe::Runs(&["version"]),
        "Debian package bpftool",
        "XDP tests (map dumps)",
    ),
    tool(
        "ip",
        Probe::Runs(&["-V"]),
        "Debian package iproute2",
        "the lab and every network test",
    ),
    tool(
        "tc",
        Probe::Runs(&["-V"]),
        "Debian package iproute2",
        "the lab",
    ),
    tool(
        "sysctl",
        Probe::Runs(&["-V"]),
        "Debian package procps",
        "the lab (forwarding, ARP settings)",
    ),
    tool(
        "nsenter",
        VERSION,
        "Debian package util-linux",
        "the lab (daemons in a network namespace)",
    ),
    tool(
        "ethtool",
        VERSION,
        "Debian package ethtool",
        "the lab (checksum offload off)",
    ),
    tool(
        "ping",
        Probe::Runs(&["-V"]),
        "Debian package iputils-ping",
        "lab tests",
    ),
    tool(
        "nft",
        VERSION,
        "Debian package nftables",
        "tests and the classic-path benchmark",
    ),
    tool(
        "modprobe",
        VERSION,
        "Debian package kmod",
        "lb-daemon (loads ip_vs as keepalived does)",
    ),
    tool(
        "tcpdump",
        VERSION,
        "Debian package tcpdump",
        "VRRP wire tests",
    ),
    tool(
        "tshark",
        VERSION,
        "Debian package tshark",
        "VRRP wire tests",
    ),
    tool(
        "keepalived",
        VERSION,
        "Debian package keepalived",
        "interoperability tests",
    ),
    tool(
        "/usr/sbin/nginx",
        Probe::Runs(&["-v"]),
        "Debian package nginx-light",
        "the lab's real servers",
    ),
    tool(
        "promtool",
        VERSION,
        "Debian package prometheus",
        "metrics tests (`promtool check metrics`)",
    ),
    tool(
        "prometheus",
        VERSION,
        "Debian package prometheus",
        "metrics tests (a real Prometheus scraping the daemon)",
    ),
    tool(
        "bird",
        VERSION,
        "Debian package bird2",
        "BGP announcement (lb-daemon runs BIRD as its child) and its tests",
    ),
    tool(
        "/usr/lib/frr/bgpd",
        VERSION,
        "Debian package frr",
        "the BGP tests' router (with zebra and bfdd)",
    ),
    tool(
        "vtysh",
        Probe::Runs(&["--help"]),
        "Debian package frr",
        "the BGP tests (reading the router's routes and sessions)",
    ),
    tool(
        "ipvsadm",
        Probe::Present,
        "Debian package ipvsadm",
        "operators' view of IPVS (the guest tests unpack their own)",
    ),
    tool(
        "md5sum",
        VERSION,
        "Debian package coreutils",
        "HTTP_GET digest tests",
    ),
    tool(
        "xz",
        VERSION,
        "Debian package xz-utils",
        "the IPVS guest (unpacks its kernel)",
    ),
    tool(
        "ldd",
        VERSION,
        "Debian package libc-bin",
        "the IPVS guest (libraries of its programs)",
    ),
    tool(
        "cargo-deb",
        VERSION,
        "`cargo install cargo-deb` (setup installs it)",
        "cargo xtask deb",
    ),
    tool(
        "dpkg-shlibdeps",
        VERSION,
        "Debian package dpkg-dev",
        "cargo xtask deb (the package's Depends)",
    ),
    tool(
        "lintian",
        VERSION,
        "Debian package lintian",
        "the package test",
    ),
    tool(
        "man",
        VERSION,
        "Debian package man-db",
        "the package test (man -w)",
    ),
    tool(
        "systemd-analyze",
        VERSION,
        "Debian package systemd",
        "the package test (verifies the unit)",
    ),
];

/// Why `tool` does not work here, or `None` when it does.
pub fn problem(tool: &Tool) -> Option<String> {
    match tool.probe {
        Probe::Present => (!on_path(tool.program)).then(|| "not found".to_owned()),
        Probe::Runs(args) => match Command::new(tool.program).args(args).output() {
            Err(e) => Some(format!("cannot run it: {e}")),
            Ok(out) if !out.status.success() => Some(format!(
                "`{} {}` failed ({}): {}",
                tool.program,
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Ok(_) => None,
        },
    }
}

fn on_path(program: &str) -> bool {
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
        .unwrap_or(false)
}

/// Checks every tool; fails naming each missing one and its package.
pub fn check(tools: &[Tool]) -> Result<()> {
    let missing: Vec<String> = tools
        .iter()
        .filter_map(|t| {
            problem(t).map(|why| {
                format!(
                    "  {} ({}): {why}; it comes from {}",
                    t.program, t.used_by, t.provider
                )
            })
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "setup finished, but programs the build, lab or tests call do not work:\n{}",
            missing.join("\n")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        let tools = [
            tool("true", Probe::Runs(&[]), "Debian package coreutils", "x"),
            tool(
                "lb-no-such-program",
                VERSION,
                "Debian package lb-nothing",
                "the test",
            ),
            tool("false", Probe::Runs(&[]), "Debian package coreutils", "y"),
        ];
        let err = check(&tools).unwrap_err().to_string();
        assert!(
            err.contains("lb-no-such-program (the test): cannot run it")
                && err.contains("Debian package lb-nothing"),
            "{err}"
        );
        assert!(err.contains("`false ` failed"), "{err}");
        assert!(!err.contains("  true"), "{err}");
    }

    #[test]
    fn present_only_looks_on_path() {
        assert!(problem(&tool("sh", Probe::Present, "", "")).is_none());
        assert!(problem(&tool("/bin/sh", Probe::Present, "", "")).is_none());
        assert!(problem(&tool("lb-no-such-program", Probe::Present, "", "")).is_some());
    }
}
