//! Running `lb-daemon` inside a lab namespace, as tests and `cargo xtask lab`
//! do: its own runtime directory, its log captured (and echoed with a
//! prefix), its control socket queried through `lb-daemon status --json`.
use std::{
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use nix::sys::signal::Signal;
use serde_json::Value;
use tempfile::TempDir;

use crate::{log::Log, netns::detached, wait_until, Netns, NsChild};

/// The `lb-daemon` binary of this build: `$LB_DAEMON_BIN`, or the one next to
/// the running executable (test binaries live one level deeper, in `deps/`).
pub fn daemon_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("LB_DAEMON_BIN") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe().context("locating the running executable")?;
    let mut dir = exe.parent().context("executable without a directory")?;
    if dir.ends_with("deps") {
        dir = dir.parent().context("deps/ without a parent")?;
    }
    let bin = dir.join("lb-daemon");
    if !bin.exists() {
        bail!(
            "{} not found: build it first (cargo build -p lb-daemon)",
            bin.display()
        );
    }
    Ok(bin)
}

/// Prefix of the daemons' runtime directories (under the temp dir).
const RUNTIME_PREFIX: &str = "lb-daemon-run";

/// Where lb-daemon pins its XDP maps, one directory per instance.
const BPFFS_ROOT: &str = "/sys/fs/bpf/lb-daemon";

/// A fresh runtime directory for daemons a test restarts in the same place
/// (as a service manager does): pass it to [`Daemon::spawn_in`]. Named like
/// the ones [`Daemon::start`] makes, so that [`sweep_stale_pins`] finds the
/// pins of a run killed before it could clean up.
pub fn runtime_dir() -> Result<TempDir> {
    Ok(tempfile::Builder::new().prefix(RUNTIME_PREFIX).tempdir()?)
}

/// How long a starting daemon may take until its control socket answers.
const READY: Duration = Duration::from_secs(10);

/// A running `lb-daemon`; dropping it stops the process (SIGTERM, then
/// SIGKILL) and removes the maps a killed daemon left pinned.
pub struct Daemon {
    child: NsChild,
    label: String,
    /// The runtime directory when this daemon made it (gone with it).
    _own_runtime_dir: Option<TempDir>,
    runtime_dir: PathBuf,
    log: Log,
    /// The fast path's pin directory, as the status last reported it.
    pins: std::sync::Mutex<Option<PathBuf>>,
}

impl Daemon {
    /// Starts `lb-daemon -n -l -f CONFIG --runtime-dir <fresh dir>` in `ns`,
    /// echoing its log to stderr as `[label] ...`, and waits until its control
    /// socket answers.
    pub fn start(ns: &Netns, config: &Path, label: &str) -> Result<Daemon> {
        Daemon::launch(ns, config, label, &[], &[])
    }

    /// As [`Daemon::start`], but started in a new, empty network namespace
    /// (`unshare --net`): the configuration's `net_namespace` must move it
    /// into `ns`, whose deletion ends it. Should it not, it can only touch
    /// that empty namespace, never the host's.
    pub fn start_joining(ns: &Netns, config: &Path, label: &str) -> Result<Daemon> {
        let runtime_dir = runtime_dir()?;
        let mut command = detached(Command::new("unshare"));
        command.args(["--net", "--"]).arg(daemon_binary()?);
        let mut daemon =
            Daemon::spawn_command(ns, command, config, label, runtime_dir.path(), &[])?;
        daemon._own_runtime_dir = Some(runtime_dir);
        daemon.wait_ready(READY)?;
        Ok(daemon)
    }

    /// As [`Daemon::start`], with more command-line arguments.
    pub fn start_with(ns: &Netns, config: &Path, label: &str, args: &[&str]) -> Result<Daemon> {
        Daemon::launch(ns, config, label, args, &[])
    }

