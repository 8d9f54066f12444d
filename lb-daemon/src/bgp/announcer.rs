//! The announcer task: follows the desired state, VRRP ownership and the
//! checkers' first round, and announces or withdraws each prefix through
//! BIRD in the order the module documentation gives.
use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, Result};
use ipnet::IpNet;
use serde_json::{json, Value};
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
    time::Instant,
};
use tracing::{info, warn};

use super::{
    bird::{conf::Announcement, Bird},
    ownership::{host_vip, owned, owner_name, standby},
    plan::{self, Announced, Inputs},
};
use crate::{
    config::Config,
    netlink::Netlink,
    state::{
        desired::DesiredState,
        ownership::{Ownership, Publisher},
    },
    timers::sleep_until_some,
};

/// `drain` when a `bgp_announce` gives none.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(2);

/// How often the sessions' state is read from BIRD.
const POLL: Duration = Duration::from_secs(1);

/// What the announcer follows; replaced on every reload.
pub struct Follow {
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Its desired state.
    pub desired: watch::Receiver<DesiredState>,
    /// Virtual servers whose checkers have not all made a first attempt.
    pub unchecked: watch::Receiver<BTreeSet<usize>>,
    /// Virtual servers whose `bgp_announce` tracking is in FAULT.
    pub failing: watch::Receiver<BTreeSet<usize>>,
}

