//! Map keys built from packet headers.
use crate::{FAMILY_IPV4, FAMILY_IPV6};

/// A virtual service as seen on the wire: destination address, port and
/// protocol of a packet. Port 0 is an "all ports" service, looked up when no
/// service matches the exact port. Word-aligned so the program builds it
/// with word stores.
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VipKey {
    /// Destination address in network byte order; IPv4 uses the first four
    /// bytes and leaves the rest zero.
    pub addr: [u8; 16],
    /// Destination port in host byte order (0: all ports).
    pub port: u16,
    /// IP protocol number (6 = TCP, 17 = UDP).
    pub proto: u8,
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
}

impl VipKey {
    /// Key for an IPv4 destination.
    pub const fn v4(addr: [u8; 4], port: u16, proto: u8) -> Self {
        VipKey {
            addr: widen_v4(addr),
            port,
            proto,
            family: FAMILY_IPV4,
        }
    }

    /// Key for an IPv6 destination.
    pub const fn v6(addr: [u8; 16], port: u16, proto: u8) -> Self {
        VipKey {
            addr,
            port,
            proto,
            family: FAMILY_IPV6,
        }
    }
}

/// One transport flow (the connection table's key). 8-byte aligned so the
/// program builds it with word stores (the verifier rejects misaligned
/// stack accesses).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Source address, network byte order (IPv4 in the first four bytes).
    pub src: [u8; 16],
    /// Destination address, as `src`.
    pub dst: [u8; 16],
    /// Source port, host byte order.
    pub sport: u16,
    /// Destination port, host byte order.
    pub dport: u16,
    /// IP protocol number.
    pub proto: u8,
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u8,
    /// Explicit padding (zero).
    pub pad: [u8; 2],
}

/// An IPv4 address in the 16-byte layout of the keys.
pub const fn widen_v4(addr: [u8; 4]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = addr[0];
    a[1] = addr[1];
    a[2] = addr[2];
    a[3] = addr[3];
    a
}
