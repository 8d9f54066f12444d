//! The service manager's notify protocol (sd_notify(3), `Type=notify`):
//! `READY=1` once the first state is programmed, `RELOADING=1` then
//! `READY=1` around a SIGHUP, `STOPPING=1` at stop, a one-line `STATUS=`
//! whenever the summary changes, and `WATCHDOG=1` from the main loop while
//! `WATCHDOG_USEC` asks for it (a wedged loop stops pinging, and systemd
//! restarts the daemon).
//!
//! Without `NOTIFY_SOCKET` every call does nothing. `WATCHDOG_USEC` and
//! `WATCHDOG_PID` are read and removed from the environment at start;
//! `NOTIFY_SOCKET` stays (the sd-notify crate reads it at each call), and
//! no child sees it: scripts get `PATH` only (see [`crate::script`]) and
//! the other programs the daemon runs are started without it
//! ([`NOTIFY_SOCKET`]).
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::time::{interval, Interval, MissedTickBehavior};
use tracing::{debug, warn};

use crate::{state::desired::Counts, vrrp::fsm::State};

/// The environment variable naming the service manager's socket; programs
/// the daemon runs must be started without it.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// How often `STATUS=` is refreshed (when it changed) without a watchdog.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// The daemon's side of the notify protocol.
pub struct Systemd {
    /// Whether a service manager listens (`NOTIFY_SOCKET` set at start).
    enabled: bool,
    /// Half of `WATCHDOG_USEC`, when the watchdog is on for this process.
    watchdog: Option<Duration>,
    /// `READY=1` was sent for the start.
    ready: bool,
    /// The `STATUS=` line last sent.
    status: String,
}

impl Systemd {
    /// Reads `NOTIFY_SOCKET` and the watchdog settings, and removes
    /// `WATCHDOG_USEC`/`WATCHDOG_PID` from the environment.
    ///
    /// # Safety
    /// Changes the process environment: no other thread may be running.
    pub unsafe fn from_env() -> Systemd {
        let enabled = std::env::var_os(NOTIFY_SOCKET).is_some();
        // SAFETY: the caller guarantees no other thread runs.
        let usec = unsafe { sd_notify::watchdog_enabled_and_unset_env() };
        Systemd {
            enabled,
            watchdog: usec.filter(|_| enabled).map(|d| d / 2),
            ready: false,
            status: String::new(),
        }
    }

    /// The ticker of the main loop's [`Systemd::tick`] (watchdog pings and
    /// status refreshes), `None` when no service manager listens.
    pub fn ticker(&self) -> Option<Interval> {
        self.enabled.then(|| {
            let period = self.watchdog.map_or(STATUS_EVERY, |w| w.min(STATUS_EVERY));
            let mut ticker = interval(period);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticker
        })
    }

    /// From the main loop at every tick: `WATCHDOG=1` (when on), and
    /// `STATUS=` when the summary changed since `READY=1`.
    pub fn tick(&mut self, summary: String) {
        if self.watchdog.is_some() {
            self.send(&[NotifyState::Watchdog]);
        }
        if self.ready && summary != self.status {
            self.send(&[NotifyState::Status(&summary)]);
            self.status = summary;
        }
    }

    /// The first state is programmed (or a reload is done): `READY=1`.
    pub fn ready(&mut self, summary: String) {
        self.ready = true;
        self.send(&[NotifyState::Ready, NotifyState::Status(&summary)]);
        self.status = summary;
    }

    /// A SIGHUP reload starts (nothing before the start is complete: the
    /// start's `READY=1` is still to come).
    pub fn reloading(&self) {
        if self.ready {
            self.send(&[
                NotifyState::Reloading,
                NotifyState::monotonic_usec_now().expect("CLOCK_MONOTONIC is readable"),
                NotifyState::Status("Reloading the configuration"),
            ]);
        }
    }

    /// The reload is done: `READY=1` again (when the start was complete).
    pub fn reloaded(&mut self, summary: String) {
        if self.ready {
            self.ready(summary);
        }
    }

    /// Stopping: `STOPPING=1`.
    pub fn stopping(&self) {
        self.send(&[
            NotifyState::Stopping,
            NotifyState::Status("Stopping: releasing VIPs and services"),
        ]);
    }

    fn send(&self, states: &[NotifyState]) {
        if !self.enabled {
            return;
        }
        match sd_notify::notify(states) {
            Ok(()) => debug!("sd_notify: {states:?}"),
            Err(e) => warn!("sd_notify {states:?}: {e}"),
        }
    }
}

/// Waits for the next tick of `ticker`; never resolves without one.
pub async fn next_tick(ticker: &mut Option<Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The one-line `STATUS=`: instances by state, real servers up, the
/// configuration generation, and whether the last reload failed.
pub fn summary(instances: &[State], lvs: Counts, generation: u64, reload_failed: bool) -> String {
    let count = |state| instances.iter().filter(|s| **s == state).count();
    let states: Vec<String> = [
        State::Master,
        State::Backup,
        State::Fault,
        State::Initialize,
    ]
    .into_iter()
    .map(|s| (count(s), s))
    .filter(|(n, _)| *n > 0)
    .map(|(n, s)| format!("{n} {s}"))
    .collect();
    let vrrp = match instances.len() {
        0 => "VRRP: no instance".to_owned(),
        n => format!("VRRP: {n} instance{} ({})", plural(n), states.join(", ")),
    };
    let lvs = format!(
        "LVS: {} virtual server{}, {}/{} real servers up",
        lvs.virtual_servers,
        plural(lvs.virtual_servers),
        lvs.up,
        lvs.real_servers
    );
    let failed = if reload_failed {
        "; last reload failed"
    } else {
        ""
    };
    format!("{vrrp}; {lvs}; configuration generation {generation}{failed}")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_states_and_real_servers() {
        let instances = [State::Master, State::Backup, State::Master];
        let lvs = Counts {
            virtual_servers: 2,
            real_servers: 3,
            up: 2,
        };
        assert_eq!(
            summary(&instances, lvs, 3, false),
            "VRRP: 3 instances (2 MASTER, 1 BACKUP); LVS: 2 virtual servers, \
             2/3 real servers up; configuration generation 3"
        );
    }

    #[test]
    fn summary_of_an_empty_configuration_and_a_failed_reload() {
        assert_eq!(
            summary(&[State::Fault], Counts::default(), 1, true),
            "VRRP: 1 instance (1 FAULT); LVS: 0 virtual servers, 0/0 real servers up; \
             configuration generation 1; last reload failed"
        );
        assert_eq!(
            summary(&[], Counts::default(), 2, false),
            "VRRP: no instance; LVS: 0 virtual servers, 0/0 real servers up; \
             configuration generation 2"
        );
    }
}
