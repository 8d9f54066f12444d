//! Map values.
use crate::{MAX_BACKENDS, RING_MAX};

/// What a VIP is: the value of [`crate::VIPS_MAP`]. The daemon replaces it
/// whole to switch the service to a freshly built table.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// Service id: index into [`crate::VIP_STATS_MAP`] and [`crate::RR_MAP`].
    pub id: u32,
    /// Index into [`crate::TABLES_MAP`] of the table in force (`2 * id` or
    /// `2 * id + 1`: the other slot is where the next table is built).
    pub table: u32,
    /// Scheduler, one of the `SCHED_*` constants.
    pub sched: u8,
    /// Explicit padding (zero).
    pub pad: [u8; 3],
}

/// The real servers of one service and its scheduling ring.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedTable {
    /// Slots of `ring` in use (0: no real server is available).
    pub len: u32,
    /// Entries of `reals` in use.
    pub count: u32,
    /// Real ids (indexes into [`crate::REALS_MAP`]) of the available servers.
    pub reals: [u32; MAX_BACKENDS],
    /// Their weights (used by `lc`, which divides connections by them).
    pub weights: [u32; MAX_BACKENDS],
    /// Positions in `reals`: round robin walks it, hashing schedulers index
    /// it (weights are expressed by repetition).
    pub ring: [u16; RING_MAX],
}

impl Default for SchedTable {
    fn default() -> Self {
        SchedTable {
            len: 0,
            count: 0,
            reals: [0; MAX_BACKENDS],
            weights: [0; MAX_BACKENDS],
            ring: [0; RING_MAX],
        }
    }
}

/// Where and how to send a real server's packets.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Real {
    /// Real server address, network byte order (IPv4 in the first 4 bytes).
    pub addr: [u8; 16],
    /// Outer source address for `TUN` (the director's address toward it).
    pub src: [u8; 16],
    /// MAC address of the next hop (the server itself when on-link).
    pub dmac: [u8; 6],
    /// MAC address of the egress interface.
    pub smac: [u8; 6],
    /// Egress interface index (equal to the ingress one: `XDP_TX`, else
    /// `bpf_redirect`).
    pub ifindex: u32,
    /// Egress MTU: encapsulated packets that would exceed it are passed to
    /// the kernel instead.
    pub mtu: u16,
    /// [`crate::FAMILY_IPV4`] or [`crate::FAMILY_IPV6`].
    pub family: u8,
    /// Forwarding method, one of the `FWD_*` constants.
    pub forward: u8,
}

/// Traffic counters (per CPU in the maps; sum them).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes (whole frames as received, link-layer header included).
    pub bytes: u64,
}

impl Counters {
    /// The sum of two counters.
    pub const fn plus(self, other: Counters) -> Counters {
        Counters {
            packets: self.packets + other.packets,
            bytes: self.bytes + other.bytes,
        }
    }
}
