//! [`Netns`]: a guard owning one uniquely named network namespace, and
//! [`NsChild`]: a guard owning a process group running inside one.

use std::ffi::OsStr;
use std::fmt;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::names;

/// Serialises `ip netns add` within the process: concurrent first uses race
/// on setting up the `/var/run/netns` mount.
static CREATE_LOCK: Mutex<()> = Mutex::new(());
static SWEEP: Once = Once::new();

/// Run a command to completion; error (with command, status and stderr)
/// unless it exits successfully. Returns stdout.
pub fn run_cmd<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot execute {}", describe(&cmd)))?;
    check_output(&cmd, out)
}

/// Human-readable rendering of a command line for error messages.
fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Turn a finished command's output into its stdout, or an error naming the
/// command, its exit status and its stderr.
fn check_output(cmd: &Command, out: Output) -> Result<String> {
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cmd` in a new process group, stdin from /dev/null, no signal blocked.
pub fn detached(mut cmd: Command) -> Command {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null()).process_group(0);
    // SAFETY: pthread_sigmask is async-signal-safe; nothing is allocated.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::SigSet::empty()
                .thread_set_mask()
                .map_err(std::io::Error::from)
        });
    }
    cmd
}

/// A network namespace created by this library, deleted on drop together
/// with every process still inside it.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Create a fresh namespace named `lbt{pid}x{counter}-{role}` with `lo` up.
    pub fn new(role: &str) -> Result<Netns> {
        Netns::create(format!("{}{role}", names::unique_prefix()))
    }

    /// Create namespace `name` (which must follow the lab naming pattern, see
    /// [`names`]) with `lo` up. The first creation in a process also sweeps
    /// stale namespaces of dead runs.
    pub(crate) fn create(name: String) -> Result<Netns> {
        debug_assert!(names::owner_pid(&name) == Some(std::process::id()));
        SWEEP.call_once(|| {
            names::sweep_stale();
        });
        {
            let _guard = CREATE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            run_cmd("ip", &["netns", "add", &name])?;
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (as used by `ip netns`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A [`Command`] running `args` inside the namespace via
    /// `ip netns exec NAME ...`, in a new process group, stdin from /dev/null,
    /// with no signal blocked (the lab's signal thread blocks SIGINT/SIGTERM/
    /// SIGHUP and children would otherwise inherit that mask).
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(args);
        detached(cmd)
    }

    /// As [`Netns::command`], but entering only the network namespace
    /// (`nsenter --net`): `ip netns exec` also gives the process its own
    /// mount namespace with a fresh /sys, where the host's /sys/fs/bpf (and
    /// what is pinned there) cannot be seen.
    pub fn net_only_command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.name))
            .arg("--")
            .args(args);
        detached(cmd)
    }

    /// Run `args` inside the namespace and return its output, whatever its
    /// exit status.
    pub fn exec<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Output> {
        let mut cmd = self.command(args);
        cmd.output()
            .with_context(|| format!("cannot execute {}", describe(&cmd)))
    }

    /// Run `args` inside the namespace; its stdout, or an error naming the
    /// command, its exit status and its stderr.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String> {
        let mut cmd = self.command(args);
        let out = cmd
            .output()
            .with_context(|| format!("cannot execute {}", describe(&cmd)))?;
        check_output(&cmd, out)
    }

    /// Run `ip -n NAME args...` (cheaper than `run(["ip", ...])`).
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        run_cmd("ip", &full)
    }

    /// Set sysctls inside the namespace, e.g. `("net.ipv4.ip_forward", "1")`.
    pub fn sysctl(&self, settings: &[(&str, &str)]) -> Result<()> {
        let mut args = vec!["sysctl".to_string(), "-q".into(), "-w".into()];
        args.extend(settings.iter().map(|(k, v)| format!("{k}={v}")));
        self.run(&args).map(drop)
    }

    /// Start `args` inside the namespace as a guarded process (stdout and
    /// stderr inherited).
    pub fn spawn<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<NsChild> {
        self.spawn_command(self.command(args))
    }

    /// Start a command prepared with [`Netns::command`] (and then customised,
    /// e.g. its stdio) as a guarded process.
    pub fn spawn_command(&self, mut cmd: Command) -> Result<NsChild> {
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot spawn {}", describe(&cmd)))?;
        Ok(NsChild {
            child,
            description: describe(&cmd),
        })
    }

    /// Pids of all processes currently inside the namespace.
    pub fn pids(&self) -> Result<Vec<i32>> {
        Ok(run_cmd("ip", &["netns", "pids", &self.name])?
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect())
    }

    /// Run `f` on a fresh thread that has entered this namespace; see
    /// [`crate::in_netns`].
    pub fn in_ns<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T> {
        crate::in_netns(&self.name, f)
    }
}

impl AsRef<str> for Netns {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for Netns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Netns").field(&self.name).finish()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        names::destroy_namespace(&self.name);
    }
}

/// A process (and its process group) started in a namespace; on drop the
/// group gets SIGTERM, then SIGKILL if it has not exited within a short
/// grace period, and the process is reaped.
pub struct NsChild {
    child: Child,
    description: String,
}

/// How long a dropped [`NsChild`] may take to exit after SIGTERM.
const GRACE: Duration = Duration::from_millis(1500);

impl NsChild {
    /// Pid of the process (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The underlying [`Child`] (e.g. to take its stdout).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Its exit status if it has exited, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("waiting for {}", self.description))
    }

    /// Send `signal` to the whole process group.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        killpg(Pid::from_raw(self.child.id() as i32), signal)
            .with_context(|| format!("sending {signal} to {}", self.description))
    }

    /// SIGTERM the group, wait up to `grace`, SIGKILL it if still running;
    /// returns the exit status.
    pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus> {
        let _ = self.signal(Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait()? {
                let _ = self.signal(Signal::SIGKILL);
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.signal(Signal::SIGKILL);
        self.child
            .wait()
            .with_context(|| format!("waiting for {}", self.description))
    }
}

impl fmt::Debug for NsChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NsChild({} `{}`)", self.child.id(), self.description)
    }
}

impl Drop for NsChild {
    fn drop(&mut self) {
        let _ = self.stop(GRACE);
    }
}
