use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;
use crate::config::Protocol;
use crate::dataplane::ipvs::model::{Forwarding, Tunnel};
use crate::state::desired::Family;

fn key(n: u8) -> ServiceKey {
    match n % 3 {
        0 => ServiceKey::Fwmark {
            mark: u32::from(n) + 1,
            family: Family::V4,
        },
        _ => ServiceKey::Addr {
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)),
            port: 80,
            protocol: if n % 3 == 1 {
                Protocol::Tcp
            } else {
                Protocol::Udp
            },
        },
    }
}

fn service(n: u8, scheduler: &str) -> Service {
    Service {
        key: key(n),
        scheduler: scheduler.to_owned(),
        flags: 0,
        timeout: 0,
        netmask: 32,
        pe_name: None,
    }
}

fn dest(n: u8, weight: u32) -> Destination {
    Destination {
        addr: IpAddr::V4(Ipv4Addr::new(198, 51, 100, n)),
        port: 80,
        forwarding: Forwarding::Masq,
        weight,
        u_threshold: 0,
        l_threshold: 0,
        tunnel: Tunnel::default(),
    }
}

fn table(service: Service, dests: Vec<Destination>) -> Table {
    Table { service, dests }
}

fn sorted(mut tables: Vec<Table>) -> Vec<Table> {
    for t in &mut tables {
        t.dests.sort_by_key(|d| (d.addr, d.port));
    }
    tables.sort_by_key(|t| format!("{:?}", t.service.key));
    tables
}

#[test]
fn nothing_to_do_when_equal() {
    let tables = vec![table(service(1, "rr"), vec![dest(1, 1), dest(2, 0)])];
    let owned = HashSet::from([key(1)]);
    assert_eq!(diff(&tables, &tables, &owned), vec![]);
}

#[test]
fn one_changed_weight_is_one_edit() {
    let have = vec![table(service(1, "rr"), vec![dest(1, 1), dest(2, 1)])];
    let want = vec![table(service(1, "rr"), vec![dest(1, 1), dest(2, 0)])];
    assert_eq!(
        diff(&want, &have, &HashSet::new()),
        vec![Op::EditDest(key(1), dest(2, 0))]
    );
}

#[test]
fn new_service_comes_before_its_destinations() {
    let want = vec![table(service(4, "wrr"), vec![dest(1, 3)])];
    assert_eq!(
        diff(&want, &[], &HashSet::new()),
        vec![
            Op::AddService(service(4, "wrr")),
            Op::AddDest(key(4), dest(1, 3))
        ]
    );
}

#[test]
fn foreign_services_are_left_alone_owned_ones_removed() {
    let have = vec![
        table(service(1, "rr"), vec![dest(1, 1)]),
        table(service(2, "rr"), vec![dest(1, 1)]),
    ];
    let owned = HashSet::from([key(2)]);
    assert_eq!(diff(&[], &have, &owned), vec![Op::DelService(key(2))]);
}

#[test]
fn scheduler_change_edits_and_extra_destination_goes() {
    let have = vec![table(service(1, "rr"), vec![dest(1, 1), dest(9, 1)])];
    let want = vec![table(service(1, "wlc"), vec![dest(1, 1)])];
    assert_eq!(
        diff(&want, &have, &HashSet::new()),
        vec![
            Op::EditService(service(1, "wlc")),
            Op::DelDest(key(1), dest(9, 1).addr, 80)
        ]
    );
}

fn arb_tables() -> impl Strategy<Value = Vec<Table>> {
    let dests = prop::collection::btree_map(0u8..6, 0u32..3, 0..5)
        .prop_map(|m| m.into_iter().map(|(n, w)| dest(n, w)).collect::<Vec<_>>());
    let sched = prop::sample::select(vec!["rr", "wrr", "sh"]);
    prop::collection::btree_map(0u8..8, (sched, dests), 0..6).prop_map(|m| {
        m.into_iter()
            .map(|(n, (s, d))| table(service(n, s), d))
            .collect()
    })
}

proptest! {
    /// Applying the operations to what is programmed gives what is desired
    /// (plus the services that are not ours), and a second diff is empty.
    #[test]
    fn applying_the_diff_reaches_the_desired_state(
        desired in arb_tables(),
        programmed in arb_tables(),
        owned in prop::collection::hash_set(0u8..8, 0..8),
    ) {
        let owned: HashSet<ServiceKey> = owned.into_iter().map(key).collect();
        let ops = diff(&desired, &programmed, &owned);
        let mut now = programmed.clone();
        for op in &ops {
            apply(&mut now, op);
        }
        let mut expected = desired.clone();
        expected.extend(programmed.iter().filter(|t| {
            !owned.contains(&t.service.key)
                && !desired.iter().any(|d| d.service.key == t.service.key)
        }).cloned());
        prop_assert_eq!(sorted(now.clone()), sorted(expected));
        prop_assert_eq!(diff(&desired, &now, &owned), vec![]);
        // Untouched: every operation names a key that differs somewhere.
        for op in &ops {
            let touched = match op {
                Op::AddService(s) | Op::EditService(s) => s.key,
                Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, ..) => *k,
            };
            let before = programmed.iter().find(|t| t.service.key == touched).cloned();
            let after = desired.iter().find(|t| t.service.key == touched).cloned();
            prop_assert_ne!(before.map(|t| sorted(vec![t])), after.map(|t| sorted(vec![t])));
        }
    }
}
