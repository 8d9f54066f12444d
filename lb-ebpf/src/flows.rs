//! The connection table: a flow stays on the real server it was given.
//! The table is a set-associative cache shared by every CPU (see
//! `lb_common::flow_hash`): the packet's 5-tuple is hashed once, its set
//! (one cache line) read once, and a new flow takes an empty entry of that
//! same line, else the one seen longest ago.
//!
//! Each entry also names the flow's service and that service's generation
//! in `lb_svc_gen` when the entry was written: while they still match, the
//! entry alone says where the packet goes and which counters it adds to,
//! without looking the service up. The daemon moves a service id to a new
//! generation when the service is removed or the id given to another one.
//!
//! For `lc`/`wlc`, a new flow counts one connection on its real server;
//! the first FIN or RST the client sends takes it back, and so does the
//! flow's eviction (see the README for what this counting can and cannot
//! see); flows of other schedulers leave the count alone.
use aya_ebpf::helpers::bpf_jiffies64;
use lb_common::{
    flow_check, flow_hash, flow_set, FlowEntry, FlowSet, FLOW_CLOSED, FLOW_COUNTED, FLOW_WAYS,
};

use crate::{
    maps::{flow_mask, LB_FLOWS, LB_GENS},
    parse::{Packet, TCP_FIN_RST},
    sched::count_connection,
};

/// Jiffies per tick of the entries' `seen` clock (0.26 s at HZ=1000,
/// 1 s at HZ=250).
const SEEN_SHIFT: u32 = 8;

/// A flow's entry in the table; valid while this program runs.
pub struct Known(*mut FlowEntry);

impl Known {
    /// The real server the flow is on.
    #[inline(always)]
    pub fn real(&self) -> u32 {
        // SAFETY: see `Known`.
        u32::from(unsafe { (*self.0).real })
    }

    /// The flow's service id, if that service is still the one the entry
    /// was written for.
    #[inline(always)]
    pub fn current_service(&self) -> Option<u32> {
        // SAFETY: see `Known`.
        let (service, generation) = unsafe { (u32::from((*self.0).service), (*self.0).generation) };
        (*LB_GENS.get(service)? as u16 == generation).then_some(service)
    }

    /// Records that the flow now belongs to service `id` (found by lookup).
    #[inline(always)]
    pub fn adopt(&self, id: u32) {
        // SAFETY: see `Known`; a lost race rewrites the same values.
        unsafe {
            (*self.0).service = id as u8;
            (*self.0).generation = generation(id);
        }
    }
}

/// The packet's set in the connection table.
pub struct Set {
    set: *mut FlowSet,
    hash: u64,
    now: u8,
}

impl Set {
    /// Hashes the packet's flow and finds its set (`None` only if the table
    /// and the mask the daemon set disagree).
    #[inline(always)]
    pub fn of(packet: &Packet) -> Option<Set> {
        let hash = flow_hash(&packet.flow);
        let set = LB_FLOWS.get_ptr_mut(flow_set(hash, flow_mask()))?;
        // SAFETY: plain helper call.
        let now = (unsafe { bpf_jiffies64() } >> SEEN_SHIFT) as u8;
        Some(Set { set, hash, now })
    }

    /// The entry of the packet's flow, if known; notes it seen, and the
    /// client closing it.
    #[inline(always)]
    pub fn find(&self, packet: &Packet) -> Option<Known> {
        for way in 0..FLOW_WAYS {
            // SAFETY: `way` is within the set, which is a map value valid
            // while the program runs. Fields are written with single
            // stores; a lost race costs one count or one stale `seen`.
            unsafe {
                let entry: *mut FlowEntry = &mut (*self.set).ways[way];
                if !(*entry).holds(self.hash) {
                    continue;
                }
                if (*entry).seen != self.now {
                    (*entry).seen = self.now;
                }
                if packet.tcp_flags & TCP_FIN_RST != 0 && (*entry).state & FLOW_CLOSED == 0 {
                    let state = (*entry).state;
                    (*entry).state = state | FLOW_CLOSED;
                    if state & FLOW_COUNTED != 0 {
                        count_connection(u32::from((*entry).real), -1);
                    }
                }
                return Some(Known(entry));
            }
        }
        None
    }

    /// Records a new flow of service `service` on `real` in an empty entry
    /// of the set, else in the one seen longest ago (which gives its
    /// connection back if it counted one); `counted`: its scheduler counts
    /// connections (`lc`/`wlc`).
    #[inline(always)]
    pub fn insert(&self, packet: &Packet, real: u32, service: u32, counted: bool) {
        let closed = packet.tcp_flags & TCP_FIN_RST != 0;
        let counted = counted && !closed;
        // SAFETY: as in `find`.
        let ways = unsafe { &mut (*self.set).ways };
        let mut victim = 0;
        let mut oldest = 0u32;
        for (way, entry) in ways.iter().enumerate() {
            let age = if entry.hash == 0 {
                u32::MAX
            } else {
                u32::from(self.now.wrapping_sub(entry.seen))
            };
            if way == 0 || age > oldest {
                victim = way;
                oldest = age;
            }
        }
        let entry = &mut ways[victim];
        if entry.hash != 0 && entry.counted() {
            count_connection(u32::from(entry.real), -1);
        }
        let new = FlowEntry {
            hash: self.hash,
            real: real as u16,
            service: service as u8,
            state: if closed { FLOW_CLOSED } else { 0 } | if counted { FLOW_COUNTED } else { 0 },
            generation: generation(service),
            seen: self.now,
            check: flow_check(self.hash),
        };
        // The assignment first, then the hash that makes it findable: two
        // 8-byte stores, each whole.
        // SAFETY: FlowEntry is two 8-byte words of plain data, 8-aligned.
        unsafe {
            let words: [u64; 2] = core::mem::transmute(new);
            let to = entry as *mut FlowEntry as *mut u64;
            core::ptr::write_volatile(to.add(1), words[1]);
            core::ptr::write_volatile(to, words[0]);
        }
        if counted {
            count_connection(real, 1);
        }
    }
}

#[inline(always)]
fn generation(service: u32) -> u16 {
    LB_GENS.get(service).copied().unwrap_or(0) as u16
}
