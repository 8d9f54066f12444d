//! The connection table: a flow stays on the real server it was given.
//! For `lc`, a new flow counts one connection on its real server and the
//! first FIN or RST the client sends takes it back (see the README for what
//! this counting can and cannot see).
use lb_common::{Flow, FLOW_CLOSED};

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
            count_connection((*flow).real, -1);
        }
        Some((*flow).real)
    }
}

/// Records a new flow on `real`.
#[inline(always)]
pub fn insert(packet: &Packet, real: u32) {
    let closed = packet.tcp_flags & TCP_FIN_RST != 0;
    let flow = Flow {
        real,
        state: if closed { FLOW_CLOSED } else { 0 },
    };
    if LB_FLOWS.insert(&packet.flow, &flow, 0).is_ok() && !closed {
        count_connection(real, 1);
    }
}
