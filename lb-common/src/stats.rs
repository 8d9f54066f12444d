//! The fast path's packet counters ([`crate::STATS_MAP`]): new flows, and
//! every packet the program hands to the kernel (`XDP_PASS`), by reason.
//! The program has no `XDP_DROP` exit, so there is no drop counter.
//!
//! Only the exits that leave the fast path and the new-flow path count
//! here; a packet of an established flow touches none of these counters
//! (its packets and bytes are in [`crate::VIP_STATS_MAP`] and
//! [`crate::RS_STATS_MAP`]).

/// Index in [`crate::STATS_MAP`] of the new-flow counter: packets that
/// found no entry in the connection table and were given a real server
/// (the entry is written before the packet is forwarded, so a new flow
/// whose first packet then passes as [`PassReason::TooBig`] counts in both).
pub const STAT_NEW_FLOWS: u32 = 0;

/// Why a packet went to the kernel (`XDP_PASS`) instead of a real server.
/// Its value is its counter's index in [`crate::STATS_MAP`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PassReason {
    /// Neither IPv4 nor IPv6 (ARP, LLDP, ...), after at most one 802.1Q tag.
    NotIp = 1,
    /// To no fast-path service: another address, or a VIP address but a
    /// port or protocol no service (nor an all-ports service) has, or a
    /// known flow whose service is gone.
    NotVip = 2,
    /// To a VIP address but neither TCP nor UDP (ICMP, ...; also IPv6's
    /// ESP and AH).
    NotTcpUdp = 3,
    /// An IPv4 fragment, or an IPv6 packet with a fragment header.
    Fragment = 4,
    /// IPv4 options or an IPv6 extension header (hop-by-hop, routing,
    /// destination options, mobility, HIP, shim6) before the transport.
    IpOptions = 5,
    /// Truncated or inconsistent headers (a frame shorter than its headers
    /// or its IP length, a bad IP version or header length).
    Malformed = 6,
    /// A service with no real server available (none, all weight 0 or
    /// drained).
    NoBackend = 7,
    /// Would exceed the real server's egress MTU once encapsulated (`TUN`).
    TooBig = 8,
    /// The maps disagree with the program (a real id or table slot out of
    /// range, a real server of another family, no headroom to
    /// encapsulate): a daemon bug, never expected.
    Internal = 9,
}

impl PassReason {
    /// Every reason, in counter order.
    pub const ALL: [PassReason; 9] = [
        PassReason::NotIp,
        PassReason::NotVip,
        PassReason::NotTcpUdp,
        PassReason::Fragment,
        PassReason::IpOptions,
        PassReason::Malformed,
        PassReason::NoBackend,
        PassReason::TooBig,
        PassReason::Internal,
    ];

    /// The reason's name in metrics and status (snake_case).
    pub const fn name(self) -> &'static str {
        match self {
            PassReason::NotIp => "not_ip",
            PassReason::NotVip => "not_vip",
            PassReason::NotTcpUdp => "not_tcp_udp",
            PassReason::Fragment => "fragment",
            PassReason::IpOptions => "ip_options",
            PassReason::Malformed => "malformed",
            PassReason::NoBackend => "no_backend",
            PassReason::TooBig => "too_big",
            PassReason::Internal => "internal",
        }
    }
}

/// Entries of [`crate::STATS_MAP`]: the new-flow counter and one per
/// [`PassReason`].
pub const STATS_LEN: u32 = 1 + PassReason::ALL.len() as u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fill_the_indexes_after_new_flows_in_order() {
        for (i, reason) in PassReason::ALL.iter().enumerate() {
            assert_eq!(*reason as u32, STAT_NEW_FLOWS + 1 + i as u32);
        }
        assert_eq!(STATS_LEN as usize, PassReason::ALL.len() + 1);
        let names: [&str; 9] = PassReason::ALL.map(PassReason::name);
        for (i, a) in names.iter().enumerate() {
            assert!(a.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(!names[..i].contains(a), "{a} twice");
        }
    }
}
