//! Starting a script isolated from the daemon and making sure nothing of it
//! outlives the run.
//!
//! The child gets (keepalived's `system_call_script` and `set_script_env`,
//! plus what keepalived leaves to chance):
//!
//! * its own session, so its own process group (keepalived: `setpgid(0,
//!   0)`), and no controlling terminal;
//! * no daemon file descriptor: everything above stderr is marked
//!   close-on-exec (`close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`, as keepalived
//!   2.3.4+), stdin is `/dev/null`, stdout and stderr are pipes read by the
//!   daemon;
//! * only `PATH` ([`SCRIPT_PATH`]) in its environment: nothing of the
//!   daemon's (`NOTIFY_SOCKET`, `WATCHDOG_*`, `LD_PRELOAD`, `IFS`, …);
//! * default signal dispositions and an empty signal mask (keepalived's
//!   `signal_handler_script`);
//! * SIGTERM when the daemon dies (`PR_SET_PDEATHSIG`, as keepalived).
//!
//! When the script exits, times out or its run is cancelled, the whole
//! process group is sent SIGTERM, then SIGKILL after [`GRACE`] if anything
//! is left (keepalived's timeout sequence, `kill(-pid, SIGTERM)` then
//! `SIGKILL`), so background children (`sleep 1000 &`) die with the script.
//! keepalived only does that on timeout. A process that starts its own
//! session (`setsid`, as daemons do) leaves the group and is not touched.

use std::io;
use std::os::unix::process::CommandExt as _;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{Gid, Pid, Uid};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Child;
use tokio::task::JoinHandle;

use super::command::{Plan, SCRIPT_PATH};
use super::{Outcome, OUTPUT_LIMIT};

/// How long a script's process group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(1);

/// How long to keep reading output after the script's group is gone (a
/// process that left the group may still hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// How often to look whether a terminated group is gone.
const POLL: Duration = Duration::from_millis(20);

/// Runs `plan` as `uid`:`gid`; `command` is the configured line, for
/// errors.
pub(super) async fn run(
    plan: &Plan,
    command: &str,
    uid: Uid,
    gid: Gid,
    timeout: Duration,
) -> Result<Outcome> {
    let (program, args) = plan.argv();
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", SCRIPT_PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if uid != Uid::current() || gid != Gid::current() {
        cmd.uid(uid.as_raw()).gid(gid.as_raw());
    }
    // SAFETY: isolate only makes async-signal-safe system calls and touches
    // no memory of the parent.
    unsafe { cmd.pre_exec(isolate) };
    let mut child = tokio::process::Command::from(cmd)
        .spawn()
        .with_context(|| format!("Error exec-ing command '{command}'"))?;
    let mut group = Group::new(&child);
    let output = Output(tokio::spawn(collect_output(
        child.stdout.take(),
        child.stderr.take(),
    )));

    let timed_out = tokio::time::timeout(timeout, child.wait()).await.is_err();
    let status = group.terminate(&mut child).await?;
    Ok(Outcome {
        code: if timed_out { None } else { status.code() },
        timed_out,
        output: output.finish().await,
    })
}

