//! Packet fixtures for the XDP program through `BPF_PROG_TEST_RUN` (aya's
//! `TestRun`): a frame in -> the expected action and frame out, for every
//! path. Expected frames are built with `etherparse`, independently of the
//! program. Runs as root in the calling namespace; no packet leaves it
//! (test runs transmit nothing).
use std::net::Ipv4Addr;

use anyhow::{ensure, Result};
use lb_common::{
    hash_addr, hash_addr_port, widen_v4, FlowKey, VipKey, FAMILY_IPV4, FWD_DR, FWD_TUN,
};
use lb_daemon::dataplane::xdp::{
    tables::{self, Member, Scheduler},
    Backend,
};
use lb_tests::frames::{direct_routed, tunnelled, Frame, ACK, DIRECTOR_MAC, FIN, L4, SYN};

mod xdp_common;

use xdp_common::*;

#[test]
fn rr_new_flows_rotate_and_existing_flows_stay() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &three(FWD_DR))?;
    let first: Vec<u8> = (0..6)
        .map(|i| sent_to(&mut p, &to_vip(40000 + i, SYN)))
        .collect::<Result<_>>()?;
    let start = first[0];
    let expected: Vec<u8> = (0..6).map(|i| (start - 1 + i) % 3 + 1).collect();
    ensure!(first == expected, "round robin order {first:?}");
    // Existing flows keep their server, whatever the cursor says now.
    for i in 0..6 {
        ensure!(sent_to(&mut p, &to_vip(40000 + i, ACK))? == first[i as usize]);
    }
    // ... even after the service's table is rebuilt without one server.
    let mut two = three(FWD_DR);
    two.remove(1);
    p.set_service(vip4(80, TCP), Scheduler::Rr, &two)?;
    for i in 0..6 {
        ensure!(sent_to(&mut p, &to_vip(40000 + i, ACK))? == first[i as usize]);
    }
    for i in 0..6 {
        ensure!(
            sent_to(&mut p, &to_vip(41000 + i, SYN))? != 2,
            "rs2 left the table"
        );
    }
    Ok(())
}

#[test]
fn wrr_follows_the_weights() -> Result<()> {
    let mut p = programmer()?;
    let backends = vec![backend(1, rs4(1), FWD_DR, 3), backend(2, rs4(2), FWD_DR, 1)];
    p.set_service(vip4(80, TCP), Scheduler::Wrr, &backends)?;
    let mut counts = [0; 3];
    for i in 0..40 {
        counts[usize::from(sent_to(&mut p, &to_vip(40000 + i, SYN))?)] += 1;
    }
    ensure!(counts == [0, 30, 10], "wrr 3:1 over 40 flows: {counts:?}");
    Ok(())
}

#[test]
fn lc_picks_the_fewest_connections_and_fin_releases_one() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Lc, &three(FWD_DR))?;
    let order: Vec<u8> = (0..3)
        .map(|i| sent_to(&mut p, &to_vip(40000 + i, SYN)))
        .collect::<Result<_>>()?;
    ensure!(order == [1, 2, 3], "one connection each: {order:?}");
    // The client closes its flow on rs2: rs2 has the fewest again.
    ensure!(sent_to(&mut p, &to_vip(40001, FIN))? == 2);
    ensure!(sent_to(&mut p, &to_vip(40010, SYN))? == 2);
    // A second FIN on the same flow does not count twice.
    ensure!(sent_to(&mut p, &to_vip(40001, FIN))? == 2);
    ensure!(sent_to(&mut p, &to_vip(40011, SYN))? == 1);
    let ids = p.ids(&vip4(80, TCP)).expect("programmed");
    let conns: Vec<i64> = ids
        .reals
        .iter()
        .map(|r| p.fast_path().maps().connections(r.id))
        .collect::<Result<_>>()?;
    ensure!(conns == [2, 1, 1], "connections per server: {conns:?}");
    Ok(())
}

/// The server the hashing schedulers must pick, from the same table the
/// daemon builds and the hash `lb-common` defines.
fn hashed_choice(sched: Scheduler, backends: &[Backend], slot_hash: u32) -> Result<u8> {
    let members: Vec<Member> = backends
        .iter()
        .enumerate()
        .map(|(i, b)| Member {
            real: i as u32,
            weight: b.weight,
            addr: lb_daemon::dataplane::xdp::addr_of(&b.real),
            port: b.port,
        })
        .collect();
    let table = tables::build(sched, &members)?;
    let position = table.ring[(slot_hash % table.len) as usize];
    let index = table.reals[usize::from(position)] as usize;
    Ok(backends[index].real.dmac[5] - 0x10)
}

