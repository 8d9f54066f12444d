//! IPVS, the kernel's layer-4 load balancer, programmed over generic netlink
//! (family "IPVS"; `ipvsadm` speaks the same protocol).
//!
//! * [`wire`]: the family's messages and attributes, typed, written once;
//! * [`model`]: services, destinations, counters and timeouts with their meaning;
//! * [`IpvsClient`]: a blocking client: add, change, remove and dump;
//! * [`target`]: the desired state as IPVS tables (pure);
//! * [`diff`]: desired vs programmed tables -> operations (pure);
//! * [`Reconciler`]: the running task keeping IPVS equal to the desired state;
//! * [`SyncReconciler`]: the one keeping the connection sync daemons
//!   (`lvs_sync_daemon`) as VRRP ownership wants them.
//!
//! No crate on crates.io speaks IPVS over the maintained rust-netlink stack
//! (`netlink-packet-ipvs` 0.0.1 is a 2024 one-off on netlink-packet-core 0.7,
//! `nlrs` brings its own netlink layer), so the family is defined here on
//! `netlink-packet-core` / `netlink-packet-generic` / `netlink-sys`, the
//! crates rtnetlink already uses.
pub(crate) mod client;
pub mod diff;
mod error;
pub mod model;
mod reconciler;
pub mod record;
mod sync;
pub mod target;
pub mod wire;

pub use client::{endpoint, Dumped, DumpedDest, DumpedService, IpvsClient};
pub use error::IpvsError;
pub use model::{
    DestCounters, Destination, Forwarding, Info, Service, Stats, SyncDaemon, SyncRole, Timeouts,
    Tunnel, TunnelType,
};
pub use reconciler::{OnStop, Reconciler, Settings};
pub use sync::SyncReconciler;
