//! Packet fixtures for the fast path's shortcuts (see `xdp_fixtures` for
//! the paths every packet can take): each shortcut must give exactly what
//! the long way gives.
use std::{
    net::{Ipv4Addr, Ipv6Addr},
    time::{Duration, Instant},
};

use anyhow::{ensure, Result};
use lb_common::{
    filter_bit_of, flow_hash, flow_set, widen_v4, FlowKey, VipKey, FAMILY_IPV4, FLOW_WAYS, FWD_DR,
};
use lb_daemon::dataplane::xdp::{tables::Scheduler, Programmer};
use lb_tests::frames::{Frame, ACK, FIN, SYN};

mod xdp_common;

use xdp_common::*;

/// The connection counts of the three real servers of `vip4(80, TCP)`.
fn connections(p: &mut Programmer) -> Result<Vec<i64>> {
    let ids = p.ids(&vip4(80, TCP)).expect("programmed");
    ids.reals
        .iter()
        .map(|r| p.fast_path().maps().connections(r.id))
        .collect()
}

#[test]
fn only_lc_flows_count_connections_even_across_a_scheduler_change() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &three(FWD_DR))?;
    for i in 0..3 {
        sent_to(&mut p, &to_vip(40000 + i, SYN))?;
    }
    ensure!(
        connections(&mut p)? == [0, 0, 0],
        "rr flows are not counted"
    );
    // The same service now schedules by lc: closing a flow opened under rr
    // takes nothing off, and lc's own flows count.
    p.set_service(vip4(80, TCP), Scheduler::Lc, &three(FWD_DR))?;
    sent_to(&mut p, &to_vip(40000, FIN))?;
    ensure!(connections(&mut p)? == [0, 0, 0], "an rr flow's FIN");
    let n = sent_to(&mut p, &to_vip(41000, SYN))?;
    let mut expected = vec![0, 0, 0];
    expected[usize::from(n - 1)] = 1;
    ensure!(connections(&mut p)? == expected, "an lc flow counts");
    sent_to(&mut p, &to_vip(41000, FIN))?;
    ensure!(connections(&mut p)? == [0, 0, 0], "and its FIN releases it");
    Ok(())
}

/// An address of 2001:db8::/32 other than `not` sharing `not`'s pre-filter
/// bit (one in 4,096 does).
fn sharing_a_bit_with(not: Ipv6Addr) -> Ipv6Addr {
    let bit = filter_bit_of(&not.octets());
    (1..=u16::MAX)
        .map(|n| Ipv6Addr::new(0x2001, 0xdb8, 0, 7, 0, 0, 0, n))
        .find(|a| *a != not && filter_bit_of(&a.octets()) == bit)
        .expect("65,535 addresses cover 4,096 bits")
}

fn to6(dst: Ipv6Addr, port: u16) -> Vec<u8> {
    Frame::new((CLIENT6.into(), 40000), (dst.into(), port), SYN).bytes()
}

#[test]
fn the_pre_filter_passes_other_addresses_and_never_hides_a_service() -> Result<()> {
    let mut p = programmer()?;
    let other = Ipv4Addr::new(203, 0, 113, 99);
    ensure!(filter_bit_of(&widen_v4(other.octets())) != filter_bit_of(&widen_v4(VIP4.octets())));
    p.set_service(vip4(80, TCP), Scheduler::Rr, &three(FWD_DR))?;
    let miss = Frame::new(client(1), (other.into(), 80), SYN).bytes();
    assert_passed(&mut p, "an address whose bit is clear", &miss)?;
    // An address sharing a VIP's bit gets past the filter, and no further.
    let twin = sharing_a_bit_with(VIP6);
    let v6 = [backend(1, rs6(1), FWD_DR, 1)];
    p.set_service(VipKey::v6(VIP6.octets(), 80, TCP), Scheduler::Rr, &v6)?;
    assert_passed(&mut p, "an address sharing the bit", &to6(twin, 80))?;
    ensure!(run(&mut p, &to6(VIP6, 80))?.0 == XDP_TX);
    // Both served; removing one leaves the other's bit (and its all-ports
    // bit) set.
    p.set_service(VipKey::v6(twin.octets(), 0, TCP), Scheduler::Rr, &v6)?;
    ensure!(
        run(&mut p, &to6(twin, 8080))?.0 == XDP_TX,
        "twin, all ports"
    );
    p.remove_service(&VipKey::v6(VIP6.octets(), 80, TCP))?;
    assert_passed(&mut p, "a removed service", &to6(VIP6, 80))?;
    ensure!(
        run(&mut p, &to6(twin, 8081))?.0 == XDP_TX,
        "twin still served"
    );
    p.remove_service(&VipKey::v6(twin.octets(), 0, TCP))?;
    assert_passed(&mut p, "both removed", &to6(twin, 8082))
}

