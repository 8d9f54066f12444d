//! The connection table: a flow stays on the real server it was given.
//! For `lc`/`wlc`, a new flow counts one connection on its real server and
//! the first FIN or RST the client sends takes it back (see the README for
//! what this counting can and cannot see); flows of other schedulers leave
//! the count alone.
use lb_common::{Flow, FLOW_CLOSED, FLOW_COUNTED};

use crate::{
    maps::LB_FLOWS,
    parse::{Packet, TCP_FIN_RST},
    sched::count_connection,
};

/// The real server of an already known flow; notes the client closing it.
#[inline(always)]
pub fn existing(packet: &Packet) -> Option<u32> {
    let flow = LB_FLOWS.get_ptr_mut(&packet.flow)?;
    // SAFETY: the entry stays valid while this program runs (RCU); the
    // state word is only ever set, and a lost race costs one count.
    unsafe {
        if packet.tcp_flags & TCP_FIN_RST != 0 && (*flow).state & FLOW_CLOSED == 0 {
            (*flow).state |= FLOW_CLOSED;
            if (*flow).state & FLOW_COUNTED != 0 {
                count_connection((*flow).real, -1);
            }
        }
        Some((*flow).real)
    }
}

/// Records a new flow on `real`; `counted`: its scheduler counts
/// connections (`lc`/`wlc`).
#[inline(always)]
pub fn insert(packet: &Packet, real: u32, counted: bool) {
    let closed = packet.tcp_flags & TCP_FIN_RST != 0;
    let counted = counted && !closed;
    let flow = Flow {
        real,
        state: if closed { FLOW_CLOSED } else { 0 } | if counted { FLOW_COUNTED } else { 0 },
    };
    if LB_FLOWS.insert(&packet.flow, &flow, 0).is_ok() && counted {
        count_connection(real, 1);
    }
}
