//! VRRP instances: `keepalived_vrrp_state` and the per-instance counters
//! under both keepalived exporters' names (mehdy/keepalived-exporter's
//! `keepalived_*_total` counters labelled `iname`, `intf`, `vrid`;
//! gen2brain/keepalived_exporter's untyped `keepalived_vrrp_*` labelled
//! `name`, `intf`, `vrid`, `state`), plus lb-daemon's own drops by reason,
//! effective priority and last transition.
use serde_json::Value;

use super::family::{labels, Family, Kind, Labels};

/// One keepalived per-instance counter: its name in each exporter, its help
/// and the status fields it adds up.
struct Stat {
    /// mehdy/keepalived-exporter's counter (without `_total`).
    counter: &'static str,
    /// gen2brain/keepalived_exporter's untyped name.
    untyped: &'static str,
    help: &'static str,
    /// Fields of the instance's status (`drops.X` for a drop reason).
    fields: &'static [&'static str],
}

const fn stat(
    counter: &'static str,
    untyped: &'static str,
    help: &'static str,
    fields: &'static [&'static str],
) -> Stat {
    Stat {
        counter,
        untyped,
        help,
        fields,
    }
}

/// keepalived's stats, in its stats dump's order; the drop reasons each adds
/// up are the stats dump's (`daemon::dump`).
const STATS: &[Stat] = &[
    stat(
        "keepalived_advertisements_received",
        "keepalived_vrrp_advert_rcvd",
        "Advertisements received.",
        &["adverts_received"],
    ),
    stat(
        "keepalived_advertisements_sent",
        "keepalived_vrrp_advert_sent",
        "Advertisements sent.",
        &["adverts_sent"],
    ),
    stat(
        "keepalived_become_master",
        "keepalived_vrrp_become_master",
        "Became master.",
        &["become_master"],
    ),
    stat(
        "keepalived_release_master",
        "keepalived_vrrp_release_master",
        "Released master.",
        &["release_master"],
    ),
    stat(
        "keepalived_packet_length_errors",
        "keepalived_vrrp_packet_len_err",
        "Packet length errors.",
        &["drops.truncated", "drops.address_count"],
    ),
    stat(
        "keepalived_advertisements_interval_errors",
        "keepalived_vrrp_advert_interval_err",
        "Advertisement interval errors.",
        &["drops.interval", "drops.zero_interval"],
    ),
    stat(
        "keepalived_ip_ttl_errors",
        "keepalived_vrrp_ip_ttl_err",
        "TTL errors.",
        &["drops.ttl"],
    ),
    stat(
        "keepalived_invalid_type_received",
        "keepalived_vrrp_invalid_type_rcvd",
        "Invalid type errors.",
        &["drops.type"],
    ),
    stat(
        "keepalived_address_list_errors",
        "keepalived_vrrp_addr_list_err",
        "Address list errors.",
        &["drops.addresses"],
    ),
    stat(
        "keepalived_authentication_invalid",
        "keepalived_vrrp_invalid_authtype",
        "Authentication invalid.",
        &["drops.auth_type_invalid"],
    ),
    stat(
        "keepalived_authentication_mismatch",
        "keepalived_vrrp_authtype_mismatch",
        "Authentication mismatch.",
        &["drops.auth_type"],
    ),
    stat(
        "keepalived_authentication_failure",
        "keepalived_vrrp_auth_failure",
        "Authentication failure.",
        &["drops.auth_pass"],
    ),
    stat(
        "keepalived_priority_zero_received",
        "keepalived_vrrp_pri_zero_rcvd",
        "Priority zero received.",
        &["priority_zero_received"],
    ),
    stat(
        "keepalived_priority_zero_sent",
        "keepalived_vrrp_pri_zero_sent",
        "Priority zero sent.",
        &["priority_zero_sent"],
    ),
];

/// The exporters' state numbers (keepalived's own).
fn state_number(state: &str) -> Option<u64> {
    ["INIT", "BACKUP", "MASTER", "FAULT"]
        .iter()
        .position(|s| *s == state)
        .map(|n| n as u64)
}

