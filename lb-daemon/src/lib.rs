//! lb-daemon: a keepalived-compatible high-availability load balancer.
//!
//! Data flows one way: [`config`] (keepalived.conf or TOML) is parsed and
//! validated into one model, from which the daemon derives what it runs; the
//! [`dataplane`] programmers consume that state.
pub mod bgp;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod firewall;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod limits;
pub mod log_limit;
pub mod metrics;
pub mod netlink;
pub mod notify;
pub mod script;
pub mod signals;
pub mod state;
pub mod timers;
pub mod track;
pub mod vrrp;
