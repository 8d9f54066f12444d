//! Setting up the XDP fast path for the benchmarks: real servers for
//! [`Programmer::set_service`](lb_daemon::dataplane::xdp::Programmer),
//! and pinning the measuring thread to one CPU. (The lab itself lets the
//! directors' `XDP_TX` frames through its bridge.)
use std::net::Ipv4Addr;

use anyhow::{Context, Result};
use lb_common::{Real, FAMILY_IPV4};
use lb_daemon::dataplane::xdp::{tables::key_bytes, Backend};
use nix::{sched::CpuSet, unistd::Pid};

/// An IPv4 host on the director's link: its address and MAC.
#[derive(Debug, Clone, Copy)]
pub struct Station {
    /// IPv4 address.
    pub addr: Ipv4Addr,
    /// Ethernet address.
    pub mac: [u8; 6],
}

/// Real server `real` (weight 1, `port`) reached from `director` through
/// interface `ifindex` by `forward` (`FWD_DR` or `FWD_TUN`).
pub fn backend(real: Station, director: Station, ifindex: u32, port: u16, forward: u8) -> Backend {
    Backend {
        port,
        weight: 1,
        real: Real {
            addr: key_bytes(real.addr.into()),
            src: key_bytes(director.addr.into()),
            dmac: real.mac,
            smac: director.mac,
            ifindex,
            mtu: 1500,
            family: FAMILY_IPV4,
            forward,
        },
    }
}

/// Keeps the calling thread on `cpu` (per-CPU state such as the round-robin
/// cursors and counters then stays on one CPU, and timings do not migrate).
pub fn pin_to_cpu(cpu: usize) -> Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu).with_context(|| format!("CPU {cpu}"))?;
    nix::sched::sched_setaffinity(Pid::from_raw(0), &set)
        .with_context(|| format!("pinning to CPU {cpu}"))
}
