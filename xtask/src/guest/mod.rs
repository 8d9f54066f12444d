//! `cargo xtask ipvs-test` and `ipvs-bench`: this machine's kernel has no IPVS (and its KVM
//! cannot boot a stock kernel), so the IPVS integration tests
//! (`tests/tests/ipvs_guest*.rs`, ignored on the host) run inside a qemu
//! guest booting Debian's kernel, built from the cached .debs (see
//! [`image`]). The host-built test programs and `lb-daemon` reach the guest
//! over a 9p share; their libtest output comes back on the console and in
//! the share, and is counted like the host's. The IPVS benchmark runs the
//! same way.
mod cargo;
mod debs;
mod image;
mod initramfs;
mod ldd;
mod qemu;
mod share;

use std::{fs, path::PathBuf, time::Duration};

use anyhow::{bail, Context, Result};

use crate::{cmd, totals::Totals};
use share::{shell_words, Share};

/// Default bound on one guest run, boot to power-off.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Tests run concurrently in the guest: they mostly wait on check cycles
/// and each builds its own namespaces (with their own IPVS tables).
const TEST_THREADS: usize = 4;

/// Builds the guest (unless cached) and the IPVS tests, runs them in the
/// guest with `--ignored` plus `libtest_args` (e.g. a name filter), and
/// returns their totals. A guest that ends with a failure but no failed
/// test in the output (a crash) counts as one failure; a guest that does
/// not finish in `timeout` is an error.
pub fn run_tests(libtest_args: &[String], timeout: Duration) -> Result<Totals> {
    let image = image::ensure()?;
    cmd::step("building lb-daemon and the IPVS guest tests");
    let daemon = only(
        cargo::executables(&["build", "-p", "lb-daemon", "--bin", "lb-daemon"])?,
        "lb-daemon",
    )?;
    let tests = cargo::executables(&[
        "test",
        "-p",
        "lb-tests",
        "--test",
        "ipvs_guest*",
        "--no-run",
    ])?;
    if tests.is_empty() {
        bail!("no tests/tests/ipvs_guest*.rs test programs were built");
    }
    let mut share = Share::new()?;
    let mut body = format!(
        "export LB_DAEMON_BIN={}\nrc=0\n",
        share.add_program(&daemon)?
    );
    for test in &tests {
        let program = share.add_program(test)?;
        body += &format!(
            "echo '== {program}'\n{program} --ignored --test-threads={TEST_THREADS} {} || rc=1\n",
            shell_words(libtest_args)
        );
    }
    body += "exit $rc\n";
    let (log, rc) = boot(&image, share, &body, timeout)?;
    let mut totals = Totals::default();
    log.lines().for_each(|l| totals.add_line(l));
    if rc != 0 && totals.failed == 0 {
        totals.failed = 1;
    }
    Ok(totals)
}

/// `cargo xtask ipvs-bench`: runs the IPVS programming benchmark
/// (`bench/src/ipvs_program.rs`, with `args`) in the guest, against a
/// release build of lb-daemon; its report comes out on the console.
pub fn run_bench(args: &[String], timeout: Duration) -> Result<()> {
    let image = image::ensure()?;
    cmd::step("building lb-daemon and the IPVS benchmark (release)");
    let daemon = only(
        cargo::executables(&[
            "build",
            "--release",
            "-p",
            "lb-daemon",
            "--bin",
            "lb-daemon",
        ])?,
        "lb-daemon",
    )?;
    let bench = only(
        cargo::executables(&["build", "--release", "-p", "bench", "--bin", "ipvs-program"])?,
        "ipvs-program",
    )?;
    let mut share = Share::new()?;
    // The daemon's log (echoed on stderr) stays in the guest's memory: pushed
    // through the emulated serial console, it would slow the daemon down.
    let body = format!(
        "export LB_DAEMON_BIN={}\n{} {} 2>/tmp/stderr.log || {{ rc=$?; tail -n 100 /tmp/stderr.log; exit $rc; }}\n",
        share.add_program(&daemon)?,
        share.add_program(&bench)?,
        shell_words(args)
    );
    let (_, rc) = boot(&image, share, &body, timeout)?;
    if rc != 0 {
        bail!("the benchmark failed in the guest (exit status {rc})");
    }
    Ok(())
}

/// Writes `body` as the share's `run.sh`, boots the guest on it, and returns
/// what the script printed and its exit status.
fn boot(
    image: &image::Image,
    share: Share,
    body: &str,
    timeout: Duration,
) -> Result<(String, i32)> {
    let dir = share.finish(body)?;
    let rc = qemu::run(image, &dir, timeout)?;
    let log = fs::read_to_string(dir.join("out.log")).context("reading the guest's out.log")?;
    Ok((log, rc))
}

/// The one executable a build produced, or an error naming `what`.
fn only(mut executables: Vec<PathBuf>, what: &str) -> Result<PathBuf> {
    match executables.len() {
        1 => Ok(executables.remove(0)),
        n => bail!("expected one {what} executable from cargo, got {n}: {executables:?}"),
    }
}
