//! The LVS half of the running daemon: the health-checker engine feeding the
//! desired-state model, which the data-plane programmers will consume.
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::{
    check::engine::CheckerEngine,
    config::Config,
    script::ScriptEnv,
    state::desired::{self, DesiredPublisher},
};

/// How long stopping waits for the `omega` commands of the desired state.
const OMEGA_GRACE: Duration = Duration::from_secs(10);

/// Checkers and the desired state of one configuration.
pub struct Lvs {
    checks: CheckerEngine,
    desired: DesiredPublisher,
    task: JoinHandle<()>,
}

impl Lvs {
    /// Starts checking every real server of `config` (inside a tokio runtime).
    pub fn start(config: &Config) -> Lvs {
        let env = ScriptEnv::new(&config.global_defs);
        let (checks, verdicts) = CheckerEngine::start(config, env.clone());
        let (desired, _) = desired::channel(config);
        let task = desired.spawn(verdicts, env);
        Lvs {
            checks,
            desired,
            task,
        }
    }

    /// Virtual servers with their real servers' verdicts and weights, and
    /// every checker's state.
    pub fn status(&self) -> Value {
        json!({
            "virtual_servers": self.desired.status()["virtual_servers"],
            "checkers": self.checks.status(),
        })
    }

    /// Replaces the checkers and model with those of a new configuration.
    /// Commands meant for a real stop (`omega`) do not run on a reload.
    pub async fn reload(self, config: &Config) -> Lvs {
        self.task.abort();
        self.checks.shutdown().await;
        Lvs::start(config)
    }

    /// Stops the checkers, then lets the model run its `omega` commands.
    pub async fn shutdown(self) {
        self.checks.shutdown().await;
        let _ = tokio::time::timeout(OMEGA_GRACE, self.task).await;
    }
}
