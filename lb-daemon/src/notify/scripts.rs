//! Which notify scripts run for an event, with which arguments, and how their
//! results are logged.
//!
//! keepalived (`vrrp/vrrp_notify.c`, `send_instance_notifies` /
//! `send_group_notifies`) launches the state's own script (`notify_master`,
//! `notify_backup`, `notify_fault`, `notify_stop`) as configured, then the
//! generic `notify` script with four arguments appended to its configured
//! ones: `INSTANCE|GROUP <name> MASTER|BACKUP|FAULT|STOP <priority>`, the
//! priority being the effective priority for an instance and always 0 for a
//! group. Both are forked without waiting, so they run concurrently.

use std::time::Duration;

use tracing::{debug, error, info, warn};

use super::{Event, Hooks};
use crate::config::{Command, RunAs};
use crate::script::{self, ScriptEnv};

/// One script to run for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Job {
    /// Log prefix: `(VI_1)` or `VRRP_Group(VG_1)`.
    pub label: String,
    /// Config keyword, for the log: `notify_master`, `notify`, ...
    pub keyword: &'static str,
    /// The configured command.
    pub command: Command,
    /// Arguments appended to the configured command line.
    pub extra_args: Vec<String>,
}

/// The scripts `hooks` configures for `event`, in keepalived's launch order.
pub(super) fn jobs(hooks: &Hooks<'_>, event: Event, priority: u8) -> Vec<Job> {
    let (keyword, specific) = match event {
        Event::Master => ("notify_master", hooks.master),
        Event::Backup => ("notify_backup", hooks.backup),
        Event::Fault => ("notify_fault", hooks.fault),
        Event::Stop => ("notify_stop", hooks.stop),
    };
    let job = |keyword, command: &Command, extra_args| Job {
        label: hooks.label(),
        keyword,
        command: command.clone(),
        extra_args,
    };
    let mut jobs: Vec<Job> = specific
        .map(|command| job(keyword, command, Vec::new()))
        .into_iter()
        .collect();
    if let Some(command) = hooks.generic {
        let priority = if hooks.group { 0 } else { priority };
        let args = vec![
            hooks.kind().to_string(),
            hooks.name.to_string(),
            event.word().to_string(),
            priority.to_string(),
        ];
        jobs.push(job("notify", command, args));
    }
    jobs
}

/// The user (and group) a command names, if any.
fn run_as(command: &Command) -> Option<RunAs> {
    command.user.as_ref().map(|user| RunAs {
        user: user.clone(),
        group: command.group.clone(),
    })
}

/// Runs `job` to completion (or its timeout) and logs what happened.
pub(super) async fn run(job: Job, env: &ScriptEnv, timeout: Duration) {
    let Job {
        label,
        keyword,
        command,
        extra_args,
    } = job;
    let script = command.script.as_str();
    debug!("{label} running {keyword} `{script}` {extra_args:?}");
    let user = run_as(&command);
    let outcome = match script::run(script, &extra_args, user.as_ref(), env, timeout).await {
        Ok(outcome) => outcome,
        Err(e) => {
            error!("{label} cannot run {keyword} script `{script}`: {e:#}");
            return;
        }
    };
    for line in outcome.output.lines().filter(|l| !l.trim().is_empty()) {
        info!("{label} {keyword} `{script}`: {line}");
    }
    match outcome.code {
        _ if outcome.timed_out => warn!(
            "{label} {keyword} script `{script}` timed out after {:.1}s - killed",
            timeout.as_secs_f64()
        ),
        Some(0) => debug!("{label} {keyword} script `{script}` exited with status 0"),
        Some(code) => warn!("{label} {keyword} script `{script}` exited with status {code}"),
        None => warn!("{label} {keyword} script `{script}` was terminated by a signal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(script: &str) -> Command {
        Command {
            script: script.into(),
            user: None,
            group: None,
        }
    }

    #[test]
    fn generic_notify_gets_four_more_arguments() {
        let (master, generic) = (cmd("/m.sh x"), cmd("/n.sh a"));
        let hooks = Hooks {
            group: false,
            name: "VI_1",
            master: Some(&master),
            backup: None,
            fault: None,
            stop: None,
            generic: Some(&generic),
            smtp_alert: false,
        };
        let jobs = jobs(&hooks, Event::Master, 150);
        assert_eq!(jobs.len(), 2);
        assert_eq!(
            (jobs[0].keyword, jobs[0].extra_args.len()),
            ("notify_master", 0)
        );
        assert_eq!(jobs[1].extra_args, ["INSTANCE", "VI_1", "MASTER", "150"]);
        assert!(super::jobs(&hooks, Event::Backup, 150).len() == 1);
        let group = Hooks {
            group: true,
            ..hooks
        };
        let jobs = super::jobs(&group, Event::Stop, 150);
        assert_eq!(jobs[0].extra_args, ["GROUP", "VI_1", "STOP", "0"]);
        assert_eq!(jobs[0].label, "VRRP_Group(VI_1)");
    }

    #[test]
    fn command_user_and_group() {
        let mut command = cmd("/x");
        assert_eq!(run_as(&command), None);
        command.user = Some("nobody".into());
        command.group = Some("nogroup".into());
        let run_as = run_as(&command).unwrap();
        assert_eq!(
            (run_as.user.as_str(), run_as.group.as_deref()),
            ("nobody", Some("nogroup"))
        );
    }
}
