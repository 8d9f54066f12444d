//! The reconciler's part of `lb-daemon status`: per desired service, what
//! is desired next to what IPVS holds, dumped when asked.
use serde_json::{json, Value};

use super::super::client::Dumped;
use super::super::model::{flags, DestCounters, Destination, Forwarding, Service};
use super::super::target::Target;
use super::super::IpvsClient;
use super::state::State;

/// The status of `state` (`None`: still connecting).
pub fn of(state: Option<&mut State>) -> Value {
    let Some(state) = state else {
        return json!({ "available": false, "unavailable": "connecting to IPVS" });
    };
    let programmed = match (&mut state.client, &state.unavailable) {
        (Some(client), _) => Some(dump(client, &state.targets)),
        _ => None,
    };
    let services: Vec<Value> = state
        .targets
        .iter()
        .map(|target| {
            let key = target.table.service.key;
            let now = match &programmed {
                Some(Ok(tables)) => tables
                    .iter()
                    .find(|(dumped, _)| dumped.service.key == key)
                    .map(|(dumped, dests)| {
                        let mut now = table(&dumped.service, dests.iter().map(|d| (&d.dest, Some(&d.counters))));
                        now["stats"] = json!(dumped.stats);
                        now
                    }),
                _ => None,
            };
            json!({
                "vs": target.vs,
                "service": key.to_string(),
                "desired": table(&target.table.service, target.table.dests.iter().map(|d| (d, None))),
                "programmed": now,
            })
        })
        .collect();
    json!({
        "available": state.unavailable.is_none(),
        "unavailable": state.unavailable,
        "dump_error": programmed.and_then(|p| p.err()),
        "last_error": state.last_error,
        "services": services,
    })
}

/// IPVS's counters of the desired services of `state`, dumped now; empty
/// while IPVS is unavailable or when the dump fails (the status reports
/// why).
pub fn traffic(state: Option<&mut State>) -> Dumped {
    match state {
        Some(State {
            client: Some(client),
            targets,
            ..
        }) => dump(client, targets).unwrap_or_default(),
        _ => Dumped::new(),
    }
}

/// The desired services as IPVS holds them now.
fn dump(client: &mut IpvsClient, targets: &[Target]) -> Result<Dumped, String> {
    let mut out = Vec::new();
    for dumped in client.services().map_err(|e| e.to_string())? {
        let key = dumped.service.key;
        if targets.iter().any(|t| t.table.service.key == key) {
            let dests = client.destinations(&key).map_err(|e| e.to_string())?;
            out.push((dumped, dests));
        }
    }
    Ok(out)
}

/// A service and its destinations (with counters when dumped).
fn table<'a>(
    service: &Service,
    dests: impl Iterator<Item = (&'a Destination, Option<&'a DestCounters>)>,
) -> Value {
    let dests: Vec<Value> = dests
        .map(|(d, counters)| {
            let mut v = json!({
                "address": d.addr,
                "port": d.port,
                "forwarding": d.forwarding.ipvsadm_name(),
                "weight": d.weight,
                "u_threshold": d.u_threshold,
                "l_threshold": d.l_threshold,
            });
            if d.forwarding == Forwarding::Tunnel {
                v["tunnel"] = json!(d.tunnel);
            }
            if let Some(c) = counters {
                v["active_conns"] = json!(c.active_conns);
                v["inactive_conns"] = json!(c.inactive_conns);
                v["persistent_conns"] = json!(c.persistent_conns);
                v["stats"] = json!(c.stats);
            }
            v
        })
        .collect();
    json!({
        "scheduler": service.scheduler,
        "flags": flags::names(service.flags, &service.scheduler),
        "persistence_timeout": service.timeout,
        "netmask": service.netmask,
        "persistence_engine": service.pe_name,
        "destinations": dests,
    })
}
