//! All VRRP instances of the daemon: started from the configuration,
//! reconciled on reload (unchanged instances keep running and keep their
//! VIPs), stopped on shutdown; and a coordinator task per `vrrp_sync_group`
//! that makes its members change state together.
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, RwLock},
    time::Duration,
};

pub use super::instance::Vrids;

use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::Instant,
};
use tracing::{info, warn};

use super::{
    fsm::{MemberView, State},
    instance::{self, Command, Handover, InstanceStatus, Shared, SyncLink},
    spec::InstanceSpec,
    sync_group::SyncGroup,
    vip_record::VipRecord,
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

/// Command channels of the running instances, by name, for the sync-group
/// coordinators (an instance that restarts gets a new channel).
type Directory = Arc<RwLock<BTreeMap<String, mpsc::Sender<Command>>>>;

/// A running sync-group coordinator.
struct Group {
    config: GroupConfig,
    /// Members' views, unbounded but provably drained: a member sends one
    /// view per state or priority change (a few per advert interval at
    /// most), and the coordinator's loop only records it and queues its
    /// decision on the members' command queues, which members keep
    /// draining because sending a view never blocks them. A bounded queue
    /// here could deadlock: a member waiting to send its view while the
    /// coordinator waits on that member's full command queue.
    views: mpsc::UnboundedSender<(usize, MemberView)>,
    task: JoinHandle<()>,
}

/// The running instances and sync groups.
pub struct Engine {
    netlink: Netlink,
    record: VipRecord,
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
    /// Starts every instance of `config`, noting the addresses they add in
    /// `record`.
    pub fn start(
        config: &Config,
        netlink: Netlink,
        record: VipRecord,
        ownership: Publisher,
        tracking: &Tracking,
        notifier: Notifier,
    ) -> Engine {
        let mut engine = Engine {
            netlink,
            record,
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
            engine.spawn(spec, verdict, false);
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

    /// Starts an instance; with `resume`, as MASTER (it replaces one that
    /// was MASTER).
    fn spawn(
        &mut self,
        spec: InstanceSpec,
        verdict: Option<watch::Receiver<Verdict>>,
        resume: bool,
    ) {
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
            record: self.record.clone(),
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
        // then know the addresses are VIPs waiting for ownership. A resumed
        // MASTER keeps them owned.
        self.ownership.set(&spec.name, spec.owned(resume));
        let start_at = Some(self.start_at);
        let run = instance::run(spec.clone(), shared, verdict, rx, resume, start_at);
        let task = tokio::spawn(run);
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

    /// Resolves once every instance running now has started: its sockets
    /// are open (or it is in FAULT saying why) and it left INIT.
    pub fn started(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let statuses: Vec<_> = self.instances.values().map(|r| r.status.clone()).collect();
        async move {
            for mut status in statuses {
                // An error means the instance is gone (stopped by a reload).
                let _ = status.wait_for(|s| s.state != State::Initialize).await;
            }
        }
    }

    /// Applies a new configuration as keepalived does: instances whose
    /// settings did not change keep running, following the new `tracking`;
    /// changed settings of the same virtual router (priority, intervals,
    /// preemption, addresses...) apply in place; an instance whose identity
    /// changed ([`InstanceSpec::identity`]), or that was renamed, restarts
    /// and hands its addresses over; removed ones stop; new ones start.
    pub async fn reload(&mut self, config: &Config, tracking: &Tracking, notifier: Notifier) {
        self.notifier = notifier;
        let mut wanted = specs(config);
        self.register_vrids(&wanted);
        let regrouped = self.regroup(config);
        let names: Vec<String> = self.instances.keys().cloned().collect();
        for name in names {
            let regroup = regrouped.contains(&name);
            let running = &self.instances[&name];
            match wanted.remove(&name) {
                Some(spec) if running.spec == spec && !regroup => {
                    self.follow(&name, tracking).await;
                }
                Some(spec) if running.spec.identity() == spec.identity() && !regroup => {
                    let command = Command::Reconfigure(Box::new(spec.clone()));
                    let _ = running.commands.send(command).await;
                    self.follow(&name, tracking).await;
                    if let Some(running) = self.instances.get_mut(&name) {
                        running.spec = spec;
                    }
                }
                Some(spec) => {
                    info!("({name}) configuration changed, restarting the instance");
                    self.replace(&name, spec, tracking).await;
                }
                None => {
                    // keepalived matches instances by identity, not name.
                    let renamed = wanted
                        .iter()
                        .find(|(new, spec)| {
                            !self.instances.contains_key(*new)
                                && spec.identity() == running.spec.identity()
                        })
                        .map(|(new, _)| new.clone());
                    match renamed.and_then(|new| wanted.remove(&new)) {
                        Some(spec) => {
                            info!("({name}) renamed to {}, handing over", spec.name);
                            self.replace(&name, spec, tracking).await;
                        }
                        None => {
                            info!("({name}) removed from the configuration, stopping");
                            self.stop(&name).await;
                        }
                    }
                    // Its addresses are no longer VIPs of this name (a
                    // stopped instance otherwise stays published as not
                    // master).
                    self.ownership.remove(&name);
                }
            }
        }
        for spec in wanted.into_values() {
            let verdict = tracking.subscribe(&spec.name);
            self.spawn(spec, verdict, false);
        }
    }

    /// Restarts sync groups whose membership changed; returns the members
    /// of those groups (old and new), which restart with them.
    fn regroup(&mut self, config: &Config) -> BTreeSet<String> {
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
        regrouped
    }

    /// An unchanged instance follows the reloaded notification settings and
    /// trackers.
    async fn follow(&self, name: &str, tracking: &Tracking) {
        let commands = &self.instances[name].commands;
        let _ = commands.send(Command::Notify(self.notifier.clone())).await;
        if let Some(verdict) = tracking.subscribe(name) {
            let _ = commands.send(Command::Track(verdict)).await;
        }
    }

    /// Replaces instance `name` by one running `spec`: a MASTER hands the
    /// addresses both hold over, and its successor resumes as MASTER.
    async fn replace(&mut self, name: &str, spec: InstanceSpec, tracking: &Tracking) {
        self.directory
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        let Some(running) = self.instances.remove(name) else {
            return;
        };
        let master = running.status.borrow().state == State::Master;
        let handover = Handover::between(&running.spec, &spec, master);
        stop_one(name, running, Command::HandOver(handover)).await;
        let verdict = tracking.subscribe(&spec.name);
        self.spawn(spec, verdict, master);
    }

    async fn stop(&mut self, name: &str) {
        self.directory
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if let Some(running) = self.instances.remove(name) {
            stop_one(name, running, Command::Shutdown).await;
        }
    }

    /// Stops every instance: masters send priority 0 and remove their VIPs.
    pub async fn shutdown(mut self) {
        let all = std::mem::take(&mut self.instances);
        futures::future::join_all(
            all.into_iter()
                .map(|(name, r)| async move { stop_one(&name, r, Command::Shutdown).await }),
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
        deleted: false,
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

/// Sends `command` (a way to leave) and waits for the instance to stop.
async fn stop_one(name: &str, running: Running, command: Command) {
    let _ = running.commands.send(command).await;
    let mut task = running.task;
    if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
        warn!("({name}) did not stop within {STOP_GRACE:?}; aborting it");
        task.abort();
    }
}
