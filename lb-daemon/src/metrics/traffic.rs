//! Per virtual service and per real server traffic under
//! gen2brain/keepalived_exporter's untyped names (`keepalived_lvs_vip_*`
//! labelled `addr`, `proto`; `keepalived_lvs_rs_*` labelled `vip`, `addr`,
//! `proto`): IPVS's counters plus the XDP fast path's per-CPU counters
//! summed, so a service counts all it forwarded whichever path served it.
//! XDP sees neither replies nor connections: `out_*` and `conn` are IPVS's.
use foldhash::HashMap;

use super::{
    encode::Writer,
    family::Kind,
    lvs_labels::{DestKey, LvsLabels},
    xdp_services::{Counts, XdpService},
};
use crate::dataplane::ipvs::{Dumped, Stats};
use crate::state::desired::ServiceKey;

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
    /// Adds IPVS's counters.
    fn add_ipvs(&mut self, stats: &Stats) {
        self.conn += stats.conns;
        self.in_packets += stats.in_packets;
        self.out_packets += stats.out_packets;
        self.in_bytes += stats.in_bytes;
        self.out_bytes += stats.out_bytes;
    }

    /// Adds the fast path's counters (packets and bytes in).
    fn add_xdp(&mut self, traffic: Option<Counts>) {
        let (packets, bytes) = traffic.unwrap_or_default();
        self.in_packets += packets;
        self.in_bytes += bytes;
    }
}

/// Counters by label set: by index for what the configuration has, by key
/// (in the order the keys first came) for the rest, such as a sorry server.
struct Sums<K> {
    known: Vec<Option<Traffic>>,
    other: Vec<(K, Traffic)>,
    other_index: HashMap<K, usize>,
}

impl<K: Copy + Eq + std::hash::Hash> Sums<K> {
    fn new(known: usize) -> Sums<K> {
        Sums {
            known: vec![None; known],
            other: Vec::new(),
            other_index: HashMap::default(),
        }
    }

    /// The counters of `key`, whose index is `index` if it has one.
    fn at(&mut self, index: Option<usize>, key: K) -> &mut Traffic {
        if let Some(slot) = index.and_then(|i| self.known.get_mut(i)) {
            return slot.get_or_insert_with(Traffic::default);
        }
        let next = self.other.len();
        let at = *self.other_index.entry(key).or_insert(next);
        if at == next {
            self.other.push((key, Traffic::default()));
        }
        &mut self.other[at].1
    }
}

type ServiceSums = Sums<ServiceKey>;
type DestSums = Sums<DestKey>;

/// Sums IPVS's counters (`ipvs`) and the fast path's (`xdp`).
fn collect(ipvs: &Dumped, xdp: &[XdpService], labels: &LvsLabels) -> (ServiceSums, DestSums) {
    let mut services = Sums::new(labels.service_count());
    let mut reals = Sums::new(labels.dest_count());
    for (service, dests) in ipvs {
        let key = service.service.key;
        services
            .at(labels.service_index(&key), key)
            .add_ipvs(&service.stats);
        for d in dests {
            let dest = (key, d.dest.addr, d.dest.port);
            reals
                .at(labels.dest_index(&dest), dest)
                .add_ipvs(&d.counters.stats);
        }
    }
    for s in xdp {
        services
            .at(labels.service_index(&s.key), s.key)
            .add_xdp(s.traffic);
        for &(dest, traffic) in &s.backends {
            reals.at(labels.dest_index(&dest), dest).add_xdp(traffic);
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

/// Writes the `keepalived_lvs_*` families of IPVS's counters (`ipvs`) and
/// the fast path's (`xdp`), each straight into the scrape.
pub fn write(out: &mut Writer, ipvs: &Dumped, xdp: &[XdpService], labels: &LvsLabels) {
    let (services, reals) = collect(ipvs, xdp, labels);
    for ((name, help), get) in VIP.into_iter().zip(COUNTERS) {
        let mut samples = out.samples(name, help, Kind::Untyped);
        for (i, traffic) in services.known.iter().enumerate() {
            if let Some(t) = traffic {
                samples.push(&labels.service_at(i).exporter, get(t));
            }
        }
        for (key, t) in &services.other {
            samples.push(&labels.service(key).exporter, get(t));
        }
    }
    for ((name, help), get) in RS.into_iter().zip(COUNTERS) {
        let mut samples = out.samples(name, help, Kind::Untyped);
        for (i, traffic) in reals.known.iter().enumerate() {
            if let Some(t) = traffic {
                samples.push(labels.dest_at(i), get(t));
            }
        }
        for (dest, t) in &reals.other {
            samples.push(&labels.dest(dest), get(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::encode::Format;
    use super::super::{service::key_from_name, xdp_services::services};
    use super::*;
    use crate::dataplane::ipvs::{DestCounters, Destination, DumpedDest, DumpedService, Service};
    use serde_json::json;

    #[test]
    fn ipvs_and_xdp_counters_add_up() {
        let stats = Stats {
            conns: 3,
            in_packets: 10,
            out_packets: 9,
            in_bytes: 1000,
            out_bytes: 900,
            ..Stats::default()
        };
        let key = key_from_name("TCP 192.0.2.1:80").unwrap();
        let service = Service {
            key,
            scheduler: "mh".into(),
            flags: 0,
            timeout: 0,
            netmask: 32,
            pe_name: None,
        };
        let dest = |addr: &str| DumpedDest {
            dest: Destination::routed(addr.parse().unwrap(), 80, 1),
            counters: DestCounters {
                stats,
                ..DestCounters::default()
            },
        };
        // 198.51.100.9 is a sorry server: not in any configuration.
        let ipvs = vec![(
            DumpedService { service, stats },
            vec![dest("198.51.100.2"), dest("198.51.100.9")],
        )];
        let xdp = json!({"services": [{
            "service": "TCP 192.0.2.1:80",
            "traffic": {"packets": 5, "bytes": 500},
            "backends": [{"address": "198.51.100.2", "port": 80, "traffic": {"packets": 5, "bytes": 500}}],
        }]});
        let xdp = services(&xdp);
        let mut out = Writer::new(Format::Text, 0);
        write(&mut out, &ipvs, &xdp, &LvsLabels::default());
        let out = out.finish().to_string();
        for line in [
            "keepalived_lvs_vip_in_packets{addr=\"192.0.2.1:80\",proto=\"6\"} 15\n",
            "keepalived_lvs_vip_out_packets{addr=\"192.0.2.1:80\",proto=\"6\"} 9\n",
            "keepalived_lvs_vip_conn{addr=\"192.0.2.1:80\",proto=\"6\"} 3\n",
            "keepalived_lvs_rs_in_bytes{vip=\"192.0.2.1:80\",addr=\"198.51.100.2:80\",proto=\"6\"} 1500\n",
            "keepalived_lvs_rs_in_bytes{vip=\"192.0.2.1:80\",addr=\"198.51.100.9:80\",proto=\"6\"} 1000\n",
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
    }
}
