//! The XDP program's packet counters (`lb_xdp_stats`) through
//! `BPF_PROG_TEST_RUN`: every frame the program hands to the kernel adds
//! exactly one to its reason's counter and nothing else; a flow's first
//! packet adds one to the new flows, its later packets add nothing.
use std::net::{IpAddr, Ipv4Addr};

use anyhow::{ensure, Result};
use lb_common::{PassReason, VipKey, FWD_DR, FWD_TUN};
use lb_daemon::dataplane::xdp::{tables::Scheduler, Programmer};
use lb_tests::frames::{Frame, ACK, FIN, L4, SYN};

mod xdp_common;

use xdp_common::*;

/// Every counter by name (`new_flows` and the reasons' names).
fn counters(p: &mut Programmer) -> Result<Vec<(&'static str, u64)>> {
    let counts = p.fast_path().maps().packet_counts()?;
    let mut all = vec![("new_flows", counts.new_flows())];
    all.extend(PassReason::ALL.map(|r| (r.name(), counts.passed(r))));
    Ok(all)
}

/// Runs `bytes` once: the action must be `action` and the counters that
/// moved exactly `moved` (each by one).
fn expect(p: &mut Programmer, what: &str, bytes: &[u8], action: u32, moved: &[&str]) -> Result<()> {
    let before = counters(p)?;
    let (got, _) = run(p, bytes)?;
    ensure!(got == action, "{what}: action {got}, expected {action}");
    let after = counters(p)?;
    let changed: Vec<(&str, u64)> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, a)| (a.0, a.1 - b.1))
        .collect();
    let wanted: Vec<(&str, u64)> = moved.iter().map(|m| (*m, 1)).collect();
    ensure!(
        changed == wanted,
        "{what}: counters moved {changed:?}, expected {wanted:?}"
    );
    Ok(())
}

fn passed(p: &mut Programmer, what: &str, bytes: &[u8], reason: PassReason) -> Result<()> {
    expect(p, what, bytes, XDP_PASS, &[reason.name()])
}

/// An IPv6 frame to VIP6:80 whose next header is `next`.
fn v6_next_header(next: u8) -> Vec<u8> {
    let mut f = Frame::new((CLIENT6.into(), 1), (VIP6.into(), 80), SYN).bytes();
    f[14 + 6] = next;
    f
}

#[test]
fn new_flows_count_once_and_established_packets_not_at_all() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &three(FWD_DR))?;
    let new = ["new_flows"];
    expect(&mut p, "SYN", &to_vip(40000, SYN).bytes(), XDP_TX, &new)?;
    expect(&mut p, "ACK", &to_vip(40000, ACK).bytes(), XDP_TX, &[])?;
    expect(&mut p, "FIN", &to_vip(40000, FIN).bytes(), XDP_TX, &[])?;
    expect(
        &mut p,
        "another SYN",
        &to_vip(40001, SYN).bytes(),
        XDP_TX,
        &new,
    )?;
    let udp = Frame::new(client(5353), (VIP4.into(), 53), L4::Udp);
    p.set_service(vip4(53, UDP), Scheduler::Rr, &three(FWD_DR))?;
    expect(&mut p, "UDP", &udp.bytes(), XDP_TX, &new)?;
    expect(&mut p, "UDP again", &udp.bytes(), XDP_TX, &[])
}

