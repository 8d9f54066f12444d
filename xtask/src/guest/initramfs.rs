//! The guest's initramfs: busybox, iproute2 (`ip`, `tc`), ipvsadm and
//! ethtool with their shared libraries, the kernel modules the IPVS tests
//! need (with their dependencies), and [`INIT`] as `/init`.
use std::{
    collections::BTreeSet,
    fs,
    io::Write,
    os::unix::fs::{symlink, PermissionsExt},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};

use super::ldd;
use crate::cmd;

/// PID 1 of the guest.
pub const INIT: &str = include_str!("init.sh");

/// Kernel modules shipped (their dependencies are added): IPVS with every
/// scheduler the kernel has, the tunnels IPVS TUN can use (ipip, GUE, GRE;
/// IPv4 and IPv6), veth/bridge/dummy for the test topologies, tc for
/// firewall marks, and what booting and the 9p share need.
pub const MODULES: &[&str] = &[
    "ip_vs",
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_wlc",
    "ip_vs_lblc",
    "ip_vs_lblcr",
    "ip_vs_dh",
    "ip_vs_sh",
    "ip_vs_sed",
    "ip_vs_nq",
    "ip_vs_fo",
    "ip_vs_ovf",
    "ip_vs_mh",
    "nf_conntrack",
    "ipip",
    "ip6_tunnel",
    "fou",
    "fou6",
    "ip_gre",
    "ip6_gre",
    "veth",
    "bridge",
    "dummy",
    "sch_ingress",
    "cls_u32",
    "cls_matchall",
    "act_skbedit",
    // libcrc32c's soft dependency, which busybox modprobe does not follow.
    "crc32c_generic",
    "virtio_pci",
    "9pnet_virtio",
    "9p",
];

/// Programs copied from the unpacked userland: (source, path in the guest).
const TOOLS: &[(&str, &str)] = &[
    ("bin/ip", "sbin/ip"),
    ("sbin/tc", "sbin/tc"),
    ("sbin/ipvsadm", "sbin/ipvsadm"),
    ("sbin/ethtool", "sbin/ethtool"),
];

/// busybox applets not linked: the guest uses iproute2's `ip` and `tc`.
const SHADOWED_APPLETS: &[&str] = &["ip", "tc", "busybox"];

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// Builds the initramfs (an uncompressed newc cpio: the kernel unpacks it
/// faster than a gzip one under TCG) at `out` from the unpacked `userland`
/// and `kernel` trees; `root` is a scratch directory.
pub fn build(userland: &Path, kernel: &Path, kver: &str, root: &Path, out: &Path) -> Result<()> {
    let busybox = userland.join("bin/busybox");
    for dir in [
        "bin",
        "sbin",
        "lib64",
        "lib/x86_64-linux-gnu",
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
        "mnt",
        "etc",
        "root",
        "var",
    ] {
        fs::create_dir_all(root.join(dir))?;
    }
    symlink("../run", root.join("var/run"))?;
    install(&busybox, &root.join("bin/busybox"))?;
    for applet in cmd::output(Command::new(&busybox).arg("--list"))?.lines() {
        if !SHADOWED_APPLETS.contains(&applet) {
            symlink("busybox", root.join("bin").join(applet))?;
        }
    }
    // The kernel's request_module() runs /sbin/modprobe.
    symlink("../bin/busybox", root.join("sbin/modprobe"))?;
    let mut programs = Vec::new();
    for (from, to) in TOOLS {
        install(&userland.join(from), &root.join(to))?;
        programs.push(root.join(to));
    }
    copy_libraries(&programs, userland, root)?;
    let modules_from = kernel.join("lib/modules").join(kver);
    let modules_to = root.join("lib/modules").join(kver);
    copy_modules(&modules_from, &modules_to)?;
    cmd::run(
        Command::new(&busybox)
            .arg("depmod")
            .arg("-b")
            .arg(root)
            .arg(kver),
    )?;
    fs::write(root.join("etc/passwd"), PASSWD)?;
    fs::write(root.join("etc/group"), GROUP)?;
    fs::write(root.join("init"), INIT)?;
    fs::set_permissions(root.join("init"), fs::Permissions::from_mode(0o755))?;
    write_cpio(&busybox, root, out)
}

