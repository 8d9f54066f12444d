//! State the daemon derives and publishes for its consumers: which VIPs this
//! node owns ([`ownership`]), and which IPVS sync daemons follow from it
//! ([`sync_daemons`]).
pub mod desired;
pub mod ownership;
pub mod sync_daemons;
