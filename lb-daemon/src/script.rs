//! The one way lb-daemon runs external commands (`vrrp_script`, `notify*`,
//! MISC_CHECK), following keepalived 2.x (`lib/notify.c`):
//!
//! * The configured command line is split into words like keepalived's
//!   `alloc_strvec_quoted_escaped` (whitespace separates words, `'…'` and
//!   `"…"` quote, `\` escapes, C escapes such as `\t` and `\x41` are
//!   decoded) and the first word is `execve`d directly with
//!   the rest as arguments: no shell, so `$VAR`, globs and pipes are passed
//!   literally, exactly as keepalived does.
//! * A bare program name is looked up in `PATH` (keepalived warns "resolved by
//!   path search"; we accept it silently).
//! * A command starting with `<` and `/` (`"</dev/tcp/127.0.0.1/80"`) is run by
//!   the shell, as keepalived's `SC_SYSTEM` scripts are (`system(3)`).
//! * An executable file without `#!` or ELF header is run by the shell too
//!   (keepalived does this when built with libmagic).
//! * Extension: when the first word is not a program at all and the line
//!   contains shell syntax (`if [ -f x ]; then …; fi`, `a && b`, `a | b`),
//!   keepalived 2.x disables the script ("Cannot find script if in path");
//!   lb-daemon runs the whole line with the shell instead so tutorial configs
//!   work.
//!
//! The shell is `/bin/bash` when present, else `/bin/sh`: keepalived's
//! `system(3)` uses `/bin/sh`, which is bash on the distributions the tutorials
//! were written for, and `</dev/tcp/…` only works in bash (Debian's dash would
//! make such a check fail forever).
//!
//! Every run gets its own process group (keepalived: `setpgid(0, 0)`), dies
//! with the daemon (`PR_SET_PDEATHSIG`), keeps no daemon descriptor past
//! stderr, gets the daemon's environment less [`SCRUBBED_ENV`], and when it
//! exits, times out or the future running it is dropped, the whole group
//! is killed with SIGKILL (background children included).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{Gid, Group, Pid, Uid, User};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::config::{GlobalDefs, RunAs};

/// The user keepalived runs scripts as when `script_user` is not set, if it
/// exists (otherwise root).
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// Bytes of combined stdout+stderr kept in [`Outcome::output`].
pub const OUTPUT_LIMIT: usize = 8192;

/// Variables removed from every script's environment: systemd's
/// notification and watchdog variables (a script must not speak for the
/// daemon) and, as keepalived does, IFS and the dynamic loader's overrides.
pub const SCRUBBED_ENV: &[&str] = &[
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "IFS",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
];

/// How long to keep reading output after the script exited (its background
/// children may hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// How scripts run: keepalived's enable_script_security / script_user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScriptEnv {
    /// `enable_script_security`: refuse scripts run as root whose path a
    /// non-root user could modify.
    pub security: bool,
    /// `script_user`, else `keepalived_script` when that user exists; `None`
    /// runs scripts as the daemon's own user (root).
    pub default_user: Option<RunAs>,
}

