//! Choosing a real server for a new flow. Every scheduler but `lc` indexes
//! the ring the daemon built: `rr`/`wrr` with a per-CPU cursor, `sh` with a
//! hash of the client address, `mh` with a hash of the client address and
//! port (the ring is then a Maglev lookup table).
use core::intrinsics::{atomic_xadd, AtomicOrdering};

use lb_common::{
    hash_addr, hash_addr_port, FlowKey, PassReason, SchedTable, Service, MAX_BACKENDS, SCHED_LC,
    SCHED_MH, SCHED_SH,
};

use crate::maps::{LB_CONNS, LB_RR};

/// The real id for a new flow of `service`, or [`PassReason::NoBackend`]
/// when no real server is available.
#[inline(always)]
pub fn pick(service: &Service, table: &SchedTable, flow: &FlowKey) -> Result<u32, PassReason> {
    if table.count == 0 || table.len == 0 {
        return Err(PassReason::NoBackend);
    }
    if service.sched == SCHED_LC {
        return least_connections(table).ok_or(PassReason::NoBackend);
    }
    let slot = match service.sched {
        SCHED_SH => hash_addr(&flow.src),
        SCHED_MH => hash_addr_port(&flow.src, flow.sport),
        _ => next_cursor(service.id),
    } % table.len;
    let position = *table.ring.get(slot as usize).ok_or(PassReason::Internal)? as usize;
    table
        .reals
        .get(position)
        .copied()
        .ok_or(PassReason::Internal)
}

/// This CPU's round-robin cursor for service `id`, advanced by one.
#[inline(always)]
fn next_cursor(id: u32) -> u32 {
    match LB_RR.get_ptr_mut(id) {
        // SAFETY: this CPU's slot; XDP runs with preemption disabled.
        Some(cursor) => unsafe {
            let now = *cursor;
            *cursor = now.wrapping_add(1);
            now
        },
        None => 0,
    }
}

/// The real with the fewest connections per unit of weight counted in
/// `lb_conns` (the first one on a tie, as IPVS's `lc` and `wlc`).
#[inline(always)]
fn least_connections(table: &SchedTable) -> Option<u32> {
    let mut best: Option<(u32, i64, i64)> = None;
    for i in 0..MAX_BACKENDS {
        if i as u32 >= table.count {
            break;
        }
        let (real, weight) = (table.reals[i], i64::from(table.weights[i]));
        let conns = connections(real).max(0);
        // conns / weight < fewest / best_weight, without division.
        if best.is_none_or(|(_, fewest, w)| conns * w < fewest * weight) {
            best = Some((real, conns, weight));
        }
    }
    best.map(|(real, _, _)| real)
}

#[inline(always)]
fn connections(real: u32) -> i64 {
    LB_CONNS
        .get_ptr_mut(real)
        // SAFETY: an aligned i64 slot of the array: one 8-byte load, which
        // cannot tear (the BPF target has no atomic load instruction).
        .map(|p| unsafe { core::ptr::read_volatile(p) })
        .unwrap_or(i64::MAX)
}

/// Adds `delta` to the connections of `real`.
#[inline(always)]
pub fn count_connection(real: u32, delta: i64) {
    if let Some(p) = LB_CONNS.get_ptr_mut(real) {
        // SAFETY: as in `connections`. The BPF target has no atomic types
        // with read-modify-write methods; the intrinsic is its atomic add.
        unsafe { atomic_xadd::<i64, i64, { AtomicOrdering::Relaxed }>(p, delta) };
    }
}
