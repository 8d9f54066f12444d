//! `vrrp_script` trackers: run the script every `interval`, count `rise`
//! successes / `fall` failures in a row (keepalived's `result` counter in
//! `vrrp_script_child_thread`), and log with keepalived's phrases.

use std::time::Duration;

use crate::config::VrrpScript;
use crate::script::{self, Outcome, ScriptEnv};

use super::plan::{Key, Kind};
use super::priority::State;
use super::registry::Registry;

/// keepalived's default `interval`, seconds.
pub const DEFAULT_INTERVAL: u32 = 1;

/// keepalived's rise/fall counter. `result` runs from 0 to
/// `rise + fall - 1`; the script is up while `result >= rise`. Without
/// `init_fail` the first result decides at once; with it the script starts
/// down and needs `rise` successes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    rise: u32,
    fall: u32,
    result: u32,
    init: bool,
}

impl Counter {
    /// A counter for `rise`/`fall` (0 counts as 1).
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> Counter {
        let (rise, fall) = (rise.max(1), fall.max(1));
        Counter {
            rise,
            fall,
            result: if init_fail { 0 } else { rise - 1 },
            init: !init_fail,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        match (self.init, self.result >= self.rise) {
            (true, _) => State::Unknown,
            (false, true) => State::Up,
            (false, false) => State::Down,
        }
    }

    /// Records one run; returns the new state when it changed.
    pub fn record(&mut self, success: bool) -> Option<State> {
        let before = self.state();
        let top = self.rise + self.fall - 1;
        if success {
            if self.result < self.rise - 1 {
                self.result += 1;
            } else {
                self.result = top;
            }
        } else if self.result > self.rise {
            self.result -= 1;
        } else {
            self.result = 0;
        }
        self.init = false;
        let after = self.state();
        (after != before).then_some(after)
    }
}

/// How a run ended, for keepalived's log line.
fn describe(name: &str, outcome: &anyhow::Result<Outcome>) -> String {
    match outcome {
        Ok(out) if out.success() => format!("VRRP_Script({name}) succeeded"),
        Ok(out) if out.timed_out => format!("VRRP_Script({name}) timed_out"),
        Ok(Outcome {
            code: Some(code), ..
        }) => {
            format!("VRRP_Script({name}) failed (exited with status {code})")
        }
        Ok(_) => format!("VRRP_Script({name}) failed (due to signal)"),
        Err(e) => format!("VRRP_Script({name}) failed (cannot run: {e:#})"),
    }
}

/// Runs `def` forever, publishing its state in `registry`.
pub(crate) async fn run(def: VrrpScript, env: ScriptEnv, registry: Registry) {
    let key = Key {
        kind: Kind::Script,
        name: def.name.clone(),
    };
    let Some(command) = def.script.clone() else {
        tracing::warn!("VRRP_Script({}) has no script, ignoring", def.name);
        return;
    };
    let interval = Duration::from_secs(u64::from(def.interval.unwrap_or(DEFAULT_INTERVAL).max(1)));
    let timeout = def
        .timeout
        .map_or(interval, |t| Duration::from_secs(u64::from(t.max(1))));
    let mut counter = Counter::new(def.rise.unwrap_or(1), def.fall.unwrap_or(1), def.init_fail);
    registry.set(&key, counter.state());
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_code = None;
    loop {
        ticks.tick().await;
        let outcome = script::run(&command, &[], def.user.as_ref(), &env, timeout).await;
        let code = outcome.as_ref().ok().and_then(|o| o.code);
        if code.is_some() && code != last_code {
            tracing::info!(
                "Script `{}` now returning {}",
                def.name,
                code.unwrap_or_default()
            );
            last_code = code;
        }
        let success = outcome.as_ref().is_ok_and(Outcome::success);
        if let Some(state) = counter.record(success) {
            // A script that cannot run at all (refused by
            // enable_script_security, missing) needs the admin.
            if outcome.is_err() {
                tracing::warn!("{}", describe(&def.name, &outcome));
            } else {
                tracing::info!("{}", describe(&def.name, &outcome));
            }
            registry.set(&key, state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(counter: &mut Counter, runs: &str) -> Vec<Option<State>> {
        runs.chars().map(|c| counter.record(c == '+')).collect()
    }

    #[test]
    fn first_result_decides_without_init_fail() {
        let mut c = Counter::new(3, 2, false);
        assert_eq!(c.state(), State::Unknown);
        assert_eq!(feed(&mut c, "+"), [Some(State::Up)]);
        let mut c = Counter::new(3, 2, false);
        assert_eq!(feed(&mut c, "-"), [Some(State::Down)]);
    }

    #[test]
    fn rise_and_fall_count_consecutive_runs() {
        let mut c = Counter::new(2, 3, true);
        assert_eq!(c.state(), State::Down);
        assert_eq!(feed(&mut c, "+-++"), [None, None, None, Some(State::Up)]);
        assert_eq!(
            feed(&mut c, "--+---"),
            [None, None, None, None, None, Some(State::Down)]
        );
    }
}
