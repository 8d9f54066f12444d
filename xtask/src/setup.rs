//! `cargo xtask setup`: installs everything the build, tests and lab need on
//! a fresh Debian 12 machine, and does nothing (in well under 5 s) when all is
//! already there. Every check is cheap; only what is missing is installed.
use std::{fs, path::Path, process::Command, time::Instant};

use anyhow::{Context, Result};

use crate::{cmd, tools};

/// Debian's rustc-web, which has a precompiled `core` for `bpfel-unknown-none`.
pub const DEBIAN_RUSTC: &str = "/usr/bin/rustc";

/// Debian packages: eBPF toolchain, kernel tools, real peers, test servers,
/// and qemu for the IPVS guest (this kernel has no IPVS).
const PACKAGES: &[&str] = &[
    // eBPF build: Debian's rustc 1.96 with BPF core, LLVM 22 for bpf-linker.
    "rustc-web",
    // Debian's cargo: only a Recommends of rustc-web, so name it.
    "cargo-web",
    "libstd-rust-web-dev-bpf",
    "llvm-22-dev",
    "libpolly-22-dev",
    "libzstd-dev",
    "zlib1g-dev",
    // Kernel tooling and inspection.
    "bpftool",
    "iproute2",
    "ethtool",
    "iputils-ping",
    "ipvsadm",
    // modprobe: lb-daemon loads ip_vs as keepalived does.
    "kmod",
    // The classic path the XDP benchmark compares with (nftables DNAT).
    "nftables",
    "tcpdump",
    // Unpacks the IPVS guest's kernel (xz --single-stream).
    "xz-utils",
    "tshark",
    // Real peers and test servers.
    "keepalived",
    "nginx-light",
    // `cargo xtask deb` and its test: the package's Depends (dpkg-shlibdeps),
    // its check, its man pages and its unit.
    "dpkg-dev",
    "lintian",
    "man-db",
    "systemd",
    // The metrics tests: promtool checks a scrape, a real Prometheus scrapes
    // the daemon (the package's own service is not started).
    "prometheus",
    // BGP: BIRD 2, which lb-daemon runs as its child to announce VIPs, and
    // FRR, the tests' router (its daemons started by the tests, never the
    // package's service).
    "bird2",
    "frr",
];

/// bpf-linker release that links for LLVM 22.
const BPF_LINKER_VERSION: &str = "0.13";
/// cargo-deb major version (`cargo xtask deb`; not packaged by Debian 12).
const CARGO_DEB_VERSION: &str = "3";
const BPFFS: &str = "/sys/fs/bpf";

/// Machine-wide cache of the .debs the IPVS test guest is built from (kept
/// outside the checkout so fresh clones reuse it).
pub const GUEST_DEBS: &str = "/var/cache/lb-daemon/guest-debs";
/// Userland of the IPVS guest, unpacked into its initramfs: busybox, iproute2
/// (`ip netns`, veth), ipvsadm and ethtool with the libraries they need.
pub const GUEST_USERLAND: &[&str] = &[
    "busybox-static",
    "ipvsadm",
    "libnl-3-200",
    "libnl-genl-3-200",
    "libpopt0",
    "iproute2",
    "ethtool",
];
/// qemu-system-x86 and the libraries it needs on top of libnl-3-200 (which
/// comes with the userland), unpacked, never installed: installing
/// bookworm's qemu would displace a newer qemu-utils the machine may have.
pub const GUEST_QEMU: &[&str] = &[
    "qemu-system-x86",
    "qemu-system-common",
    "qemu-system-data",
    "seabios",
    "ipxe-qemu",
    "libbrlapi0.8",
    "libcacard0",
    "libcapstone4",
    "libdaxctl1",
    "libepoxy0",
    "libexecs0",
    "libfdt1",
    "liborc-0.4-0",
    "libgstreamer-plugins-base1.0-0",
    "libnl-route-3-200",
    "libibverbs1",
    "libndctl6",
    "libopus0",
    "libpmem1",
    "librdmacm1",
    "libslirp0",
    "libsndio7.0",
    "libspice-server1",
    "libusb-1.0-0",
    "libusbredirparser1",
    "libvdeplug2",
];

