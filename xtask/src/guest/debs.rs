//! The cached Debian packages the IPVS guest is built from
//! ([`crate::setup::GUEST_DEBS`]), found by package name.
use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};

use crate::setup::{GUEST_DEBS, GUEST_QEMU, GUEST_USERLAND};

/// The guest's packages, grouped by where they are unpacked.
pub struct Debs {
    /// The versioned kernel image package (`linux-image-6.1.0-56-amd64_...`).
    pub kernel: PathBuf,
    /// Unpacked into the initramfs build tree.
    pub userland: Vec<PathBuf>,
    /// Unpacked into the qemu tree (with libnl-3, which qemu needs too).
    pub qemu: Vec<PathBuf>,
}

impl Debs {
    /// Finds every package in [`GUEST_DEBS`]; the error names what is missing
    /// and how to get it.
    pub fn find() -> Result<Debs> {
        let dir = Path::new(GUEST_DEBS);
        let names: Vec<String> = fs::read_dir(dir)
            .with_context(|| format!("reading {GUEST_DEBS} (run `cargo xtask setup`)"))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".deb"))
            .collect();
        let one = |package: &str| -> Result<PathBuf> {
            let prefix = format!("{package}_");
            let found: Vec<&String> = names.iter().filter(|n| n.starts_with(&prefix)).collect();
            match found.as_slice() {
                [name] => Ok(dir.join(name)),
                [] => bail!("{package} is not in {GUEST_DEBS}: run `cargo xtask setup`"),
                _ => bail!(
                    "several versions of {package} in {GUEST_DEBS}: {found:?}; remove the old ones"
                ),
            }
        };
        let kernels: Vec<&String> = names
            .iter()
            .filter(|n| n.starts_with("linux-image-") && !n.starts_with("linux-image-amd64_"))
            .collect();
        let kernel = match kernels.as_slice() {
            [name] => dir.join(name),
            [] => bail!("no linux-image-*.deb in {GUEST_DEBS}: run `cargo xtask setup`"),
            _ => bail!("several kernels in {GUEST_DEBS}: {kernels:?}; remove the old ones"),
        };
        let all = |list: &[&str]| list.iter().map(|p| one(p)).collect::<Result<Vec<_>>>();
        let userland = all(GUEST_USERLAND)?;
        let mut qemu = all(GUEST_QEMU)?;
        qemu.push(one("libnl-3-200")?);
        Ok(Debs {
            kernel,
            userland,
            qemu,
        })
    }

    /// One line per package file: the versions the guest is built from, part
    /// of the cache key of the built guest.
    pub fn describe(&self) -> String {
        let mut names: Vec<String> = std::iter::once(&self.kernel)
            .chain(&self.userland)
            .chain(&self.qemu)
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names.join("\n")
    }
}

/// Unpacks `debs` into `dest` (`dpkg-deb -x`, nothing is installed).
pub fn unpack(debs: &[PathBuf], dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    for deb in debs {
        crate::cmd::run(
            std::process::Command::new("dpkg-deb")
                .arg("-x")
                .arg(deb)
                .arg(dest),
        )?;
    }
    Ok(())
}
