//! VIP ownership: which VRRP instances this node is MASTER of, and the
//! addresses it therefore holds. Published through a `tokio::sync::watch`
//! channel; consumers (the XDP fast-path gate) subscribe and never look at
//! VRRP internals.
//!
//! A consumer that must act before the VIPs are announced (the XDP fast
//! path, the accept-mode firewall) registers a [`Gate`] and reports each
//! ownership it has acted on; an instance entering MASTER publishes first,
//! then waits for every gate ([`Publisher::gated`]) before adding its VIPs
//! and sending gratuitous ARPs.
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use ipnet::IpNet;
use serde::Serialize;
use tokio::sync::watch;
use tracing::warn;

/// How long an instance waits for the gate before announcing anyway.
pub const GATE_TIMEOUT: Duration = Duration::from_secs(2);

/// Ownership of one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owned {
    /// Interface the instance runs on.
    pub interface: String,
    /// Whether this node is MASTER, and so holds `vips`.
    pub master: bool,
    /// The instance's addresses (with their own `dev` where configured).
    pub vips: Vec<(String, IpNet)>,
}

/// Ownership of every instance, by instance name.
pub type Ownership = BTreeMap<String, Owned>;

/// A registered gate: who it is (for logs) and what it has acted on
/// (`None` once dropped).
type Registered = (&'static str, watch::Sender<Option<Ownership>>);

/// The publishing side; cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    owned: watch::Sender<Ownership>,
    /// The registered gates.
    gates: Arc<Mutex<Vec<Registered>>>,
}

/// A consumer that acts on ownership before VIPs are announced; dropping
/// it unregisters it.
pub struct Gate(watch::Sender<Option<Ownership>>);

impl Gate {
    /// Reports that everything in `ownership` has been acted on.
    pub fn acted_on(&self, ownership: &Ownership) {
        self.0.send_replace(Some(ownership.clone()));
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.0.send_replace(None);
    }
}

impl Publisher {
    /// A publisher with nothing owned, and a first subscriber.
    pub fn new() -> (Publisher, watch::Receiver<Ownership>) {
        let (owned, rx) = watch::channel(Ownership::new());
        let gates = Arc::default();
        (Publisher { owned, gates }, rx)
    }

    /// Another subscriber, seeing the current value first.
    pub fn subscribe(&self) -> watch::Receiver<Ownership> {
        self.owned.subscribe()
    }

    /// Registers a gate for `who` (one per consumer; a new one replaces
    /// the old).
    pub fn gate(&self, who: &'static str) -> Gate {
        let sender = watch::channel(Some(Ownership::new())).0;
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        gates.retain(|(name, acted)| *name != who && acted.borrow().is_some());
        gates.push((who, sender.clone()));
        Gate(sender)
    }

    /// Waits until every registered gate has acted on instance `name`
    /// being master or not as `master` says (at most [`GATE_TIMEOUT`]
    /// each).
    pub async fn gated(&self, name: &str, master: bool) {
        let gates: Vec<_> = {
            let gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
            gates.iter().map(|(who, g)| (*who, g.subscribe())).collect()
        };
        for (who, mut acted) in gates {
            let done = acted.wait_for(|a| match a {
                None => true,
                Some(o) => o.get(name).is_some_and(|x| x.master == master),
            });
            if tokio::time::timeout(GATE_TIMEOUT, done).await.is_err() {
                warn!("({name}) {who} did not follow within {GATE_TIMEOUT:?}; going on");
            }
        }
    }

    /// Records `owned` for instance `name`; subscribers are woken only when
    /// something changed.
    pub fn set(&self, name: &str, owned: Owned) {
        self.owned.send_if_modified(|all| {
            let changed = all.get(name) != Some(&owned);
            all.insert(name.to_owned(), owned);
            changed
        });
    }

    /// Forgets instance `name` (it stopped or left the configuration).
    pub fn remove(&self, name: &str) {
        self.owned
            .send_if_modified(|all| all.remove(name).is_some());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(master: bool) -> Owned {
        Owned {
            interface: "eth0".into(),
            master,
            vips: vec![("eth0".into(), "192.0.2.50/24".parse().unwrap())],
        }
    }

    #[test]
    fn subscribers_see_changes_only() {
        let (publisher, mut rx) = Publisher::new();
        publisher.set("VI_1", owned(true));
        assert!(rx.has_changed().unwrap());
        assert!(rx.borrow_and_update()["VI_1"].master);
        publisher.set("VI_1", owned(true));
        assert!(!rx.has_changed().unwrap(), "same value is not a change");
        publisher.set("VI_1", owned(false));
        assert!(!rx.borrow_and_update()["VI_1"].master);
        publisher.remove("VI_1");
        assert!(rx.borrow_and_update().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn gated_waits_for_the_gate_only_while_one_is_registered() {
        let (publisher, rx) = Publisher::new();
        // No gate: no wait.
        tokio::time::timeout(Duration::from_millis(1), publisher.gated("VI_1", true))
            .await
            .expect("no gate, no wait");
        let gate = publisher.gate("test");
        publisher.set("VI_1", owned(true));
        let waiting = tokio::spawn({
            let publisher = publisher.clone();
            async move { publisher.gated("VI_1", true).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "the gate has not acted yet");
        gate.acted_on(&rx.borrow());
        tokio::time::timeout(Duration::from_millis(1), waiting)
            .await
            .expect("released once acted on")
            .unwrap();
        // A gate that never acts delays the instance by GATE_TIMEOUT at most.
        let started = tokio::time::Instant::now();
        publisher.gated("VI_1", false).await;
        assert_eq!(started.elapsed(), GATE_TIMEOUT);
        drop(gate);
        tokio::time::timeout(Duration::from_millis(1), publisher.gated("VI_1", false))
            .await
            .expect("unregistered");
    }

    #[tokio::test(start_paused = true)]
    async fn gated_waits_for_every_gate() {
        let (publisher, rx) = Publisher::new();
        let (xdp, firewall) = (publisher.gate("xdp"), publisher.gate("firewall"));
        publisher.set("VI_1", owned(true));
        let waiting = tokio::spawn({
            let publisher = publisher.clone();
            async move { publisher.gated("VI_1", true).await }
        });
        xdp.acted_on(&rx.borrow());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "the firewall has not acted yet");
        firewall.acted_on(&rx.borrow());
        tokio::time::timeout(Duration::from_millis(1), waiting)
            .await
            .expect("released once both acted")
            .unwrap();
        // A new gate of the same consumer replaces the old one.
        drop(xdp);
        let _xdp = publisher.gate("xdp");
        let _again = publisher.gate("xdp");
        let gates = publisher.gates.lock().unwrap();
        assert_eq!(gates.iter().filter(|(who, _)| *who == "xdp").count(), 1);
    }
}
