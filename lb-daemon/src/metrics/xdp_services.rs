//! The fast path's services and backends with their counters, read once
//! per scrape from the status document's `fast_path.services` for both the
//! `keepalived_lvs_*` sums and the `lb_xdp_*` families.
use std::net::IpAddr;

use serde_json::Value;

use super::{lvs_labels::DestKey, service::key_from_name};
use crate::state::desired::ServiceKey;

/// Packets and bytes the fast path forwarded.
pub type Counts = (u64, u64);

/// One service of the fast path.
#[derive(Debug)]
pub struct XdpService<'a> {
    /// The service.
    pub key: ServiceKey,
    /// Its object in the status document.
    pub status: &'a Value,
    /// Its counters, when they could be read.
    pub traffic: Option<Counts>,
    /// Its backends with their counters, when they could be read.
    pub backends: Vec<(DestKey, Option<Counts>)>,
}

/// The services of `fast_path` (the status document's `fast_path`); what
/// cannot be read is left out.
pub fn services(fast_path: &Value) -> Vec<XdpService<'_>> {
    let services = fast_path["services"].as_array().map(Vec::as_slice);
    services
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            let key = s["service"].as_str().and_then(key_from_name)?;
            let backends = s["backends"].as_array().map(Vec::as_slice);
            let backends = backends.unwrap_or_default().iter();
            Some(XdpService {
                key,
                status: s,
                traffic: counts(&s["traffic"]),
                backends: backends.filter_map(|b| backend(key, b)).collect(),
            })
        })
        .collect()
}

/// `{"packets": N, "bytes": N}`.
fn counts(traffic: &Value) -> Option<Counts> {
    Some((traffic["packets"].as_u64()?, traffic["bytes"].as_u64()?))
}

/// A backend object of service `service`: its destination (`address`,
/// `port`) and counters (`traffic`). Thousands of them are read per
/// scrape: one pass over the object's fields instead of a lookup each.
fn backend(service: ServiceKey, backend: &Value) -> Option<(DestKey, Option<Counts>)> {
    let (mut addr, mut port, mut traffic) = (None, 0, None);
    for (field, value) in backend.as_object()? {
        match field.as_str() {
            "address" => addr = value.as_str(),
            "port" => port = value.as_u64().unwrap_or(0),
            "traffic" => traffic = counts(value),
            _ => {}
        }
    }
    let addr: IpAddr = addr?.parse().ok()?;
    let port = u16::try_from(port).ok()?;
    Some(((service, addr, port), traffic))
}
