//! The running model: a task consumes the checker engine's verdicts,
//! applies them, publishes the result through a `tokio::sync::watch` channel
//! (as [`crate::state::ownership`] does) and runs the notify commands in
//! their own tasks, so a slow script never delays the next verdict.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::check::VerdictChange;
use crate::config::{Command, Config, RunAs};
use crate::notify::fifo::Fifos;
use crate::script::{self, ScriptEnv};

use super::carry::Carried;
use super::drain::{Drained, ServiceRef};
use super::lines::fifo_line;
use super::model::{Counts, Effect, Model};
use super::types::{DesiredState, VirtualService};

/// How long a notify or quorum command may run (keepalived does not bound
/// them; this only reaps hung scripts).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How long each `omega` command may run at shutdown (keepalived:
/// `system_call_script(..., TIMER_HZ, ...)`, one second).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// When the last verdict was received and its result published: the
/// verdict-to-stream latency is `published - received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Verdicts applied so far.
    pub verdicts: u64,
    /// When the last verdict was taken from the channel.
    pub received: Instant,
    /// When the resulting state was on the stream (equal to `received`
    /// plus the apply time even when nothing changed).
    pub published: Instant,
}

/// The publishing side: owns the model; cheap to clone.
#[derive(Clone)]
pub struct DesiredPublisher {
    model: Arc<Mutex<Model>>,
    state: watch::Sender<DesiredState>,
    timing: watch::Sender<Option<Timing>>,
    startup: Arc<Mutex<Vec<Effect>>>,
}

/// A publisher for `config`'s initial state, and a first subscriber.
pub fn channel(config: &Config) -> (DesiredPublisher, watch::Receiver<DesiredState>) {
    channel_carrying(config, &Carried::default())
}

/// As [`channel`], for a reloaded configuration keeping `carried` verdicts.
pub fn channel_carrying(
    config: &Config,
    carried: &Carried,
) -> (DesiredPublisher, watch::Receiver<DesiredState>) {
    let (model, startup) = Model::carrying(config, carried);
    let (state, rx) = watch::channel(model.desired());
    let publisher = DesiredPublisher {
        model: Arc::new(Mutex::new(model)),
        state,
        timing: watch::channel(None).0,
        startup: Arc::new(Mutex::new(startup)),
    };
    (publisher, rx)
}

impl DesiredPublisher {
    /// Another subscriber, seeing the current state first.
    pub fn subscribe(&self) -> watch::Receiver<DesiredState> {
        self.state.subscribe()
    }

    /// The timing of every applied verdict, for benchmarks.
    pub fn timings(&self) -> watch::Receiver<Option<Timing>> {
        self.timing.subscribe()
    }

    /// The verdicts the model holds now, to carry over a reload.
    pub fn carried(&self) -> Carried {
        self.lock().carried()
    }

    /// The JSON status (see [`Model::status`]).
    pub fn status(&self) -> serde_json::Value {
        self.lock().status()
    }

    /// Virtual and real servers and the alive ones (see [`Model::counts`]).
    pub fn counts(&self) -> Counts {
        self.lock().counts()
    }

    /// A copy of the model as it is now (the configuration is shared, the
    /// verdicts copied), so that its status can be rendered on another
    /// thread without holding the model's lock.
    pub fn snapshot(&self) -> Model {
        self.lock().clone()
    }

    /// Applies one verdict and publishes the result; returns the commands
    /// to run. This is the whole hot path, usable directly by benchmarks.
    pub fn apply(&self, change: &VerdictChange) -> Vec<Effect> {
        let received = Instant::now();
        let applied = {
            let mut model = self.lock();
            let applied = model.apply(change, SystemTime::now());
            if let Some(vs) = applied.changed {
                let fresh = model.services(vs).to_vec();
                self.state
                    .send_modify(|state| replace_services(state, vs, fresh));
            }
            applied
        };
        self.timing.send_modify(|timing| {
            let verdicts = timing.map_or(0, |t| t.verdicts) + 1;
            *timing = Some(Timing {
                verdicts,
                received,
                published: Instant::now(),
            });
        });
        applied.effects
    }