impl ScriptEnv {
    /// The script environment of a configuration's `global_defs`.
    pub fn new(global: &GlobalDefs) -> ScriptEnv {
        let default_user = global.script_user.clone().or_else(|| {
            User::from_name(DEFAULT_SCRIPT_USER)
                .ok()
                .flatten()
                .map(|_| RunAs {
                    user: DEFAULT_SCRIPT_USER.to_string(),
                    group: None,
                })
        });
        if default_user.is_none() && global.enable_script_security {
            tracing::warn!(
                "WARNING - default user '{DEFAULT_SCRIPT_USER}' for script execution does not exist - please create."
            );
        }
        ScriptEnv {
            security: global.enable_script_security,
            default_user,
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Exit status; `None` when killed by a signal or by the timeout.
    pub code: Option<i32>,
    /// The run was killed because it exceeded its timeout.
    pub timed_out: bool,
    /// stdout and stderr, truncated to [`OUTPUT_LIMIT`] bytes.
    pub output: String,
}

impl Outcome {
    /// Exit status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// How a command line is started.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    /// `execve(program, args)`.
    Exec { program: PathBuf, args: Vec<String> },
    /// `shell -c line`.
    Shell(String),
}

/// Runs `command` (a command line as configured, e.g. "killall -0 nginx",
/// "/etc/keepalived/x.sh master", "</dev/tcp/127.0.0.1/80",
/// "if [ -f /x ]; then exit 0; else exit 1; fi") with `extra_args` appended,
/// as `user` (or `env.default_user`), killing it (its whole process group)
/// after `timeout`.
///
/// Errors mean the script could not be started at all (not found, not
/// executable, unknown user, refused by `enable_script_security`); a script
/// that runs and fails is an `Ok` [`Outcome`].
pub async fn run(
    command: &str,
    extra_args: &[String],
    user: Option<&RunAs>,
    env: &ScriptEnv,
    timeout: Duration,
) -> Result<Outcome> {
    let (uid, gid) = resolve_user(user.or(env.default_user.as_ref()))?;
    let plan = plan(command, extra_args, uid, gid)?;
    if let Plan::Exec { program, .. } = &plan {
        check_secure(command, program, uid, gid, env.security)?;
    }
    let mut cmd = match &plan {
        Plan::Exec { program, args } => {
            let mut cmd = std::process::Command::new(program);
            cmd.args(args);
            cmd
        }
        Plan::Shell(line) => {
            let mut cmd = std::process::Command::new(shell());
            cmd.arg("-c").arg(line);
            cmd
        }
    };
    if uid != Uid::current() || gid != Gid::current() {
        cmd.uid(uid.as_raw()).gid(gid.as_raw());
    }
    // keepalived's environment: the daemon's, less what would let a script
    // talk to systemd as the daemon or change how programs load and split.
    for name in SCRUBBED_ENV {
        cmd.env_remove(name);
    }
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            crate::signals::restore_defaults_in_child();
            // No daemon descriptor past stderr survives the exec (belt and
            // braces over O_CLOEXEC, as keepalived's close_range).
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            Ok(())
        });
    }
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("Error exec-ing command '{command}'"))?;
    let mut group = GroupGuard(child.id().map(|pid| Pid::from_raw(pid as i32)));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let collect = tokio::spawn(collect_output(stdout, stderr));

    let (status, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => (status?, false),
        Err(_) => {
            group.kill();
            (child.wait().await?, true)
        }
    };
    // What the script left running in its group (`sleep 1000 &`) ends
    // with it, so runs never pile up orphans.
    group.kill();
    let output = tokio::time::timeout(OUTPUT_GRACE, collect)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Ok(Outcome {
        code: if timed_out { None } else { status.code() },
        timed_out,
        output,
    })
}

/// Kills the process group when dropped while still armed, so a cancelled
/// run never leaves processes behind.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
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

/// The shell for command lines that need one.
fn shell() -> &'static str {
    if Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "/bin/sh"
    }
}

/// uid and gid for `user` (its primary group unless a group is given); the
/// daemon's own ids for `None`.
fn resolve_user(user: Option<&RunAs>) -> Result<(Uid, Gid)> {
    let Some(run_as) = user else {
        return Ok((Uid::current(), Gid::current()));
    };
    let found = User::from_name(&run_as.user)
        .with_context(|| format!("Unable to resolve script username '{}'", run_as.user))?
        .ok_or_else(|| anyhow!("Script user '{}' does not exist", run_as.user))?;
    let gid = match &run_as.group {
        None => found.gid,
        Some(name) => {
            Group::from_name(name)
                .with_context(|| format!("Unable to resolve script group name '{name}'"))?
                .ok_or_else(|| anyhow!("Script group '{name}' does not exist"))?
                .gid
        }
    };
    Ok((found.uid, gid))
}

/// Decides how to start `command`.
fn plan(command: &str, extra_args: &[String], uid: Uid, gid: Gid) -> Result<Plan> {
    let trimmed = command.trim_start();
    if trimmed.is_empty() {
        bail!("empty script");
    }
    let shell_line = || {
        let mut line = command.to_string();
        for arg in extra_args {
            line.push(' ');
            line.push_str(&shell_quote(arg));
        }
        Plan::Shell(line)
    };
    if let Some(rest) = trimmed.strip_prefix('<') {
        if rest.trim_start().starts_with('/') {
            return Ok(shell_line());
        }
    }
    let words = crate::config::script_words(command).ok();
    let first = words.as_ref().and_then(|w| w.first()).cloned();
    let program = match &first {
        Some(first) if first.contains('/') => Some(PathBuf::from(first)),
        Some(first) => search_path(first, uid, gid),
        None => None,
    };
    match (program, words) {
        (Some(program), Some(mut words)) => {
            if !program.exists() {
                bail!(
                    "Script {} cannot be accessed - not found",
                    program.display()
                );
            }
            if needs_interpreter(&program) {
                return Ok(shell_line());
            }
            words.remove(0);
            words.extend(extra_args.iter().cloned());
            Ok(Plan::Exec {
                program,
                args: words,
            })
        }
        _ if has_shell_syntax(command) => Ok(shell_line()),
        _ => bail!(
            "Cannot find script {} in path",
            first.as_deref().unwrap_or(command)
        ),
    }
}

