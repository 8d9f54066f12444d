//! XDP entry points of lb-daemon's fast path.
//!
//! `lb_xdp` forwards packets for the VIPs in `LB_VIPS` to a real server
//! (`DR` or `TUN`), keeping each flow on its server through `LB_FLOWS`
//! (a set-associative cache shared by every CPU).
//! Everything else goes to the kernel (`XDP_PASS`) untouched: other
//! destinations, other protocols, fragments, IPv4 options, IPv6 extension
//! headers, truncated or inconsistent headers, services without an available
//! real server, and packets that would not fit the egress MTU once
//! encapsulated. `lb_xdp_stats` counts those by [`PassReason`], and new
//! flows; established flows' packets count only in `vip_stats`/`rs_stats`.
#![no_std]
#![no_main]
// `LB_CONNS` needs an atomic add, which `core` offers on BPF only as an intrinsic.
#![allow(internal_features)]
#![feature(core_intrinsics)]

mod feed;
mod flows;
mod fwd;
mod maps;
mod parse;
mod sched;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use lb_common::{PassReason, Service, VipKey, FILTER_WORDS, SCHED_LC, STAT_NEW_FLOWS};

use maps::{count_stat, LB_FILTER, LB_REALS, LB_TABLES, LB_VIPS, RS_STATS, VIP_STATS};

/// The load balancer.
#[xdp]
pub fn lb_xdp(ctx: XdpContext) -> u32 {
    run(&ctx)
}

/// The load balancer's action for the packet; counts why it passes one.
#[inline(always)]
fn run(ctx: &XdpContext) -> u32 {
    match balance(ctx) {
        Ok(action) => action,
        Err(reason) => {
            count_stat(reason as u32);
            xdp_action::XDP_PASS
        }
    }
}

/// Benchmark feeder: the load balancer on a frame given a fresh source
/// first, so every recycled live frame is a new flow.
#[xdp]
pub fn lb_fresh(ctx: XdpContext) -> u32 {
    feed::fresh_source(&ctx);
    run(&ctx)
}

/// Benchmark feeder: passes the frame, restored as first sent, to the
/// kernel (the classic path's established flow).
#[xdp]
pub fn lb_replay(ctx: XdpContext) -> u32 {
    feed::restore(&ctx);
    xdp_action::XDP_PASS
}

/// Benchmark feeder: passes the frame, restored as first sent and given a
/// fresh source, to the kernel (the classic path's new flows: a conntrack
/// entry per frame).
#[xdp]
pub fn lb_fresh_pass(ctx: XdpContext) -> u32 {
    feed::restore(&ctx);
    feed::fresh_source(&ctx);
    xdp_action::XDP_PASS
}

/// Reference program: passes every packet (benchmarks subtract its cost).
#[xdp]
pub fn lb_pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

/// Reference program: sends every packet back out (benchmarks' limit).
#[xdp]
pub fn lb_tx(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_TX
}

/// Reference program: swaps the Ethernet addresses and sends the packet
/// back out (the least any forwarder does: read and rewrite the frame).
#[xdp]
pub fn lb_swap(ctx: XdpContext) -> u32 {
    swap_macs(&ctx)
}

/// Reference program: the least a forwarder with a flow table does. An
/// IPv4 TCP or UDP packet's flow is looked up in `LB_FLOWS` (hash, set,
/// entry, as `lb_xdp` does); a known flow's frame gets its Ethernet
/// addresses swapped and goes back out, anything else to the kernel.
#[xdp]
pub fn lb_flow_floor(ctx: XdpContext) -> u32 {
    let known = match parse::link(&ctx) {
        Ok((l3, parse::ETH_P_IP)) => parse::ipv4(&ctx, l3, |_| true)
            .ok()
            .and_then(|packet| flows::Set::of(&packet)?.find(&packet)),
        _ => None,
    };
    match known {
        Some(_) => swap_macs(&ctx),
        None => xdp_action::XDP_PASS,
    }
}

