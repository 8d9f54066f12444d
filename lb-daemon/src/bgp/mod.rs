//! Active-active directors behind BGP: every healthy director announces its
//! virtual servers' prefixes through BIRD (its child, or the system's BIRD), the
//! routers spread flows over the directors by ECMP, and mh/sh tables that
//! are identical on every director keep each flow on its real server
//! whichever director it reaches.
//!
//! Data flows one way: configuration and desired state in, [`plan`] says
//! what to announce, the [`announcer`] makes it so, in order. On the way in:
//! the fast path attaches and is programmed (through VIP ownership and its
//! gate, as for a VRRP MASTER), the address goes on `lo`, then BIRD
//! announces. On the way out: BIRD withdraws, the routers move the flows
//! during `drain`, then the fast path lets go and the address leaves `lo`.
pub mod announcer;
pub mod bird;
mod ownership;
pub mod plan;

pub use announcer::{Announcer, Follow};
pub use ownership::standby;
