//! All VRRP instances of the daemon: started from the configuration,
//! reconciled on reload (unchanged instances keep running and keep their
//! VIPs), stopped on shutdown; and a coordinator task per `vrrp_sync_group`
//! that makes its members change state together.
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, RwLock},
    time::Duration,
};

use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::Instant,
};
use tracing::{info, warn};

use super::{
    fsm::State,
    instance::{self, Command, InstanceStatus, Shared, SyncLink},
    spec::InstanceSpec,
    sync_group::{MemberView, SyncGroup},
};
use crate::{
    config::{Config, SyncGroup as GroupConfig},
    netlink::Netlink,
    notify::{Notifier, Target},
    state::ownership::Publisher,
    track::{Tracking, Verdict},
};

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

/// Command channels of the running instances, by name, for the sync-group
/// coordinators (an instance that restarts gets a new channel).
type Directory = Arc<RwLock<BTreeMap<String, mpsc::Sender<Command>>>>;

/// A running sync-group coordinator.
struct Group {
    config: GroupConfig,
    views: mpsc::UnboundedSender<(usize, MemberView)>,
    task: JoinHandle<()>,
}

/// The running instances and sync groups.
pub struct Engine {
    netlink: Netlink,
    ownership: Publisher,
    notifier: Notifier,
    vrids: Vrids,
    directory: Directory,
    instances: BTreeMap<String, Running>,
    groups: BTreeMap<String, Group>,
    /// When instances may start (`vrrp_startup_delay` after the daemon
    /// started; instances added by a reload after it start at once).
    start_at: Instant,
}

/// The instances `config` describes, by name.
fn specs(config: &Config) -> BTreeMap<String, InstanceSpec> {
    config
        .vrrp_instance
        .iter()
        .map(|i| (i.name.clone(), InstanceSpec::new(i, config)))
        .collect()
}

/// `vrrp_startup_delay`, zero when absent or not a valid duration.
fn startup_delay(config: &Config) -> Duration {
    let delay = config.global_defs.vrrp_startup_delay.unwrap_or(0.0);
    Duration::try_from_secs_f64(delay).unwrap_or_default()
}

/// The sync groups `config` describes, by name.
fn groups(config: &Config) -> BTreeMap<String, GroupConfig> {
    config
        .vrrp_sync_group
        .iter()
        .map(|g| (g.name.clone(), g.clone()))
        .collect()
}

