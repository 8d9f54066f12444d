//! The IPVS reconciler: keeps IPVS equal to the desired state, by diff.
//!
//! It connects once (no IPVS: one error naming the missing module, then it
//! stays out of the way), adopts the matching services it finds (no flush
//! unless `lvs_flush`, so connections survive a restart), removes the
//! services recorded as its own that the configuration lost, and on every
//! change of the desired state applies only the difference. A reload
//! ([`Reconciler::follow`]) points it at the new configuration's desired
//! state without touching what did not change. [`Reconciler::stop`] applies
//! [`OnStop`].
mod state;
mod status;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::state::desired::DesiredState;

use super::client::Dumped;
use super::target::targets;
use state::State;
pub use state::{OnStop, Settings};

/// How long after a failed operation the reconciler tries again.
const RETRY: Duration = Duration::from_secs(5);

/// Where the desired state comes from: a configuration and its model.
#[derive(Clone)]
struct Source {
    config: Arc<Config>,
    desired: watch::Receiver<DesiredState>,
}

/// The reconciler's state, `None` until it connected.
type Shared = Arc<Mutex<Option<State>>>;

/// The running reconciler.
pub struct Reconciler {
    state: Shared,
    source: watch::Sender<Source>,
    stopping: Arc<Notify>,
    /// True once the first pass was made (whatever its outcome).
    passed: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl Reconciler {
    /// Starts reconciling `desired` (the desired state of `config`) on the
    /// current tokio runtime; connecting and every pass run on blocking
    /// threads.
    pub fn start(
        config: &Config,
        desired: watch::Receiver<DesiredState>,
        settings: Settings,
    ) -> Reconciler {
        let state: Shared = Arc::default();
        let (source, sources) = watch::channel(Source {
            config: Arc::new(config.clone()),
            desired,
        });
        let stopping = Arc::new(Notify::new());
        let (first_pass, passed) = watch::channel(false);
        let task = tokio::spawn(run(
            Arc::clone(&state),
            settings,
            sources,
            Arc::clone(&stopping),
            first_pass,
        ));
        Reconciler {
            state,
            source,
            stopping,
            passed,
            task,
        }
    }

    /// Resolves once the first pass brought IPVS to the desired state, or
    /// tried to (IPVS missing or an operation failed: it is retried, and
    /// the status says why).
    pub fn programmed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut passed = self.passed.clone();
        async move {
            // An error means the task ended: there is nothing left to wait for.
            let _ = passed.wait_for(|done| *done).await;
        }
    }

    /// Follows the desired state of a new configuration (SIGHUP): the next
    /// pass changes only what differs.
    pub fn follow(&self, config: &Config, desired: watch::Receiver<DesiredState>) {
        self.source.send_replace(Source {
            config: Arc::new(config.clone()),
            desired,
        });
    }

    /// The `ipvs` part of the status: availability, and per desired service
    /// what is desired next to what IPVS holds (dumped now).
    pub fn status(&self) -> impl std::future::Future<Output = Value> + Send + 'static {
        let state = Arc::clone(&self.state);
        async move {
            tokio::task::spawn_blocking(move || status::of(lock(&state).as_mut()))
                .await
                .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
        }
    }

    /// IPVS's counters of the desired services, dumped now (see
    /// [`status::traffic`]), for metrics.
    pub fn traffic(&self) -> impl std::future::Future<Output = Dumped> + Send + 'static {
        let state = Arc::clone(&self.state);
        async move {
            tokio::task::spawn_blocking(move || status::traffic(lock(&state).as_mut()))
                .await
                .unwrap_or_default()
        }
    }

    /// Stops following the desired state, then applies the stop setting.
    pub async fn stop(self) {
        self.stopping.notify_one();
        let _ = self.task.await;
        let state = Arc::clone(&self.state);
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(state) = lock(&state).as_mut() {
                state.stop();
            }
        })
        .await;
    }
}

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, Option<State>> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `step` on the state in a blocking thread.
async fn blocking<T: Send + 'static>(
    state: &Shared,
    step: impl FnOnce(&mut Option<State>) -> T + Send + 'static,
) -> Option<T> {
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || step(&mut lock(&state)))
        .await
        .ok()
}

async fn run(
    state: Shared,
    settings: Settings,
    mut sources: watch::Receiver<Source>,
    stopping: Arc<Notify>,
    first_pass: watch::Sender<bool>,
) {
    blocking(&state, move |s| *s = Some(State::start(settings))).await;
    loop {
        let Source {
            config,
            mut desired,
        } = sources.borrow_and_update().clone();
        let wanted = targets(&desired.borrow_and_update(), &config);
        let done = blocking(&state, move |s| s.as_mut().is_none_or(|s| s.pass(wanted))).await;
        let retry = !done.unwrap_or(false);
        first_pass.send_replace(true);
        // Wait for a change of the desired state, a new source, a retry or stop.
        let changed = async {
            if desired.changed().await.is_err() {
                // The model went away (a reload is replacing it).
                std::future::pending::<()>().await;
            }
        };
        let again = async {
            match retry {
                true => tokio::time::sleep(RETRY).await,
                false => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = changed => {}
            _ = again => {}
            r = sources.changed() => if r.is_err() { return },
            _ = stopping.notified() => return,
        }
    }
}
