//! The built guest: Debian's kernel as an uncompressed `vmlinux` (booted
//! directly through its PVH entry: under TCG that saves the real-mode setup
//! and the XZ decompression, 4 s instead of 9 s to the first command), the
//! initramfs, and qemu, all unpacked from the cached .debs. Kept under
//! `target/ipvs-guest/image` and rebuilt only when a package version or the
//! way it is built changes.
use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context, Result};

use super::{
    debs::{self, Debs},
    initramfs,
};
use crate::cmd;

/// Bump when the build below changes in a way the stamp does not capture.
const BUILD_VERSION: u32 = 1;

/// Paths of a built guest.
pub struct Image {
    /// Uncompressed kernel (ELF with a PVH note).
    pub vmlinux: PathBuf,
    /// Uncompressed newc cpio.
    pub initramfs: PathBuf,
    /// Root of the unpacked qemu packages.
    pub qemu: PathBuf,
}

impl Image {
    fn at(dir: &Path) -> Image {
        Image {
            vmlinux: dir.join("vmlinux"),
            initramfs: dir.join("initramfs.cpio"),
            qemu: dir.join("qemu"),
        }
    }
}

/// Where built guests live.
fn cache_dir() -> PathBuf {
    cmd::workspace_root().join("target/ipvs-guest/image")
}

/// The built guest, built first when the cache is missing or stale.
pub fn ensure() -> Result<Image> {
    let debs = Debs::find()?;
    let dir = cache_dir();
    let stamp = format!(
        "build {BUILD_VERSION}\n{}\nmodules {}\ninit\n{}",
        debs.describe(),
        initramfs::MODULES.join(" "),
        initramfs::INIT
    );
    let stamp_file = dir.join("stamp");
    if fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return Ok(Image::at(&dir));
    }
    let started = Instant::now();
    cmd::step(&format!("building the IPVS guest in {}", dir.display()));
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    build(&debs, &dir)?;
    fs::write(&stamp_file, stamp)?;
    cmd::step(&format!(
        "guest built in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(Image::at(&dir))
}

fn build(debs: &Debs, dir: &Path) -> Result<()> {
    let image = Image::at(dir);
    let work = dir.join("work");
    let (userland, kernel) = (work.join("userland"), work.join("kernel"));
    debs::unpack(&debs.userland, &userland)?;
    debs::unpack(std::slice::from_ref(&debs.kernel), &kernel)?;
    let kver = kernel_release(&kernel)?;
    // The package has no modules.dep (depmod runs when it is installed).
    cmd::run(
        Command::new(userland.join("bin/busybox"))
            .arg("depmod")
            .arg("-b")
            .arg(&kernel)
            .arg(&kver),
    )?;
    extract_vmlinux(
        &kernel.join("boot").join(format!("vmlinuz-{kver}")),
        &image.vmlinux,
    )?;
    initramfs::build(
        &userland,
        &kernel,
        &kver,
        &work.join("root"),
        &image.initramfs,
    )?;
    debs::unpack(&debs.qemu, &image.qemu)?;
    fs::remove_dir_all(&work).context("removing the guest build tree")
}

/// The kernel release (`6.1.0-56-amd64`): the one directory under
/// `lib/modules` of the unpacked kernel package.
fn kernel_release(kernel: &Path) -> Result<String> {
    let modules = kernel.join("lib/modules");
    let releases: Vec<String> = fs::read_dir(&modules)
        .with_context(|| format!("reading {}", modules.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    match releases.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!(
            "expected one kernel release in {}, found {releases:?}",
            modules.display()
        ),
    }
}

/// Writes the ELF kernel inside the bzImage `vmlinuz` (Debian compresses it
/// with XZ) to `out`, with `xz --single-stream`, which stops at the end of
/// the compressed stream.
fn extract_vmlinux(vmlinuz: &Path, out: &Path) -> Result<()> {
    const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
    let image = fs::read(vmlinuz).with_context(|| format!("reading {}", vmlinuz.display()))?;
    let start = image
        .windows(XZ_MAGIC.len())
        .position(|w| w == XZ_MAGIC)
        .with_context(|| format!("{} holds no XZ stream", vmlinuz.display()))?;
    let mut xz = Command::new("xz")
        .args(["--decompress", "--stdout", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(fs::File::create(out).with_context(|| format!("creating {}", out.display()))?)
        .spawn()
        .context("starting xz")?;
    let written = xz
        .stdin
        .take()
        .context("xz stdin")?
        .write_all(&image[start..]);
    // xz stops reading at the end of the stream: what follows is not its.
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    let status = xz.wait()?;
    if !status.success() {
        bail!(
            "xz could not decompress the kernel in {}: {status}",
            vmlinuz.display()
        );
    }
    Ok(())
}
