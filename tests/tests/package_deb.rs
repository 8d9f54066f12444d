//! The Debian package, end to end: `cargo xtask deb` builds it, lintian
//! finds no error, it installs with `dpkg -i` beside keepalived (no
//! Conflicts/Provides/Replaces, Depends on run-time libraries only), the
//! installed `lb-daemon --version`, `man -w`, `lb-daemon -t -f` on the shipped
//! example and `systemd-analyze verify` on the unit work, its maintainer
//! scripts never start or restart the daemon on install or upgrade, and after
//! the installed daemon has run and stopped, `dpkg --purge` leaves nothing:
//! no file of the package, no runtime directory, no pins, no systemd state.
//!
//! Its own `main` (harness = false): SIGINT/SIGTERM/SIGHUP purge the package
//! before exiting, as do a failure and a panic, so that no exit path leaves
//! it installed.
use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::Duration,
};

use anyhow::{bail, ensure, Context, Result};
use lb_tests::{cleanup_current_process, netns::detached, wait_until, Netns};
use nix::sys::signal::{SigSet, Signal};

const PACKAGE: &str = "lb-daemon";
const BINARY: &str = "/usr/sbin/lb-daemon";
const EXAMPLE: &str = "/usr/share/doc/lb-daemon/examples/keepalived.conf";
/// What the packaged daemon (default runtime directory) leaves when stopped.
const RUNTIME_DIR: &str = "/run/lb-daemon";
/// Its pin directory while it runs.
const PIN_DIR: &str = "/sys/fs/bpf/lb-daemon/run_lb-daemon";
/// Where package and systemd state lives: after the purge, nothing under
/// these may be named after the package that was not there before.
const SEARCHED: &[&str] = &["/etc", "/usr", "/lib", "/var/lib", "/run"];

/// Whether this test installed the package (and must purge it).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// `program args` with no signal blocked, in its own process group.
fn command(program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args);
    detached(cmd)
}

fn output(program: &str, args: &[&str]) -> Result<Output> {
    command(program, args)
        .output()
        .with_context(|| format!("running {program}"))
}

/// Runs `program args`; fails with its output unless it exits 0.
fn run(program: &str, args: &[&str]) -> Result<String> {
    let out = output(program, args)?;
    ensure!(
        out.status.success(),
        "`{program} {}` failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// dpkg's status of the package (`ii`, `rc`, ...), `None` when unknown.
fn status() -> Option<String> {
    let out = output("dpkg-query", &["-W", "-f=${db:Status-Abbrev}", PACKAGE]).ok()?;
    let status = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !status.is_empty()).then_some(status)
}

/// Purges the package if this test installed it, waiting for dpkg's lock
/// (a signal may arrive while `dpkg -i` runs); returns dpkg's complaint.
fn purge() -> Result<()> {
    if !INSTALLED.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    let mut last = None;
    let purged = wait_until(Duration::from_secs(120), Duration::from_millis(500), || {
        let out = output("dpkg", &["--purge", PACKAGE]);
        let done = out.as_ref().is_ok_and(|o| o.status.success());
        last = Some(out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()));
        done
    });
    purged.with_context(|| format!("dpkg --purge {PACKAGE}: {last:?}"))
}

