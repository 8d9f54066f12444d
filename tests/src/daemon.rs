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

use crate::{log::Log, wait_until, Netns, NsChild};

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

/// A running `lb-daemon`; dropping it stops the process (SIGTERM, then
/// SIGKILL) and removes the maps a killed daemon left pinned.
pub struct Daemon {
    child: NsChild,
    label: String,
    runtime_dir: TempDir,
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
        let runtime_dir = tempfile::Builder::new().prefix(RUNTIME_PREFIX).tempdir()?;
        // Network namespace only: the daemon pins its maps in the host's bpffs.
        let mut cmd = ns.net_only_command(&[daemon_binary()?.as_os_str()]);
        cmd.args(args)
            .args(["-n", "-l", "-f"])
            .arg(config)
            .arg("--runtime-dir")
            .arg(runtime_dir.path())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = ns.spawn_command(cmd)?;
        let log = Log::default();
        log.capture(
            child.child_mut().stderr.take().context("daemon stderr")?,
            label,
        );
        let mut daemon = Daemon {
            child,
            label: label.to_owned(),
            runtime_dir,
            log,
            pins: Default::default(),
        };
        let ready = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            daemon.status().is_ok()
        });
        if let Err(e) = ready {
            let exited = daemon.child.try_wait().ok().flatten();
            bail!(
                "{label}: lb-daemon did not come up ({e}; exit: {exited:?}); log:\n{}",
                daemon.log()
            );
        }
        Ok(daemon)
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
            .arg(self.runtime_dir.path());
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
        self.runtime_dir.path()
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
