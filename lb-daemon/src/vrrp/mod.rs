//! VRRP (RFC 3768 v2, RFC 5798 v3), kept in separate parts: the packet codec
//! ([`packet`]), the pure state machine ([`fsm`]), and the socket and
//! address side effects around them.
pub mod counts;
pub mod engine;
pub mod fsm;
pub mod garp;
pub mod garp_pace;
pub mod instance;
pub mod io;
pub mod link;
pub mod packet;
pub mod promote;
pub mod receive;
mod rp_filter;
pub mod spec;
pub mod sync_group;
mod sysctl;
pub mod vip_record;
pub mod vips;
pub mod vmac;

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Version {
    /// RFC 3768: IPv4 only, advertisement interval in whole seconds, optional
    /// simple-password authentication.
    V2,
    /// RFC 5798: IPv4 and IPv6, interval in centiseconds, no authentication.
    V3,
}
