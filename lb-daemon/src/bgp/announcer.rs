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
    bird::{
        child::Bird,
        conf::{self, Announcement},
    },
    plan::{self, Announced, Inputs},
};
use crate::{
    config::{BgpSpeaker, Config, VirtualIp},
    netlink::Netlink,
    state::{
        desired::DesiredState,
        ownership::{Owned, Ownership, Publisher},
    },
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
    /// Starts BIRD for the configuration's `bgp_speaker` (files in
    /// `runtime_dir`) and the task announcing its prefixes. Must run on the
    /// daemon's own thread: BIRD dies when the thread that started it does.
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
        let text = bird_conf(&speaker, &statics, &BTreeSet::new());
        let binary = bird_binary(&speaker);
        let bird = Bird::start(&binary, runtime_dir, &text).await?;
        let (status_tx, status) = watch::channel(Value::Null);
        let (follow_tx, follow_rx) = mpsc::channel(4);
        let (stop, stop_rx) = oneshot::channel();
        let state = State {
            bird,
            dir: runtime_dir.to_owned(),
            speaker,
            services,
            statics,
            announced: BTreeSet::new(),
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

fn bird_binary(speaker: &BgpSpeaker) -> PathBuf {
    speaker
        .bird_binary
        .clone()
        .unwrap_or_else(|| PathBuf::from("bird"))
}

fn bird_conf(speaker: &BgpSpeaker, statics: &[Announcement], enabled: &BTreeSet<IpNet>) -> String {
    let mut text = String::from("log stderr all;\n");
    text.push_str(&conf::render(speaker, statics, enabled));
    text
}

/// The name a prefix is published under in VIP ownership.
fn owner_name(prefix: &IpNet) -> String {
    format!("bgp:{prefix}")
}

/// The ownership entry of `prefix` holding `addresses` on `interface`.
fn owned(interface: &str, addresses: &[IpAddr], master: bool) -> Owned {
    Owned {
        interface: interface.to_owned(),
        master,
        vips: addresses
            .iter()
            .map(|a| (interface.to_owned(), IpNet::from(*a)))
            .collect(),
    }
}

/// The service addresses announced under each prefix.
fn addresses_by_prefix(services: &[Announced]) -> BTreeMap<IpNet, Vec<IpAddr>> {
    let mut by_prefix: BTreeMap<IpNet, Vec<IpAddr>> = BTreeMap::new();
    for s in services {
        by_prefix.entry(s.prefix).or_default().push(s.address);
    }
    by_prefix
}

/// Publishes every announced address of `config` as held by this node but
/// not served here yet (as a VRRP BACKUP's): the fast path prepares for it
/// instead of taking it for an address it cannot serve. Call before the
/// fast path starts.
pub fn standby(config: &Config, ownership: &Publisher) {
    let Some(speaker) = &config.bgp_speaker else {
        return;
    };
    let interface = speaker.interface.clone().unwrap_or_default();
    let services = plan::announced(config);
    for (prefix, addresses) in addresses_by_prefix(&services) {
        let name = owner_name(&prefix);
        if !ownership.subscribe().borrow().contains_key(&name) {
            ownership.set(&name, owned(&interface, &addresses, false));
        }
    }
}

struct State {
    bird: Bird,
    dir: PathBuf,
    speaker: BgpSpeaker,
    services: Vec<Announced>,
    statics: Vec<Announcement>,
    /// Prefixes BIRD announces.
    announced: BTreeSet<IpNet>,
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
                () = async {
                    match next_drain {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
                _ = poll.tick() => self.sessions = self.read_sessions().await,
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
                    if self.announced.contains(&prefix) {
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
    /// then the route.
    async fn announce(&mut self, prefix: IpNet) {
        self.draining.remove(&prefix);
        let addresses: Vec<IpAddr> = self
            .services
            .iter()
            .filter(|s| s.prefix == prefix)
            .map(|s| s.address)
            .collect();
        let interface = self.speaker.interface.clone().unwrap_or_default();
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
        match self.bird_switch("enable", &prefix).await {
            Ok(()) => {
                info!("BGP: announcing {prefix}");
                self.announced.insert(prefix);
            }
            Err(e) => warn!("BGP: announcing {prefix}: {e:#}"),
        }
    }

    /// The route goes; the fast path stays for the prefix's drain time.
    async fn withdraw(&mut self, prefix: IpNet, why: &str) {
        if let Err(e) = self.bird_switch("disable", &prefix).await {
            warn!("BGP: withdrawing {prefix}: {e:#}");
        }
        info!("BGP: withdrawing {prefix} ({why})");
        self.announced.remove(&prefix);
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
            let interface = self.speaker.interface.clone().unwrap_or_default();
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

    async fn bird_switch(&self, verb: &str, prefix: &IpNet) -> Result<()> {
        let Some(a) = self.statics.iter().find(|a| a.prefix == *prefix) else {
            anyhow::bail!("no static protocol for {prefix}");
        };
        let reply = self
            .bird
            .command(&format!("{verb} {}", a.protocol()))
            .await?;
        if reply.is_error() {
            anyhow::bail!("BIRD: {}", reply.text());
        }
        Ok(())
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
        let gone: Vec<IpNet> = self
            .announced
            .iter()
            .filter(|p| !statics.iter().any(|a| a.prefix == **p))
            .copied()
            .collect();
        for prefix in gone {
            self.withdraw(prefix, "removed from the configuration")
                .await;
        }
        let speaker = next.config.bgp_speaker.clone().unwrap_or_default();
        let text = bird_conf(&speaker, &statics, &self.announced);
        self.services = services;
        self.statics = statics;
        if speaker == self.speaker {
            if let Err(e) = self.bird.reconfigure(&text).await {
                warn!("BGP: {e:#}");
            }
            return;
        }
        info!("BGP: bgp_speaker changed, restarting BIRD (sessions reset)");
        // One BIRD at a time: both would use the same socket and files.
        self.bird.stop().await;
        match Bird::start(&bird_binary(&speaker), &self.dir, &text).await {
            Ok(bird) => {
                self.bird = bird;
                self.speaker = speaker;
            }
            Err(e) => {
                warn!("BGP: the new bgp_speaker does not start, back to the old one: {e:#}");
                let old = bird_conf(&self.speaker, &self.statics, &self.announced);
                match Bird::start(&bird_binary(&self.speaker), &self.dir, &old).await {
                    Ok(bird) => self.bird = bird,
                    Err(e) => warn!("BGP: BIRD does not start again: {e:#}"),
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
        self.bird.stop().await;
        if let Some(last) = self.draining.values().max().copied() {
            tokio::time::sleep_until(last).await;
        }
        let held: Vec<IpNet> = self.held.keys().copied().collect();
        for prefix in held {
            self.release(prefix).await;
        }
    }

    /// Each neighbour's BGP state and BFD state as BIRD reports them.
    async fn read_sessions(&self) -> Vec<Value> {
        let bfd = match self.bird.command("show bfd sessions").await {
            Ok(reply) => reply.lines,
            Err(_) => Vec::new(),
        };
        let mut sessions = Vec::new();
        for (i, n) in self.speaker.neighbor.iter().enumerate() {
            let protocol = conf::session(i);
            let bgp_state = match self
                .bird
                .command(&format!("show protocols all {protocol}"))
                .await
            {
                Ok(reply) => field(&reply.lines, "BGP state:"),
                Err(e) => Some(format!("unknown ({e:#})")),
            };
            let address = n.address.to_string();
            let bfd_state = bfd
                .iter()
                .find(|l| l.split_whitespace().next() == Some(address.as_str()))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned));
            sessions.push(json!({
                "neighbor": address,
                "protocol": protocol,
                "bgp_state": bgp_state,
                "bfd_state": bfd_state,
            }));
        }
        sessions
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

/// The value after `label` on the line that holds it (`BGP state:
/// Established` -> `Established`).
fn field(lines: &[String], label: &str) -> Option<String> {
    lines.iter().find_map(|l| {
        let (_, rest) = l.split_once(label)?;
        Some(rest.trim().to_owned())
    })
}

/// A service address as a host address on `lo`.
fn host_vip(address: IpAddr) -> VirtualIp {
    VirtualIp {
        address: IpNet::from(address),
        brd: None,
        dev: Some("lo".into()),
        scope: None,
        label: None,
        peer: None,
        no_track: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_birds_protocol_details() {
        let lines = vec![
            "Name       Proto      Table      State  Since         Info".to_owned(),
            "upstream_0 BGP        ---        up     08:45:04.040  Established".to_owned(),
            "  BGP state:          Established".to_owned(),
            "    Neighbor address: 198.51.100.1".to_owned(),
        ];
        assert_eq!(field(&lines, "BGP state:").as_deref(), Some("Established"));
        assert_eq!(field(&lines, "Hold timer:"), None);
    }
}
