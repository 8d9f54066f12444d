//! `cargo xtask deb`: the Debian package, built by cargo-deb from the
//! metadata in `lb-daemon/Cargo.toml`: lb-daemon (release) with the XDP
//! object embedded, the systemd unit, man pages and completions generated
//! from the clap definition ([`docs`]), the example configuration, the
//! default file and the copyright.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};

use crate::{cmd, docs, ebpf, setup};

/// ELF machine number of eBPF objects.
const EM_BPF: u16 = 247;

/// Builds the package; returns its path (also printed alone on stdout).
pub fn run() -> Result<PathBuf> {
    setup::run()?;
    // The object the tests use when given, else the project's own build.
    let object = match std::env::var_os("LB_EBPF_OBJECT").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => {
            ebpf::build()?;
            ebpf::object_path()
        }
    };
    check_object(&object)?;
    let root = cmd::workspace_root();
    let cargo = || {
        let mut c = Command::new(env!("CARGO"));
        c.current_dir(&root);
        c
    };
    cmd::step(&format!(
        "building lb-daemon (release) with {} embedded",
        object.display()
    ));
    cmd::run(
        cargo()
            .args(["build", "--release", "--locked", "-p", "lb-daemon"])
            .env("LB_EBPF_OBJECT", &object),
    )?;
    let target = target_dir()?;
    let assets = target.join("release/deb-assets");
    cmd::step(&format!(
        "man pages and completions from the clap definition into {}",
        assets.display()
    ));
    docs::write(&assets)?;
    compress_pages(&assets.join("man8"))?;
    cmd::step("cargo deb");
    let out = cmd::output(
        cargo()
            .args(["deb", "-p", "lb-daemon", "--no-build", "--output"])
            .arg(target.join("debian")),
    )?;
    let deb = out
        .lines()
        .map(str::trim)
        .rfind(|l| l.ends_with(".deb"))
        .map(PathBuf::from)
        .with_context(|| format!("cargo deb named no package:\n{out}"))?;
    cmd::step(&format!("package: {}", deb.display()));
    println!("{}", deb.display());
    Ok(deb)
}

/// gzip -9n on the generated man pages (Debian policy; cargo-deb compresses
/// only the assets it does not consider built).
fn compress_pages(dir: &Path) -> Result<()> {
    let pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    cmd::run(
        Command::new("gzip")
            .args(["-9", "-n", "--force"])
            .args(&pages),
    )
}

/// Refuses to package a daemon without its XDP program: `path` must be an
/// eBPF ELF object.
fn check_object(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "reading the XDP object {} (cargo xtask build-ebpf builds it)",
            path.display()
        )
    })?;
    let machine = bytes.get(18..20).map(|m| u16::from_le_bytes([m[0], m[1]]));
    if !bytes.starts_with(b"\x7fELF") || machine != Some(EM_BPF) {
        bail!("{} is not an eBPF ELF object", path.display());
    }
    Ok(())
}

/// Cargo's target directory for this workspace (CARGO_TARGET_DIR and
/// configuration included).
fn target_dir() -> Result<PathBuf> {
    let out = cmd::output(
        Command::new(env!("CARGO"))
            .current_dir(cmd::workspace_root())
            .args(["metadata", "--format-version", "1", "--no-deps"]),
    )?;
    let metadata: serde_json::Value = serde_json::from_str(&out).context("cargo metadata")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target_directory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ebpf_objects_are_packaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obj");
        let mut elf = b"\x7fELF".to_vec();
        elf.resize(64, 0);
        elf[18..20].copy_from_slice(&EM_BPF.to_le_bytes());
        std::fs::write(&path, &elf).unwrap();
        check_object(&path).unwrap();
        elf[18..20].copy_from_slice(&62u16.to_le_bytes());
        std::fs::write(&path, &elf).unwrap();
        let err = check_object(&path).unwrap_err().to_string();
        assert!(err.contains("is not an eBPF ELF object"), "{err}");
        std::fs::write(&path, b"").unwrap();
        assert!(check_object(&path).is_err());
        let err = check_object(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("cargo xtask build-ebpf"), "{err}");
    }
}
