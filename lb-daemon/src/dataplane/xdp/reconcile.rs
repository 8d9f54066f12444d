//! The fast path's control loop: follows the desired state and VIP
//! ownership, resolves real servers, writes the maps through the
//! [`Programmer`], attaches the program where this node holds fast-path VIPs
//! and detaches it elsewhere, then tells the ownership [`Gate`] it has acted
//! (so an instance becoming MASTER announces its VIPs only once the program
//! is attached).
use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Result;
use lb_common::{VipKey, MAX_REALS, MAX_SERVICES};
use serde_json::{json, Value};
use tokio::{sync::watch, task::JoinHandle};
use tracing::{debug, error, info, warn};

use super::{
    adopt,
    loader::unpin,
    plan::{plan, Plan, PlannedBackend},
    resolve::{resolve, Resolution},
    stats::packets,
    status::service_status,
    Backend, FastPath, Programmer, XdpAttachMode, SLOT_QUIET,
};
use crate::{
    netlink::Netlink,
    state::{
        desired::DesiredState,
        ownership::{Gate, Ownership},
    },
};

/// How often real servers are resolved again (MAC changes, new routes) and
/// the status counters refreshed.
const REFRESH: Duration = Duration::from_secs(5);
/// How soon a pending neighbour resolution is looked at again.
const PENDING_RETRY: Duration = Duration::from_millis(200);
/// How often the status counters are read.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// How long a killed predecessor's attachments keep forwarding after the
/// program is loaded, waiting to be taken over when this node turns out to
/// own their VIPs (VRRP needs a few adverts to elect).
const PREDECESSOR_GRACE: Duration = Duration::from_secs(5);

/// Where the fast path runs and how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Connection table capacity in entries (rounded up to a power of two
    /// of sets, see [`lb_common::flow_sets`]).
    pub flows: u32,
    /// Directory the maps are pinned in (`/sys/fs/bpf/lb-daemon/<instance>`).
    pub pin_dir: Option<PathBuf>,
    /// File the real ids are recorded in (in the runtime directory): with
    /// `pin_dir`, a restart after a crash adopts the pinned connection
    /// table (see [`super::adopt`]).
    pub real_ids: Option<PathBuf>,
}

/// The running control loop.
pub struct Reconciler {
    /// The desired state to follow after a reload (only the latest counts:
    /// a watch, not a queue).
    follow: watch::Sender<Option<watch::Receiver<DesiredState>>>,
    status: watch::Receiver<Value>,
    task: JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl Reconciler {
    /// Loads the program and starts following `desired` and `ownership`.
    pub fn start(
        settings: Settings,
        desired: watch::Receiver<DesiredState>,
        ownership: watch::Receiver<Ownership>,
        gate: Gate,
        netlink: Netlink,
    ) -> Reconciler {
        let (follow, follow_rx) = watch::channel(None);
        let (status_tx, status) = watch::channel(json!({"state": "starting"}));
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let programmer = match load(&settings) {
                Ok(p) => p,
                Err(e) => {
                    error!("XDP fast path unavailable, its services are left to IPVS: {e:#}");
                    status_tx
                        .send_replace(json!({"state": "unavailable", "error": format!("{e:#}")}));
                    drop(gate);
                    let _ = stop_rx.await;
                    return;
                }
            };
            let mut lp = Loop {
                programmer,
                netlink,
                gate,
                status: status_tx,
                settings,
                attached: BTreeMap::new(),
                resolved: BTreeMap::new(),
                reported: BTreeSet::new(),
                plan: Plan::default(),
                flows: None,
                loaded: Instant::now(),
            };
            lp.run(desired, ownership, follow_rx, stop_rx).await;
            lp.teardown();
        });
        Reconciler {
            follow,
            status,
            task,
            stop,
        }
    }

    /// Follows the desired state of a reloaded configuration.
    pub fn follow(&self, desired: watch::Receiver<DesiredState>) {
        self.follow.send_replace(Some(desired));
    }

    /// Attachments, services with their counters, what is left to IPVS.
    pub fn status(&self) -> Value {
        self.status.borrow().clone()
    }

    /// Resolves once the first pass wrote the maps and made the
    /// attachments, or the program turned out to be unavailable.
    pub fn programmed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut status = self.status.clone();
        async move {
            // An error means the loop ended: there is nothing left to wait for.
            let _ = status.wait_for(|s| s["state"] != "starting").await;
        }
    }

    /// Detaches the program everywhere and removes its pins.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

fn load(settings: &Settings) -> Result<Programmer> {
    let mut fast_path = FastPath::load(settings.flows)?;
    let reserved = match (&settings.pin_dir, &settings.real_ids) {
        (Some(dir), Some(record)) => adopt::adopt_flows(dir, record, &mut fast_path),
        _ => Default::default(),
    };
    if let Some(dir) = &settings.pin_dir {
        match fast_path.pin(dir) {
            Ok(()) => info!("XDP fast path maps pinned under {}", dir.display()),
            Err(e) => warn!("XDP fast path maps not pinned: {e:#}"),
        }
    }
    Ok(match &settings.real_ids {
        Some(record) => Programmer::adopting(fast_path, reserved, record.clone()),
        None => Programmer::new(fast_path),
    })
}

