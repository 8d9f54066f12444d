//! The services the fuzzed program serves: both families, TCP and UDP, a
//! port and "all ports", every scheduler, DR and TUN, real servers behind the
//! ingress interface (`XDP_TX`) or another (`XDP_REDIRECT`), a small egress
//! MTU (large packets must go to the kernel) and a service whose real
//! servers all have weight 0 (nothing may be forwarded).
use std::net::IpAddr;

use anyhow::Result;
use lb_common::{Real, VipKey, FAMILY_IPV4, FAMILY_IPV6, FWD_DR, FWD_TUN};
use lb_daemon::dataplane::xdp::{tables::Scheduler, Backend, FastPath, Programmer};

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
/// `BPF_PROG_TEST_RUN` receives frames on the loopback device.
pub const LOOPBACK: u32 = 1;
/// An interface index other than the ingress one: `bpf_redirect`.
const ELSEWHERE: u32 = 7;
/// The director's MAC address (the source of every forwarded frame).
pub const DIRECTOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const DIRECTOR4: [u8; 4] = [192, 0, 2, 2];
const DIRECTOR6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// One virtual service and how its real servers are reached.
pub struct Vip {
    pub v6: bool,
    pub addr: &'static [u8],
    /// 0: all ports.
    pub port: u16,
    pub proto: u8,
    pub sched: Scheduler,
    pub forward: u8,
    pub reals: u8,
    pub weight: u32,
    pub mtu: u16,
    pub ifindex: u32,
}

const V4_50: &[u8] = &[192, 0, 2, 50];
const V4_51: &[u8] = &[192, 0, 2, 51];
const V4_52: &[u8] = &[192, 0, 2, 52];
const V6_50: &[u8] = &[
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50,
];
const V6_51: &[u8] = &[
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x51,
];

const fn vip(v6: bool, addr: &'static [u8], port: u16, proto: u8, sched: Scheduler) -> Vip {
    Vip {
        v6,
        addr,
        port,
        proto,
        sched,
        forward: FWD_DR,
        reals: 3,
        weight: 1,
        mtu: 1500,
        ifindex: LOOPBACK,
    }
}

/// Every service.
pub const VIPS: &[Vip] = &[
    vip(false, V4_50, 80, TCP, Scheduler::Rr),
    Vip {
        forward: FWD_TUN,
        ..vip(false, V4_50, 53, UDP, Scheduler::Wrr)
    },
    Vip {
        ifindex: ELSEWHERE,
        ..vip(false, V4_51, 0, TCP, Scheduler::Mh)
    },
    Vip {
        forward: FWD_TUN,
        mtu: 120,
        ..vip(false, V4_51, 443, TCP, Scheduler::Lc)
    },
    Vip {
        weight: 0,
        ..vip(false, V4_52, 80, TCP, Scheduler::Rr)
    },
    vip(true, V6_50, 80, TCP, Scheduler::Sh),
    Vip {
        forward: FWD_TUN,
        ..vip(true, V6_50, 0, UDP, Scheduler::Wlc)
    },
    Vip {
        forward: FWD_TUN,
        mtu: 140,
        ifindex: ELSEWHERE,
        ..vip(true, V6_51, 443, TCP, Scheduler::Rr)
    },
];

/// Real server `k` of service `i`: its MAC address names both.
pub fn real(i: usize, k: u8) -> Real {
    let vip = &VIPS[i];
    let n = (i * 8) as u8 + k + 1;
    let (addr, src, family) = match vip.v6 {
        true => {
            let mut addr = DIRECTOR6;
            addr[14] = 1;
            addr[15] = n;
            (addr, DIRECTOR6, FAMILY_IPV6)
        }
        false => {
            let addr = lb_common::widen_v4([192, 0, 2, 100 + n]);
            (addr, lb_common::widen_v4(DIRECTOR4), FAMILY_IPV4)
        }
    };
    Real {
        addr,
        src,
        dmac: [0x02, 0x10, 0, 0, i as u8, k],
        smac: DIRECTOR_MAC,
        ifindex: vip.ifindex,
        mtu: vip.mtu,
        family,
        forward: vip.forward,
    }
}

/// Which service and real server a destination MAC address belongs to.
pub fn owner(mac: &[u8]) -> Option<(usize, u8)> {
    let (i, k) = match mac {
        [0x02, 0x10, 0, 0, i, k] => (usize::from(*i), *k),
        _ => return None,
    };
    (i < VIPS.len() && k < VIPS[i].reals).then_some((i, k))
}

/// The program loaded afresh (empty connection table of `flows` entries)
/// with every service.
pub fn load(flows: u32) -> Result<Programmer> {
    let mut lb = Programmer::new(FastPath::load(flows)?);
    for (i, vip) in VIPS.iter().enumerate() {
        let key = match vip.v6 {
            true => VipKey::v6(vip.addr.try_into()?, vip.port, vip.proto),
            false => VipKey::v4(vip.addr.try_into()?, vip.port, vip.proto),
        };
        let backends: Vec<Backend> = (0..vip.reals)
            .map(|k| Backend {
                port: 80,
                weight: vip.weight,
                real: real(i, k),
            })
            .collect();
        lb.set_service(key, vip.sched, &backends)?;
    }
    Ok(lb)
}

/// The address of a service, for messages.
pub fn describe(i: usize) -> String {
    let vip = &VIPS[i];
    let addr: IpAddr = match vip.v6 {
        true => <[u8; 16]>::try_from(vip.addr)
            .map(IpAddr::from)
            .unwrap_or([0; 16].into()),
        false => <[u8; 4]>::try_from(vip.addr)
            .map(IpAddr::from)
            .unwrap_or([0; 4].into()),
    };
    format!("{addr} port {} proto {}", vip.port, vip.proto)
}
