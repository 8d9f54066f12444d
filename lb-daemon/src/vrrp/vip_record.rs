//! The addresses this daemon put on interfaces, kept in a file of the
//! runtime directory. A daemon killed while MASTER leaves its VIPs on the
//! interfaces; the next start removes them all before any instance runs
//! (each instance adds back what it owns), including those the
//! configuration dropped while the daemon was down, which no instance
//! would otherwise know about.
//!
//! An address is recorded before it is added and forgotten after it is
//! removed, so that the file always holds at least what is on the
//! interfaces, whenever the process dies.
use std::{
    collections::BTreeSet,
    fs, io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::netlink::Netlink;

/// The record's file name in the runtime directory.
pub const FILE: &str = "vips.json";

/// One address on one interface.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Held {
    interface: String,
    address: IpNet,
}

/// The shared record (cheap to clone).
#[derive(Clone)]
pub struct VipRecord {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    held: Mutex<BTreeSet<Held>>,
}

impl VipRecord {
    /// A record kept in `path`, starting empty: call
    /// [`VipRecord::remove_leftovers`] first to act on what a previous run
    /// recorded there.
    pub fn at(path: PathBuf) -> VipRecord {
        VipRecord {
            inner: Arc::new(Inner {
                path,
                held: Mutex::default(),
            }),
        }
    }

    /// Removes every address the previous run recorded (and left, if it was
    /// killed) from its interface, then empties the record.
    pub async fn remove_leftovers(&self, netlink: &Netlink) {
        let inner = &self.inner;
        let recorded = match read(&inner.path) {
            Ok(recorded) => recorded,
            Err(e) => {
                warn!("{e}; addresses a crashed run added are not removed");
                Vec::new()
            }
        };
        // What could not be removed stays recorded for the next start.
        let mut kept = BTreeSet::new();
        for held in recorded {
            let Ok(iface) = netlink.interface(&held.interface).await else {
                continue;
            };
            let removed = match netlink.addresses(iface.index).await {
                Ok(present) if !present.contains(&held.address) => Ok(()),
                Ok(_) => {
                    info!(
                        "removing VIP {} from {}: left by a previous run",
                        held.address, held.interface
                    );
                    netlink.del_address(iface.index, held.address).await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = removed {
                warn!("{e:#}");
                kept.insert(held);
            }
        }
        let mut held = inner.held.lock().unwrap_or_else(|e| e.into_inner());
        *held = kept;
        inner.save(&held);
    }

    /// Notes that `address` is about to be added to `interface`.
    pub fn adding(&self, interface: &str, address: IpNet) {
        self.change(interface, address, true);
    }

    /// Notes that `address` was removed from `interface`.
    pub fn removed(&self, interface: &str, address: IpNet) {
        self.change(interface, address, false);
    }

    fn change(&self, interface: &str, address: IpNet, add: bool) {
        let inner = &self.inner;
        let mut held = inner.held.lock().unwrap_or_else(|e| e.into_inner());
        let entry = Held {
            interface: interface.to_owned(),
            address,
        };
        let changed = match add {
            true => held.insert(entry),
            false => held.remove(&entry),
        };
        if changed {
            inner.save(&held);
        }
    }
}

impl Inner {
    /// Writes `held` (replacing the file whole), or removes the file when
    /// nothing is held; a failure is logged, the addresses still change.
    fn save(&self, held: &BTreeSet<Held>) {
        if let Err(e) = write(&self.path, held) {
            warn!("{e}");
        }
    }
}

fn read(path: &Path) -> Result<Vec<Held>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a list of addresses: {e}", path.display()))
}

fn write(path: &Path, held: &BTreeSet<Held>) -> Result<(), String> {
    if held.is_empty() {
        return match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(format!("removing {}: {e}", path.display()))
            }
            _ => Ok(()),
        };
    }
    let text = serde_json::to_string_pretty(held).map_err(|e| e.to_string())?;
    let partial = path.with_extension("json.new");
    fs::write(&partial, text + "\n")
        .and_then(|()| fs::rename(&partial, path))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn records_what_is_held_and_removes_the_file_when_nothing_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let record = VipRecord::at(path.clone());
        record.adding("eth0", net("192.0.2.50/24"));
        record.adding("eth1", net("2001:db8::50/64"));
        record.adding("eth0", net("192.0.2.50/24"));
        let mut held = read(&path).unwrap();
        held.sort();
        assert_eq!(
            held,
            vec![
                Held {
                    interface: "eth0".into(),
                    address: net("192.0.2.50/24")
                },
                Held {
                    interface: "eth1".into(),
                    address: net("2001:db8::50/64")
                },
            ]
        );
        record.removed("eth0", net("192.0.2.50/24"));
        assert_eq!(read(&path).unwrap().len(), 1);
        record.removed("eth1", net("2001:db8::50/64"));
        assert!(!path.exists());
    }

    #[test]
    fn a_damaged_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        fs::write(&path, "[{\"interface\": 1}]").unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.contains(FILE), "{err}");
    }
}
