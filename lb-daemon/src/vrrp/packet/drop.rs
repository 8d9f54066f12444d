//! Why a received advert was dropped, and the per-reason counters shown by
//! `lb-daemon status`.
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Why a received advert was dropped: one variant per reason. The first group
/// is found by [`parse`](super::parse), the second by
/// [`validate`](super::validate), the last three by the instance's receive
/// filter (`crate::vrrp::receive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Drop {
    /// IPv4 TTL or IPv6 hop limit is not 255 (the sender is not on the link).
    Ttl,
    /// Shorter than the 8-byte fixed header.
    Truncated,
    /// Version is neither 2 nor 3, or not the instance's version.
    Version,
    /// Type is not 1 (advertisement).
    Type,
    /// Source and destination differ in family, or VRRPv2 over IPv6.
    AddressFamily,
    /// The address count does not match the payload length for the family
    /// (too few or too many bytes after the header).
    AddressCount,
    /// The checksum does not verify.
    Checksum,
    /// VRRPv2 auth type is not 0 (none), 1 (password) or 2 (AH).
    AuthTypeInvalid,
    /// Advertisement interval of zero.
    ZeroInterval,
    /// VRID is not the instance's.
    Vrid,
    /// VRRPv2 auth type differs from the instance's.
    AuthType,
    /// VRRPv2 password differs from the instance's.
    AuthPass,
    /// VRRPv2 advertisement interval differs from the instance's.
    Interval,
    /// The virtual address list (count or contents) differs from the instance's.
    Addresses,
    /// The destination does not fit the instance: not its multicast group
    /// (`vrrp_mcast_group4/6`), or a multicast group for a unicast instance.
    Destination,
    /// With `check_unicast_src`: the source is not one of the `unicast_peer`s.
    UnicastSource,
    /// The TTL / hop limit is outside the peer's `min_ttl`..`max_ttl`.
    PeerTtl,
}

impl Drop {
    /// Every reason, in declaration order.
    pub const ALL: &'static [Drop] = &[
        Drop::Ttl,
        Drop::Truncated,
        Drop::Version,
        Drop::Type,
        Drop::AddressFamily,
        Drop::AddressCount,
        Drop::Checksum,
        Drop::AuthTypeInvalid,
        Drop::ZeroInterval,
        Drop::Vrid,
        Drop::AuthType,
        Drop::AuthPass,
        Drop::Interval,
        Drop::Addresses,
        Drop::Destination,
        Drop::UnicastSource,
        Drop::PeerTtl,
    ];

    /// Stable snake_case name, used as the JSON key in `lb-daemon status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Drop::Ttl => "ttl",
            Drop::Truncated => "truncated",
            Drop::Version => "version",
            Drop::Type => "type",
            Drop::AddressFamily => "address_family",
            Drop::AddressCount => "address_count",
            Drop::Checksum => "checksum",
            Drop::AuthTypeInvalid => "auth_type_invalid",
            Drop::ZeroInterval => "zero_interval",
            Drop::Vrid => "vrid",
            Drop::AuthType => "auth_type",
            Drop::AuthPass => "auth_pass",
            Drop::Interval => "interval",
            Drop::Addresses => "addresses",
            Drop::Destination => "destination",
            Drop::UnicastSource => "unicast_source",
            Drop::PeerTtl => "peer_ttl",
        }
    }

    /// Position in [`Drop::ALL`] and in the counter array.
    fn index(self) -> usize {
        self as usize
    }
}

/// A keepalived-style phrase for the log.
impl fmt::Display for Drop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Drop::Ttl => "invalid TTL/HL",
            Drop::Truncated => "vrrp packet too short",
            Drop::Version => "wrong version",
            Drop::Type => "invalid packet type",
            Drop::AddressFamily => "address family mismatch",
            Drop::AddressCount => "address count does not match packet length",
            Drop::Checksum => "bad checksum",
            Drop::AuthTypeInvalid => "invalid auth type",
            Drop::ZeroInterval => "zero advertisement interval",
            Drop::Vrid => "VRID mismatch",
            Drop::AuthType => "auth type mismatch",
            Drop::AuthPass => "received an invalid passwd",
            Drop::Interval => "advertisement interval mismatch",
            Drop::Addresses => "address list mismatch",
            Drop::Destination => "destination is not the instance's multicast group or unicast",
            Drop::UnicastSource => "source not a configured unicast peer",
            Drop::PeerTtl => "TTL/HL not in the unicast peer's range",
        })
    }
}

/// Number of reasons; sizes the counter array.
const REASONS: usize = Drop::ALL.len();

/// Drop counters by reason, for `lb-daemon status`. Serializes as a JSON
/// object `{reason: count}` with every reason present, keyed by
/// [`Drop::as_str`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounts {
    counts: [u64; REASONS],
}

impl DropCounts {
    /// Counts one drop for `reason`.
    pub fn add(&mut self, reason: Drop) {
        if let Some(count) = self.counts.get_mut(reason.index()) {
            *count = count.saturating_add(1);
        }
    }

    /// Drops counted for `reason`.
    pub fn get(&self, reason: Drop) -> u64 {
        self.counts.get(reason.index()).copied().unwrap_or(0)
    }

    /// Drops counted for all reasons.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0, |sum, c| sum.saturating_add(*c))
    }
}

impl Serialize for DropCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(REASONS))?;
        for reason in Drop::ALL {
            map.serialize_entry(reason.as_str(), &self.get(*reason))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, reason) in Drop::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason:?}");
        }
    }
}
