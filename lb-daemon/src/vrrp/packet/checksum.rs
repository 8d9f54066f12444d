//! The Internet checksum (RFC 1071) as VRRP uses it: VRRPv2 over the VRRP
//! message alone (RFC 3768 §5.3.8), VRRPv3 over a pseudo-header and the
//! message (RFC 5798 §5.2.8: the IPv4 pseudo-header of RFC 768, the IPv6
//! pseudo-header of RFC 8200 §8.1).
use std::net::IpAddr;

use super::{Version, IPPROTO_VRRP};

/// The checksum of `msg` as sent from `src` to `dst`.
///
/// With the checksum field zeroed this is the value to put in it; over a
/// received message (checksum included) it is 0 when the checksum verifies.
pub(super) fn compute(version: Version, msg: &[u8], src: IpAddr, dst: IpAddr) -> u16 {
    let mut sum = add_bytes(0, msg);
    if version == Version::V3 {
        sum = add_pseudo_header(sum, msg.len(), src, dst);
    }
    !fold(sum)
}

/// Adds the pseudo-header. The IPv4 one (src, dst, zero, protocol, 16-bit
/// length) and the IPv6 one (src, dst, 32-bit length, 3 zero bytes, next
/// header) sum to the same words apart from the addresses, so one function
/// serves both.
fn add_pseudo_header(sum: u64, len: usize, src: IpAddr, dst: IpAddr) -> u64 {
    let sum = add_bytes(add_bytes(sum, &octets(src)), &octets(dst));
    // `len` is at most a VRRP message read from one IP packet; the u32 view
    // covers IPv6's 32-bit length field.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    sum + u64::from(IPPROTO_VRRP) + u64::from(len >> 16) + u64::from(len & 0xffff)
}

fn octets(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Adds `bytes` as big-endian 16-bit words, an odd last byte padded with zero.
fn add_bytes(sum: u64, bytes: &[u8]) -> u64 {
    let (words, rest) = bytes.as_chunks::<2>();
    let sum = words
        .iter()
        .fold(sum, |acc, w| acc + u64::from(u16::from_be_bytes(*w)));
    match rest {
        [last] => sum + (u64::from(*last) << 8),
        _ => sum,
    }
}

/// Folds the carries back in (one's-complement addition).
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3 worked example: 0001 f203 f4f5 f6f7 sums to ddf2.
    #[test]
    fn rfc1071_example() {
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add_bytes(0, &bytes)), 0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(add_bytes(0, &[0x12, 0x34, 0x56])), 0x6834);
    }
}
