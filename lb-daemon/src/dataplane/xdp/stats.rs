//! The fast path's counters as the status document shows them, each
//! summed over CPUs: traffic per service and real server (`vip_stats`,
//! `rs_stats`) and the packet counters of `lb_xdp_stats` (new flows, and
//! packets passed to the kernel by [`PassReason`]).
//!
//! All of them live in the loaded program's maps: they keep counting
//! across reloads (the program stays) and start from zero only when a
//! new program is loaded (a daemon start; a restart after a crash adopts
//! the pinned flows, not the counters), which Prometheus reads as a
//! counter reset.
use lb_common::{PassReason, STATS_LEN, STAT_NEW_FLOWS};
use serde_json::{json, Map, Value};

use super::Programmer;

/// The `lb_xdp_stats` counters, summed over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketCounts(pub(super) [u64; STATS_LEN as usize]);

impl PacketCounts {
    /// Flows that found no entry in the connection table and were given a
    /// real server.
    pub fn new_flows(&self) -> u64 {
        self.0[STAT_NEW_FLOWS as usize]
    }

    /// Packets handed to the kernel for `reason`.
    pub fn passed(&self, reason: PassReason) -> u64 {
        self.0[reason as usize]
    }

    /// `{"new_flows": N, "passed": {"<reason>": N, ...}}` (every reason).
    pub fn to_json(&self) -> Value {
        let passed: Map<String, Value> = PassReason::ALL
            .iter()
            .map(|r| (r.name().to_owned(), json!(self.passed(*r))))
            .collect();
        json!({"new_flows": self.new_flows(), "passed": passed})
    }
}

/// The packet counters for the status document (an `error` object when
/// the map cannot be read).
pub(super) fn packets(programmer: &mut Programmer) -> Value {
    match programmer.fast_path().maps().packet_counts() {
        Ok(counts) => counts.to_json(),
        Err(e) => json!({"error": format!("{e:#}")}),
    }
}

/// Packets and bytes of service (or, with `real`, real server) `id`.
pub(super) fn traffic(programmer: &mut Programmer, id: Option<u32>, real: bool) -> Value {
    let Some(id) = id else { return Value::Null };
    let maps = programmer.fast_path().maps();
    let counters = if real {
        maps.real_counters(id)
    } else {
        maps.service_counters(id)
    };
    match counters {
        Ok(c) => json!({"packets": c.packets, "bytes": c.bytes}),
        Err(e) => json!({"error": format!("{e:#}")}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_shown_by_name() {
        let mut counts = [0; STATS_LEN as usize];
        counts[STAT_NEW_FLOWS as usize] = 7;
        counts[PassReason::NotVip as usize] = 3;
        let json = PacketCounts(counts).to_json();
        assert_eq!(json["new_flows"], 7);
        assert_eq!(json["passed"]["not_vip"], 3);
        assert_eq!(json["passed"]["too_big"], 0);
        assert_eq!(
            json["passed"].as_object().map(|o| o.len()),
            Some(PassReason::ALL.len())
        );
    }
}