    /// Spawns the task applying `verdicts` until the channel closes; the
    /// start-up quorum commands run first, and when the channel closes
    /// (shutdown) the `omega` commands run and are waited for. Commands run
    /// with `env`.
    pub fn spawn(&self, verdicts: mpsc::Receiver<VerdictChange>, env: ScriptEnv) -> JoinHandle<()> {
        self.spawn_notifying(verdicts, env, Fifos::default())
    }

    /// As [`DesiredPublisher::spawn`], also writing every effect's line to
    /// the LVS notify FIFOs (`notify_fifo`, `lvs_notify_fifo`).
    pub fn spawn_notifying(
        &self,
        mut verdicts: mpsc::Receiver<VerdictChange>,
        env: ScriptEnv,
        fifos: Fifos,
    ) -> JoinHandle<()> {
        let publisher = self.clone();
        let env = Arc::new(env);
        tokio::spawn(async move {
            let startup = std::mem::take(
                &mut *publisher
                    .startup
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            publisher.write_lines(&startup, &fifos);
            run_effects(startup, &env);
            while let Some(change) = verdicts.recv().await {
                let effects = publisher.apply(&change);
                publisher.write_lines(&effects, &fifos);
                run_effects(effects, &env);
            }
            let stopping = publisher.lock().stopping();
            publisher.write_lines(&stopping, &fifos);
            let runs = stopping
                .into_iter()
                .filter_map(|effect| effect.command)
                .map(|command| run_command(command, Arc::clone(&env), STOP_TIMEOUT));
            futures::future::join_all(runs).await;
        })
    }

    /// Drains (`drained`) or undrains real server `server` of the virtual
    /// servers `service` names (see [`Model::set_drained`]) and publishes
    /// the result.
    pub fn set_drained(
        &self,
        service: ServiceRef,
        server: SocketAddr,
        drained: bool,
    ) -> Result<Drained, String> {
        let mut model = self.lock();
        let result = model.set_drained(service, server, drained)?;
        for &vs in &result.changed {
            let fresh = model.services(vs).to_vec();
            self.state
                .send_modify(|state| replace_services(state, vs, fresh));
        }
        Ok(result)
    }

    /// Writes the FIFO lines of `effects`.
    fn write_lines(&self, effects: &[Effect], fifos: &Fifos) {
        if effects.is_empty() {
            return;
        }
        let model = self.lock();
        let lines: Vec<String> = effects
            .iter()
            .filter_map(|effect| fifo_line(model.config(), &effect.event))
            .collect();
        drop(model);
        fifos.lvs(&lines);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Replaces the services of virtual server `vs` in `state` (they are
/// contiguous, in configuration order).
fn replace_services(state: &mut DesiredState, vs: usize, fresh: Vec<VirtualService>) {
    let start = state.services.partition_point(|s| s.vs < vs);
    let end = state.services.partition_point(|s| s.vs <= vs);
    state.services.splice(start..end, fresh);
}

/// Logs each effect and runs its command, if any, in its own task.
fn run_effects(effects: Vec<Effect>, env: &Arc<ScriptEnv>) {
    for effect in effects {
        tracing::info!(event = ?effect.event, "desired state change");
        if let Some(command) = effect.command {
            tokio::spawn(run_command(command, Arc::clone(env), COMMAND_TIMEOUT));
        }
    }
}

/// Runs one command through [`script::run`], logging the outcome.
async fn run_command(command: Command, env: Arc<ScriptEnv>, timeout: Duration) {
    let user = command.user.clone().map(|user| RunAs {
        user,
        group: command.group.clone(),
    });
    match script::run(&command.script, &[], user.as_ref(), &env, timeout).await {
        Ok(outcome) if outcome.success() => {
            tracing::debug!(script = %command.script, "notify script succeeded")
        }
        Ok(outcome) => tracing::warn!(
            script = %command.script,
            code = ?outcome.code,
            timed_out = outcome.timed_out,
            "notify script failed"
        ),
        Err(error) => tracing::error!(script = %command.script, "{error:#}"),
    }
}