/// Swaps the frame's Ethernet addresses: `XDP_TX` (`XDP_PASS` for a frame
/// too short to have them).
#[inline(always)]
fn swap_macs(ctx: &XdpContext) -> u32 {
    let Some(macs) = parse::ptr_at::<[u8; 12]>(ctx, 0) else {
        return xdp_action::XDP_PASS;
    };
    // SAFETY: 12 bytes within the frame, checked by `ptr_at`.
    unsafe {
        let m = *macs;
        *macs = [
            m[6], m[7], m[8], m[9], m[10], m[11], m[0], m[1], m[2], m[3], m[4], m[5],
        ];
    }
    xdp_action::XDP_TX
}

/// Drops every packet (a benchmark's sink on the far end of a veth).
#[xdp]
pub fn lb_drop(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_DROP
}

/// The action for the packet, or why it goes to the kernel.
#[inline(always)]
fn balance(ctx: &XdpContext) -> Result<u32, PassReason> {
    let admit = |bit| filter_has(0, bit);
    let (l3, ether_type) = parse::link(ctx)?;
    // Each family gets its own copy of the rest: see `parse::ipv4`.
    match ether_type {
        parse::ETH_P_IP => send(ctx, parse::ipv4(ctx, l3, admit)?),
        parse::ETH_P_IPV6 => send(ctx, parse::ipv6(ctx, l3, admit)?),
        _ => Err(PassReason::NotIp),
    }
}

/// Sends a parsed packet for a VIP address to its flow's real server,
/// choosing one for a new flow.
#[inline(always)]
fn send(ctx: &XdpContext, packet: parse::Packet) -> Result<u32, PassReason> {
    use PassReason::Internal;
    let len = (ctx.data_end() - ctx.data()) as u64;
    let set = flows::Set::of(&packet).ok_or(Internal)?;
    let known = set.find(&packet);
    // An established flow of a service still in place needs no lookup.
    let (service_id, real_id) = match known.as_ref().and_then(|k| k.current_service()) {
        Some(id) => (id, known.as_ref().ok_or(Internal)?.real()),
        None => {
            let service = lookup(&packet).ok_or(PassReason::NotVip)?;
            let real = match known {
                Some(known) => {
                    known.adopt(service.id);
                    known.real()
                }
                None => {
                    let table = LB_TABLES.get(service.table).ok_or(Internal)?;
                    let real = sched::pick(&service, table, &packet.flow)?;
                    set.insert(&packet, real, service.id, service.sched == SCHED_LC);
                    count_stat(STAT_NEW_FLOWS);
                    real
                }
            };
            (service.id, real)
        }
    };
    let real = LB_REALS.get(real_id).ok_or(Internal)?;
    let action = fwd::forward(ctx, &packet, real)?;
    maps::count(&VIP_STATS, service_id, len);
    maps::count(&RS_STATS, real_id, len);
    Ok(action)
}

/// Whether bit `bit` of the pre-filter's bitmap starting at word `first`
/// is set.
#[inline(always)]
fn filter_has(first: u32, bit: u32) -> bool {
    LB_FILTER
        .get(first + bit / 64)
        .is_some_and(|word| word & (1 << (bit % 64)) != 0)
}

/// The service of the packet's destination: the exact port first, then an
/// "all ports" (port 0) service on the same address and protocol, looked up
/// only where the pre-filter says one may exist.
#[inline(always)]
fn lookup(packet: &parse::Packet) -> Option<Service> {
    let flow = &packet.flow;
    let mut key = VipKey {
        addr: flow.dst,
        port: flow.dport,
        proto: flow.proto,
        family: flow.family,
    };
    // SAFETY: the value is copied out at once; the daemon replaces entries
    // whole (RCU), never in place.
    if let Some(service) = unsafe { LB_VIPS.get(&key) } {
        return Some(*service);
    }
    if !filter_has(FILTER_WORDS, packet.filter_bit) {
        return None;
    }
    key.port = 0;
    unsafe { LB_VIPS.get(&key) }.copied()
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // eBPF programs cannot panic; the verifier rejects any reachable loop.
    loop {}
}
