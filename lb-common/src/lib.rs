//! Types shared by the eBPF programs (`lb-ebpf`) and userspace (`lb-daemon`).
//!
//! Every type here is `#[repr(C)]` and is defined exactly once: the eBPF side
//! uses it as map key/value, the daemon (with the `user` feature) reads and
//! writes the same maps through aya. Map names are kept at most 15 bytes so
//! `bpftool map dump name <MAP>` can address them.
#![no_std]

/// Name of the XDP program in the object file.
pub const XDP_PROGRAM: &str = "lb_xdp";

/// Map of per-VIP packet counters: [`VipKey`] -> per-CPU [`VipCounters`].
/// Only keys present in the map are counted; userspace inserts the VIPs.
pub const VIP_STATS_MAP: &str = "vip_stats";

/// Capacity of [`VIP_STATS_MAP`].
pub const MAX_VIPS: u32 = 4096;

/// IP version stored in [`VipKey::family`] for IPv4.
pub const FAMILY_IPV4: u8 = 4;
/// IP version stored in [`VipKey::family`] for IPv6.
pub const FAMILY_IPV6: u8 = 6;

/// A virtual service as seen on the wire: destination address, port and
/// protocol of a packet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VipKey {
    /// Destination address in network byte order; IPv4 uses the first four
    /// bytes and leaves the rest zero.
    pub addr: [u8; 16],
    /// Destination port in host byte order (0 for protocols without ports).
    pub port: u16,
    /// IP protocol number (6 = TCP, 17 = UDP).
    pub proto: u8,
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
}

impl VipKey {
    /// Key for an IPv4 destination.
    pub const fn v4(addr: [u8; 4], port: u16, proto: u8) -> Self {
        let mut a = [0u8; 16];
        a[0] = addr[0];
        a[1] = addr[1];
        a[2] = addr[2];
        a[3] = addr[3];
        VipKey {
            addr: a,
            port,
            proto,
            family: FAMILY_IPV4,
        }
    }

    /// Key for an IPv6 destination.
    pub const fn v6(addr: [u8; 16], port: u16, proto: u8) -> Self {
        VipKey {
            addr,
            port,
            proto,
            family: FAMILY_IPV6,
        }
    }
}

/// Per-CPU traffic counters of one VIP.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipCounters {
    /// Packets seen for the VIP.
    pub packets: u64,
    /// Bytes seen for the VIP (whole frames, link-layer header included).
    pub bytes: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain #[repr(C)] data without padding or pointers; every bit
    // pattern is a valid value.
    unsafe impl aya::Pod for super::VipKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::VipCounters {}
}
