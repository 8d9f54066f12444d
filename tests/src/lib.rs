//! Lab library: network-namespace topologies for integration tests and `cargo xtask lab`.
//!
//! - [`Netns`] / [`NsChild`]: guards for a namespace and a process inside one.
//! - [`Lab`]: the standard topology (switch + client, directors, real servers
//!   running nginx), torn down on drop.
//! - [`Daemon`]: `lb-daemon` running in a namespace, its log and status;
//!   [`Keepalived`]: Debian's keepalived as an interop peer.
//! - [`IpvsLab`], [`ipvsadm`]: the IPVS guest tests' topology (a NAT client
//!   behind the director) and IPVS listings parsed into structures.
//! - [`inject`], [`capture`]: VRRP adverts put on and read off the wire.
//! - [`Prometheus`], [`promtool_check`]: a real Prometheus scraping the
//!   daemons, and promtool's check of a scrape.
//! - [`bpf`]: programs and pinned maps as `bpftool` sees them; [`crash`]:
//!   the converged state a director must reach after `kill -9` and a restart.
//! - [`soak`]: the chaos soak (faults, observer, report).
//! - [`in_netns`], [`http_get`], [`wait_until`], [`retry`]: helpers for tests.
//! - [`cleanup_current_process`], [`sweep_stale`]: cleanup outside of `Drop`.
//!
//! Nothing here touches the root namespace's interfaces, routes or sysctls.

pub mod bgp_lab;
pub mod bird;
pub mod bpf;
pub mod crash;
pub mod daemon;
pub mod dr;
pub mod frames;
pub mod frr;
pub mod http;
pub mod ipvs_lab;
pub mod ipvsadm;
pub mod keepalived;
pub mod lab;
pub mod log;
pub mod names;
pub mod netns;
pub mod pair;
pub mod prometheus;
pub mod signals;
pub mod smtp_sink;
pub mod soak;
pub mod traffic;
pub mod vrrp_conf;
pub mod vrrp_wire;
pub mod web;

pub use daemon::{daemon_binary, Daemon};
pub use dr::dr_lab;
pub use frr::{Frr, FrrConf};
pub use http::{block_on, block_on_in, http_get, in_netns, retry, wait_until};
pub use ipvs_lab::IpvsLab;
pub use keepalived::Keepalived;
pub use lab::{Host, Lab, LabSpec};
pub use names::{cleanup_current_process, sweep_stale};
pub use netns::{Netns, NsChild};
pub use pair::Pair;
pub use prometheus::{promtool_check, Prometheus};
pub use signals::{install_cleanup_on_signals, install_panic_cleanup_hook};
pub use smtp_sink::{Mail, SmtpSink};
pub use traffic::{Continuous, KeptAlive, TcpCounters};
pub use vrrp_conf::{VrrpConf, VIP, VIP6};
pub use vrrp_wire::{capture, inject, Injection, Recording, Seen};
pub use web::WebServer;
