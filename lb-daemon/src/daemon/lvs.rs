//! The LVS half of the running daemon: the health-checker engine feeding the
//! desired-state model, which the data-plane programmers will consume.
use std::{collections::BTreeSet, sync::Arc, time::Duration};

use serde_json::{json, Value};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    check::engine::CheckerEngine,
    config::Config,
    script::ScriptEnv,
    state::{
        desired::{self, DesiredPublisher},
        ownership::Ownership,
    },
};

/// How long stopping waits for the `omega` commands of the desired state.
const OMEGA_GRACE: Duration = Duration::from_secs(10);

/// Checkers and the desired state of one configuration.
pub struct Lvs {
    checks: CheckerEngine,
    desired: DesiredPublisher,
    task: JoinHandle<()>,
    /// Follows VIP ownership to pause `ha_suspend` services' checks.
    suspend: JoinHandle<()>,
}

impl Lvs {
    /// Starts checking every real server of `config` (inside a tokio
    /// runtime); `ownership` tells which VIPs this node holds.
    pub fn start(config: &Config, mut ownership: watch::Receiver<Ownership>) -> Lvs {
        let env = ScriptEnv::new(&config.global_defs);
        let shared = Arc::new(config.clone());
        let suspended_now = |o: &Ownership| desired::suspended(&shared, o);
        let (suspended_tx, suspended) =
            watch::channel(suspended_now(&ownership.borrow_and_update()));
        let follow = Arc::clone(&shared);
        let suspend = tokio::spawn(async move {
            while ownership.changed().await.is_ok() {
                let now: BTreeSet<usize> =
                    desired::suspended(&follow, &ownership.borrow_and_update());
                suspended_tx.send_if_modified(|s| std::mem::replace(s, now.clone()) != now);
            }
        });
        let (checks, verdicts) = CheckerEngine::start(config, env.clone(), suspended);
        let (desired, _) = desired::channel(config);
        let task = desired.spawn(verdicts, env);
        Lvs {
            checks,
            desired,
            task,
            suspend,
        }
    }

    /// The desired state this configuration's checkers drive.
    pub fn desired(&self) -> watch::Receiver<desired::DesiredState> {
        self.desired.subscribe()
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
    pub async fn reload(self, config: &Config, ownership: watch::Receiver<Ownership>) -> Lvs {
        self.task.abort();
        self.suspend.abort();
        self.checks.shutdown().await;
        Lvs::start(config, ownership)
    }

    /// Stops the checkers, then lets the model run its `omega` commands.
    pub async fn shutdown(self) {
        self.suspend.abort();
        self.checks.shutdown().await;
        let _ = tokio::time::timeout(OMEGA_GRACE, self.task).await;
    }
}