    /// [`Daemon::start`] with `env` added to the daemon's environment (as a
    /// service manager sets `NOTIFY_SOCKET` or `WATCHDOG_USEC`).
    pub fn start_with_env(
        ns: &Netns,
        config: &Path,
        label: &str,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Result<Daemon> {
        Daemon::launch(ns, config, label, &[], env)
    }

    fn launch(
        ns: &Netns,
        config: &Path,
        label: &str,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Result<Daemon> {
        let runtime_dir = runtime_dir()?;
        let mut daemon = Daemon::spawn(ns, config, label, runtime_dir.path(), args, env)?;
        daemon._own_runtime_dir = Some(runtime_dir);
        daemon.wait_ready(READY)?;
        Ok(daemon)
    }

    /// Starts `lb-daemon -n -l -f CONFIG --runtime-dir RUNTIME_DIR` in `ns`
    /// without waiting for it (a test may kill it while it starts); see
    /// [`Daemon::wait_ready`].
    pub fn spawn_in(ns: &Netns, config: &Path, label: &str, runtime_dir: &Path) -> Result<Daemon> {
        Daemon::spawn(ns, config, label, runtime_dir, &[], &[])
    }

    fn spawn(
        ns: &Netns,
        config: &Path,
        label: &str,
        runtime_dir: &Path,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Result<Daemon> {
        // Network namespace only: the daemon pins its maps in the host's bpffs.
        let mut cmd = ns.net_only_command(&[daemon_binary()?.as_os_str()]);
        cmd.args(args);
        Daemon::spawn_command(ns, cmd, config, label, runtime_dir, env)
    }

    /// Runs `cmd` (the daemon binary, perhaps behind nsenter) with the
    /// daemon's usual options.
    fn spawn_command(
        ns: &Netns,
        mut cmd: Command,
        config: &Path,
        label: &str,
        runtime_dir: &Path,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Result<Daemon> {
        cmd.args(["-n", "-l", "-f"])
            .arg(config)
            .arg("--runtime-dir")
            .arg(runtime_dir)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = ns.spawn_command(cmd)?;
        let log = Log::default();
        log.capture(
            child.child_mut().stderr.take().context("daemon stderr")?,
            label,
        );
        Ok(Daemon {
            child,
            label: label.to_owned(),
            _own_runtime_dir: None,
            runtime_dir: runtime_dir.to_owned(),
            log,
            pins: Default::default(),
        })
    }

    /// Waits until the daemon's control socket answers.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let ready = wait_until(timeout, Duration::from_millis(50), || self.status().is_ok());
        if let Err(e) = ready {
            let exited = self.child.try_wait().ok().flatten();
            bail!(
                "{}: lb-daemon did not come up ({e}; exit: {exited:?}); log:\n{}",
                self.label,
                self.log()
            );
        }
        Ok(())
    }

    /// The daemon's `status --json` document.
    pub fn status(&self) -> Result<Value> {
        let out = self
            .status_command(true)
            .output()
            .context("running lb-daemon status")?;
        if !out.status.success() {
            bail!(
                "lb-daemon status failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let status: Value = serde_json::from_slice(&out.stdout)?;
        if let Some(dir) = status["fast_path"]["pin_dir"].as_str() {
            *self.pins.lock().unwrap_or_else(|e| e.into_inner()) = Some(dir.into());
        }
        Ok(status)
    }

    /// The state of its first VRRP instance (`MASTER`, `BACKUP`, ...), empty
    /// when the status cannot be read.
    pub fn vrrp_state(&self) -> String {
        self.status()
            .ok()
            .and_then(|s| s["vrrp"][0]["state"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Waits until the daemon's `status --json` satisfies `ready`; the error
    /// names `what` and carries the last status and the log.
    pub fn wait_status(
        &self,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&Value) -> bool,
    ) -> Result<()> {
        wait_until(timeout, Duration::from_millis(50), || {
            self.status().is_ok_and(|s| ready(&s))
        })
        .with_context(|| {
            format!(
                "{}: {what}; status: {:?}\nlog:\n{}",
                self.label,
                self.status().ok(),
                self.log()
            )
        })
    }

    /// The daemon's `status` in text form.
    pub fn status_text(&self) -> Result<String> {
        let out = self
            .status_command(false)
            .output()
            .context("running lb-daemon status")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn status_command(&self, json: bool) -> Command {
        let mut cmd = Command::new(daemon_binary().unwrap_or_else(|_| "lb-daemon".into()));
        cmd.arg("status")
            .arg("--runtime-dir")
            .arg(&self.runtime_dir);
        if json {
            cmd.arg("--json");
        }
        cmd
    }

    /// The label given at start (the lab names daemons after their node).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Everything the daemon logged so far.
    pub fn log(&self) -> String {
        self.log.contents()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<()> {
        self.log
            .wait_for(needle, timeout)
            .with_context(|| self.label.clone())
    }

    /// The runtime directory (pid file, control socket).
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// Runs `lb-daemon VERB --runtime-dir DIR ARGS...` against this daemon
    /// (`drain`, `undrain`, `status`).
    pub fn control(&self, verb: &str, args: &[&str]) -> Result<std::process::Output> {
        Ok(Command::new(daemon_binary()?)
            .arg(verb)
            .arg("--runtime-dir")
            .arg(self.runtime_dir())
            .args(args)
            .output()?)
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the daemon with SIGKILL, as a crash would, and reaps it. What
    /// it leaves behind (VIPs, pinned maps, pid file, socket) stays for the
    /// next daemon in the same runtime directory to deal with.
    pub fn kill(mut self) -> Result<()> {
        self.pins.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.child.signal(Signal::SIGKILL)?;
        self.child.stop(Duration::from_secs(5))?;
        Ok(())
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        self.child.signal(signal)
    }

    /// Stops the daemon with SIGTERM (SIGKILL after a grace period) and
    /// returns how it exited.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        self.child.stop(Duration::from_secs(5))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.stop(Duration::from_secs(5));
        if let Some(dir) = self.pins.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Removes pin directories of test daemons whose runtime directory is gone
/// (their test process was killed before it could clean up); returns them.
/// A daemon's pin directory is named after its runtime directory's path.
pub fn sweep_stale_pins() -> Vec<PathBuf> {
    let tmp = std::env::temp_dir();
    let prefix = tmp.join(RUNTIME_PREFIX);
    let pin_prefix: String = prefix.to_string_lossy().trim_matches('/').replace('/', "_");
    let Ok(entries) = std::fs::read_dir(BPFFS_ROOT) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&pin_prefix))
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let suffix = &name[pin_prefix.len()..];
            !tmp.join(format!("{RUNTIME_PREFIX}{suffix}")).exists()
        })
        .map(|e| e.path())
        .filter(|p| std::fs::remove_dir_all(p).is_ok())
        .collect()
}