/// Paths named after the package under [`SEARCHED`].
fn traces() -> Result<BTreeSet<String>> {
    let mut args: Vec<&str> = SEARCHED.to_vec();
    args.extend(["-xdev", "-name", "*lb-daemon*"]);
    // find exits 1 when a directory vanishes under it: read its output anyway.
    let out = output("find", &args)?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// The .deb `cargo xtask deb` builds (its path is its last stdout line).
fn build() -> Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?;
    let out = command(env!("CARGO"), &["xtask", "deb"])
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running cargo xtask deb")?;
    ensure!(
        out.status.success(),
        "cargo xtask deb failed: {}",
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let deb = stdout.lines().last().unwrap_or_default().trim();
    ensure!(deb.ends_with(".deb"), "cargo xtask deb printed {stdout:?}");
    Ok(root.join(deb))
}

/// lintian: no error (warnings are printed for the record).
fn lintian(deb: &Path) -> Result<()> {
    let out = output("lintian", &["--fail-on", "error", &deb.to_string_lossy()])?;
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("lintian:\n{text}");
    ensure!(
        out.status.success() && !text.lines().any(|l| l.starts_with("E: ")),
        "lintian found errors ({}):\n{text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The control fields and maintainer scripts, before installing.
fn check_control(deb: &Path) -> Result<()> {
    let deb = deb.to_string_lossy();
    let field = |name: &str| run("dpkg-deb", &["-f", &deb, name]).map(|v| v.trim().to_owned());
    for name in ["Conflicts", "Provides", "Replaces", "Breaks"] {
        ensure!(field(name)?.is_empty(), "{name}: {}", field(name)?);
    }
    let depends = field("Depends")?;
    ensure!(depends.contains("libc6"), "Depends: {depends}");
    for build_only in ["cargo", "rustc", "clang", "llvm", "dpkg-dev", "lintian"] {
        ensure!(!depends.contains(build_only), "Depends: {depends}");
    }
    let control = tempfile::tempdir()?;
    run("dpkg-deb", &["-e", &deb, &control.path().to_string_lossy()])?;
    let script =
        |name: &str| std::fs::read_to_string(control.path().join(name)).unwrap_or_default();
    // keepalived's convention: installing or upgrading never starts or
    // restarts the daemon; only a removal stops it.
    let postinst = script("postinst");
    ensure!(
        !postinst.contains("deb-systemd-invoke") && !postinst.contains("systemctl restart"),
        "postinst starts the daemon:\n{postinst}"
    );
    let prerm = script("prerm");
    ensure!(
        prerm.contains("[ \"$1\" = remove ]") && prerm.contains("deb-systemd-invoke stop"),
        "prerm must stop the daemon on removal only:\n{prerm}"
    );
    ensure!(
        script("conffiles")
            .lines()
            .any(|l| l == "/etc/default/lb-daemon"),
        "/etc/default/lb-daemon is not a conffile"
    );
    Ok(())
}

/// Runs the installed daemon on the example in a namespace (`eth0` a veth)
/// until its fast path is pinned, then stops it: it leaves its runtime
/// directory, which the purge must remove.
fn run_installed_daemon() -> Result<()> {
    let ns = Netns::new("pkg")?;
    ns.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
    ])?;
    ns.ip(&["link", "set", "eth1", "up"])?;
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "eth0"])?;
    ns.ip(&["link", "set", "eth0", "up"])?;
    let check = ns.exec(&[BINARY, "-t", "-f", EXAMPLE])?;
    ensure!(
        check.status.success(),
        "lb-daemon -t -f {EXAMPLE}: {}\n{}",
        check.status,
        String::from_utf8_lossy(&check.stderr)
    );
    let mut daemon = ns.spawn_command(ns.net_only_command(&[BINARY, "-f", EXAMPLE]))?;
    let pinned = wait_until(Duration::from_secs(20), Duration::from_millis(100), || {
        Path::new(PIN_DIR).is_dir()
    });
    let stopped = daemon.stop(Duration::from_secs(30))?;
    pinned.context("the installed daemon never pinned its XDP maps")?;
    ensure!(
        stopped.success(),
        "the installed daemon exited with {stopped}"
    );
    ensure!(
        !Path::new(PIN_DIR).exists(),
        "a stopped daemon left {PIN_DIR}"
    );
    ensure!(
        Path::new(RUNTIME_DIR).is_dir(),
        "{RUNTIME_DIR} should be left by a stopped daemon"
    );
    Ok(())
}

