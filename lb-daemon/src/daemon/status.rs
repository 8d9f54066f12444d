//! The status document, version [`SCHEMA_VERSION`] (documented field by
//! field in `docs/status-schema.md`): the control socket's `status` reply,
//! hence `lb-daemon status --json`, and the JSON dump (`keepalived.json`)
//! are this one document; `lb-daemon status` (text) and the data and stats
//! dumps are derived from it.
use std::{
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::{json, Value};

use super::{secrets, Running};
use crate::{
    dataplane::xdp::Reconciler,
    state::desired::ServiceRef,
    vrrp::{fsm::State, instance::InstanceStatus},
};

/// The version of the status document's layout: raised when a field is
/// removed, renamed or changes meaning (adding fields keeps it).
pub const SCHEMA_VERSION: u32 = 1;

/// The outcome of the last SIGHUP reload.
#[derive(Debug, Clone)]
pub(super) struct Reload {
    /// When it was attempted.
    pub at: SystemTime,
    /// Why it was refused; `None` when it was applied.
    pub error: Option<String>,
}

/// Seconds since the epoch.
pub(super) fn epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Running {
    /// The whole status document, IPVS's programmed state included (read
    /// without holding `self`).
    pub(super) fn status_document(&self) -> impl Future<Output = Value> + Send + 'static {
        let config = Arc::clone(&self.config);
        let runtime = self.runtime_document();
        async move {
            let mut status = runtime.await;
            // Hundreds of milliseconds for a large configuration: not on
            // the daemon's loop.
            let redacted = move || secrets::redacted_config(&*config);
            status["config"] = tokio::task::spawn_blocking(redacted)
                .await
                .unwrap_or_else(|e| json!(format!("(configuration not shown: {e})")));
            status
        }
    }

    /// The status document without the configuration, which metrics do not
    /// need and which is costly to serialize on this thread when large.
    pub(super) fn runtime_document(&self) -> impl Future<Output = Value> + Send + 'static {
        let mut status = self.status();
        let lvs = self
            .lvs
            .as_ref()
            .map(|lvs| (lvs.status(), lvs.ipvs_status()));
        async move {
            if let Some((lvs, ipvs)) = lvs {
                status["lvs"] = lvs.await;
                status["lvs"]["ipvs"] = ipvs.await;
            }
            status
        }
    }

    /// What a metrics scrape renders: the status document without the LVS
    /// part, and the LVS part as typed snapshots.
    pub(super) fn metrics_sources(
        &self,
    ) -> impl Future<Output = crate::metrics::Sources> + Send + 'static {
        let status = self.status();
        let lvs = self.lvs.as_ref().map(super::lvs::Lvs::metrics);
        async move {
            let lvs = match lvs {
                Some(lvs) => Some(lvs.await),
                None => None,
            };
            crate::metrics::Sources { status, lvs }
        }
    }

    /// The status document without the LVS part (virtual servers,
    /// checkers, IPVS's programmed state) and the configuration (whose
    /// secrets [`secrets`] redacts).
    fn status(&self) -> Value {
        let tracking = self.tracking.status();
        let last_reload = self.last_reload.as_ref().map(|r| {
            json!({
                "at": epoch(r.at),
                "result": if r.error.is_none() { "ok" } else { "error" },
                "error": r.error,
            })
        });
        json!({
            "schema_version": SCHEMA_VERSION,
            "generated_at": epoch(SystemTime::now()),
            "version": env!("CARGO_PKG_VERSION"),
            "pid": std::process::id(),
            "config_file": self.path,
            "config_generation": self.generation,
            "config_loaded_at": epoch(self.loaded_at),
            "last_reload": last_reload,
            "last_reload_error": self.last_reload.as_ref().and_then(|r| r.error.clone()),
            "vrrp": self.vrrp.status().into_iter().map(|i| instance(i, &tracking)).collect::<Vec<_>>(),
            "tracking": tracking,
            "lvs": null,
            "fast_path": self.fast_path.as_ref().map(Reconciler::status),
            "bgp": self.bgp.as_ref().map(crate::bgp::Announcer::status),
            "lvs_sync_daemon": self.sync.status(),
        })
    }

    /// The reply to a drain/undrain request: what changed, or why nothing
    /// could.
    pub(super) fn drain(&self, service: ServiceRef, server: SocketAddr, drained: bool) -> Value {
        let Some(lvs) = &self.lvs else {
            return json!({"error": "the daemon is reloading; try again"});
        };
        match lvs.drain(service, server, drained) {
            Ok(done) => {
                let verb = if drained { "Drained" } else { "Undrained" };
                tracing::info!(
                    "{verb} real server {server} of {} (requested on the control socket)",
                    done.services.join(", ")
                );
                json!({
                    "ok": true,
                    "drained": drained,
                    "server": server,
                    "services": done.services,
                    "changed": !done.changed.is_empty(),
                })
            }
            Err(why) => json!({ "error": why }),
        }
    }
}

/// One VRRP instance: its own status plus its base priority, the VIPs it
/// holds now and its tracked objects (from the `tracking` status).
fn instance(status: InstanceStatus, tracking: &Value) -> Value {
    let held = match status.state {
        State::Master => status.vips.clone(),
        _ => Vec::new(),
    };
    let tracked = &tracking["instances"][&status.name];
    let mut entry = json!(status);
    entry["effective_priority"] = json!(status.priority);
    entry["base_priority"] = tracked["base_priority"].clone();
    entry["vips_held"] = json!(held);
    entry["tracking"] = tracked.clone();
    entry
}