#[test]
fn a_flow_forwarded_without_lookup_stops_with_its_service() -> Result<()> {
    let mut p = programmer()?;
    let key = vip4(80, TCP);
    p.set_service(key, Scheduler::Rr, &three(FWD_DR))?;
    let first = sent_to(&mut p, &to_vip(40000, SYN))?;
    ensure!(sent_to(&mut p, &to_vip(40000, ACK))? == first);
    // Removed (a backup, or the service left the configuration): the flow's
    // entry remains but no longer forwards.
    p.remove_service(&key)?;
    assert_passed(
        &mut p,
        "a flow of a removed service",
        &to_vip(40000, ACK).bytes(),
    )?;
    // Back (under another service id): the flow keeps its real server and
    // counts under the new service.
    p.set_service(key, Scheduler::Rr, &three(FWD_DR))?;
    ensure!(sent_to(&mut p, &to_vip(40000, ACK))? == first);
    ensure!(sent_to(&mut p, &to_vip(40000, ACK))? == first);
    let id = p.ids(&key).expect("programmed").id;
    let counted = p.fast_path().maps().service_counters(id)?.packets;
    ensure!(counted == 2, "{counted} packets counted under the new id");
    Ok(())
}

/// The connection table's key of a TCP flow from `client(port)` to the
/// VIP's port `dport`.
fn flow_key(port: u16, dport: u16) -> FlowKey {
    FlowKey {
        src: widen_v4(CLIENT4.octets()),
        dst: widen_v4(VIP4.octets()),
        sport: port,
        dport,
        proto: TCP,
        family: FAMILY_IPV4,
        pad: [0; 2],
    }
}

/// `n` client ports whose flows to the VIP's port 80 fall into one set.
fn colliding_ports(p: &mut Programmer, n: usize) -> Result<Vec<u16>> {
    let mask = p.fast_path().maps().flow_sets()? - 1;
    let set = |port| flow_set(flow_hash(&flow_key(port, 80)), mask);
    let ports: Vec<u16> = (40000..=u16::MAX)
        .filter(|port| set(*port) == set(40000))
        .take(n)
        .collect();
    ensure!(ports.len() == n, "{mask} sets: too few ports collide");
    Ok(ports)
}

/// Which of `ports` (flows to port 80) the table still holds.
fn held(p: &mut Programmer, ports: &[u16]) -> Result<Vec<bool>> {
    ports
        .iter()
        .map(|port| Ok(p.fast_path().maps().flow(&flow_key(*port, 80))?.is_some()))
        .collect()
}

/// Returns right after the table's clock ticked (about once a second),
/// watching a flow of the all-rr service on port 81.
fn wait_for_tick(p: &mut Programmer) -> Result<()> {
    let probe = Frame::new(client(50000), (VIP4.into(), 81), ACK);
    let mut seen = || -> Result<u8> {
        sent_to(p, &probe)?;
        let entry = p.fast_path().maps().flow(&flow_key(50000, 81))?;
        Ok(entry.expect("the probe is held").seen)
    };
    let start = seen()?;
    let deadline = Instant::now() + Duration::from_secs(3);
    while seen()? == start {
        ensure!(
            Instant::now() < deadline,
            "the flow clock did not tick in 3 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

#[test]
fn a_full_set_evicts_its_oldest_flow_and_gives_back_its_connection() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Lc, &three(FWD_DR))?;
    p.set_service(vip4(81, TCP), Scheduler::Rr, &three(FWD_DR))?;
    let ports = colliding_ports(&mut p, FLOW_WAYS + 2)?;
    // Everything up to the first eviction within one tick of the clock.
    wait_for_tick(&mut p)?;
    // Flows sharing a set each keep their own real server.
    let mut reals = Vec::new();
    for port in &ports[..FLOW_WAYS] {
        reals.push(sent_to(&mut p, &to_vip(*port, SYN))?);
    }
    for (port, real) in ports[..FLOW_WAYS].iter().zip(&reals) {
        ensure!(
            sent_to(&mut p, &to_vip(*port, ACK))? == *real,
            "port {port}"
        );
    }
    ensure!(connections(&mut p)?.iter().sum::<i64>() == FLOW_WAYS as i64);
    // The set is full: a new flow takes the place of the one seen longest
    // ago (all seen in this tick: the first way's), whose connection is
    // given back, so the counts stay those of the flows held.
    sent_to(&mut p, &to_vip(ports[FLOW_WAYS], SYN))?;
    ensure!(
        held(&mut p, &ports[..=FLOW_WAYS])? == [false, true, true, true, true],
        "the first flow was evicted"
    );
    // The set's entries and the clock probe's.
    let flows = p.fast_path().maps().flow_count()?;
    ensure!(flows == FLOW_WAYS + 1, "{flows} flows counted");
    let counts = connections(&mut p)?;
    ensure!(
        counts.iter().sum::<i64>() == FLOW_WAYS as i64,
        "an evicted flow's connection is given back: {counts:?}"
    );
    // A tick later, flows seen again are younger than the one left alone
    // (the third), which goes next.
    wait_for_tick(&mut p)?;
    for port in [ports[1], ports[3], ports[4]] {
        sent_to(&mut p, &to_vip(port, ACK))?;
    }
    sent_to(&mut p, &to_vip(ports[FLOW_WAYS + 1], SYN))?;
    ensure!(
        held(&mut p, &ports)? == [false, true, false, true, true, true],
        "the flow seen longest ago was evicted"
    );
    ensure!(connections(&mut p)?.iter().sum::<i64>() == FLOW_WAYS as i64);
    Ok(())
}
