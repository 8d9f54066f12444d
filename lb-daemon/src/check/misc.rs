//! `MISC_CHECK`, as keepalived's `check_misc.c`: runs `misc_path` (as
//! `user`) through [`crate::script::run`], killing it after `misc_timeout`
//! (keepalived's default is the checker's `delay_loop`; the caller passes
//! it in, see [`MiscCheck::new`]).
//!
//! * exit 0: up. With `misc_dynamic` the real server gets back its
//!   configured weight (keepalived restores `iweight`).
//! * `misc_dynamic` and exit 2-255: up with weight `code - 2`.
//! * any other exit (1 always; any non-zero code without `misc_dynamic`),
//!   death by a signal, the timeout, or a script that cannot start: down.

use std::time::Duration;

use anyhow::{Context, Result};

use super::{Attempt, Check, Outcome, Reason, Target};
use crate::config::{Checker, RunAs};
use crate::script::{self, ScriptEnv};

/// `MISC_CHECK`.
#[derive(Debug, Clone)]
pub struct MiscCheck {
    /// The command line.
    path: String,
    /// Run as this user instead of the script default.
    user: Option<RunAs>,
    /// `misc_timeout`, else the default passed to [`MiscCheck::new`].
    timeout: Duration,
    /// `misc_dynamic`: the real server's configured weight, restored on
    /// exit 0.
    dynamic: Option<u32>,
    /// How scripts run (`enable_script_security`, `script_user`).
    env: ScriptEnv,
}

impl MiscCheck {
    /// Builds the check. `default_timeout` applies without `misc_timeout`
    /// (keepalived uses `delay_loop`); `rs_weight` is the real server's
    /// configured weight, which `misc_dynamic` restores on exit 0.
    pub fn new(
        checker: &Checker,
        env: ScriptEnv,
        default_timeout: Duration,
        rs_weight: u32,
    ) -> Result<MiscCheck> {
        let path = checker
            .misc_path
            .clone()
            .filter(|p| !p.trim().is_empty())
            .context("MISC_CHECK without misc_path")?;
        Ok(MiscCheck {
            path,
            user: checker.user.clone(),
            timeout: checker
                .misc_timeout
                .map_or(default_timeout, |s| Duration::from_secs(s.into())),
            dynamic: checker.misc_dynamic.then_some(rs_weight),
            env,
        })
    }

    /// The verdict on a finished run.
    fn judge(&self, run: &script::Outcome) -> Outcome {
        if run.timed_out {
            return Outcome::down(
                Reason::Timeout,
                format!(
                    "Misc check for [{}] timed out after {:?}",
                    self.path, self.timeout
                ),
            );
        }
        match (run.code, self.dynamic) {
            (Some(0), None) => Outcome::Up,
            (Some(0), Some(weight)) => Outcome::UpWithWeight(weight),
            (Some(code @ 2..=255), Some(_)) => Outcome::UpWithWeight(code as u32 - 2),
            (Some(code), _) => Outcome::down(
                Reason::Script,
                format!(
                    "Misc check for [{}] failed with exit status {code}",
                    self.path
                ),
            ),
            (None, _) => {
                let message = format!("Misc check for [{}] killed by a signal", self.path);
                Outcome::down(Reason::Script, message)
            }
        }
    }
}

impl Check for MiscCheck {
    fn kind(&self) -> &'static str {
        "MISC_CHECK"
    }

    /// Runs the script; `target` is not used (the script knows what to
    /// check), and the bound is `misc_timeout`, not `connect_timeout`.
    fn check<'a>(&'a self, _target: &'a Target) -> Attempt<'a> {
        Box::pin(async move {
            match script::run(&self.path, &[], self.user.as_ref(), &self.env, self.timeout).await {
                Ok(run) => self.judge(&run),
                Err(e) => Outcome::down(
                    Reason::Setup,
                    format!("Misc check for [{}]: {e:#}", self.path),
                ),
            }
        })
    }
}
