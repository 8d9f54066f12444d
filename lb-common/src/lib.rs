//! Types shared by the eBPF programs (`lb-ebpf`) and userspace (`lb-daemon`).
//!
//! Every type here is `#[repr(C)]` and is defined exactly once: the eBPF side
//! uses it as map key/value, the daemon (with the `user` feature) reads and
//! writes the same maps through aya. Map names are kept at most 15 bytes so
//! `bpftool map dump name <MAP>` can address them.
//!
//! How the maps fit together (the README describes each one):
//!
//! ```text
//! packet ─> lb_vips[VipKey] ─> Service{id, table, sched}
//!              │                   │
//!              │                   ├─> lb_flows[set of hash(FlowKey)] ─> FlowEntry{real} (existing flow)
//!              │                   └─> lb_tables[table] ─> SchedTable{reals, ring} (new flow)
//!              │                                             │
//!              └─> vip_stats[id]          lb_reals[real] <───┘ ─> rs_stats[real], lb_conns[real]
//! ```
//!
//! `lb_xdp_stats` counts new flows and, by [`PassReason`], the packets
//! handed to the kernel.
#![no_std]

mod filter;
mod flows;
mod hash;
mod keys;
mod stats;
mod values;

pub use filter::{filter_bit, filter_bit_of, FILTER_BITS, FILTER_WORDS};
pub use flows::{
    flow_check, flow_hash, flow_set, flow_sets, FlowEntry, FlowSet, FLOW_CLOSED, FLOW_COUNTED,
    FLOW_WAYS,
};
pub use hash::{hash_addr, hash_addr_port};
pub use keys::{widen_v4, FlowKey, VipKey};
pub use stats::{PassReason, STATS_LEN, STAT_NEW_FLOWS};
pub use values::{Counters, Real, SchedTable, Service};

/// Name of the load-balancing XDP program in the object file.
pub const XDP_PROGRAM: &str = "lb_xdp";
/// Name of the reference program that passes every packet (benchmarks
/// subtract its cost from the load balancer's).
pub const PASS_PROGRAM: &str = "lb_pass";
/// Name of the reference program that sends every packet back out
/// (`XDP_TX`): the packet rate limit benchmarks compare with.
pub const TX_PROGRAM: &str = "lb_tx";
/// Name of the program that drops every packet (a benchmark's sink).
pub const DROP_PROGRAM: &str = "lb_drop";
/// Name of the reference program that swaps the Ethernet addresses and
/// sends the packet back out: the least any XDP forwarder does (read and
/// rewrite the frame), a floor below [`TX_PROGRAM`]'s rate.
pub const SWAP_PROGRAM: &str = "lb_swap";
/// Name of the reference program that looks an IPv4 packet's flow up in
/// the connection table and, for a known flow, swaps the Ethernet addresses
/// and sends the packet back out: the least a forwarder with a flow table
/// does (no pre-filter, service, real server or counters). Shares the load
/// balancer's maps.
pub const FLOW_FLOOR_PROGRAM: &str = "lb_flow_floor";
/// Name of the benchmark feeder that gives each frame a fresh source
/// (port and last address octet) and runs the load balancer on it: new
/// flows from recycled live frames. Shares the load balancer's maps.
pub const FRESH_PROGRAM: &str = "lb_fresh";
/// Name of the benchmark feeder that restores a frame's first
/// [`FEED_FRAME_LEN`] bytes from [`FEED_FRAME_GLOBAL`] and passes it to the
/// kernel: the classic path's established flow, every recycled live frame
/// as it was first sent (the stack rewrites frames it forwards in place).
pub const REPLAY_PROGRAM: &str = "lb_replay";
/// Name of the benchmark feeder that restores a frame like
/// [`REPLAY_PROGRAM`], gives it a fresh source and passes it to the kernel:
/// the classic path's new flows.
pub const FRESH_PASS_PROGRAM: &str = "lb_fresh_pass";
/// The feeders' global holding the frame to restore (its first
/// [`FEED_FRAME_LEN`] bytes: Ethernet, IPv4 and TCP headers), set at load
/// time; all zero (the default) restores nothing.
pub const FEED_FRAME_GLOBAL: &str = "LB_FEED_FRAME";
/// How many bytes of a frame the feeders restore.
pub const FEED_FRAME_LEN: usize = 56;

