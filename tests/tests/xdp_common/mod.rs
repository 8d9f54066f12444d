//! What the XDP packet fixtures share: the services they program (real
//! servers behind the test run's ingress device), the frames they send,
//! and running the program once through `BPF_PROG_TEST_RUN`.
#![allow(dead_code)] // each test binary uses its own part

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{ensure, Result};
use aya::programs::{TestRun, TestRunOptions, Xdp};
use lb_common::{Real, VipKey, FAMILY_IPV4, FAMILY_IPV6};
use lb_daemon::dataplane::xdp::{tables::key_bytes, Backend, FastPath, Programmer};
use lb_tests::frames::{Frame, DIRECTOR_MAC, L4};

pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;
pub const XDP_REDIRECT: u32 = 4;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
/// `BPF_PROG_TEST_RUN` receives frames on the loopback device.
pub const LOOPBACK: u32 = 1;

pub const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50);
pub const CLIENT4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
pub const DIRECTOR4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const DIRECTOR6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

pub fn rs4(n: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, 10 + n])
}

pub fn rs6(n: u8) -> IpAddr {
    IpAddr::from(Ipv6Addr::new(
        0x2001,
        0xdb8,
        0,
        0,
        0,
        0,
        0,
        0x10 + u16::from(n),
    ))
}

pub fn rs_mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, 0x10 + n]
}

/// Real server `n` at `addr`, reached through the test run's ingress
/// device unless `ifindex` says otherwise.
pub fn backend(n: u8, addr: IpAddr, forward: u8, weight: u32) -> Backend {
    let (family, src) = match addr {
        IpAddr::V4(_) => (FAMILY_IPV4, key_bytes(DIRECTOR4.into())),
        IpAddr::V6(_) => (FAMILY_IPV6, key_bytes(DIRECTOR6.into())),
    };
    Backend {
        port: 80,
        weight,
        real: Real {
            addr: key_bytes(addr),
            src,
            dmac: rs_mac(n),
            smac: DIRECTOR_MAC,
            ifindex: LOOPBACK,
            mtu: 1500,
            family,
            forward,
        },
    }
}

pub fn three(forward: u8) -> Vec<Backend> {
    (1..=3).map(|n| backend(n, rs4(n), forward, 1)).collect()
}

pub fn vip4(port: u16, proto: u8) -> VipKey {
    VipKey::v4(VIP4.octets(), port, proto)
}

pub fn programmer() -> Result<Programmer> {
    // The round-robin cursors are per CPU: stay on one.
    let mut cpus = nix::sched::CpuSet::new();
    cpus.set(0)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &cpus)?;
    Ok(Programmer::new(FastPath::load(4096)?))
}

/// Runs the program once on `frame`: the action and the frame out.
pub fn run(p: &mut Programmer, frame: &[u8]) -> Result<(u32, Vec<u8>)> {
    run_program(p.fast_path().program()?, frame)
}

/// Runs `program` once on `frame`: the action and the frame out.
pub fn run_program(program: &mut Xdp, frame: &[u8]) -> Result<(u32, Vec<u8>)> {
    let mut out = vec![0u8; frame.len() + 128];
    let result = program.test_run(TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        ..TestRunOptions::default()
    })?;
    out.truncate(result.data_size_out as usize);
    Ok((result.return_value, out))
}

/// The real server (by its MAC) a direct-routed frame went to.
pub fn sent_to(p: &mut Programmer, frame: &Frame) -> Result<u8> {
    let bytes = frame.bytes();
    let (action, out) = run(p, &bytes)?;
    ensure!(action == XDP_TX, "{frame:?}: action {action}");
    ensure!(out[6..12] == DIRECTOR_MAC, "source MAC is the director's");
    ensure!(out[12..] == bytes[12..], "only the MACs change");
    Ok(out[5] - 0x10)
}

pub fn client(port: u16) -> (IpAddr, u16) {
    (CLIENT4.into(), port)
}

pub fn to_vip(port: u16, l4: L4) -> Frame {
    Frame::new(client(port), (VIP4.into(), 80), l4)
}

/// Frames the program must hand to the kernel untouched.
pub fn assert_passed(p: &mut Programmer, what: &str, bytes: &[u8]) -> Result<()> {
    let (action, out) = run(p, bytes)?;
    ensure!(
        action == XDP_PASS,
        "{what}: action {action}, expected XDP_PASS"
    );
    ensure!(out == bytes, "{what}: the frame was modified");
    Ok(())
}

/// Recomputes the IPv4 header checksum of `frame` (Ethernet, no tag).
pub fn fix_ipv4_checksum(frame: &mut [u8]) {
    frame[24..26].copy_from_slice(&[0, 0]);
    let header_len = usize::from(frame[14] & 0x0F) * 4;
    let sum = frame[14..14 + header_len]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u32>();
    let folded = (sum & 0xFFFF) + (sum >> 16);
    frame[24..26].copy_from_slice(&(!(folded as u16)).to_be_bytes());
}

/// `frame` with a 4-byte IPv4 option (NOPs) inserted.
pub fn ipv4_with_options(frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    f.splice(34..34, [1, 1, 1, 1]);
    f[14] = 0x46;
    let total = u16::from_be_bytes([f[16], f[17]]) + 4;
    f[16..18].copy_from_slice(&total.to_be_bytes());
    fix_ipv4_checksum(&mut f);
    f
}
