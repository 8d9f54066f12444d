//! The IPVS sync daemon reconciler: keeps the kernel's connection sync
//! daemons equal to [`desired`] (the configuration's `lvs_sync_daemon`
//! and VIP ownership), following every ownership change and reload.
//!
//! It connects to IPVS only once a configuration asks for sync daemons;
//! from then on it owns the namespace's sync daemons: daemons a killed run
//! left are adopted when they match and replaced when they do not, and
//! [`SyncReconciler::stop`] stops both at a clean exit.
mod plan;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::model::SyncDaemon;
use super::{IpvsClient, IpvsError};
use crate::config::Config;
use crate::state::ownership::Ownership;
use crate::state::sync_daemons::{desired, DesiredSync};
use plan::{plan, targets, Step};

/// How long after a failed pass the reconciler tries again.
const RETRY: Duration = Duration::from_secs(5);

/// The connection and what the reconciler has done so far.
#[derive(Default)]
struct Worker {
    client: Option<IpvsClient>,
    /// A configuration asked for sync daemons: they are ours to stop.
    managing: bool,
    /// IPVS is missing (said once; nothing more is tried).
    unavailable: bool,
    /// The last failure, logged once until it changes.
    last_error: Option<String>,
    /// What the status document shows; None until a configuration asks
    /// for sync daemons.
    status: Arc<Mutex<Option<SyncStatus>>>,
}

/// The sync daemons as the last pass left them (the status document's
/// `lvs_sync_daemon`), kept apart from the worker so that reading it never
/// waits for a netlink exchange.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncStatus {
    /// The daemons the configuration and VIP ownership ask for.
    pub wanted: Vec<SyncDaemon>,
    /// The daemons the kernel runs, as listed after the last pass (before
    /// it, when the pass failed half-way); None when IPVS could not be read.
    pub running: Option<Vec<SyncDaemon>>,
    /// IPVS is missing from the kernel: nothing is tried.
    pub unavailable: bool,
    /// Why the last pass failed (tried again every 5 s).
    pub error: Option<String>,
}

impl Worker {
    /// Brings the kernel's daemons to `desired`; false when it must be
    /// tried again.
    fn pass(&mut self, desired: &DesiredSync) -> bool {
        if desired.settings.is_none() && !self.managing {
            return true;
        }
        self.managing = true;
        self.converge(targets(desired))
    }

    /// Brings the kernel's daemons to `wanted` and records the status.
    fn converge(&mut self, wanted: Vec<SyncDaemon>) -> bool {
        let mut running = None;
        let result = self
            .connected()
            .and_then(|client| sync(client, &wanted, &mut running));
        let done = self.outcome(result);
        let status = SyncStatus {
            wanted,
            running,
            unavailable: self.unavailable,
            error: self.last_error.clone(),
        };
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
        done
    }

    /// Stops every sync daemon, if a configuration asked for them.
    fn stop(&mut self) {
        if !self.managing || self.unavailable {
            return;
        }
        self.converge(Vec::new());
    }

    fn connected(&mut self) -> Result<&mut IpvsClient, IpvsError> {
        match &mut self.client {
            Some(client) => Ok(client),
            slot => Ok(slot.insert(IpvsClient::connect()?)),
        }
    }

    fn outcome(&mut self, result: Result<(), IpvsError>) -> bool {
        let e = match result {
            Ok(()) => {
                self.last_error = None;
                return true;
            }
            Err(e) => e,
        };
        if let IpvsError::Unavailable(_) = e {
            if !self.unavailable {
                error!("lvs_sync_daemon: {e}");
            }
            self.unavailable = true;
            return true;
        }
        let message = e.to_string();
        if self.last_error.as_ref() != Some(&message) {
            warn!("lvs_sync_daemon: {message}; trying again every {RETRY:?}");
        }
        self.last_error = Some(message);
        // A socket error or an unexpected reply: start afresh.
        if matches!(e, IpvsError::Io(_) | IpvsError::Decode(_)) {
            self.client = None;
        }
        false
    }
}