/// VIP -> service: [`VipKey`] -> [`Service`] (hash, not preallocated, so an
/// update replaces the whole value at once).
pub const VIPS_MAP: &str = "lb_vips";
/// Scheduling tables, two slots per service: `u32` -> [`SchedTable`].
pub const TABLES_MAP: &str = "lb_tables";
/// Real servers by id: `u32` -> [`Real`].
pub const REALS_MAP: &str = "lb_reals";
/// Connection table: set index -> [`FlowSet`] (an array shared by every
/// CPU; see [`flow_hash`]).
pub const FLOWS_MAP: &str = "lb_flows";
/// The program's global holding the connection table's set count minus
/// one (set at load time).
pub const FLOW_MASK_GLOBAL: &str = "LB_FLOW_MASK";
/// Per-CPU round-robin cursor per service id: `u32` -> `u32`.
pub const RR_MAP: &str = "lb_rr";
/// Active connections per real id (for `lc`): `u32` -> `i64`.
pub const CONNS_MAP: &str = "lb_conns";
/// Per-CPU traffic counters per service id: `u32` -> [`Counters`].
pub const VIP_STATS_MAP: &str = "vip_stats";
/// Per-CPU traffic counters per real id: `u32` -> [`Counters`].
pub const RS_STATS_MAP: &str = "rs_stats";
/// Per-CPU packet counters: `u32` -> `u64`, indexed by [`STAT_NEW_FLOWS`]
/// and [`PassReason`] ([`STATS_LEN`] entries).
pub const STATS_MAP: &str = "lb_xdp_stats";

/// The VIP pre-filter: `u32` word index -> `u64` (two bitmaps; see
/// [`FILTER_WORDS`]).
pub const FILTER_MAP: &str = "lb_vip_filter";

/// Generation per service id: `u32` -> `u32` (moved on when a service is
/// removed or its id given to another, so its flows need a lookup again).
pub const GENERATIONS_MAP: &str = "lb_svc_gen";

/// Every map of the object, for pinning.
pub const MAPS: [&str; 11] = [
    VIPS_MAP,
    TABLES_MAP,
    REALS_MAP,
    FLOWS_MAP,
    RR_MAP,
    CONNS_MAP,
    VIP_STATS_MAP,
    RS_STATS_MAP,
    FILTER_MAP,
    GENERATIONS_MAP,
    STATS_MAP,
];

/// Services the fast path can hold (ids `0..MAX_SERVICES`).
pub const MAX_SERVICES: u32 = 256;
/// Real servers per service.
pub const MAX_BACKENDS: usize = 64;
/// Real servers overall (ids `0..MAX_REALS`).
pub const MAX_REALS: u32 = 4096;
/// Capacity of a scheduling ring: the smallest prime >= 100 x
/// [`MAX_BACKENDS`], so a Maglev table for a full service fits.
pub const RING_MAX: usize = 6421;
/// Default capacity of the connection table, in entries (16 MiB).
pub const DEFAULT_FLOWS: u32 = 1 << 20;

/// IP version stored in `family` fields for IPv4.
pub const FAMILY_IPV4: u8 = 4;
/// IP version stored in `family` fields for IPv6.
pub const FAMILY_IPV6: u8 = 6;

/// [`Service::sched`]: round robin over the ring.
pub const SCHED_RR: u8 = 1;
/// [`Service::sched`]: weighted round robin (the ring repeats reals by weight).
pub const SCHED_WRR: u8 = 2;
/// [`Service::sched`]: (weighted) least connections ([`CONNS_MAP`] divided
/// by [`SchedTable::weights`]; `lc` has all weights 1, `wlc` the real ones).
pub const SCHED_LC: u8 = 3;
/// [`Service::sched`]: source hashing (client address -> ring slot).
pub const SCHED_SH: u8 = 4;
/// [`Service::sched`]: Maglev hashing (client address and port -> ring slot).
pub const SCHED_MH: u8 = 5;

/// [`Real::forward`]: direct routing (rewrite the destination MAC).
pub const FWD_DR: u8 = 1;
/// [`Real::forward`]: IP-in-IP (IPv4) or IPv6-in-IPv6 encapsulation.
pub const FWD_TUN: u8 = 2;

#[cfg(feature = "user")]
mod pod {
    // SAFETY (all impls): plain #[repr(C)] data whose padding is explicit;
    // every bit pattern is a valid value.
    unsafe impl aya::Pod for super::VipKey {}
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::Service {}
    unsafe impl aya::Pod for super::SchedTable {}
    unsafe impl aya::Pod for super::Real {}
    unsafe impl aya::Pod for super::FlowSet {}
    unsafe impl aya::Pod for super::Counters {}
}