/// In the child between `fork` and `exec`: own session, no inherited
/// descriptors, default signals, death signal.
fn isolate() -> io::Result<()> {
    nix::unistd::setsid()?;
    close_descriptors();
    crate::limits::restore_nofile_in_child();
    for signal in 1..=libc::SIGRTMAX() {
        // SAFETY: resets a disposition; SIGKILL/SIGSTOP just fail.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    Ok(())
}

/// Marks every descriptor above stderr close-on-exec, so a script inherits
/// none of the daemon's sockets, maps or pipes whatever flags they were
/// opened with.
fn close_descriptors() {
    // SAFETY: close_range only changes descriptor flags.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    } == 0;
    if done {
        return;
    }
    // Kernels before 5.11: one fcntl per possible descriptor.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `limit`.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur.min(libc::c_int::MAX as libc::rlim_t) as libc::c_int
    } else {
        65536
    };
    for fd in 3..max {
        // SAFETY: fcntl on a descriptor number; closed ones fail with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// A script's process group (its session leader's pid). Dropped while still
/// armed (the run was cancelled), it is sent SIGTERM, and SIGKILL after
/// [`GRACE`].
struct Group {
    pgid: Option<Pid>,
}

impl Group {
    fn new(child: &Child) -> Group {
        Group {
            pgid: child.id().map(|pid| Pid::from_raw(pid as i32)),
        }
    }

    /// Ends the run: reaps the leader and kills whatever else is left in
    /// the group (SIGTERM, SIGKILL after [`GRACE`]); returns the leader's
    /// exit status.
    async fn terminate(&mut self, child: &mut Child) -> io::Result<ExitStatus> {
        let Some(pgid) = self.pgid else {
            return child.wait().await;
        };
        let mut status = child.try_wait()?;
        if status.is_some() && !group_alive(pgid) {
            self.pgid = None;
            return child.wait().await;
        }
        let _ = killpg(pgid, Signal::SIGTERM);
        let deadline = tokio::time::Instant::now() + GRACE;
        loop {
            status = match status {
                Some(status) => Some(status),
                None => child.try_wait()?,
            };
            if status.is_some() && !group_alive(pgid) {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(
                    "Script process group {pgid} still running {:.1}s after SIGTERM - sending SIGKILL",
                    GRACE.as_secs_f64()
                );
                let _ = killpg(pgid, Signal::SIGKILL);
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        self.pgid = None;
        child.wait().await
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let Some(pgid) = self.pgid.take() else {
            return;
        };
        let _ = killpg(pgid, Signal::SIGTERM);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let _ = killpg(pgid, Signal::SIGKILL);
            return;
        };
        // The follow-up SIGKILL; should the runtime drop it first, the
        // guard's own drop sends it at once.
        let last = LastKill(pgid);
        runtime.spawn(async move {
            tokio::time::sleep(GRACE).await;
            drop(last);
        });
    }
}

/// Sends SIGKILL to a terminated group when dropped, if it is still alive.
struct LastKill(Pid);

impl Drop for LastKill {
    fn drop(&mut self) {
        if group_alive(self.0) {
            let _ = killpg(self.0, Signal::SIGKILL);
        }
    }
}

/// Whether any process of group `pgid` is alive (zombies waiting for their
/// new parent to reap them do not count).
fn group_alive(pgid: Pid) -> bool {
    if killpg(pgid, None) == Err(Errno::ESRCH) {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid pgrp ...: comm may contain anything but ')'.
        let mut fields = stat
            .rsplit_once(')')
            .map_or("", |(_, f)| f)
            .split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1);
        state.is_some_and(|s| s != "Z" && s != "X") && pgrp == Some(&pgid.to_string())
    })
}

/// The task reading a run's output; aborted (closing the pipes) if it has
/// not finished [`OUTPUT_GRACE`] after the run.
struct Output(JoinHandle<String>);

impl Output {
    async fn finish(mut self) -> String {
        let output = tokio::time::timeout(OUTPUT_GRACE, &mut self.0).await;
        output.ok().and_then(Result::ok).unwrap_or_default()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads both pipes to the end, keeping the first [`OUTPUT_LIMIT`] bytes.
async fn collect_output(
    stdout: Option<impl AsyncRead + Unpin>,
    stderr: Option<impl AsyncRead + Unpin>,
) -> String {
    let (out, err) = tokio::join!(read_limited(stdout), read_limited(stderr));
    let mut all = out;
    all.extend(err);
    all.truncate(OUTPUT_LIMIT);
    String::from_utf8_lossy(&all).into_owned()
}

async fn read_limited(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else { return kept };
    let mut buf = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = OUTPUT_LIMIT.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    kept
}
