//! The model as its readers see it: per virtual server, its services,
//! quorum and real servers with their state, effective and programmed
//! weight and last change time; typed ([`Model::views`], for metrics) and
//! as the `status` JSON built from the same views.
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::model::Model;
use super::server_state::{RealState, VirtualState};
use super::types::VirtualService;
use crate::config::{Config, VirtualServer};

/// One virtual server as readers see it.
#[derive(Debug, Clone, Copy)]
pub struct VirtualView<'a> {
    /// Its index in the configuration.
    pub vs: usize,
    /// Its services (one per address or fwmark of a group).
    pub services: &'a [VirtualService],
    /// Whether its quorum is met.
    pub quorum_up: bool,
    server: &'a VirtualServer,
    state: &'a VirtualState,
}

/// One real server as readers see it.
#[derive(Debug, Clone, Copy)]
pub struct RealView<'a> {
    /// Its address.
    pub address: IpAddr,
    /// Its port (the virtual server's when it has none; `None` for a
    /// fwmark service's real server without one).
    pub port: Option<u16>,
    /// Whether all its checkers pass.
    pub up: bool,
    /// Effective weight (configured or dynamic).
    pub weight: u32,
    /// What the data planes get: 0 while inhibited or drained, `None`
    /// while absent.
    pub programmed_weight: Option<u32>,
    /// The operator's drain override.
    pub drained: bool,
    /// Each checker's verdict (true: up).
    pub checkers: &'a [bool],
    /// When `up` last changed.
    pub last_change: Option<SystemTime>,
}

impl<'a> VirtualView<'a> {
    /// Its real servers, in configuration order.
    pub fn reals(&self) -> impl Iterator<Item = RealView<'a>> + 'a {
        let server = self.server;
        // The backends are in configuration order too: each search starts
        // after the last match.
        let backends = self.services.first().map_or(&[][..], |s| &s.backends[..]);
        let mut next = 0;
        server.real_server.iter().zip(&self.state.reals).map(
            move |(real, st): (_, &'a RealState)| {
                let port = real.port.or(server.port);
                let found = backends[next..]
                    .iter()
                    .position(|b| !b.sorry && b.addr == real.address && Some(b.port) == port);
                let programmed_weight = found.map(|i| {
                    next += i + 1;
                    backends[next - 1].weight
                });
                RealView {
                    address: real.address,
                    port,
                    up: st.alive,
                    weight: st.weight,
                    programmed_weight,
                    drained: st.drained,
                    checkers: &st.checkers,
                    last_change: st.last_change,
                }
            },
        )
    }
}

impl Model {
    /// The configuration the model was built from.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Every virtual server, in configuration order.
    pub fn views(&self) -> impl Iterator<Item = VirtualView<'_>> {
        self.config
            .virtual_server
            .iter()
            .zip(&self.states)
            .enumerate()
            .map(|(vs, (server, state))| VirtualView {
                vs,
                services: self.services(vs),
                quorum_up: state.quorum_up,
                server,
                state,
            })
    }

    /// JSON status: `{"virtual_servers": [{"vs", "services", "quorum_up",
    /// "sorry", "real_servers": [{"address", "port", "up", "weight",
    /// "programmed_weight", "drained", "checkers", "last_change"}]}]}`
    /// (see [`RealView`]); `last_change` is in seconds since the epoch,
    /// `null` when the state never changed.
    pub fn status(&self) -> Value {
        let servers: Vec<Value> = self
            .views()
            .map(|view| {
                let reals: Vec<Value> = view
                    .reals()
                    .map(|real| {
                        json!({
                            "address": real.address,
                            "port": real.port,
                            "up": real.up,
                            "weight": real.weight,
                            "programmed_weight": real.programmed_weight,
                            "drained": real.drained,
                            "checkers": real.checkers,
                            "last_change": real.last_change.map(epoch_seconds),
                        })
                    })
                    .collect();
                json!({
                    "vs": view.vs,
                    "services": view.services.iter().map(|s| s.key).collect::<Vec<_>>(),
                    "quorum_up": view.quorum_up,
                    "sorry": view.services.first().is_some_and(|s| s.sorry),
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
