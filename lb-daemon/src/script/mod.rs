//! The one way lb-daemon runs external commands (`vrrp_script`, `notify*`,
//! MISC_CHECK), following keepalived 2.x (`lib/notify.c`):
//!
//! * The configured command line is split into words like keepalived's
//!   `alloc_strvec_quoted_escaped` (whitespace separates words, `'…'` and
//!   `"…"` quote, `\` escapes) and the first word is `execve`d directly with
//!   the rest as arguments: no shell, so `$VAR`, globs and pipes are passed
//!   literally, exactly as keepalived does.
//! * A bare program name is looked up in the scripts' fixed `PATH`
//!   ([`SCRIPT_PATH`]; keepalived warns "resolved by path search"; we accept
//!   it silently).
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
//! Before every run, `enable_script_security` is enforced on every file the
//! run executes, however it is started: the script, its `#!` interpreters and
//! the shell (see `security.rs`). Each run is isolated from the daemon (own
//! session, no inherited descriptors, only `PATH` in its environment) and its
//! whole process group is killed when it exits, times out or is cancelled
//! (see `process.rs`).

mod command;
mod process;
mod security;

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use nix::unistd::{Gid, Group, Uid, User};

use crate::config::{GlobalDefs, RunAs};

pub use command::SCRIPT_PATH;

/// The user keepalived runs scripts as when `script_user` is not set, if it
/// exists (otherwise root).
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// Bytes of combined stdout+stderr kept in [`Outcome::output`].
pub const OUTPUT_LIMIT: usize = 8192;

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
    let plan = command::plan(command, extra_args, uid, gid)?;
    security::check(&plan, command, uid, gid, env.security)?;
    process::run(&plan, command, uid, gid, timeout).await
}

/// uid and gid for `user` (its primary group unless a group is given); the
/// daemon's own ids for `None`.
pub(crate) fn resolve_user(user: Option<&RunAs>) -> Result<(Uid, Gid)> {
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