/// Takes the kernel's daemons to `wanted`; `running` is what the kernel
/// lists (read again after a change, so that it shows the settings the
/// kernel filled in).
fn sync(
    client: &mut IpvsClient,
    wanted: &[SyncDaemon],
    running: &mut Option<Vec<SyncDaemon>>,
) -> Result<(), IpvsError> {
    let steps = plan(running.insert(client.daemons()?), wanted);
    for step in &steps {
        apply(client, step)?;
    }
    if !steps.is_empty() {
        *running = Some(client.daemons()?);
    }
    Ok(())
}

fn apply(client: &mut IpvsClient, step: &Step) -> Result<(), IpvsError> {
    match step {
        Step::Stop(role) => {
            client.del_daemon(*role)?;
            info!("IPVS: stopped the {role} sync daemon");
        }
        Step::Start(daemon) => {
            client.new_daemon(daemon)?;
            info!("IPVS: started the {daemon}");
        }
    }
    Ok(())
}

type Shared = Arc<Mutex<Worker>>;

/// The running sync daemon reconciler.
pub struct SyncReconciler {
    worker: Shared,
    status: Arc<Mutex<Option<SyncStatus>>>,
    config: watch::Sender<Arc<Config>>,
    stopping: Arc<Notify>,
    task: JoinHandle<()>,
}

impl SyncReconciler {
    /// Starts following `config` and `ownership` on the current tokio
    /// runtime; IPVS is spoken to on blocking threads.
    pub fn start(config: &Config, ownership: watch::Receiver<Ownership>) -> SyncReconciler {
        let worker = Shared::default();
        let status = Arc::clone(&worker.lock().unwrap_or_else(PoisonError::into_inner).status);
        let (config, configs) = watch::channel(Arc::new(config.clone()));
        let stopping = Arc::new(Notify::new());
        let task = tokio::spawn(run(
            Arc::clone(&worker),
            configs,
            ownership,
            Arc::clone(&stopping),
        ));
        SyncReconciler {
            worker,
            status,
            config,
            stopping,
            task,
        }
    }

    /// The status document's `lvs_sync_daemon`: null until a
    /// configuration asks for sync daemons, then [`SyncStatus`] as the last
    /// pass left it.
    pub fn status(&self) -> Value {
        let status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        serde_json::to_value(&*status).unwrap_or(Value::Null)
    }

    /// Follows a reloaded configuration: daemons whose settings did not
    /// change keep running.
    pub fn follow(&self, config: &Config) {
        self.config.send_replace(Arc::new(config.clone()));
    }

    /// Stops following, then stops the sync daemons (clean exit).
    pub async fn stop(self) {
        self.stopping.notify_one();
        let _ = self.task.await;
        let _ = blocking(&self.worker, Worker::stop).await;
    }
}

async fn blocking<T: Send + 'static>(
    worker: &Shared,
    step: impl FnOnce(&mut Worker) -> T + Send + 'static,
) -> Option<T> {
    let worker = Arc::clone(worker);
    let locked = move || step(&mut worker.lock().unwrap_or_else(PoisonError::into_inner));
    tokio::task::spawn_blocking(locked).await.ok()
}

async fn run(
    worker: Shared,
    mut configs: watch::Receiver<Arc<Config>>,
    mut ownership: watch::Receiver<Ownership>,
    stopping: Arc<Notify>,
) {
    loop {
        let config = Arc::clone(&configs.borrow_and_update());
        let wanted = desired(&config, &ownership.borrow_and_update());
        let done = blocking(&worker, move |w| w.pass(&wanted)).await;
        let again = async {
            match done {
                Some(true) => std::future::pending().await,
                _ => tokio::time::sleep(RETRY).await,
            }
        };
        tokio::select! {
            r = configs.changed() => if r.is_err() { return },
            r = ownership.changed() => if r.is_err() { return },
            () = again => {}
            () = stopping.notified() => return,
        }
    }
}
