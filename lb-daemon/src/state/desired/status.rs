//! The `status` view: per virtual server, its services, quorum and real
//! servers with their state, effective weight and last change time.
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::model::Model;

impl Model {
    /// JSON status: `{"virtual_servers": [{"vs", "services", "quorum_up",
    /// "sorry", "real_servers": [{"address", "port", "up", "weight",
    /// "programmed_weight", "drained", "checkers", "last_change"}]}]}`; `weight` is the
    /// effective (configured or dynamic) weight, `programmed_weight` what the
    /// data planes get (0 while inhibited or drained, `null` while absent),
    /// `drained` the operator's override (see [`super::drain`]), `checkers`
    /// each checker's verdict (true: up); `last_change` is
    /// in seconds since the epoch, `null` when the state never changed.
    pub fn status(&self) -> Value {
        let servers: Vec<Value> = self
            .config
            .virtual_server
            .iter()
            .zip(&self.states)
            .enumerate()
            .map(|(vs, (server, state))| {
                let services = self.services(vs);
                let reals: Vec<Value> = server
                    .real_server
                    .iter()
                    .zip(&state.reals)
                    .map(|(real, st)| {
                        let port = real.port.or(server.port);
                        // What the data planes get: 0 while inhibited, absent (null) while down.
                        let programmed = services.first().and_then(|svc| {
                            svc.backends
                                .iter()
                                .find(|b| {
                                    !b.sorry && b.addr == real.address && Some(b.port) == port
                                })
                                .map(|b| b.weight)
                        });
                        json!({
                            "address": real.address,
                            "port": port,
                            "up": st.alive,
                            "weight": st.weight,
                            "programmed_weight": programmed,
                            "drained": st.drained,
                            "checkers": st.checkers,
                            "last_change": st.last_change.map(epoch_seconds),
                        })
                    })
                    .collect();
                json!({
                    "vs": vs,
                    "services": services.iter().map(|s| s.key).collect::<Vec<_>>(),
                    "quorum_up": state.quorum_up,
                    "sorry": services.first().is_some_and(|s| s.sorry),
                    "real_servers": reals,
                })
            })
            .collect();
        json!({ "virtual_servers": servers })
    }
}

fn epoch_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}
