//! The XDP fast path: where it is attached, its flow table's capacity and
//! fill, new flows and packets passed to the kernel by reason, and
//! its own per-service and per-backend counters (also summed into
//! `keepalived_lvs_*`, see [`super::traffic`]). The counters are the loaded
//! program's: they start from zero when the daemon loads it (at start),
//! and only then.
use lb_common::PassReason;
use serde_json::Value;

use super::{
    family::{labels, Family, Kind},
    lvs_labels::LvsLabels,
    service::Service,
    xdp_services::XdpService,
};

/// The families from the status document's `fast_path` and its services
/// (`xdp`), with the label sets of `lvs` for its services and backends.
pub fn families(fast_path: &Value, xdp: &[XdpService], lvs: &LvsLabels) -> Vec<Family> {
    let mut attached = Family::new(
        "lb_xdp_attached",
        "Whether the XDP program is attached to the interface.",
        Kind::Gauge,
    );
    let mut capacity = Family::new(
        "lb_xdp_flow_table_capacity",
        "Entries the XDP connection table can hold.",
        Kind::Gauge,
    );
    let mut entries = Family::new(
        "lb_xdp_flow_table_entries",
        "Flows the XDP connection table holds (counted at most every 5 s).",
        Kind::Gauge,
    );
    let mut svc_packets = Family::new(
        "lb_xdp_service_packets",
        "Packets the XDP fast path forwarded for the service.",
        Kind::Counter,
    );
    let mut svc_bytes = Family::new(
        "lb_xdp_service_bytes",
        "Bytes the XDP fast path forwarded for the service.",
        Kind::Counter,
    );
    let mut table = Family::new(
        "lb_xdp_table_info",
        "The service's scheduling table: its scheduler and digest (directors with the same digest send every flow to the same real server); always 1.",
        Kind::Gauge,
    );
    let mut rs_packets = Family::new(
        "lb_xdp_backend_packets",
        "Packets the XDP fast path forwarded to the real server.",
        Kind::Counter,
    );
    let mut rs_bytes = Family::new(
        "lb_xdp_backend_bytes",
        "Bytes the XDP fast path forwarded to the real server.",
        Kind::Counter,
    );
    let mut new_flows = Family::new(
        "lb_xdp_new_flows",
        "Flows the XDP fast path found no connection table entry for and gave a real server (flow-table misses).",
        Kind::Counter,
    );
    let mut passed = Family::new(
        "lb_xdp_passed_packets",
        "Packets the XDP program handed to the kernel's stack (XDP_PASS), by reason.",
        Kind::Counter,
    );
    let packets = &fast_path["packets"];
    if let Some(n) = packets["new_flows"].as_u64() {
        new_flows.push(&labels([]), n);
    }
    for reason in PassReason::ALL {
        if let Some(n) = packets["passed"][reason.name()].as_u64() {
            passed.push(&labels([("reason", reason.name().to_owned())]), n);
        }
    }
    for i in fast_path["interfaces"].as_array().into_iter().flatten() {
        let l = labels([(
            "interface",
            i["name"].as_str().unwrap_or_default().to_string(),
        )]);
        attached.push(&l, i["attached"].as_bool().unwrap_or(false));
    }
    if let Some(flows) = fast_path["flow_capacity"].as_u64() {
        capacity.push(&labels([]), flows);
    }
    if let Some(used) = fast_path["maps"]["flows"]["used"].as_u64() {
        entries.push(&labels([]), used);
    }
    for s in xdp {
        let l = lvs.service(&s.key).vip;
        if let Some((p, b)) = s.traffic {
            svc_packets.push(&l, p);
            svc_bytes.push(&l, b);
        }
        if let Some(digest) = s.status["table_digest"].as_str() {
            let service = Service::of_key(&s.key);
            let info = labels([
                ("vip", service.vip.clone()),
                ("proto", service.proto.to_string()),
                (
                    "scheduler",
                    s.status["scheduler"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ),
                ("digest", digest.to_owned()),
            ]);
            table.push(&info, 1u64);
        }
        for (dest, traffic) in &s.backends {
            if let Some((p, n)) = traffic {
                let l = lvs.dest(dest);
                rs_packets.push(&l, *p);
                rs_bytes.push(&l, *n);
            }
        }
    }
    vec![
        attached,
        capacity,
        entries,
        new_flows,
        passed,
        svc_packets,
        svc_bytes,
        table,
        rs_packets,
        rs_bytes,
    ]
}

#[cfg(test)]
mod tests {
    use super::super::encode::{encode, Format};
    use super::*;
    use serde_json::json;

    #[test]
    fn attachments_capacity_and_counters() {
        let status = json!({
            "state": "running", "flow_capacity": 262144,
            "maps": {"flows": {"used": 6, "capacity": 262144}},
            "packets": {"new_flows": 5, "passed": {"not_vip": 12, "too_big": 0}},
            "interfaces": [{"name": "eth1", "attached": true}, {"name": "eth2", "attached": false}],
            "services": [{"service": "UDP [2001:db8::1]:53", "traffic": {"packets": 4, "bytes": 400},
                "scheduler": "mh", "table_digest": "80f464b82b8f273c",
                "backends": [{"address": "2001:db8::2", "port": 53, "traffic": {"packets": 4, "bytes": 400}},
                             {"address": "2001:db8::3", "port": 53, "traffic": null}]}],
        });
        let xdp = super::super::xdp_services::services(&status);
        let out = encode(
            &families(&status, &xdp, &LvsLabels::default()),
            Format::Text,
        );
        for line in [
            "lb_xdp_attached{interface=\"eth1\"} 1\n",
            "lb_xdp_attached{interface=\"eth2\"} 0\n",
            "lb_xdp_flow_table_capacity 262144\n",
            "lb_xdp_flow_table_entries 6\n",
            "lb_xdp_new_flows_total 5\n",
            "lb_xdp_passed_packets_total{reason=\"not_vip\"} 12\n",
            "lb_xdp_passed_packets_total{reason=\"too_big\"} 0\n",
            "lb_xdp_table_info{vip=\"[2001:db8::1]:53\",proto=\"17\",scheduler=\"mh\",digest=\"80f464b82b8f273c\"} 1\n",
            "lb_xdp_service_packets_total{vip=\"[2001:db8::1]:53\",proto=\"17\"} 4\n",
            "lb_xdp_backend_bytes_total{vip=\"[2001:db8::1]:53\",addr=\"[2001:db8::2]:53\",proto=\"17\"} 400\n",
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
        assert!(!out.contains("2001:db8::3"), "{out}");
    }
}
