//! VIP ownership: which VRRP instances this node is MASTER of, and the
//! addresses it therefore holds. Published through a `tokio::sync::watch`
//! channel; consumers (the XDP fast-path gate) subscribe and never look at
//! VRRP internals.
use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::Serialize;
use tokio::sync::watch;

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

/// The publishing side; cheap to clone.
#[derive(Clone)]
pub struct Publisher(watch::Sender<Ownership>);

impl Publisher {
    /// A publisher with nothing owned, and a first subscriber.
    pub fn new() -> (Publisher, watch::Receiver<Ownership>) {
        let (tx, rx) = watch::channel(Ownership::new());
        (Publisher(tx), rx)
    }

    /// Another subscriber, seeing the current value first.
    pub fn subscribe(&self) -> watch::Receiver<Ownership> {
        self.0.subscribe()
    }

    /// Records `owned` for instance `name`; subscribers are woken only when
    /// something changed.
    pub fn set(&self, name: &str, owned: Owned) {
        self.0.send_if_modified(|all| {
            let changed = all.get(name) != Some(&owned);
            all.insert(name.to_owned(), owned);
            changed
        });
    }

    /// Forgets instance `name` (it stopped or left the configuration).
    pub fn remove(&self, name: &str) {
        self.0.send_if_modified(|all| all.remove(name).is_some());
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
}