/// Copies `from` to `to`, keeping its permissions, and says which on error.
fn install(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .map(drop)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

/// Copies the shared libraries `programs` load (as `ldd` resolves them, the
/// unpacked userland's first, then the host's: the host is Debian 12 like
/// the guest) into the guest's `/lib/x86_64-linux-gnu`, and the loader.
fn copy_libraries(programs: &[PathBuf], userland: &Path, root: &Path) -> Result<()> {
    let search = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"]
        .map(|d| userland.join(d).display().to_string())
        .join(":");
    ldd::copy_libraries(programs, Some(&search), &root.join("lib/x86_64-linux-gnu"))?;
    install(
        Path::new("/lib64/ld-linux-x86-64.so.2"),
        &root.join("lib64/ld-linux-x86-64.so.2"),
    )
}

/// Copies [`MODULES`] and everything they depend on (per `modules.dep`,
/// which the caller generated) from `from` to `to`, plus the files depmod
/// needs.
fn copy_modules(from: &Path, to: &Path) -> Result<()> {
    let dep = fs::read_to_string(from.join("modules.dep")).context("reading modules.dep")?;
    for path in module_closure(&dep, MODULES)? {
        let dest = to.join(&path);
        fs::create_dir_all(dest.parent().context("module path")?)?;
        install(&from.join(&path), &dest)?;
    }
    for file in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
    ] {
        install(&from.join(file), &to.join(file))?;
    }
    Ok(())
}

/// The module files (paths relative to the modules directory) of `wanted`
/// and of all their dependencies, from the text of a `modules.dep`.
pub fn module_closure(modules_dep: &str, wanted: &[&str]) -> Result<BTreeSet<String>> {
    let deps: Vec<(&str, Vec<&str>)> = modules_dep
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(module, deps)| (module, deps.split_whitespace().collect()))
        .collect();
    let module_name = |path: &str| {
        let file = path.rsplit('/').next().unwrap_or(path);
        file.strip_suffix(".ko").unwrap_or(file).replace('-', "_")
    };
    let mut closure = BTreeSet::new();
    for name in wanted {
        let (path, needs) = deps
            .iter()
            .find(|(path, _)| module_name(path) == name.replace('-', "_"))
            .with_context(|| format!("kernel module {name} is not in modules.dep"))?;
        closure.insert(path.to_string());
        // modules.dep lists the full (transitive) dependency set of each module.
        closure.extend(needs.iter().map(|d| d.to_string()));
    }
    Ok(closure)
}

/// Writes `root` as a newc cpio archive to `out` with busybox cpio.
fn write_cpio(busybox: &Path, root: &Path, out: &Path) -> Result<()> {
    let mut names = Vec::new();
    list_tree(root, Path::new("."), &mut names)?;
    let mut child = Command::new(busybox)
        .args(["cpio", "-o", "-H", "newc"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(fs::File::create(out).with_context(|| format!("creating {}", out.display()))?)
        .stderr(Stdio::null())
        .spawn()
        .context("starting busybox cpio")?;
    let mut stdin = child.stdin.take().context("cpio stdin")?;
    for name in &names {
        writeln!(stdin, "{}", name.display())?;
    }
    drop(stdin);
    let status = child.wait()?;
    if !status.success() {
        bail!("busybox cpio failed: {status}");
    }
    Ok(())
}

/// Appends `rel` and, for directories, everything below it (parents first).
fn list_tree(root: &Path, rel: &Path, names: &mut Vec<PathBuf>) -> Result<()> {
    names.push(rel.to_path_buf());
    let full = root.join(rel);
    if full.symlink_metadata()?.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(&full)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            list_tree(root, &rel.join(entry), names)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_follows_modules_dep_and_normalises_names() {
        let dep = "kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko\n\
                   kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko\n\
                   kernel/lib/libcrc32c.ko:\n\
                   kernel/arch/x86/crypto/crc32c-intel.ko:\n";
        let got = module_closure(dep, &["ip_vs", "crc32c_intel"]).unwrap();
        let want: BTreeSet<String> = [
            "kernel/net/netfilter/ipvs/ip_vs.ko",
            "kernel/net/netfilter/nf_conntrack.ko",
            "kernel/lib/libcrc32c.ko",
            "kernel/arch/x86/crypto/crc32c-intel.ko",
        ]
        .map(String::from)
        .into();
        assert_eq!(got, want);
        let err = module_closure(dep, &["ip_vs_rr"]).unwrap_err().to_string();
        assert!(err.contains("ip_vs_rr"), "{err}");
    }
}