#[test]
fn each_pass_reason_counts_exactly_its_frames() -> Result<()> {
    use PassReason::*;
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &three(FWD_DR))?;
    p.set_service(
        VipKey::v6(VIP6.octets(), 80, TCP),
        Scheduler::Rr,
        &[backend(1, rs6(1), FWD_DR, 1)],
    )?;
    let syn = to_vip(40000, SYN).bytes();
    let elsewhere: IpAddr = Ipv4Addr::new(192, 0, 2, 51).into();
    let with = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut f = syn.clone();
        edit(&mut f);
        fix_ipv4_checksum(&mut f);
        f
    };
    let icmp = with(&|f| f[23] = 1);
    let fragment = with(&|f| f[20] |= 0x20);
    let cases: Vec<(&str, Vec<u8>, PassReason)> = vec![
        (
            "ARP",
            with(&|f| f[12..14].copy_from_slice(&[0x08, 0x06])),
            NotIp,
        ),
        (
            "another address",
            Frame::new(client(1), (elsewhere, 80), SYN).bytes(),
            NotVip,
        ),
        ("another port", to_vip_port(81), NotVip),
        (
            "UDP to a TCP service",
            Frame::new(client(1), (VIP4.into(), 80), L4::Udp).bytes(),
            NotVip,
        ),
        ("ICMP to the VIP", icmp.clone(), NotTcpUdp),
        (
            "ICMP elsewhere",
            with(&|f| {
                f[23] = 1;
                f[30..34].copy_from_slice(&[192, 0, 2, 51]);
            }),
            NotVip,
        ),
        ("first fragment", fragment.clone(), Fragment),
        ("later fragment", with(&|f| f[21] = 0x10), Fragment),
        (
            "fragment elsewhere",
            with(&|f| {
                f[20] |= 0x20;
                f[30..34].copy_from_slice(&[192, 0, 2, 51]);
            }),
            NotVip,
        ),
        ("IPv6 fragment header", v6_next_header(44), Fragment),
        ("IPv4 options", ipv4_with_options(&syn), IpOptions),
        ("IPv6 hop-by-hop header", v6_next_header(0), IpOptions),
        ("IPv6 routing header", v6_next_header(43), IpOptions),
        ("IPv6 ESP", v6_next_header(50), NotTcpUdp),
        ("Ethernet header only", syn[..14].to_vec(), Malformed),
        ("truncated IPv4", syn[..14 + 12].to_vec(), Malformed),
        ("truncated TCP", syn[..14 + 20 + 10].to_vec(), Malformed),
        (
            "length beyond the frame",
            with(&|f| f[16..18].copy_from_slice(&1500u16.to_be_bytes())),
            Malformed,
        ),
        ("IP version 5", with(&|f| f[14] = 0x55), Malformed),
        ("header length 4 words", with(&|f| f[14] = 0x44), Malformed),
        (
            "truncated VLAN tag",
            {
                let mut f = to_vip(40000, SYN);
                f.vlan = Some(5);
                f.bytes()[..16].to_vec()
            },
            Malformed,
        ),
    ];
    for (what, bytes, reason) in &cases {
        passed(&mut p, what, bytes, *reason)?;
    }
    Ok(())
}

/// `to_vip`'s SYN to another port of the VIP.
fn to_vip_port(port: u16) -> Vec<u8> {
    Frame::new(client(1), (VIP4.into(), port), SYN).bytes()
}

#[test]
fn services_that_cannot_forward_count_why() -> Result<()> {
    let mut p = programmer()?;
    // No real server with a weight: no flow either.
    p.set_service(
        vip4(443, TCP),
        Scheduler::Rr,
        &[backend(1, rs4(1), FWD_DR, 0)],
    )?;
    passed(
        &mut p,
        "weight 0 only",
        &to_vip_port(443),
        PassReason::NoBackend,
    )?;
    // Too big once encapsulated: the flow is recorded first, so its first
    // packet counts as a new flow too, its next ones only as too big.
    let mut small = backend(1, rs4(1), FWD_TUN, 1);
    small.real.mtu = 100;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &[small])?;
    let mut frame = to_vip(40000, SYN);
    frame.payload = 100 - 20 - 20 - 20 + 1;
    let too_big = ["new_flows", PassReason::TooBig.name()];
    expect(&mut p, "oversized SYN", &frame.bytes(), XDP_PASS, &too_big)?;
    frame.l4 = ACK;
    passed(&mut p, "oversized ACK", &frame.bytes(), PassReason::TooBig)?;
    // A tunnel to a real server of the other family cannot be built (the
    // daemon's plan never programs one).
    p.set_service(
        vip4(8080, TCP),
        Scheduler::Rr,
        &[backend(2, rs6(2), FWD_TUN, 1)],
    )?;
    let internal = ["new_flows", PassReason::Internal.name()];
    expect(
        &mut p,
        "IPv4 into an IPv6 tunnel",
        &to_vip_port(8080),
        XDP_PASS,
        &internal,
    )
}
