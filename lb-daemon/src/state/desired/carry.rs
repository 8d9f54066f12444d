//! Verdicts carried across a configuration reload: a real server that is
//! still configured (same virtual server, same address and port) keeps its
//! checkers' verdicts, and its virtual server its quorum state, so a reload
//! neither brings a failed real server back until its next check nor runs
//! the quorum commands of unchanged virtual servers again (keepalived keeps
//! the state of unchanged services too). A drained real server stays
//! drained.
use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
};

use crate::config::{RealServer, VirtualServer};

use super::server_state::VirtualState;

/// The verdicts of a running model, by identity rather than position.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Carried {
    checkers: HashMap<(String, IpAddr, u16), Vec<bool>>,
    quorum: HashMap<String, bool>,
    drained: HashSet<(String, IpAddr, u16)>,
}

/// What identifies a virtual server across configurations.
fn identity(vs: &VirtualServer) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?}",
        vs.address, vs.port, vs.protocol, vs.fwmark, vs.group
    )
}

fn real_key(vs: &VirtualServer, rs: &RealServer) -> (String, IpAddr, u16) {
    (identity(vs), rs.address, rs.port.or(vs.port).unwrap_or(0))
}

impl Carried {
    /// The verdicts held now in `states`, those of `servers` in order.
    pub(super) fn from_states(servers: &[VirtualServer], states: &[VirtualState]) -> Carried {
        let mut carried = Carried::default();
        for (vs, state) in servers.iter().zip(states) {
            carried.quorum.insert(identity(vs), state.quorum_up);
            for (rs, real) in vs.real_server.iter().zip(&state.reals) {
                carried
                    .checkers
                    .insert(real_key(vs, rs), real.checkers.clone());
                if real.drained {
                    carried.drained.insert(real_key(vs, rs));
                }
            }
        }
        carried
    }

    /// The carried verdicts of `rs`'s checkers, when it was configured
    /// before with as many checkers.
    pub fn checkers(&self, vs: &VirtualServer, rs: &RealServer) -> Option<&[bool]> {
        self.checkers
            .get(&real_key(vs, rs))
            .filter(|c| c.len() == rs.checker.len())
            .map(Vec::as_slice)
    }

    /// Whether `rs` of `vs` was drained.
    pub fn drained(&self, vs: &VirtualServer, rs: &RealServer) -> bool {
        self.drained.contains(&real_key(vs, rs))
    }

    /// The carried quorum state of `vs`.
    pub fn quorum(&self, vs: &VirtualServer) -> Option<bool> {
        self.quorum.get(&identity(vs)).copied()
    }
}