/// An interface the program must be on: its index once attached (the mode
/// is the [`FastPath`]'s to say), or why it could not be.
type Attachment = Result<u32, String>;

/// A backend's last resolution.
#[derive(Debug, Clone)]
struct Resolved {
    outcome: std::result::Result<Resolution, String>,
    at: Instant,
}

struct Loop {
    programmer: Programmer,
    netlink: Netlink,
    gate: Gate,
    status: watch::Sender<Value>,
    settings: Settings,
    attached: BTreeMap<String, Attachment>,
    resolved: BTreeMap<(IpAddr, u8), Resolved>,
    /// `not_served` lines already logged.
    reported: BTreeSet<String>,
    plan: Plan,
    /// The connection table's entry count, and when it was counted.
    flows: Option<(usize, Instant)>,
    /// When the program was loaded (see [`PREDECESSOR_GRACE`]).
    loaded: Instant,
}

impl Loop {
    async fn run(
        &mut self,
        mut desired: watch::Receiver<DesiredState>,
        mut ownership: watch::Receiver<Ownership>,
        mut follow: watch::Receiver<Option<watch::Receiver<DesiredState>>>,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        loop {
            let owned = ownership.borrow_and_update().clone();
            let wanted = desired.borrow_and_update().clone();
            // Cheap when nothing changed: resolutions are cached for
            // REFRESH and unchanged services are not rewritten.
            let pending = self.apply(plan(&wanted, &owned)).await;
            self.gate.acted_on(&owned);
            self.publish_status();
            let wait = if pending { PENDING_RETRY } else { STATUS_EVERY };
            tokio::select! {
                Ok(()) = desired.changed() => {}
                Ok(()) = ownership.changed() => {}
                Ok(()) = follow.changed() => {
                    if let Some(next) = follow.borrow_and_update().clone() {
                        desired = next;
                    }
                }
                _ = tokio::time::sleep(wait) => {}
                _ = &mut stop => return,
            }
        }
    }

    /// Brings maps and attachments to `plan`; true while some real server's
    /// MAC address is still being resolved.
    async fn apply(&mut self, plan: Plan) -> bool {
        self.programmer.expire_reserved();
        for (service, reason) in &plan.not_served {
            let line = format!("({service}) fast_path xdp: served by IPVS classic mode: {reason}");
            if self.reported.insert(line.clone()) {
                warn!("{line}");
            }
        }
        if plan.waiting != self.plan.waiting {
            for service in &plan.waiting {
                debug!("({service}) fast_path xdp: waiting for ownership of the VIP");
            }
        }
        let mut pending = false;
        for (key, service) in &plan.services {
            let mut backends = Vec::with_capacity(service.backends.len());
            for planned in &service.backends {
                match self.resolution(planned).await {
                    Ok(Resolution::Ready(real)) => backends.push(Backend {
                        port: planned.port,
                        weight: planned.weight,
                        real,
                    }),
                    Ok(Resolution::Pending) => pending = true,
                    Err(_) => {}
                }
            }
            self.settle(key).await;
            if let Err(e) = self.programmer.set_service(*key, service.sched, &backends) {
                error!("({}) XDP fast path: {e:#}", service.label);
            }
        }
        // After the maps: a predecessor's link taken over forwards with
        // them from its first packet on.
        for name in plan.interfaces() {
            self.attach(name).await;
        }
        let gone: Vec<VipKey> = self
            .programmer
            .keys()
            .filter(|k| !plan.services.contains_key(k))
            .copied()
            .collect();
        for key in gone {
            if let Err(e) = self.programmer.remove_service(&key) {
                error!("XDP fast path: removing a service: {e:#}");
            }
        }
        let needed: BTreeSet<String> = plan.interfaces().into_iter().map(str::to_owned).collect();
        let unneeded: Vec<String> = self
            .attached
            .keys()
            .filter(|n| !needed.contains(*n))
            .cloned()
            .collect();
        for name in unneeded {
            self.detach(&name);
        }
        if self.loaded.elapsed() >= PREDECESSOR_GRACE {
            self.programmer.fast_path().release_predecessors();
        }
        self.plan = plan;
        pending
    }

    /// Waits until the service's spare table slot may be written.
    async fn settle(&self, key: &VipKey) {
        if let Some(wait) = self.programmer.quiet_in(key) {
            tokio::time::sleep(wait.min(SLOT_QUIET)).await;
        }
    }

