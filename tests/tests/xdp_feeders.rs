//! The benchmark feeders of the XDP object (`lb_replay`, `lb_fresh_pass`,
//! `lb_fresh`) and its flow-lookup reference program (`lb_flow_floor`)
//! through `BPF_PROG_TEST_RUN`: a frame the stack rewrote
//! (forwarded: MACs, destination, TTL) comes back as first sent; the fresh
//! ones give each frame a new source port and last source address octet,
//! both checksums still right (checked with etherparse, independently of
//! the program), nothing else changed; and the load balancer behind
//! `lb_fresh` sees every such frame as a new flow; `lb_flow_floor` sends
//! back, MACs swapped, the frames of flows the table knows only. Runs as root in the
//! calling namespace; test runs transmit nothing.
use std::collections::BTreeSet;

use anyhow::{ensure, Context, Result};
use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use lb_common::{
    FEED_FRAME_LEN, FLOW_FLOOR_PROGRAM, FRESH_PASS_PROGRAM, FRESH_PROGRAM, FWD_DR, REPLAY_PROGRAM,
};
use lb_daemon::dataplane::xdp::{tables::Scheduler, PassProgram};
use lb_tests::frames::{Frame, DIRECTOR_MAC, L4, SYN};

mod xdp_common;

use xdp_common::*;

/// Checks that `out` is `sent` with only a new source port and last source
/// address octet, and valid checksums; returns the new source.
fn fresh_source_of(sent: &[u8], out: &[u8]) -> Result<([u8; 4], u16)> {
    ensure!(out.len() == sent.len(), "length changed");
    let changed: Vec<usize> = (0..sent.len()).filter(|&i| sent[i] != out[i]).collect();
    // IPv4 checksum 24-25, source address' last octet 29, source port
    // 34-35, TCP checksum 50-51 or UDP's 40-41.
    let allowed = [24, 25, 29, 34, 35, 40, 41, 50, 51];
    ensure!(
        changed.iter().all(|i| allowed.contains(i)),
        "bytes {changed:?} changed"
    );
    let packet = SlicedPacket::from_ethernet(out).context("parsing the frame out")?;
    let Some(NetSlice::Ipv4(ip)) = packet.net else {
        anyhow::bail!("not IPv4 any more");
    };
    let header = ip.header().to_header();
    ensure!(
        header.header_checksum == header.calc_header_checksum(),
        "IPv4 checksum"
    );
    let source = header.source;
    ensure!(source[..3] == [192, 0, 2], "source {source:?}");
    let port = match packet.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let expected = tcp.to_header().calc_checksum_ipv4(&header, tcp.payload())?;
            ensure!(tcp.checksum() == expected, "TCP checksum");
            tcp.source_port()
        }
        Some(TransportSlice::Udp(udp)) => {
            let expected = udp.to_header().calc_checksum_ipv4(&header, udp.payload())?;
            ensure!(udp.checksum() == expected, "UDP checksum");
            udp.source_port()
        }
        _ => anyhow::bail!("no TCP or UDP any more"),
    };
    Ok((source, port))
}

/// The first bytes of `frame`, as the feeders restore them.
fn template(frame: &[u8]) -> [u8; FEED_FRAME_LEN] {
    frame[..FEED_FRAME_LEN]
        .try_into()
        .expect("a long enough frame")
}

/// `frame` as the stack forwards it: to a real server's MAC from the
/// director's, DNATed, one hop less (checksums not kept: the feeders must
/// not care).
fn forwarded(frame: &[u8]) -> Vec<u8> {
    let mut out = frame.to_vec();
    out[..12].copy_from_slice(&[2, 0, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 2]);
    out[22] -= 1;
    out[33] = 11;
    out
}

#[test]
fn replay_restores_what_the_stack_rewrote() -> Result<()> {
    let sent = to_vip(40000, SYN).bytes();
    let mut feeder = PassProgram::load_feeder(REPLAY_PROGRAM, &template(&sent))?;
    ensure!(run_program(feeder.program()?, &forwarded(&sent))? == (XDP_PASS, sent.clone()));
    // Without a frame to restore it passes frames untouched.
    let mut unset = PassProgram::load_named(REPLAY_PROGRAM)?;
    let mangled = forwarded(&sent);
    ensure!(run_program(unset.program()?, &mangled)? == (XDP_PASS, mangled));
    Ok(())
}

#[test]
fn fresh_pass_gives_every_frame_a_new_source_with_valid_checksums() -> Result<()> {
    for l4 in [SYN, L4::Udp] {
        let sent = to_vip(40000, l4).bytes();
        let mut feeder = PassProgram::load_feeder(FRESH_PASS_PROGRAM, &template(&sent))?;
        let mut sources = BTreeSet::new();
        for _ in 0..64 {
            let (action, out) = run_program(feeder.program()?, &forwarded(&sent))?;
            ensure!(action == XDP_PASS, "action {action}");
            sources.insert(fresh_source_of(&sent, &out).with_context(|| format!("{l4:?}"))?);
        }
        // 32 random bits a frame: 64 frames, 64 sources (but by a 1 in
        // 10^6 chance).
        ensure!(sources.len() >= 63, "{l4:?}: {} sources", sources.len());
    }
    // Anything but untagged IPv4 TCP/UDP without options is left alone.
    let v6 = Frame::new((CLIENT6.into(), 40000), (VIP6.into(), 80), SYN).bytes();
    let mut feeder = PassProgram::load_named(FRESH_PASS_PROGRAM)?;
    ensure!(run_program(feeder.program()?, &v6)? == (XDP_PASS, v6));
    Ok(())
}

#[test]
fn fresh_feeds_the_load_balancer_new_flows() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &three(FWD_DR))?;
    let sent = to_vip(40000, SYN).bytes();
    let mut servers = BTreeSet::new();
    for _ in 0..30 {
        let (action, out) = run_program(p.fast_path().companion(FRESH_PROGRAM)?, &sent)?;
        ensure!(action == XDP_TX, "action {action}");
        ensure!(out[6..12] == DIRECTOR_MAC, "the director's MAC");
        servers.insert(out[5]);
        // Direct routing changes the MACs only: the rest is the feeder's.
        let mut unrouted = out.clone();
        unrouted[..12].copy_from_slice(&sent[..12]);
        fresh_source_of(&sent, &unrouted)?;
    }
    let counts = p.fast_path().maps().packet_counts()?;
    ensure!(counts.new_flows() >= 29, "{} new flows", counts.new_flows());
    ensure!(
        servers.len() == 3,
        "round robin over new flows: {servers:?}"
    );
    Ok(())
}

#[test]
fn flow_floor_swaps_the_macs_of_known_flows_only() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &three(FWD_DR))?;
    let known = to_vip(40000, SYN).bytes();
    let unknown = to_vip(40001, SYN).bytes();
    let floor = |p: &mut lb_daemon::dataplane::xdp::Programmer, frame: &[u8]| {
        run_program(p.fast_path().companion(FLOW_FLOOR_PROGRAM)?, frame)
    };
    // Before the load balancer has seen the flow, the table does not know it.
    ensure!(floor(&mut p, &known)? == (XDP_PASS, known.clone()));
    ensure!(run(&mut p, &known)?.0 == XDP_TX);
    let mut swapped = known.clone();
    swapped[..6].copy_from_slice(&known[6..12]);
    swapped[6..12].copy_from_slice(&known[..6]);
    ensure!(floor(&mut p, &known)? == (XDP_TX, swapped));
    ensure!(floor(&mut p, &unknown)? == (XDP_PASS, unknown));
    Ok(())
}
