//! keepalived's `rp_filter` handling for IPv4 `use_vmac` (its
//! `clear_rp_filter`): a macvlan receives the peers' adverts, whose sources
//! are routed through the base interface, so it needs `rp_filter=0`; the
//! kernel uses the larger of `all.rp_filter` and the interface's, so
//! `all.rp_filter` must be 0 too. To keep every other interface filtering
//! as before, each one (and `default`, for interfaces created later) is
//! first raised to the old `all` value, then `all` is set to 0. When the
//! last IPv4 macvlan goes, the values lb-daemon changed are put back if
//! nobody changed them meanwhile.
use std::sync::{Mutex, OnceLock};

use tracing::{info, warn};

use super::sysctl;

/// What was changed: the old `all` value and each name (`default` or an
/// interface) raised from its old value.
struct Cleared {
    all: u32,
    raised: Vec<(String, u32)>,
}

/// The holders of a cleared `all.rp_filter`, and what clearing changed.
fn state() -> &'static Mutex<(usize, Option<Cleared>)> {
    static STATE: OnceLock<Mutex<(usize, Option<Cleared>)>> = OnceLock::new();
    STATE.get_or_init(Mutex::default)
}

/// `all.rp_filter` held at 0 for an IPv4 macvlan; dropping the last holder
/// restores the earlier values.
pub struct RpFilterHold(());

impl RpFilterHold {
    /// Clears `all.rp_filter` (see the module) unless another macvlan
    /// already did.
    pub fn hold() -> RpFilterHold {
        let mut state = state().lock().unwrap_or_else(|e| e.into_inner());
        if state.0 == 0 {
            state.1 = clear();
        }
        state.0 += 1;
        RpFilterHold(())
    }
}

impl Drop for RpFilterHold {
    fn drop(&mut self) {
        let mut state = state().lock().unwrap_or_else(|e| e.into_inner());
        state.0 = state.0.saturating_sub(1);
        if state.0 == 0 {
            if let Some(cleared) = state.1.take() {
                restore(&cleared);
            }
        }
    }
}

fn set(name: &str, value: u32) {
    match sysctl::write("ipv4", name, "rp_filter", value) {
        Ok(()) => info!("NOTICE: setting sysctl net.ipv4.conf.{name}.rp_filter to {value}"),
        Err(e) => warn!("setting net.ipv4.conf.{name}.rp_filter={value}: {e}"),
    }
}

fn clear() -> Option<Cleared> {
    let all = sysctl::read("all", "rp_filter").filter(|&all| all > 0)?;
    let names = std::iter::once("default".to_owned()).chain(sysctl::interfaces());
    let mut raised = Vec::new();
    for name in names {
        match sysctl::read(&name, "rp_filter") {
            Some(old) if old < all => {
                set(&name, all);
                raised.push((name, old));
            }
            _ => {}
        }
    }
    set("all", 0);
    Some(Cleared { all, raised })
}

fn restore(cleared: &Cleared) {
    if sysctl::read("all", "rp_filter") == Some(0) {
        set("all", cleared.all);
    }
    for (name, old) in &cleared.raised {
        if sysctl::read(name, "rp_filter") == Some(cleared.all) {
            set(name, *old);
        }
    }
}
