//! Per virtual service and per real server traffic under
//! gen2brain/keepalived_exporter's untyped names (`keepalived_lvs_vip_*`
//! labelled `addr`, `proto`; `keepalived_lvs_rs_*` labelled `vip`, `addr`,
//! `proto`): IPVS's counters plus the XDP fast path's per-CPU counters
//! summed, so a service counts all it forwarded whichever path served it.
//! XDP sees neither replies nor connections: `out_*` and `conn` are IPVS's.
use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    family::{labels, Family, Kind},
    service::{endpoint, Service},
};

/// Counters of a service or real server.
#[derive(Debug, Default, Clone, Copy)]
struct Traffic {
    conn: u64,
    in_packets: u64,
    out_packets: u64,
    in_bytes: u64,
    out_bytes: u64,
}

impl Traffic {
    /// Adds IPVS's `stats` object.
    fn add_ipvs(&mut self, stats: &Value) {
        let get = |k: &str| stats[k].as_u64().unwrap_or(0);
        self.conn += get("conns");
        self.in_packets += get("in_packets");
        self.out_packets += get("out_packets");
        self.in_bytes += get("in_bytes");
        self.out_bytes += get("out_bytes");
    }

    /// Adds the fast path's `traffic` object (packets and bytes in).
    fn add_xdp(&mut self, traffic: &Value) {
        self.in_packets += traffic["packets"].as_u64().unwrap_or(0);
        self.in_bytes += traffic["bytes"].as_u64().unwrap_or(0);
    }
}

/// `ADDR:PORT` of a destination or backend object.
pub fn real_addr(real: &Value) -> Option<String> {
    let ip = real["address"].as_str()?.parse().ok()?;
    Some(endpoint(ip, real["port"].as_u64().unwrap_or(0)))
}

type Services = BTreeMap<Service, Traffic>;
type Reals = BTreeMap<(Service, String), Traffic>;

/// Sums IPVS's programmed counters (`lvs.ipvs.services`) and the fast
/// path's (`fast_path.services`).
fn collect(ipvs: &Value, fast_path: &Value) -> (Services, Reals) {
    let (mut services, mut reals) = (Services::new(), Reals::new());
    for s in ipvs["services"].as_array().into_iter().flatten() {
        let (Some(service), Some(now)) = (
            s["service"].as_str().and_then(Service::from_name),
            s.get("programmed"),
        ) else {
            continue;
        };
        if now.is_null() {
            continue;
        }
        services
            .entry(service.clone())
            .or_default()
            .add_ipvs(&now["stats"]);
        for d in now["destinations"].as_array().into_iter().flatten() {
            if let Some(addr) = real_addr(d) {
                reals
                    .entry((service.clone(), addr))
                    .or_default()
                    .add_ipvs(&d["stats"]);
            }
        }
    }
    for s in fast_path["services"].as_array().into_iter().flatten() {
        let Some(service) = s["service"].as_str().and_then(Service::from_name) else {
            continue;
        };
        services
            .entry(service.clone())
            .or_default()
            .add_xdp(&s["traffic"]);
        for b in s["backends"].as_array().into_iter().flatten() {
            if let Some(addr) = real_addr(b) {
                reals
                    .entry((service.clone(), addr))
                    .or_default()
                    .add_xdp(&b["traffic"]);
            }
        }
    }
    (services, reals)
}

/// The five counters, in gen2brain's order.
const COUNTERS: [fn(&Traffic) -> u64; 5] = [
    |t| t.in_packets,
    |t| t.out_packets,
    |t| t.in_bytes,
    |t| t.out_bytes,
    |t| t.conn,
];

/// Names and help of the per-service families, in [`COUNTERS`]' order.
const VIP: [(&str, &str); 5] = [
    ("keepalived_lvs_vip_in_packets", "VIP in packets."),
    ("keepalived_lvs_vip_out_packets", "VIP out packets."),
    ("keepalived_lvs_vip_in_bytes", "VIP in bytes."),
    ("keepalived_lvs_vip_out_bytes", "VIP out bytes."),
    ("keepalived_lvs_vip_conn", "VIP connections."),
];

/// Names and help of the per-real-server families, in [`COUNTERS`]' order.
const RS: [(&str, &str); 5] = [
    ("keepalived_lvs_rs_in_packets", "RS in packets."),
    ("keepalived_lvs_rs_out_packets", "RS out packets."),
    ("keepalived_lvs_rs_in_bytes", "RS in bytes."),
    ("keepalived_lvs_rs_out_bytes", "RS out bytes."),
    ("keepalived_lvs_rs_conn", "RS connections."),
];

/// The `keepalived_lvs_*` families from IPVS's status (`lvs.ipvs`) and the
/// fast path's (`fast_path`).
pub fn families(ipvs: &Value, fast_path: &Value) -> Vec<Family> {
    let (services, reals) = collect(ipvs, fast_path);
    let untyped =
        |(name, help): &(&'static str, &'static str)| Family::new(name, help, Kind::Untyped);
    let mut vip: Vec<Family> = VIP.iter().map(untyped).collect();
    let mut rs: Vec<Family> = RS.iter().map(untyped).collect();
    for (service, traffic) in &services {
        let l = labels([
            ("addr", service.vip.clone()),
            ("proto", service.proto.to_string()),
        ]);
        for (family, get) in vip.iter_mut().zip(COUNTERS) {
            family.push(&l, get(traffic));
        }
    }
    for ((service, addr), traffic) in &reals {
        let l = labels([
            ("vip", service.vip.clone()),
            ("addr", addr.clone()),
            ("proto", service.proto.to_string()),
        ]);
        for (family, get) in rs.iter_mut().zip(COUNTERS) {
            family.push(&l, get(traffic));
        }
    }
    vip.append(&mut rs);
    vip
}

#[cfg(test)]
mod tests {
    use super::super::encode::{encode, Format};
    use super::*;
    use serde_json::json;

    #[test]
    fn ipvs_and_xdp_counters_add_up() {
        let ipvs = json!({"services": [{
            "service": "TCP 192.0.2.1:80",
            "programmed": {
                "stats": {"conns": 3, "in_packets": 10, "out_packets": 9, "in_bytes": 1000, "out_bytes": 900},
                "destinations": [{"address": "198.51.100.2", "port": 80,
                    "stats": {"conns": 3, "in_packets": 10, "out_packets": 9, "in_bytes": 1000, "out_bytes": 900}}],
            },
        }]});
        let xdp = json!({"services": [{
            "service": "TCP 192.0.2.1:80",
            "traffic": {"packets": 5, "bytes": 500},
            "backends": [{"address": "198.51.100.2", "port": 80, "traffic": {"packets": 5, "bytes": 500}}],
        }]});
        let out = encode(&families(&ipvs, &xdp), Format::Text);
        for line in [
            "keepalived_lvs_vip_in_packets{addr=\"192.0.2.1:80\",proto=\"6\"} 15\n",
            "keepalived_lvs_vip_out_packets{addr=\"192.0.2.1:80\",proto=\"6\"} 9\n",
            "keepalived_lvs_vip_conn{addr=\"192.0.2.1:80\",proto=\"6\"} 3\n",
            "keepalived_lvs_rs_in_bytes{vip=\"192.0.2.1:80\",addr=\"198.51.100.2:80\",proto=\"6\"} 1500\n",
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
    }
}
