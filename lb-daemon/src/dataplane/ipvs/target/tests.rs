use std::path::Path;

use super::*;
use crate::config::parse_keepalived_str;
use crate::dataplane::ipvs::model::Forwarding;
use crate::state::desired;

const CONF: &str = "
virtual_server_group G {
    192.0.2.30-31 8080
    fwmark 9
}
virtual_server 192.0.2.10 53 {
    protocol UDP
    lb_algo sh
    sh-port
    sh-fallback
    ops
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    persistence_engine sip
    lb_kind DR
    real_server 198.51.100.1 53 {
        weight 3
        uthreshold 100
        lthreshold 10
    }
}
virtual_server 2001:db8::10 443 {
    lb_algo mh
    mh-port
    lb_kind TUN type gre csum
    real_server 2001:db8::1 443 {
    }
    real_server 2001:db8::2 443 {
        lvs_method TUN type gue port 6080 remcsum
    }
    real_server 2001:db8::3 443 {
        lvs_method DR
    }
}
virtual_server 192.0.2.11 80 {
    lb_algo rr
    sh-port
    flag-3
    real_server 198.51.100.2 80 {
    }
}
virtual_server group G {
    sorry_server 198.51.100.9 8080
    real_server 198.51.100.3 8080 {
    }
}
";

fn tables() -> Vec<Target> {
    let config = parse_keepalived_str(CONF, Path::new("k.conf"))
        .unwrap()
        .config;
    let (_, desired) = desired::channel(&config);
    let state = desired.borrow().clone();
    targets(&state, &config)
}

#[test]
fn services_carry_scheduler_flags_persistence_and_engine() {
    let t = tables();
    let names: Vec<String> = t.iter().map(|t| t.table.service.key.to_string()).collect();
    assert_eq!(
        names,
        [
            "UDP 192.0.2.10:53",
            "TCP [2001:db8::10]:443",
            "TCP 192.0.2.11:80",
            "TCP 192.0.2.30:8080",
            "TCP 192.0.2.31:8080",
            "FWM 9 IPv4",
        ]
    );
    let sh = &t[0].table.service;
    assert_eq!(sh.scheduler, "sh");
    assert_eq!(
        sh.flags,
        flags::PERSISTENT | flags::ONEPACKET | flags::SCHED1 | flags::SCHED2
    );
    assert_eq!((sh.timeout, sh.netmask), (300, 24));
    assert_eq!(sh.pe_name.as_deref(), Some("sip"));
    let mh = &t[1].table.service;
    assert_eq!((mh.flags, mh.timeout, mh.netmask), (flags::SCHED2, 0, 128));
    // sh-port means nothing to rr (validation warns); flag-3 always counts.
    assert_eq!(t[2].table.service.flags, flags::SCHED3);
    assert_eq!(t[3].vs, 3);
}

#[test]
fn destinations_carry_weight_method_and_thresholds() {
    let t = tables();
    let d = &t[0].table.dests[0];
    assert_eq!(
        (d.weight, d.forwarding, d.u_threshold, d.l_threshold),
        (3, Forwarding::Route, 100, 10)
    );
    let tunnels: Vec<(Forwarding, Tunnel)> = t[1]
        .table
        .dests
        .iter()
        .map(|d| (d.forwarding, d.tunnel))
        .collect();
    let tunnel = |kind, port, flags| Tunnel { kind, port, flags };
    assert_eq!(
        tunnels,
        [
            (Forwarding::Tunnel, tunnel(TunnelType::Gre, 0, TUN_F_CSUM)),
            (
                Forwarding::Tunnel,
                tunnel(TunnelType::Gue, 6080, TUN_F_REMCSUM)
            ),
            (Forwarding::Route, Tunnel::default()),
        ]
    );
    assert_eq!(t[2].table.dests[0].forwarding, Forwarding::Masq);
    // Every member of the group has the real server (the sorry server is
    // not in use while it is up).
    for target in &t[3..] {
        let addrs: Vec<String> = target
            .table
            .dests
            .iter()
            .map(|d| d.addr.to_string())
            .collect();
        assert_eq!(addrs, ["198.51.100.3"]);
    }
}

#[test]
fn a_drained_real_server_stays_a_destination_with_weight_0() {
    let config = parse_keepalived_str(CONF, Path::new("k.conf"))
        .unwrap()
        .config;
    let (publisher, desired) = desired::channel(&config);
    let service = "192.0.2.31:8080".parse().unwrap();
    let server = "198.51.100.3:8080".parse().unwrap();
    publisher.set_drained(service, server, true).unwrap();
    let drained = targets(&desired.borrow().clone(), &config);
    // The whole group's virtual server is drained, each member's table.
    for target in &drained[3..] {
        let dests: Vec<(String, u32)> = target
            .table
            .dests
            .iter()
            .map(|d| (d.addr.to_string(), d.weight))
            .collect();
        assert_eq!(dests, [("198.51.100.3".to_owned(), 0)]);
    }
    publisher.set_drained(service, server, false).unwrap();
    let undrained = targets(&desired.borrow().clone(), &config);
    assert_eq!(undrained[4].table.dests[0].weight, 1);
}
