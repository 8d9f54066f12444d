//! VRRP tracking: `vrrp_script`, `track_interface` (and each instance's own
//! interface), `track_file` and `vrrp_track_process`, combined per instance into a [`Verdict`]
//! (FAULT or not, effective priority) the way keepalived does.
//!
//! Only objects some instance tracks are run or watched (keepalived: "script
//! … is not used").

pub mod file;
pub mod interface;
pub mod plan;
pub mod priority;
pub mod process;
mod registry;
pub mod vrrp_script;

use std::collections::BTreeSet;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::netlink::Netlink;
use crate::script::ScriptEnv;

pub use plan::{Key, Kind};
pub use priority::{State, Verdict};
use registry::Registry;

/// The running trackers of one configuration.
pub struct Tracking {
    registry: Registry,
    tasks: Vec<JoinHandle<()>>,
}

impl Tracking {
    /// Starts every tracker the configuration needs (must be called inside a
    /// tokio runtime). The link-notification socket is opened on the calling
    /// thread, so in the caller's network namespace.
    pub fn start(config: &Config, netlink: Netlink, env: ScriptEnv) -> Tracking {
        let plans = plan::plans(config);
        let used: BTreeSet<Key> = plans
            .iter()
            .flat_map(|p| p.tracks.iter().map(|t| t.key.clone()))
            .collect();
        let is_used = |kind, name: &str| {
            used.contains(&Key {
                kind,
                name: name.to_string(),
            })
        };
        let initially_down = |key: &Key| {
            let init_fail = config
                .vrrp_script
                .iter()
                .any(|s| key.kind == Kind::Script && s.name == key.name && s.init_fail);
            if init_fail {
                State::Down
            } else {
                State::Unknown
            }
        };
        let registry = Registry::new(plans, initially_down);
        let mut tasks = Vec::new();
        for script in &config.vrrp_script {
            if is_used(Kind::Script, &script.name) {
                let job = vrrp_script::run(script.clone(), env.clone(), registry.clone());
                tasks.push(tokio::spawn(job));
            } else {
                tracing::info!("Warning - script {} is not used", script.name);
            }
        }
        for file in &config.track_file {
            if is_used(Kind::File, &file.name) {
                tasks.push(tokio::spawn(file::run(file.clone(), registry.clone())));
            } else {
                tracing::info!("Track file {} is not being used - removing", file.name);
            }
        }
        let processes: Vec<_> = config
            .vrrp_track_process
            .iter()
            .filter(|p| is_used(Kind::Process, &p.name))
            .cloned()
            .collect();
        if !processes.is_empty() {
            tasks.push(tokio::spawn(process::run(processes, registry.clone())));
        }
        let interfaces: Vec<String> = used
            .iter()
            .filter(|k| k.kind == Kind::Interface)
            .map(|k| k.name.clone())
            .collect();
        if !interfaces.is_empty() {
            let events = interface::Notifications::subscribe(&[rtnetlink::MulticastGroup::Link]);
            let job = interface::run(interfaces, netlink, events, registry.clone());
            tasks.push(tokio::spawn(job));
        }
        Tracking { registry, tasks }
    }

    /// The verdict for instance `name` (base priority from its config),
    /// updated as trackers change.
    pub fn subscribe(&self, instance: &str) -> Option<watch::Receiver<Verdict>> {
        self.registry.subscribe(instance)
    }

    /// What status shows: each tracked object's state (name, kind, up/down or
    /// value) and each instance's verdict.
    pub fn status(&self) -> serde_json::Value {
        self.registry.status()
    }

    /// Stops all trackers (kills running scripts).
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
