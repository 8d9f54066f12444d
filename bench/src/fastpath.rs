//! Setting up the XDP fast path for the benchmarks: real servers for
//! [`Programmer::set_service`](lb_daemon::dataplane::xdp::Programmer),
//! pinning the measuring thread to one CPU, and letting directors' `XDP_TX`
//! frames through the lab's bridge.
use std::net::Ipv4Addr;

use anyhow::{Context, Result};
use aya::programs::XdpMode;
use lb_common::{Real, FAMILY_IPV4};
use lb_daemon::dataplane::xdp::{tables::key_bytes, Backend, PassProgram};
use lb_tests::{in_netns, Host, Lab};
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

/// Runs the XDP_PASS program on the bridge ports of `directors`, so that
/// frames they send by `XDP_TX` leave at once: veth schedules the peer's
/// NAPI for such frames only when the peer has an XDP program. With GRO
/// alone (the lab's default) they wait in the peer's ring for the next
/// frame the director's own stack sends, and a flood fills the ring and is
/// dropped. The program stays attached while the returned value lives.
pub fn flush_xdp_tx(lab: &Lab, directors: &[&Host]) -> Result<PassProgram> {
    let mut pass = PassProgram::load()?;
    in_netns(lab.switch().name(), || -> Result<()> {
        for director in directors {
            pass.program()?
                .attach_to_if_index(director.bridge_port_ifindex(), XdpMode::Driver)
                .with_context(|| format!("attaching XDP_PASS to {}", director.bridge_port()))?;
        }
        Ok(())
    })??;
    Ok(pass)
}