impl Engine {
    /// Starts every instance of `config`.
    pub fn start(
        config: &Config,
        netlink: Netlink,
        ownership: Publisher,
        tracking: &Tracking,
        notifier: Notifier,
    ) -> Engine {
        let mut engine = Engine {
            netlink,
            ownership,
            notifier,
            vrids: Vrids::default(),
            directory: Directory::default(),
            instances: BTreeMap::new(),
            groups: BTreeMap::new(),
            start_at: Instant::now() + startup_delay(config),
        };
        let specs = specs(config);
        engine.register_vrids(&specs);
        for (name, group) in groups(config) {
            engine.spawn_group(name, group);
        }
        for spec in specs.into_values() {
            let verdict = tracking.subscribe(&spec.name);
            engine.spawn(spec, verdict);
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

    fn spawn_group(&mut self, name: String, config: GroupConfig) {
        let (views, rx) = mpsc::unbounded_channel();
        let coordinator = coordinate(
            config.clone(),
            rx,
            Arc::clone(&self.directory),
            self.notifier.clone(),
        );
        let task = tokio::spawn(coordinator);
        self.groups.insert(
            name,
            Group {
                config,
                views,
                task,
            },
        );
    }

    fn spawn(&mut self, spec: InstanceSpec, verdict: Option<watch::Receiver<Verdict>>) {
        let (commands, rx) = mpsc::channel(4);
        let (status_tx, status) = watch::channel(InstanceStatus::initial(&spec));
        let sync = spec
            .sync_group
            .as_ref()
            .and_then(|g| self.groups.get(g))
            .and_then(|g| {
                let index = g.config.group.iter().position(|m| *m == spec.name)?;
                Some(SyncLink {
                    index,
                    views: g.views.clone(),
                })
            });
        let shared = Shared {
            netlink: self.netlink.clone(),
            ownership: self.ownership.clone(),
            notifier: self.notifier.clone(),
            vrids: Arc::clone(&self.vrids),
            sync,
            status: status_tx,
        };
        self.directory
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(spec.name.clone(), commands.clone());
        // Configured but not (yet) owned: consumers such as the fast path
        // then know the addresses are VIPs waiting for ownership.
        self.ownership.set(&spec.name, spec.owned(false));
        let start_at = Some(self.start_at);
        let task = tokio::spawn(instance::run(spec.clone(), shared, verdict, rx, start_at));
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
    /// keep running (and their VIPs), following the new `tracking`; changed
    /// ones restart; removed ones stop; new ones start.
    pub async fn reload(&mut self, config: &Config, tracking: &Tracking, notifier: Notifier) {
        self.notifier = notifier;
        let mut wanted = specs(config);
        self.register_vrids(&wanted);
        // A group whose membership changed restarts with all its members.
        let wanted_groups = groups(config);
        let mut regrouped = BTreeSet::new();
        let old: Vec<String> = self.groups.keys().cloned().collect();
        for name in old {
            if wanted_groups.get(&name) != Some(&self.groups[&name].config) {
                if let Some(group) = self.groups.remove(&name) {
                    group.task.abort();
                    regrouped.extend(group.config.group);
                }
            }
        }
        for (name, group) in wanted_groups {
            if !self.groups.contains_key(&name) {
                regrouped.extend(group.group.iter().cloned());
                self.spawn_group(name, group);
            }
        }
        let names: Vec<String> = self.instances.keys().cloned().collect();
        for name in names {
            match wanted.remove(&name) {
                Some(spec) if self.instances[&name].spec == spec && !regrouped.contains(&name) => {
                    let commands = &self.instances[&name].commands;
                    let _ = commands.send(Command::Notify(self.notifier.clone())).await;
                    if let Some(verdict) = tracking.subscribe(&name) {
                        let _ = commands.send(Command::Track(verdict)).await;
                    }
                }
                Some(spec) => {
                    info!("({name}) configuration changed, restarting the instance");
                    self.stop(&name).await;
                    self.spawn(spec, tracking.subscribe(&name));
                }
                None => {
                    info!("({name}) removed from the configuration, stopping");
                    self.stop(&name).await;
                    // Its addresses are no longer VIPs (a stopped instance
                    // otherwise stays published as not master).
                    self.ownership.remove(&name);
                }
            }
        }
        for spec in wanted.into_values() {
            let verdict = tracking.subscribe(&spec.name);
            self.spawn(spec, verdict);
        }
    }

    async fn stop(&mut self, name: &str) {
        self.directory
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
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
        for group in self.groups.into_values() {
            group.task.abort();
        }
    }
}

/// A sync group's coordinator: keeps every member's latest view, feeds the
/// group's decisions back to the members as [`Command::Sync`], and runs the
/// group's notifications when the group changes state.
async fn coordinate(
    config: GroupConfig,
    mut views: mpsc::UnboundedReceiver<(usize, MemberView)>,
    directory: Directory,
    notifier: Notifier,
) {
    let members = config.group.clone();
    let mut group = SyncGroup::new(members.clone());
    let idle = MemberView {
        state: State::Initialize,
        wants_master: false,
        faulted: false,
    };
    let mut current = vec![idle; members.len()];
    let mut notified = State::Initialize;
    while let Some((index, view)) = views.recv().await {
        if let Some(slot) = current.get_mut(index) {
            *slot = view;
        }
        for (member, event) in group.reconcile(&current) {
            let target = members.get(member).and_then(|m| {
                directory
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(m)
                    .cloned()
            });
            if let Some(commands) = target {
                let _ = commands.send(Command::Sync(event)).await;
            }
        }
        if group.state() != notified {
            notified = group.state();
            info!(
                "VRRP_Group({}) Syncing instances to {notified} state",
                config.name
            );
            notifier.transition(Target::Group(&config), notified, 0);
        }
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
