//! All VRRP instances of the daemon: started from the configuration,
//! reconciled on reload (unchanged instances keep running and keep their
//! VIPs), stopped on shutdown.
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, RwLock},
    time::Duration,
};

use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};
use tracing::{info, warn};

use super::{
    instance::{self, Command, InstanceStatus},
    spec::InstanceSpec,
};
use crate::{config::Config, netlink::Netlink, state::ownership::Publisher};

/// How long a stopping instance may take (priority-0 advert, VIP removal).
const STOP_GRACE: Duration = Duration::from_secs(5);

struct Running {
    spec: InstanceSpec,
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<InstanceStatus>,
    task: JoinHandle<()>,
}

/// Every configured (interface, VRID): an instance ignores adverts of its
/// siblings on the same interface instead of counting them as VRID drops.
pub type Vrids = Arc<RwLock<BTreeSet<(String, u8)>>>;

/// The running instances.
pub struct Engine {
    netlink: Netlink,
    ownership: Publisher,
    vrids: Vrids,
    instances: BTreeMap<String, Running>,
}

/// The instances `config` describes, by name.
fn specs(config: &Config) -> BTreeMap<String, InstanceSpec> {
    config
        .vrrp_instance
        .iter()
        .map(|i| (i.name.clone(), InstanceSpec::new(i, &config.global_defs)))
        .collect()
}

impl Engine {
    /// Starts every instance of `config`.
    pub fn start(config: &Config, netlink: Netlink, ownership: Publisher) -> Engine {
        let mut engine = Engine {
            netlink,
            ownership,
            vrids: Vrids::default(),
            instances: BTreeMap::new(),
        };
        let specs = specs(config);
        engine.register_vrids(&specs);
        for spec in specs.into_values() {
            engine.spawn(spec);
        }
        engine
    }

    fn register_vrids(&self, specs: &BTreeMap<String, InstanceSpec>) {
        let all = specs
            .values()
            .map(|s| (s.interface.clone(), s.vrid))
            .collect();
        *self.vrids.write().unwrap_or_else(|e| e.into_inner()) = all;
    }

    fn spawn(&mut self, spec: InstanceSpec) {
        let (commands, rx) = mpsc::channel(4);
        let (status_tx, status) = watch::channel(InstanceStatus::initial(&spec));
        let task = tokio::spawn(instance::run(
            spec.clone(),
            self.netlink.clone(),
            self.ownership.clone(),
            Arc::clone(&self.vrids),
            status_tx,
            rx,
        ));
        self.instances.insert(
            spec.name.clone(),
            Running {
                spec,
                commands,
                status,
                task,
            },
        );
    }

    /// The status of every instance.
    pub fn status(&self) -> Vec<InstanceStatus> {
        self.instances
            .values()
            .map(|r| r.status.borrow().clone())
            .collect()
    }

    /// Applies a new configuration: instances whose settings did not change
    /// keep running untouched; changed ones restart; removed ones stop; new
    /// ones start.
    pub async fn reload(&mut self, config: &Config) {
        let mut wanted = specs(config);
        self.register_vrids(&wanted);
        let names: Vec<String> = self.instances.keys().cloned().collect();
        for name in names {
            match wanted.remove(&name) {
                Some(spec) if self.instances[&name].spec == spec => {}
                Some(spec) => {
                    info!("({name}) configuration changed, restarting the instance");
                    self.stop(&name).await;
                    self.spawn(spec);
                }
                None => {
                    info!("({name}) removed from the configuration, stopping");
                    self.stop(&name).await;
                }
            }
        }
        for spec in wanted.into_values() {
            self.spawn(spec);
        }
    }

    async fn stop(&mut self, name: &str) {
        if let Some(running) = self.instances.remove(name) {
            stop_one(name, running).await;
        }
    }

    /// Stops every instance: masters send priority 0 and remove their VIPs.
    pub async fn shutdown(mut self) {
        let all = std::mem::take(&mut self.instances);
        futures::future::join_all(
            all.into_iter()
                .map(|(name, r)| async move { stop_one(&name, r).await }),
        )
        .await;
    }
}

async fn stop_one(name: &str, running: Running) {
    let _ = running.commands.send(Command::Shutdown).await;
    let mut task = running.task;
    if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
        warn!("({name}) did not stop within {STOP_GRACE:?}; aborting it");
        task.abort();
    }
}