/// The running announcer.
pub struct Announcer {
    follow: mpsc::Sender<Follow>,
    status: watch::Receiver<Value>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Announcer {
    /// Starts BIRD for the configuration's `bgp_speaker` (a child's files in
    /// `runtime_dir`) and the task announcing its prefixes. Must run on the
    /// daemon's own thread: a child BIRD dies when the thread that started
    /// it does.
    pub async fn start(
        follow: Follow,
        ownership: Publisher,
        netlink: Netlink,
        runtime_dir: &Path,
    ) -> Result<Announcer> {
        let speaker = follow
            .config
            .bgp_speaker
            .clone()
            .context("no bgp_speaker block")?;
        let services = plan::announced(&follow.config);
        let statics = plan::announcements(&services);
        standby(&follow.config, &ownership);
        let lo = netlink
            .interface("lo")
            .await
            .context("looking up lo for the announced addresses")?
            .index;
        // A daemon killed while announcing left its addresses on lo.
        for s in &services {
            if let Err(e) = netlink.del_address(lo, IpNet::from(s.address)).await {
                warn!("BGP: removing a leftover {} from lo: {e:#}", s.address);
            }
        }
        let bird = Bird::start(&speaker, &statics, runtime_dir, &netlink).await?;
        let (status_tx, status) = watch::channel(Value::Null);
        let (follow_tx, follow_rx) = mpsc::channel(4);
        let (stop, stop_rx) = oneshot::channel();
        let state = State {
            bird: Some(bird),
            dir: runtime_dir.to_owned(),
            interface: speaker.interface.clone().unwrap_or_default(),
            services,
            statics,
            announced: BTreeSet::new(),
            refused: BTreeSet::new(),
            draining: BTreeMap::new(),
            held: BTreeMap::new(),
            reasons: BTreeMap::new(),
            sessions: Vec::new(),
            started: Instant::now(),
            ownership,
            netlink,
            lo,
            status: status_tx,
        };
        let task = tokio::spawn(state.run(follow, follow_rx, stop_rx));
        Ok(Announcer {
            follow: follow_tx,
            status,
            stop,
            task,
        })
    }

    /// Follows a reloaded configuration (BGP sessions stay up unless the
    /// `bgp_speaker` block changed).
    pub async fn follow(&self, follow: Follow) {
        let _ = self.follow.send(follow).await;
    }

    /// Announcements and sessions, for the status document.
    pub fn status(&self) -> Value {
        self.status.borrow().clone()
    }

    /// Withdraws everything (BIRD closes its sessions), waits for the
    /// longest drain, then lets the fast path go.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

struct State {
    /// `None` only while a changed `bgp_speaker` has no BIRD that starts.
    bird: Option<Bird>,
    dir: PathBuf,
    /// Where the fast path serves the announced addresses.
    interface: String,
    services: Vec<Announced>,
    statics: Vec<Announcement>,
    /// Prefixes BIRD announces.
    announced: BTreeSet<IpNet>,
    /// Prefixes whose announcement BIRD refused, and not yet retried in
    /// the log (the next pass retries each, quietly).
    refused: BTreeSet<IpNet>,
    /// Withdrawn prefixes whose fast path is kept until the instant given.
    draining: BTreeMap<IpNet, Instant>,
    /// Per prefix, the service addresses put on `lo` and published.
    held: BTreeMap<IpNet, Vec<IpAddr>>,
    /// Why each prefix not announced is not.
    reasons: BTreeMap<IpNet, String>,
    sessions: Vec<Value>,
    started: Instant,
    ownership: Publisher,
    netlink: Netlink,
    lo: u32,
    status: watch::Sender<Value>,
}

impl State {
    async fn run(
        mut self,
        mut follow: Follow,
        mut reloads: mpsc::Receiver<Follow>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut owned = self.ownership.subscribe();
        let mut poll = tokio::time::interval(POLL);
        loop {
            let now = owned.borrow_and_update().clone();
            self.step(&follow, &now).await;
            self.publish();
            let next_drain = self.draining.values().min().copied();
            tokio::select! {
                _ = &mut stop => break,
                Some(next) = reloads.recv() => {
                    self.reload(&next).await;
                    follow = next;
                }
                Ok(()) = follow.desired.changed() => {}
                Ok(()) = follow.unchecked.changed() => {}
                Ok(()) = follow.failing.changed() => {}
                Ok(()) = owned.changed() => {}
                () = sleep_until_some(next_drain) => {}
                _ = poll.tick() => {
                    self.sessions = match &self.bird {
                        Some(bird) => bird.sessions().await,
                        None => Vec::new(),
                    };
                }
            }
        }
        self.stop().await;
    }

    /// One pass: announce what is ready, withdraw what is not, release
    /// what has drained.
    async fn step(&mut self, follow: &Follow, owned: &Ownership) {
        let vrrp: Ownership = owned
            .iter()
            .filter(|(name, _)| !name.starts_with("bgp:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let unchecked = follow.unchecked.borrow().clone();
        let failing = follow.failing.borrow().clone();
        let wanted = {
            let desired = follow.desired.borrow();
            plan::wanted(
                &self.services,
                &Inputs {
                    desired: &desired,
                    ownership: &vrrp,
                    unchecked: &unchecked,
                    failing: &failing,
                    announced: &self.announced,
                    running_for: self.started.elapsed(),
                },
            )
        };
        self.reasons.clear();
        for (prefix, verdict) in wanted {
            match verdict {
                Ok(()) if !self.announced.contains(&prefix) => self.announce(prefix).await,
                Ok(()) => {}
                Err(why) => {
                    self.refused.remove(&prefix);
                    let serving =
                        self.held.contains_key(&prefix) && !self.draining.contains_key(&prefix);
                    if self.announced.contains(&prefix) || serving {
                        self.withdraw(prefix, &why).await;
                    }
                    self.reasons.insert(prefix, why);
                }
            }
        }
        let now = Instant::now();
        let drained: Vec<IpNet> = self
            .draining
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for prefix in drained {
            self.release(prefix).await;
        }
    }

    /// Fast path first (ownership, then its gate), the address on `lo`,
    /// then the route. A route BIRD refuses (or a BIRD that does not
    /// answer) is retried on the next pass; the fast path stays ready.
    async fn announce(&mut self, prefix: IpNet) {
        if self.draining.remove(&prefix).is_some() || !self.held.contains_key(&prefix) {
            self.prepare(prefix).await;
        }
        match self.bird_switch(&prefix, true).await {
            Ok(()) => {
                info!("BGP: announcing {prefix}");
                self.refused.remove(&prefix);
            }
            Err(e) => {
                self.announced.remove(&prefix);
                if self.refused.insert(prefix) {
                    warn!("BGP: announcing {prefix} (retrying every second): {e:#}");
                }
            }
        }
    }

    /// The fast path and `lo` take the prefix's addresses.
    async fn prepare(&mut self, prefix: IpNet) {
        let addresses: Vec<IpAddr> = self
            .services
            .iter()
            .filter(|s| s.prefix == prefix)
            .map(|s| s.address)
            .collect();
        let interface = self.interface.clone();
        let name = owner_name(&prefix);
        self.ownership
            .set(&name, owned(&interface, &addresses, true));
        self.ownership.gated(&name, true).await;
        for address in &addresses {
            let vip = host_vip(*address);
            if let Err(e) = self.netlink.add_address(self.lo, &vip).await {
                warn!("BGP: adding {address} to lo: {e:#}");
            }
        }
        self.held.insert(prefix, addresses);
    }

    /// The route goes; the fast path stays for the prefix's drain time.
    async fn withdraw(&mut self, prefix: IpNet, why: &str) {
        if let Err(e) = self.bird_switch(&prefix, false).await {
            warn!("BGP: withdrawing {prefix}: {e:#}");
        }
        info!("BGP: withdrawing {prefix} ({why})");
        let drain = self
            .services
            .iter()
            .filter(|s| s.prefix == prefix)
            .filter_map(|s| s.settings.drain)
            .map(Duration::from_secs_f64)
            .max()
            .unwrap_or(DEFAULT_DRAIN);
        self.draining.insert(prefix, Instant::now() + drain);
    }

    /// After the drain: the fast path lets go (the prefix stays published
    /// as not served here while configured), the address leaves `lo`.
    async fn release(&mut self, prefix: IpNet) {
        self.draining.remove(&prefix);
        let name = owner_name(&prefix);
        let addresses = self.held.remove(&prefix).unwrap_or_default();
        if self.statics.iter().any(|a| a.prefix == prefix) {
            let interface = self.interface.clone();
            self.ownership
                .set(&name, owned(&interface, &addresses, false));
        } else {
            self.ownership.remove(&name);
        }
        for address in addresses {
            if let Err(e) = self
                .netlink
                .del_address(self.lo, IpNet::from(address))
                .await
            {
                warn!("BGP: removing {address} from lo: {e:#}");
            }
        }
        info!("BGP: {prefix} drained, fast path released");
    }

    /// Announces (`on`) or withdraws `prefix` through BIRD; `announced`
    /// says afterwards what BIRD's file says.
    async fn bird_switch(&mut self, prefix: &IpNet, on: bool) -> Result<()> {
        if on {
            self.announced.insert(*prefix);
        } else {
            self.announced.remove(prefix);
        }
        let Some(a) = self.statics.iter().find(|a| a.prefix == *prefix) else {
            anyhow::bail!("no static protocol for {prefix}");
        };
        let bird = self.bird.as_ref().context("BIRD is not running")?;
        bird.switch(&self.statics, &self.announced, a, on).await
    }

    /// A reload: BIRD keeps running (and its sessions up) unless the
    /// speaker changed; prefixes that left the configuration are withdrawn
    /// and drained like any other.
    async fn reload(&mut self, next: &Follow) {
        let services = plan::announced(&next.config);
        let statics = plan::announcements(&services);
        standby(&next.config, &self.ownership);
        for old in &self.statics {
            let idle =
                !self.announced.contains(&old.prefix) && !self.draining.contains_key(&old.prefix);
            if idle && !statics.iter().any(|a| a.prefix == old.prefix) {
                self.ownership.remove(&owner_name(&old.prefix));
            }
        }
        let serving = self.held.keys().filter(|p| !self.draining.contains_key(p));
        let gone: BTreeSet<IpNet> = self
            .announced
            .iter()
            .chain(serving)
            .filter(|p| !statics.iter().any(|a| a.prefix == **p))
            .copied()
            .collect();
        for prefix in gone {
            self.withdraw(prefix, "removed from the configuration")
                .await;
        }
        let speaker = next.config.bgp_speaker.clone().unwrap_or_default();
        self.interface = speaker.interface.clone().unwrap_or_default();
        self.services = services;
        self.statics = statics;
        if let Some(bird) = self.bird.as_ref().filter(|b| *b.speaker() == speaker) {
            if let Err(e) = bird.reconfigure(&self.statics, &self.announced).await {
                warn!("BGP: {e:#}");
            }
            return;
        }
        info!("BGP: bgp_speaker changed, restarting BIRD (sessions reset)");
        // One BIRD at a time: both would use the same socket and files.
        let old = self.bird.take();
        let old_speaker = old.as_ref().map(|b| b.speaker().clone());
        if let Some(old) = old {
            old.stop().await;
        }
        // A new BIRD starts with nothing announced; the next pass announces.
        self.announced.clear();
        match Bird::start(&speaker, &self.statics, &self.dir, &self.netlink).await {
            Ok(bird) => self.bird = Some(bird),
            Err(e) => {
                warn!("BGP: the new bgp_speaker does not start, back to the old one: {e:#}");
                if let Some(old_speaker) = old_speaker {
                    match Bird::start(&old_speaker, &self.statics, &self.dir, &self.netlink).await {
                        Ok(bird) => self.bird = Some(bird),
                        Err(e) => warn!("BGP: BIRD does not start again: {e:#}"),
                    }
                }
            }
        }
    }

    /// BIRD stops (its sessions close: the routers withdraw everything),
    /// then, after the longest drain, the fast path lets go.
    async fn stop(mut self) {
        let announced: Vec<IpNet> = self.announced.iter().copied().collect();
        for prefix in announced {
            self.withdraw(prefix, "lb-daemon stops").await;
        }
        if let Some(bird) = self.bird.take() {
            bird.stop().await;
        }
        if let Some(last) = self.draining.values().max().copied() {
            tokio::time::sleep_until(last).await;
        }
        let held: Vec<IpNet> = self.held.keys().copied().collect();
        for prefix in held {
            self.release(prefix).await;
        }
    }

    fn publish(&self) {
        let announcements: Vec<Value> = self
            .statics
            .iter()
            .map(|a| {
                let state = if self.announced.contains(&a.prefix) {
                    "announced"
                } else if self.draining.contains_key(&a.prefix) {
                    "draining"
                } else {
                    "withdrawn"
                };
                json!({
                    "prefix": a.prefix,
                    "state": state,
                    "reason": self.reasons.get(&a.prefix),
                    "communities": a.communities.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        self.status.send_replace(json!({
            "announcements": announcements,
            "sessions": self.sessions,
        }));
    }
}