fn package_installs_checks_and_purges_cleanly() -> Result<()> {
    if let Some(status) = status().filter(|s| !s.starts_with("un")) {
        bail!("{PACKAGE} is already on this machine (dpkg status {status}); this test installs and purges its own: remove it first");
    }
    ensure!(
        !Path::new(RUNTIME_DIR).exists(),
        "{RUNTIME_DIR} exists: an lb-daemon runs with the default runtime directory"
    );
    let deb = build()?;
    lintian(&deb)?;
    check_control(&deb)?;
    let before = traces()?;
    INSTALLED.store(true, Ordering::SeqCst);
    run("dpkg", &["-i", &deb.to_string_lossy()])?;
    ensure!(
        status().is_some_and(|s| s.starts_with("ii")),
        "not installed"
    );
    ensure!(
        output(
            "dpkg-query",
            &["-W", "-f=${db:Status-Abbrev}", "keepalived"]
        )
        .is_ok_and(|o| o.stdout.starts_with(b"ii")),
        "keepalived should be installed beside lb-daemon (setup installs it)"
    );
    let files: Vec<String> = run("dpkg", &["-L", PACKAGE])?
        .lines()
        .map(str::to_owned)
        .collect();
    let version = run("lb-daemon", &["--version"])?;
    ensure!(
        version.starts_with("lb-daemon 0."),
        "lb-daemon --version: {version}"
    );
    ensure!(
        run("sh", &["-c", "command -v lb-daemon"])?.trim() == BINARY,
        "lb-daemon on PATH is not {BINARY}"
    );
    let page = run("man", &["-w", "lb-daemon"])?;
    ensure!(
        page.trim() == "/usr/share/man/man8/lb-daemon.8.gz",
        "man -w: {page}"
    );
    let conf = run("man", &["-w", "5", "lb-daemon.conf"])?;
    ensure!(
        conf.trim() == "/usr/share/man/man5/lb-daemon.conf.5.gz",
        "man -w 5: {conf}"
    );
    let unit = files
        .iter()
        .find(|f| f.ends_with("/systemd/system/lb-daemon.service"))
        .context("no lb-daemon.service in the package")?;
    let verify = output("systemd-analyze", &["verify", unit])?;
    ensure!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify {unit} ({}):\n{}",
        verify.status,
        String::from_utf8_lossy(&verify.stderr)
    );
    run_installed_daemon()?;

    purge()?;
    ensure!(
        status().is_none_or(|s| s.starts_with("un")),
        "still known to dpkg after the purge: {:?}",
        status()
    );
    let left: Vec<&String> = files
        .iter()
        .filter(|f| f.contains("lb-daemon") && Path::new(f).exists())
        .collect();
    ensure!(left.is_empty(), "the purge left {left:?}");
    for path in [RUNTIME_DIR, PIN_DIR] {
        ensure!(!Path::new(path).exists(), "the purge left {path}");
    }
    let after = traces()?;
    let new: Vec<&String> = after.difference(&before).collect();
    ensure!(new.is_empty(), "the purge left {new:?}");
    Ok(())
}

/// Purges, removes this process's namespaces, exits 128 + signal.
fn purge_on_signals() -> Result<()> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()?;
    thread::spawn(move || {
        let signal = set.wait().unwrap_or(Signal::SIGTERM);
        eprintln!("package_deb: {signal} received, purging {PACKAGE}");
        if let Err(e) = purge() {
            eprintln!("package_deb: {e:#}");
        }
        cleanup_current_process();
        std::process::exit(128 + signal as i32);
    });
    Ok(())
}

fn main() {
    if let Err(e) = purge_on_signals() {
        eprintln!("package_deb: {e:#}");
        std::process::exit(1);
    }
    let name = "package_installs_checks_and_purges_cleanly";
    let result = std::panic::catch_unwind(package_installs_checks_and_purges_cleanly);
    let cleanup = purge();
    let ok = match (result, cleanup) {
        (Ok(Ok(())), Ok(())) => true,
        (Ok(Err(e)), _) | (_, Err(e)) => {
            eprintln!("{name}: {e:#}");
            false
        }
        (Err(_), _) => false,
    };
    println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
    println!("{} passed, {} failed", u8::from(ok), u8::from(!ok));
    if !ok {
        std::process::exit(1);
    }
}
