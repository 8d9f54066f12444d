//! Packet fixtures for the fast path's shortcuts (see `xdp_fixtures` for
//! the paths every packet can take): each shortcut must give exactly what
//! the long way gives.
use std::net::{Ipv4Addr, Ipv6Addr};

use anyhow::{ensure, Result};
use lb_common::{filter_bit_of, widen_v4, VipKey, FWD_DR};
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