#[test]
fn sh_keeps_a_client_on_one_server() -> Result<()> {
    let mut p = programmer()?;
    let backends = three(FWD_DR);
    p.set_service(vip4(80, TCP), Scheduler::Sh, &backends)?;
    let expected = hashed_choice(
        Scheduler::Sh,
        &backends,
        hash_addr(&widen_v4(CLIENT4.octets())),
    )?;
    for i in 0..10 {
        ensure!(sent_to(&mut p, &to_vip(40000 + i, SYN))? == expected);
    }
    Ok(())
}

#[test]
fn mh_hashes_client_address_and_port_into_the_maglev_table() -> Result<()> {
    let mut p = programmer()?;
    let backends = three(FWD_DR);
    p.set_service(vip4(80, TCP), Scheduler::Mh, &backends)?;
    let mut seen = [false; 4];
    for i in 0..30 {
        let port = 40000 + i;
        let hash = hash_addr_port(&widen_v4(CLIENT4.octets()), port);
        let expected = hashed_choice(Scheduler::Mh, &backends, hash)?;
        ensure!(
            sent_to(&mut p, &to_vip(port, SYN))? == expected,
            "port {port}"
        );
        seen[usize::from(expected)] = true;
    }
    ensure!(
        seen[1..].iter().all(|s| *s),
        "30 flows reach all three servers"
    );
    Ok(())
}

#[test]
fn dr_rewrites_only_the_macs_ipv4_ipv6_and_vlan() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(
        vip4(80, TCP),
        Scheduler::Rr,
        &[backend(1, rs4(1), FWD_DR, 1)],
    )?;
    let v6: Vec<Backend> = vec![backend(2, rs6(2), FWD_DR, 1)];
    p.set_service(VipKey::v6(VIP6.octets(), 53, UDP), Scheduler::Rr, &v6)?;
    let mut tagged = to_vip(40000, SYN);
    tagged.vlan = Some(42);
    let udp6 = Frame::new((CLIENT6.into(), 5353), (VIP6.into(), 53), L4::Udp);
    for (frame, n) in [(to_vip(40001, SYN), 1), (tagged, 1), (udp6, 2)] {
        let bytes = frame.bytes();
        let (action, out) = run(&mut p, &bytes)?;
        ensure!(action == XDP_TX, "{frame:?}: action {action}");
        ensure!(
            out == direct_routed(&bytes, rs_mac(n), DIRECTOR_MAC),
            "{frame:?}"
        );
    }
    Ok(())
}

#[test]
fn tun_encapsulates_exactly_as_ipvs_ipv4_ipv6_and_vlan() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(
        vip4(80, TCP),
        Scheduler::Rr,
        &[backend(1, rs4(1), FWD_TUN, 1)],
    )?;
    let v6 = vec![backend(2, rs6(2), FWD_TUN, 1)];
    p.set_service(VipKey::v6(VIP6.octets(), 80, TCP), Scheduler::Rr, &v6)?;
    let mut tagged = to_vip(40000, SYN);
    tagged.vlan = Some(7);
    let tcp6 = Frame::new((CLIENT6.into(), 40000), (VIP6.into(), 80), SYN);
    let cases = [
        (to_vip(40001, SYN), 1, DIRECTOR4.into(), rs4(1)),
        (tagged, 1, DIRECTOR4.into(), rs4(1)),
        (tcp6, 2, DIRECTOR6.into(), rs6(2)),
    ];
    for (frame, n, src, dst) in cases {
        let bytes = frame.bytes();
        let (action, out) = run(&mut p, &bytes)?;
        ensure!(action == XDP_TX, "{frame:?}: action {action}");
        let expected = tunnelled(&bytes, rs_mac(n), DIRECTOR_MAC, src, dst);
        ensure!(
            out == expected,
            "{frame:?}:\n got {out:02x?}\nwant {expected:02x?}"
        );
    }
    Ok(())
}

#[test]
fn tun_passes_what_would_not_fit_the_mtu() -> Result<()> {
    let mut p = programmer()?;
    let mut small = backend(1, rs4(1), FWD_TUN, 1);
    small.real.mtu = 100;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &[small])?;
    let mut frame = to_vip(40000, SYN);
    frame.payload = 100 - 20 - 20 - 20 + 1; // one byte too many once encapsulated
    assert_passed(&mut p, "oversized", &frame.bytes())?;
    frame.payload -= 1;
    ensure!(run(&mut p, &frame.bytes())?.0 == XDP_TX, "fits exactly");
    Ok(())
}

#[test]
fn a_real_server_on_another_interface_is_reached_by_redirect() -> Result<()> {
    let mut p = programmer()?;
    let mut elsewhere = backend(1, rs4(1), FWD_DR, 1);
    elsewhere.real.ifindex = LOOPBACK + 1000;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &[elsewhere])?;
    let bytes = to_vip(40000, SYN).bytes();
    let (action, out) = run(&mut p, &bytes)?;
    ensure!(action == XDP_REDIRECT, "action {action}");
    ensure!(out == direct_routed(&bytes, rs_mac(1), DIRECTOR_MAC));
    Ok(())
}