fn field(instance: &Value, path: &str) -> u64 {
    path.split('.')
        .fold(instance, |v, key| &v[key])
        .as_u64()
        .unwrap_or(0)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The VRRP families of `instances` (the status document's `vrrp`).
pub fn families(instances: &[Value]) -> Vec<Family> {
    let mut state = Family::new(
        "keepalived_vrrp_state",
        "State of vrrp (0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT).",
        Kind::Gauge,
    );
    let mut counters: Vec<Family> = STATS
        .iter()
        .map(|s| Family::new(s.counter, s.help, Kind::Counter))
        .collect();
    let mut untyped: Vec<Family> = STATS
        .iter()
        .map(|s| Family::new(s.untyped, s.help, Kind::Untyped))
        .collect();
    let mut dropped = Family::new(
        "lb_vrrp_dropped_adverts",
        "VRRP packets dropped, by reason.",
        Kind::Counter,
    );
    let mut priority = Family::new(
        "lb_vrrp_effective_priority",
        "Effective priority of the instance.",
        Kind::Gauge,
    );
    let mut transition = Family::new(
        "lb_vrrp_last_transition_timestamp_seconds",
        "Unix time of the instance's last state change.",
        Kind::Gauge,
    );
    for i in instances {
        let (iname, intf, vrid) = (text(&i["name"]), text(&i["interface"]), text(&i["vrid"]));
        let state_name = text(&i["state"]);
        let common: Labels = labels([
            ("iname", iname.clone()),
            ("intf", intf.clone()),
            ("vrid", vrid.clone()),
        ]);
        let exporter2 = labels([
            ("name", iname.clone()),
            ("intf", intf.clone()),
            ("vrid", vrid.clone()),
            ("state", state_name.clone()),
        ]);
        if let Some(n) = state_number(&state_name) {
            let vips: Vec<String> = i["vips"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| {
                    let v = text(v);
                    v.split('/').next().unwrap_or_default().to_string()
                })
                .collect();
            let vips = if vips.is_empty() {
                vec![String::new()]
            } else {
                vips
            };
            for ip in vips {
                let l = labels([
                    ("iname", iname.clone()),
                    ("intf", intf.clone()),
                    ("vrid", vrid.clone()),
                    ("ip_address", ip),
                ]);
                state.push(&l, n);
            }
        }
        for ((stat, counter), untyped) in STATS.iter().zip(&mut counters).zip(&mut untyped) {
            let value = stat.fields.iter().map(|f| field(i, f)).sum::<u64>();
            counter.push(&common, value);
            untyped.push(&exporter2, value);
        }
        for (reason, count) in i["drops"].as_object().into_iter().flatten() {
            let l = labels([
                ("iname", iname.clone()),
                ("intf", intf.clone()),
                ("vrid", vrid.clone()),
                ("reason", reason.clone()),
            ]);
            dropped.push(&l, count.as_u64().unwrap_or(0));
        }
        if let Some(p) = i["priority"].as_u64() {
            priority.push(&common, p);
        }
        if let Some(t) = i["last_transition"].as_u64() {
            transition.push(&common, t);
        }
    }
    let mut all = vec![state];
    all.append(&mut counters);
    all.append(&mut untyped);
    all.extend([dropped, priority, transition]);
    all
}

#[cfg(test)]
mod tests {
    use super::super::encode::{encode, Format};
    use super::*;
    use serde_json::json;

    #[test]
    fn state_per_vip_and_counters_under_both_names() {
        let instance = json!({
            "name": "VI_1", "interface": "eth0", "vrid": 51, "state": "MASTER",
            "priority": 150, "vips": ["192.0.2.10/24", "192.0.2.11/32"],
            "last_transition": 1700000000u64,
            "adverts_sent": 7, "adverts_received": 2, "become_master": 1,
            "release_master": 0, "priority_zero_sent": 0, "priority_zero_received": 1,
            "drops": {"truncated": 1, "address_count": 2, "ttl": 4},
        });
        let out = encode(&families(&[instance]), Format::Text);
        for line in [
            "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"192.0.2.10\"} 2\n",
            "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"192.0.2.11\"} 2\n",
            "keepalived_advertisements_sent_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 7\n",
            "keepalived_packet_length_errors_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 3\n",
            "keepalived_vrrp_become_master{name=\"VI_1\",intf=\"eth0\",vrid=\"51\",state=\"MASTER\"} 1\n",
            "keepalived_vrrp_pri_zero_rcvd{name=\"VI_1\",intf=\"eth0\",vrid=\"51\",state=\"MASTER\"} 1\n",
            "lb_vrrp_dropped_adverts_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",reason=\"ttl\"} 4\n",
            "lb_vrrp_effective_priority{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 150\n",
        ] {
            assert!(out.contains(line), "{line} missing from:\n{out}");
        }
    }
}