    async fn resolution(&mut self, backend: &PlannedBackend) -> Result<Resolution, String> {
        let slot = (backend.addr, backend.forward);
        let fresh = self
            .resolved
            .get(&slot)
            .filter(|r| r.at.elapsed() < REFRESH && !matches!(r.outcome, Ok(Resolution::Pending)));
        if let Some(r) = fresh {
            return r.outcome.clone();
        }
        let outcome = resolve(&self.netlink, backend)
            .await
            .map_err(|e| format!("{e:#}"));
        if let Err(e) = &outcome {
            let previous = self.resolved.get(&slot).map(|r| &r.outcome);
            if previous != Some(&outcome) {
                warn!("XDP fast path: real server {}: {e}", backend.addr);
            }
        }
        self.resolved.insert(
            slot,
            Resolved {
                outcome: outcome.clone(),
                at: Instant::now(),
            },
        );
        outcome
    }

    async fn attach(&mut self, name: &str) {
        if self.attached.get(name).is_some_and(Result::is_ok) {
            return;
        }
        let attached = match self.netlink.interface(name).await {
            Ok(iface) => self.attach_index(name, iface.index).map(|()| iface.index),
            Err(e) => Err(e),
        };
        let attached = attached.map_err(|e| format!("{e:#}"));
        // Said once per distinct error, not at every retry.
        if let Err(e) = &attached {
            if self.attached.get(name) != Some(&attached) {
                error!("XDP fast path: cannot attach to {name}: {e}");
            }
        }
        self.attached.insert(name.to_owned(), attached);
    }

    /// Attaches in native mode, else in generic mode.
    fn attach_index(&mut self, name: &str, ifindex: u32) -> Result<()> {
        let fast_path = self.programmer.fast_path();
        let mode = match fast_path.attach(ifindex, XdpAttachMode::Native) {
            Ok(mode) => mode,
            Err(native) => {
                warn!(
                    "XDP fast path: native mode on {name} failed ({native:#}); using generic mode"
                );
                fast_path.attach(ifindex, XdpAttachMode::Generic)?
            }
        };
        info!("XDP fast path attached to {name} ({mode:?})");
        Ok(())
    }

    fn detach(&mut self, name: &str) {
        if let Some(Ok(ifindex)) = self.attached.remove(name) {
            match self.programmer.fast_path().detach(ifindex) {
                Ok(()) => info!("XDP fast path detached from {name}"),
                Err(e) => error!("XDP fast path: {e:#}"),
            }
        }
    }

    fn teardown(&mut self) {
        let names: Vec<String> = self.attached.keys().cloned().collect();
        for name in names {
            self.detach(&name);
        }
        self.programmer.fast_path().release_predecessors();
        if let Some(dir) = &self.settings.pin_dir {
            if let Err(e) = unpin(dir) {
                warn!("XDP fast path: {e:#}");
            }
        }
        // Without the pins the ids name nothing.
        if let Some(record) = &self.settings.real_ids {
            if let Err(e) = adopt::remove(record) {
                warn!("XDP fast path: {e}");
            }
        }
    }

    fn publish_status(&mut self) {
        let modes: BTreeMap<u32, XdpAttachMode> = self.programmer.fast_path().attached().collect();
        let interfaces: Vec<Value> = self
            .attached
            .iter()
            .map(|(name, a)| {
                let mode = a.as_ref().ok().and_then(|i| modes.get(i));
                json!({
                    "name": name,
                    "attached": mode.is_some(),
                    "mode": mode,
                    "error": a.as_ref().err(),
                })
            })
            .collect();
        let planned = std::mem::take(&mut self.plan.services);
        let services: Vec<Value> = planned
            .iter()
            .map(|(key, service)| {
                service_status(&mut self.programmer, key, service, |b| {
                    (self.resolved.get(&(b.addr, b.forward))).map(|r| &r.outcome)
                })
            })
            .collect();
        self.plan.services = planned;
        let not_served: Vec<Value> = self
            .plan
            .not_served
            .iter()
            .map(|(service, reason)| json!({"service": service, "reason": reason.to_string()}))
            .collect();
        let maps = self.maps_status();
        self.status.send_replace(json!({
            "state": "running",
            "pin_dir": self.settings.pin_dir,
            "flow_capacity": self.programmer.fast_path().flow_capacity(),
            "maps": maps,
            "packets": packets(&mut self.programmer),
            "interfaces": interfaces,
            "services": services,
            "not_served": not_served,
        }));
    }

    /// How full the maps are. The connection table is counted entry by
    /// entry, so at most once per [`REFRESH`].
    fn maps_status(&mut self) -> Value {
        if self.flows.is_none_or(|(_, at)| at.elapsed() >= REFRESH) {
            match self.programmer.fast_path().maps().flow_count() {
                Ok(n) => self.flows = Some((n, Instant::now())),
                Err(e) => warn!("XDP fast path: counting flows: {e:#}"),
            }
        }
        let (services, reals) = self.programmer.fill();
        json!({
            "services": {"used": services, "capacity": MAX_SERVICES},
            "reals": {"used": reals, "capacity": MAX_REALS},
            "flows": {"used": self.flows.map(|(n, _)| n), "capacity": self.programmer.fast_path().flow_capacity()},
        })
    }
}