#[test]
fn port_zero_serves_every_port_and_exact_ports_win() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(
        vip4(0, TCP),
        Scheduler::Rr,
        &[backend(1, rs4(1), FWD_DR, 1)],
    )?;
    p.set_service(
        vip4(443, TCP),
        Scheduler::Rr,
        &[backend(2, rs4(2), FWD_DR, 1)],
    )?;
    let to = |port| Frame::new(client(40000 + port), (VIP4.into(), port), SYN);
    ensure!(sent_to(&mut p, &to(8080))? == 1);
    ensure!(sent_to(&mut p, &to(443))? == 2);
    let udp = Frame::new(client(40000), (VIP4.into(), 8080), L4::Udp);
    assert_passed(&mut p, "UDP has no all-ports service", &udp.bytes())
}

#[test]
fn everything_else_goes_to_the_kernel_untouched() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &three(FWD_DR))?;
    let syn = to_vip(40000, SYN).bytes();
    let other_vip = Frame::new(client(1), (Ipv4Addr::new(192, 0, 2, 51).into(), 80), SYN);
    let other_port = Frame::new(client(1), (VIP4.into(), 81), SYN);
    let udp = Frame::new(client(1), (VIP4.into(), 80), L4::Udp);
    let mut fragment = syn.clone();
    fragment[20] |= 0x20; // more fragments
    fix_ipv4_checksum(&mut fragment);
    let mut later_fragment = syn.clone();
    later_fragment[21] = 0x10; // offset 16 * 8
    fix_ipv4_checksum(&mut later_fragment);
    let with_options = ipv4_with_options(&syn);
    let mut icmp = syn.clone();
    icmp[23] = 1; // protocol ICMP
    fix_ipv4_checksum(&mut icmp);
    let mut lying_length = syn.clone();
    lying_length[16..18].copy_from_slice(&1500u16.to_be_bytes());
    fix_ipv4_checksum(&mut lying_length);
    let arp = {
        let mut f = syn[..42].to_vec();
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        f
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("another address", other_vip.bytes()),
        ("another port", other_port.bytes()),
        ("another protocol", udp.bytes()),
        ("first fragment", fragment),
        ("later fragment", later_fragment),
        ("IPv4 options", with_options),
        ("ICMP", icmp),
        ("length beyond the frame", lying_length),
        ("ARP", arp),
        // (BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header.)
        ("Ethernet header only", syn[..14].to_vec()),
        ("truncated IPv4", syn[..14 + 12].to_vec()),
        ("truncated TCP", syn[..14 + 20 + 10].to_vec()),
    ];
    for (what, bytes) in &cases {
        assert_passed(&mut p, what, bytes)?;
    }
    let mut v6_ext = Frame::new((CLIENT6.into(), 1), (VIP6.into(), 80), SYN).bytes();
    v6_ext[14 + 6] = 0; // next header: hop-by-hop options
    p.set_service(
        VipKey::v6(VIP6.octets(), 80, TCP),
        Scheduler::Rr,
        &[backend(1, rs6(1), FWD_DR, 1)],
    )?;
    assert_passed(&mut p, "IPv6 extension header", &v6_ext)?;
    let vlan_truncated = {
        let mut f = to_vip(40000, SYN);
        f.vlan = Some(5);
        f.bytes()[..16].to_vec()
    };
    assert_passed(&mut p, "truncated VLAN tag", &vlan_truncated)
}

#[test]
fn a_service_without_serving_servers_passes_and_counters_count() -> Result<()> {
    let mut p = programmer()?;
    let key = vip4(80, TCP);
    p.set_service(key, Scheduler::Rr, &[backend(1, rs4(1), FWD_DR, 0)])?;
    let syn = to_vip(40000, SYN).bytes();
    assert_passed(&mut p, "weight 0 only", &syn)?;
    p.set_service(key, Scheduler::Rr, &[backend(1, rs4(1), FWD_DR, 1)])?;
    for i in 0..3 {
        sent_to(&mut p, &to_vip(40000 + i, SYN))?;
    }
    let ids = p.ids(&key).expect("programmed");
    let service = p.fast_path().maps().service_counters(ids.id)?;
    let real = p.fast_path().maps().real_counters(ids.reals[0].id)?;
    ensure!(
        service.packets == 3 && service.bytes == 3 * syn.len() as u64,
        "{service:?}"
    );
    ensure!(real == service, "{real:?}");
    let flow = FlowKey {
        src: widen_v4(CLIENT4.octets()),
        dst: widen_v4(VIP4.octets()),
        sport: 40000,
        dport: 80,
        proto: TCP,
        family: FAMILY_IPV4,
        pad: [0; 2],
    };
    let recorded = p.fast_path().maps().flow(&flow)?.expect("flow recorded");
    ensure!(u32::from(recorded.real) == ids.reals[0].id);
    Ok(())
}