/// Whether a line uses shell syntax a plain `execve` cannot honour.
fn has_shell_syntax(line: &str) -> bool {
    const KEYWORDS: [&str; 7] = ["if", "for", "while", "until", "case", "[", "!"];
    line.contains([';', '&', '|', '<', '>', '(', ')', '$', '`'])
        || line
            .split_whitespace()
            .next()
            .is_some_and(|w| KEYWORDS.contains(&w))
}

/// Quotes `arg` for the shell.
fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// An executable regular file without `#!` or ELF magic: `execve` fails with
/// ENOEXEC, so the shell has to interpret it.
fn needs_interpreter(program: &Path) -> bool {
    let mut head = [0u8; 4];
    let Ok(mut file) = fs::File::open(program) else {
        return false;
    };
    let n = std::io::Read::read(&mut file, &mut head).unwrap_or(0);
    !(head[..n].starts_with(b"#!") || head[..n].starts_with(b"\x7fELF"))
}

/// `PATH` search for a bare program name, as `execvp` (and keepalived's
/// `find_path`) do: the first regular file executable by uid:gid.
fn search_path(name: &str, uid: Uid, gid: Gid) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate).is_ok_and(|m| m.is_file() && is_executable(&m, uid, gid))
        })
}

/// keepalived's `is_executable`.
fn is_executable(meta: &fs::Metadata, uid: Uid, gid: Gid) -> bool {
    let mode = meta.permissions().mode();
    if uid.is_root() {
        mode & 0o111 != 0
    } else if uid.as_raw() == meta.uid() {
        mode & 0o100 != 0
    } else if gid.as_raw() == meta.gid() {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

/// keepalived's `check_script_secure`: a script must be executable by the
/// user running it; when that user (or group) is root, or the file is
/// set-uid/gid root, no part of its path (nor of the path it resolves to) may
/// be writable by a non-root user. Unsafe scripts are refused with
/// `enable_script_security` and logged otherwise.
fn check_secure(command: &str, program: &Path, uid: Uid, gid: Gid, security: bool) -> Result<()> {
    let meta = fs::metadata(program)
        .with_context(|| format!("Unable to access script `{}`", program.display()))?;
    if !is_executable(&meta, uid, gid) {
        bail!(
            "script '{}' is not executable for uid:gid {}:{}",
            program.display(),
            uid,
            gid
        );
    }
    let mode = meta.permissions().mode();
    let setid_root = (meta.uid() == 0 && mode & 0o4100 == 0o4100)
        || (meta.gid() == 0 && mode & 0o2010 == 0o2010);
    if !(uid.is_root() || gid.as_raw() == 0 || setid_root) {
        return Ok(());
    }
    let real = fs::canonicalize(program)?;
    for path in [program, real.as_path()] {
        if let Some(unsafe_part) = insecure_component(path) {
            let why = format!(
                "Unsafe permissions found for script '{}' ('{}' is writable by a non-root user)",
                program.display(),
                unsafe_part.display()
            );
            if security {
                bail!("refusing to run script `{command}`: {why} - enable_script_security is set");
            }
            tracing::warn!("{why}");
            return Ok(());
        }
    }
    Ok(())
}

/// The first component of `path` (from `/` down) a non-root user could
/// modify: owned by non-root, or group-writable by a non-root group or
/// world-writable (directories with the sticky bit excepted).
fn insecure_component(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    absolute
        .ancestors()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find_map(|part| {
            let meta = fs::symlink_metadata(part).ok()?;
            let mode = meta.permissions().mode();
            let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
            let writable = (meta.gid() != 0 && mode & 0o020 != 0) || mode & 0o002 != 0;
            let symlink = meta.file_type().is_symlink();
            (meta.uid() != 0 || (!sticky_dir && !symlink && writable)).then(|| part.to_path_buf())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let (uid, gid) = (Uid::current(), Gid::current());
        let plan_of = |line: &str| plan(line, &["x y".into()], uid, gid).unwrap();
        assert_eq!(
            plan_of("</dev/tcp/127.0.0.1/80"),
            Plan::Shell("</dev/tcp/127.0.0.1/80 'x y'".into())
        );
        assert!(matches!(
            plan_of("if true; then exit 0; fi"),
            Plan::Shell(_)
        ));
        match plan_of("true -a") {
            Plan::Exec { program, args } => {
                assert!(program.is_absolute());
                assert_eq!(args, ["-a", "x y"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(plan("no-such-program-lb", &[], uid, gid).is_err());
    }
}
