//! State the daemon derives and publishes for its consumers: which VIPs this
//! node owns ([`ownership`]).
pub mod desired;
pub mod ownership;
