//! What `lb-daemon status` shows of a running instance.
use std::net::IpAddr;

use serde::Serialize;

use crate::vrrp::{counts::Counts, fsm::State, packet::DropCounts, spec::InstanceSpec};

/// What `lb-daemon status` shows of an instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// Interface.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// Current state, spelled as keepalived logs it (`MASTER`).
    #[serde(serialize_with = "as_display")]
    pub state: State,
    /// Effective priority.
    pub priority: u8,
    /// Address of the current master, as far as this node knows.
    pub master: Option<IpAddr>,
    /// Addresses the instance holds while master.
    pub vips: Vec<String>,
    /// Unix time of the last state change.
    pub last_transition: Option<u64>,
    /// Adverts sent.
    pub adverts_sent: u64,
    /// Valid adverts received for this VRID.
    pub adverts_received: u64,
    /// Packets dropped, by reason.
    pub drops: DropCounts,
    /// keepalived's other per-instance counters.
    #[serde(flatten)]
    pub counts: Counts,
    /// Why the instance could not run, or is in FAULT because its interface
    /// is gone or unusable.
    pub error: Option<String>,
}

impl InstanceStatus {
    /// The status of an instance that has not started yet.
    pub fn initial(spec: &InstanceSpec) -> InstanceStatus {
        InstanceStatus {
            name: spec.name.clone(),
            interface: spec.interface.clone(),
            vrid: spec.vrid,
            state: State::Initialize,
            priority: spec.priority,
            master: None,
            vips: spec.all_vips().map(|v| v.address.to_string()).collect(),
            last_transition: None,
            adverts_sent: 0,
            adverts_received: 0,
            drops: DropCounts::default(),
            counts: Counts::default(),
            error: None,
        }
    }
}

fn as_display<S: serde::Serializer>(state: &State, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(state)
}
