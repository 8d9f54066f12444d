//! Booting the guest with qemu (unpacked, not installed): the 9p share on
//! `/mnt`, the console on qemu's standard output, the guest's exit status
//! through isa-debug-exit, and a hard timeout.
use std::{
    fs,
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use super::image::Image;
use crate::cmd;

/// Guest memory: the debug-built daemon and test binaries are large.
const MEMORY: &str = "1G";

/// How qemu runs the guest's CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation (VT-x/AMD-V through /dev/kvm).
    Kvm,
    /// qemu's own emulator: slower, works everywhere.
    Tcg,
}

impl Accel {
    /// KVM only where it really works: /dev/kvm opens, the CPU has vmx or
    /// svm, and /dev/kvm is not the PVM nested hypervisor (kvm_pvm), in which
    /// Debian's kernel dies on its first `cmpxchg16b`.
    pub fn detect() -> Accel {
        let kvm_opens = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let pvm = Path::new("/sys/module/kvm_pvm").exists();
        if kvm_opens && !pvm && has_virtualisation_flag(&cpuinfo) {
            Accel::Kvm
        } else {
            Accel::Tcg
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Accel::Kvm => &["-enable-kvm", "-cpu", "host", "-smp", "2"],
            Accel::Tcg => &["-accel", "tcg", "-smp", "1"],
        }
    }
}

/// Whether a `/proc/cpuinfo` text lists the `vmx` or `svm` CPU flag.
fn has_virtualisation_flag(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .flat_map(|l| l.split_whitespace())
        .any(|f| f == "vmx" || f == "svm")
}

/// Boots `image` with `share` as the guest's `/mnt`; the guest runs
/// `/mnt/run.sh` (see `init.sh`). Echoes the console, and returns the exit
/// status of `run.sh`. Fails when the guest does not finish within
/// `timeout` (qemu is killed), or ends without reporting a status.
pub fn run(image: &Image, share: &Path, timeout: Duration) -> Result<i32> {
    let accel = Accel::detect();
    let q = &image.qemu;
    let mut command = Command::new(q.join("usr/bin/qemu-system-x86_64"));
    command
        .env(
            "LD_LIBRARY_PATH",
            format!(
                "{}:{}",
                q.join("usr/lib/x86_64-linux-gnu").display(),
                q.join("lib/x86_64-linux-gnu").display()
            ),
        )
        .arg("-L")
        .arg(q.join("usr/share/qemu"))
        .arg("-L")
        .arg(q.join("usr/share/seabios"))
        .args(accel.args())
        .args([
            "-m",
            MEMORY,
            "-no-reboot",
            "-nic",
            "none",
            "-display",
            "none",
            "-serial",
            "stdio",
        ])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-kernel")
        .arg(&image.vmlinux)
        .arg("-initrd")
        .arg(&image.initramfs)
        .arg("-virtfs")
        .arg(format!(
            "local,path={},mount_tag=host0,security_model=none,id=host0",
            share.display()
        ))
        .args(["-append", "console=ttyS0 quiet panic=-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    cmd::step(&format!(
        "booting the IPVS guest ({accel:?}, timeout {} s)",
        timeout.as_secs()
    ));
    let started = Instant::now();
    let mut qemu = command.spawn().context("starting qemu")?;
    let console = qemu.stdout.take().context("qemu stdout")?;
    let echo = thread::spawn(move || {
        for line in BufReader::new(console).lines().map_while(Result::ok) {
            println!("{}", line.trim_end_matches('\r'));
        }
    });
    let status = loop {
        if let Some(status) = qemu.try_wait()? {
            break status;
        }
        if started.elapsed() > timeout {
            qemu.kill().context("killing qemu")?;
            qemu.wait()?;
            let _ = echo.join();
            bail!(
                "the IPVS guest did not finish within {} s: killed",
                timeout.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(100));
    };
    let _ = echo.join();
    cmd::step(&format!(
        "guest finished in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    guest_status(
        status.code(),
        fs::read_to_string(share.join("rc")).ok().as_deref(),
    )
}

/// The exit status of the guest's `run.sh`, from qemu's exit code (which
/// isa-debug-exit makes `(rc << 1) | 1`) and the `rc` file the guest wrote;
/// both must agree, or qemu itself failed.
fn guest_status(qemu_code: Option<i32>, rc_file: Option<&str>) -> Result<i32> {
    let written = rc_file.and_then(|s| s.trim().parse::<i32>().ok());
    match (qemu_code, written) {
        (Some(code), Some(rc)) if code & 1 == 1 && code >> 1 == rc & 0x7f => Ok(rc),
        (code, None) => bail!("the guest ended without reporting a status (qemu exit {code:?})"),
        (code, Some(rc)) => bail!("qemu exited with {code:?} but the guest reported {rc}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_comes_from_isa_debug_exit_and_the_rc_file() {
        assert_eq!(guest_status(Some(1), Some("0\n")).unwrap(), 0);
        assert_eq!(guest_status(Some(3), Some("1\n")).unwrap(), 1);
        assert_eq!(guest_status(Some(203), Some("101\n")).unwrap(), 101);
        // qemu's own failure (exit 1 with no guest report), a plain poweroff
        // (exit 0), a disagreement: all errors.
        assert!(guest_status(Some(1), None).is_err());
        assert!(guest_status(Some(0), Some("0")).is_err());
        assert!(guest_status(Some(3), Some("0")).is_err());
        assert!(guest_status(None, Some("0")).is_err());
    }

    #[test]
    fn kvm_needs_a_virtualisation_flag() {
        assert!(has_virtualisation_flag("flags\t\t: fpu vme vmx sse\n"));
        assert!(has_virtualisation_flag("flags\t\t: fpu svm\n"));
        assert!(!has_virtualisation_flag(
            "flags\t\t: fpu vme sse\nmodel name : vmx\n"
        ));
    }
}
