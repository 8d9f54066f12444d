//! The connection table: a flow stays on the real server it was given.
//! Each entry also names the flow's service and that service's generation
//! in `lb_svc_gen` when the entry was written: while they still match, the
//! entry alone says where the packet goes and which counters it adds to,
//! without looking the service up. The daemon moves a service id to a new
//! generation when the service is removed or the id given to another one.
//!
//! For `lc`/`wlc`, a new flow counts one connection on its real server and
//! the first FIN or RST the client sends takes it back (see the README for
//! what this counting can and cannot see); flows of other schedulers leave
//! the count alone.
use lb_common::{Flow, FLOW_CLOSED, FLOW_COUNTED};

use crate::{
    maps::{LB_FLOWS, LB_GENS},
    parse::{Packet, TCP_FIN_RST},
    sched::count_connection,
};

/// A flow's entry in the table; valid while this program runs (RCU).
pub struct Known(*mut Flow);

impl Known {
    /// The real server the flow is on.
    #[inline(always)]
    pub fn real(&self) -> u32 {
        // SAFETY: see `Known`.
        unsafe { (*self.0).real }
    }

    /// The flow's service id, if that service is still the one the entry
    /// was written for.
    #[inline(always)]
    pub fn current_service(&self) -> Option<u32> {
        // SAFETY: see `Known`.
        let (service, generation) = unsafe { ((*self.0).service, (*self.0).generation) };
        (LB_GENS.get(service).copied()? == generation).then_some(service)
    }

    /// Records that the flow now belongs to service `id` (found by lookup).
    #[inline(always)]
    pub fn adopt(&self, id: u32) {
        // SAFETY: see `Known`; a lost race rewrites the same values.
        unsafe {
            (*self.0).service = id;
            (*self.0).generation = generation(id);
        }
    }
}

/// The entry of the packet's flow, if known; notes the client closing it.
#[inline(always)]
pub fn find(packet: &Packet) -> Option<Known> {
    let flow = LB_FLOWS.get_ptr_mut(&packet.flow)?;
    // SAFETY: see `Known`. The state word is only ever set, and a lost
    // race costs one count.
    unsafe {
        if packet.tcp_flags & TCP_FIN_RST != 0 && (*flow).state & FLOW_CLOSED == 0 {
            (*flow).state |= FLOW_CLOSED;
            if (*flow).state & FLOW_COUNTED != 0 {
                count_connection((*flow).real, -1);
            }
        }
    }
    Some(Known(flow))
}

/// Records a new flow of service `service` on `real`; `counted`: its
/// scheduler counts connections (`lc`/`wlc`).
#[inline(always)]
pub fn insert(packet: &Packet, real: u32, service: u32, counted: bool) {
    let closed = packet.tcp_flags & TCP_FIN_RST != 0;
    let counted = counted && !closed;
    let flow = Flow {
        real,
        state: if closed { FLOW_CLOSED } else { 0 } | if counted { FLOW_COUNTED } else { 0 },
        service,
        generation: generation(service),
    };
    if LB_FLOWS.insert(&packet.flow, &flow, 0).is_ok() && counted {
        count_connection(real, 1);
    }
}

#[inline(always)]
fn generation(service: u32) -> u32 {
    LB_GENS.get(service).copied().unwrap_or(0)
}
