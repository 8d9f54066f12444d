//! The backends of a virtual server, given its real servers' states
//! (keepalived's `ipvs_cmd` add/delete/inhibit decisions, as a pure
//! function):
//! * an alive real server is present with its effective weight;
//! * a failed one is absent, or present with weight 0 under
//!   `inhibit_on_failure` (the virtual server's or its own);
//! * a drained one (see [`super::drain`]) is present with weight 0 while it
//!   would serve, so its established flows continue;
//! * while the quorum is lost and a sorry server is configured, the sorry
//!   server (weight 1) replaces the pool: alive real servers are removed, or
//!   set to weight 0 under `inhibit_on_failure` (`perform_quorum_state`);
//! * otherwise the sorry server is absent, or present with weight 0 under
//!   `sorry_server_inhibit` (`init_service_vs`).
use crate::config::{Config, LbKind, RealServer, VirtualServer};

use super::server_state::{RealState, VirtualState};
use super::services::services_of;
use super::types::{Backend, VirtualService};

/// The services of `config.virtual_server[vs]` with their backends.
pub(super) fn services(config: &Config, vs: usize, state: &VirtualState) -> Vec<VirtualService> {
    let server = &config.virtual_server[vs];
    let sorry = !state.quorum_up && server.sorry_server.is_some();
    let backends = backends(server, state, sorry);
    services_of(config, vs)
        .into_iter()
        .map(|service| VirtualService {
            backends: backends.clone(),
            sorry,
            ..service
        })
        .collect()
}

/// The backends shared by every service of `server`.
fn backends(server: &VirtualServer, state: &VirtualState, sorry: bool) -> Vec<Backend> {
    let kind = server.lb_kind.unwrap_or(LbKind::Nat);
    let mut all: Vec<Backend> = server
        .real_server
        .iter()
        .zip(&state.reals)
        .filter_map(|(real, st)| real_backend(server, real, st, sorry, kind))
        .collect();
    if let Some(endpoint) = &server.sorry_server {
        if sorry || server.sorry_server_inhibit {
            all.push(Backend {
                addr: endpoint.address,
                port: endpoint.port,
                weight: u32::from(sorry),
                forwarding: server.sorry_server_lvs_method.unwrap_or(kind),
                uthreshold: 0,
                lthreshold: 0,
                up: sorry,
                sorry: true,
                drained: false,
            });
        }
    }
    all
}

/// One real server's backend, if it is present.
fn real_backend(
    server: &VirtualServer,
    real: &RealServer,
    state: &RealState,
    sorry: bool,
    kind: LbKind,
) -> Option<Backend> {
    let inhibit = real.inhibit_on_failure || server.inhibit_on_failure;
    let serving = state.alive && !sorry;
    if !serving && !inhibit {
        return None;
    }
    Some(Backend {
        addr: real.address,
        port: real.port.or(server.port).unwrap_or(0),
        weight: if serving && !state.drained {
            state.weight
        } else {
            0
        },
        forwarding: real.lvs_method.unwrap_or(kind),
        uthreshold: real.uthreshold.unwrap_or(0),
        lthreshold: real.lthreshold.unwrap_or(0),
        up: state.alive,
        sorry: false,
        drained: state.drained,
    })
}