/// Installs what is missing; prints how long the check took.
pub fn run() -> Result<()> {
    let started = Instant::now();
    install_packages()?;
    install_bpf_linker()?;
    install_cargo_deb()?;
    install_cargo_fuzz()?;
    mount_bpffs()?;
    fetch_guest_packages()?;
    tools::check(tools::TOOLS)?;
    cmd::step(&format!(
        "setup complete ({:.1} s)",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn install_packages() -> Result<()> {
    let missing = missing_packages()?;
    if missing.is_empty() {
        return Ok(());
    }
    cmd::step(&format!(
        "installing Debian packages: {}",
        missing.join(" ")
    ));
    cmd::run(Command::new("apt-get").args(["update", "-qq"]))?;
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Packages from [`PACKAGES`] that dpkg does not report as installed.
fn missing_packages() -> Result<Vec<&'static str>> {
    // dpkg-query exits non-zero when a package is unknown; read its output anyway.
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${db:Status-Abbrev}\n"])
        .args(PACKAGES)
        .output()
        .context("running dpkg-query")?;
    let listing = String::from_utf8_lossy(&out.stdout);
    Ok(PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !listing.lines().any(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some(p) && words.next() == Some("ii")
            })
        })
        .collect())
}

fn install_bpf_linker() -> Result<()> {
    let installed = Command::new("bpf-linker")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {BPF_LINKER_VERSION}.")))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    cmd::step("installing bpf-linker (LLVM 22; about 2 minutes)");
    let path = format!(
        "/usr/lib/llvm-22/bin:{}",
        std::env::var("PATH").unwrap_or_default()
    );
    cmd::run(
        Command::new("cargo")
            .args(["install", "--locked", "bpf-linker", "--version"])
            .arg(format!("~{BPF_LINKER_VERSION}"))
            .args(["--no-default-features", "--features", "llvm-22"])
            // Without LLVM 22 first on PATH the build finds no libLLVM.
            .env("PATH", path)
            .env("LLVM_SYS_221_PREFIX", "/usr/lib/llvm-22"),
    )
}

fn install_cargo_deb() -> Result<()> {
    let installed = Command::new("cargo-deb")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {CARGO_DEB_VERSION}.")))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    cmd::step("installing cargo-deb (about 2 minutes)");
    cmd::run(
        Command::new("cargo")
            .args(["install", "--locked", "cargo-deb", "--version"])
            .arg(format!("^{CARGO_DEB_VERSION}")),
    )
}

/// cargo-fuzz, which builds the libFuzzer targets (`cargo xtask fuzz`).
fn install_cargo_fuzz() -> Result<()> {
    if tools::problem(&tools::CARGO_FUZZ).is_none() {
        return Ok(());
    }
    cmd::step("installing cargo-fuzz (about a minute)");
    cmd::run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}

fn mount_bpffs() -> Result<()> {
    let mounts = fs::read_to_string("/proc/self/mounts").context("reading /proc/self/mounts")?;
    if mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(BPFFS))
    {
        return Ok(());
    }
    if !Path::new(BPFFS).is_dir() {
        fs::create_dir_all(BPFFS).with_context(|| format!("creating {BPFFS}"))?;
    }
    cmd::step(&format!("mounting bpffs on {BPFFS}"));
    cmd::run(Command::new("mount").args(["-t", "bpf", "bpf", BPFFS]))
}

/// Downloads Debian's kernel (which has IPVS, unlike this host's) and the
/// guest userland packages into [`GUEST_DEBS`], unless already there.
fn fetch_guest_packages() -> Result<()> {
    let dir = Path::new(GUEST_DEBS);
    let have = |prefix: &str| {
        fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".deb")
        })
    };
    let mut wanted: Vec<String> = GUEST_USERLAND
        .iter()
        .chain(GUEST_QEMU)
        .filter(|p| !have(&format!("{p}_")))
        .map(|p| p.to_string())
        .collect();
    let need_kernel = !have("linux-image-");
    if wanted.is_empty() && !need_kernel {
        return Ok(());
    }
    // First: on a fresh machine apt's lists may be empty, and the kernel's
    // package name is read from them.
    cmd::run(Command::new("apt-get").args(["update", "-qq"]))?;
    if need_kernel {
        wanted.push(guest_kernel_package()?);
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {GUEST_DEBS}"))?;
    cmd::step(&format!(
        "downloading guest packages into {GUEST_DEBS}: {}",
        wanted.join(" ")
    ));
    cmd::run(
        Command::new("apt-get")
            .arg("download")
            .args(&wanted)
            .current_dir(dir),
    )
}

/// The versioned kernel package `linux-image-amd64` currently points to (its
/// ABI name changes with Debian's updates).
fn guest_kernel_package() -> Result<String> {
    let deps = cmd::output(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    deps.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-amd64"))
        .map(str::to_owned)
        .context("apt-cache depends linux-image-amd64 names no kernel package")
}
