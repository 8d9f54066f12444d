//! `promote_secondaries`: while an instance with it runs, its interface has
//! `net.ipv4.conf.IF.promote_secondaries` set, so that removing a VIP that
//! happens to be the primary address of its subnet promotes the other
//! addresses of that subnet instead of deleting them too. As keepalived
//! (`set_promote_secondaries`), the setting is counted per interface and
//! put back to 0 when the last instance that turned it on stops; an
//! interface that already had it keeps it.
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Mutex, OnceLock},
};

use tracing::warn;

/// Instances holding the setting, by interface, and whether it was already
/// on before the first of them.
fn holders() -> &'static Mutex<HashMap<String, (usize, bool)>> {
    static HOLDERS: OnceLock<Mutex<HashMap<String, (usize, bool)>>> = OnceLock::new();
    HOLDERS.get_or_init(Mutex::default)
}

fn sysctl(interface: &str) -> PathBuf {
    super::sysctl::path("ipv4", interface, "promote_secondaries")
}

/// The setting held for one instance; dropping it releases it.
#[derive(Debug)]
pub struct PromoteSecondaries {
    interface: String,
}

impl PromoteSecondaries {
    /// Turns `promote_secondaries` on for `interface` (a failure is logged:
    /// the instance runs, as keepalived's does).
    pub fn hold(interface: &str) -> PromoteSecondaries {
        let mut holders = holders().lock().unwrap_or_else(|e| e.into_inner());
        let entry = holders.entry(interface.to_string()).or_insert((0, false));
        if entry.0 == 0 {
            let path = sysctl(interface);
            entry.1 = std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == "1");
            if !entry.1 {
                if let Err(e) = std::fs::write(&path, "1") {
                    warn!("cannot set promote_secondaries on {interface}: {e}");
                }
            }
        }
        entry.0 += 1;
        PromoteSecondaries {
            interface: interface.to_string(),
        }
    }
}

impl Drop for PromoteSecondaries {
    fn drop(&mut self) {
        let mut holders = holders().lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = holders.get_mut(&self.interface) else {
            return;
        };
        entry.0 -= 1;
        if entry.0 == 0 {
            let was_on = entry.1;
            holders.remove(&self.interface);
            if !was_on {
                if let Err(e) = std::fs::write(sysctl(&self.interface), "0") {
                    warn!(
                        "cannot reset promote_secondaries on {}: {e}",
                        self.interface
                    );
                }
            }
        }
    }
}
