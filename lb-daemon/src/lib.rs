//! lb-daemon: a keepalived-compatible high-availability load balancer.
//!
//! Data flows one way: [`config`] (keepalived.conf or TOML) is parsed and
//! validated into one model, from which the daemon derives what it runs.
pub mod config;
pub mod dataplane;
