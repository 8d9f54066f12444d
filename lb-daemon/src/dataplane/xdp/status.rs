//! The fast path's status document: per planned service its traffic,
//! table digest and backends with their slots and next hops.
use lb_common::{VipKey, FWD_TUN};
use serde_json::{json, Value};

use super::{
    digest::table_digest,
    plan::{PlannedBackend, PlannedService},
    resolve::Resolution,
    stats::traffic,
    tables::Member,
    Programmer,
};

/// The status of one planned service: its traffic, table digest and, per
/// backend, its slot, next hop (`next_hop` of the backend's last
/// resolution, `None` before the first) and traffic.
pub fn service_status<'r>(
    programmer: &mut Programmer,
    key: &VipKey,
    planned: &PlannedService,
    next_hop: impl Fn(&PlannedBackend) -> Option<&'r Result<Resolution, String>>,
) -> Value {
    let ids = programmer.ids(key);
    let service_traffic = traffic(programmer, ids.as_ref().map(|i| i.id), false);
    let mut backends = Vec::with_capacity(planned.backends.len());
    for b in &planned.backends {
        let real_id = ids.as_ref().and_then(|i| {
            i.reals
                .iter()
                .find(|r| r.addr == b.addr && r.port == b.port)
                .map(|r| r.id)
        });
        let next_hop = match next_hop(b) {
            Some(Ok(Resolution::Ready(real))) => json!({"mac": mac(real.dmac)}),
            Some(Ok(Resolution::Pending)) | None => json!("resolving"),
            Some(Err(e)) => json!({"error": e}),
        };
        backends.push(json!({
            "address": b.addr,
            "port": b.port,
            "weight": b.weight,
            "forwarding": if b.forward == FWD_TUN { "TUN" } else { "DR" },
            "real_id": real_id,
            "next_hop": next_hop,
            "traffic": traffic(programmer, real_id, true),
        }));
    }
    let members: Vec<Member> = planned
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| Member {
            real: i as u32,
            weight: b.weight,
            addr: b.addr,
            port: b.port,
        })
        .collect();
    json!({
        "service": planned.label,
        "scheduler": format!("{:?}", planned.sched).to_lowercase(),
        "interface": planned.interface,
        "table_digest": table_digest(planned.sched, &members),
        "traffic": service_traffic,
        "backends": backends,
    })
}

fn mac(bytes: [u8; 6]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
