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

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

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
}

impl Worker {
    /// Brings the kernel's daemons to `desired`; false when it must be
    /// tried again.
    fn pass(&mut self, desired: &DesiredSync) -> bool {
        if desired.settings.is_none() && !self.managing {
            return true;
        }
        self.managing = true;
        let result = self.connected().and_then(|client| {
            let running = client.daemons()?;
            for step in plan(&running, &targets(desired)) {
                apply(client, &step)?;
            }
            Ok(())
        });
        self.outcome(result)
    }

    /// Stops every sync daemon, if a configuration asked for them.
    fn stop(&mut self) {
        if !self.managing || self.unavailable {
            return;
        }
        let result = self.connected().and_then(|client| {
            for step in plan(&client.daemons()?, &[]) {
                apply(client, &step)?;
            }
            Ok(())
        });
        self.outcome(result);
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
    config: watch::Sender<Arc<Config>>,
    stopping: Arc<Notify>,
    task: JoinHandle<()>,
}

impl SyncReconciler {
    /// Starts following `config` and `ownership` on the current tokio
    /// runtime; IPVS is spoken to on blocking threads.
    pub fn start(config: &Config, ownership: watch::Receiver<Ownership>) -> SyncReconciler {
        let worker = Shared::default();
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
            config,
            stopping,
            task,
        }
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
