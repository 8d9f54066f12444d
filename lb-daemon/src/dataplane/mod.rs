//! Data-plane programmers. Each consumes the daemon's desired state and
//! programs one kernel facility.
pub mod ipvs;
pub mod xdp;
