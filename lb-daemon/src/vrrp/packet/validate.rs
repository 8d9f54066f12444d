//! Checks of a parsed advert against one instance's configuration.
use std::net::IpAddr;
use std::time::Duration;

use super::{interval_units, Advert, Auth, Drop, Version};

/// What an instance expects of adverts for its VRID (after demux by vrid).
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The instance's VRRP version.
    pub version: Version,
    /// The instance's VRID.
    pub vrid: u8,
    /// The instance's v2 authentication (ignored for v3).
    pub auth: &'a Auth,
    /// The instance's advertisement interval (checked for v2 only).
    pub advert_int: Duration,
    /// The instance's virtual addresses.
    pub addresses: &'a [IpAddr],
}

/// Instance checks on an advert that [`parse`](super::parse) accepted and
/// that was demultiplexed to this instance by VRID.
///
/// In order: version ([`Drop::Version`]), VRID ([`Drop::Vrid`]); for v2 the
/// auth type ([`Drop::AuthType`]), the password, compared in constant time
/// over all 8 bytes as keepalived does ([`Drop::AuthPass`]), and the interval
/// in whole seconds ([`Drop::Interval`]; RFC 3768 §7.1 "MUST verify"). AH is
/// matched by type only: the AH header is verified by the socket layer.
///
/// Addresses ([`Drop::Addresses`]): RFC 3768/5798 §7.1 say a mismatch is
/// logged and the advert dropped *unless* its priority is 255 (the address
/// owner). keepalived does not make that exception, and neither do we: in
/// `vrrp_check_packet()` (keepalived/vrrp/vrrp.c) a count different from the
/// configured number of VIPs ("received an unexpected ip number count") and a
/// configured VIP missing from the advert ("ip address associated with VRID
/// not present in MASTER advert") both return `VRRP_PACKET_KO` whatever the
/// priority, counted as `addr_list_err`, in BACKUP and MASTER state alike.
/// Observed with keepalived 2.2.7: a BACKUP fed priority-255 adverts with a
/// different address, or one address too many, logs those lines, ignores
/// them and takes over as MASTER. So the list must have the configured
/// length and contain every configured address, in any order.
pub fn validate(advert: &Advert, expect: &Expect) -> Result<(), Drop> {
    if advert.version != expect.version {
        return Err(Drop::Version);
    }
    if advert.vrid != expect.vrid {
        return Err(Drop::Vrid);
    }
    if expect.version == Version::V2 {
        check_auth(&advert.auth, expect.auth)?;
        if interval_units(Version::V2, advert.max_advert_int)
            != interval_units(Version::V2, expect.advert_int)
        {
            return Err(Drop::Interval);
        }
    }
    let same_addresses = advert.addresses.len() == expect.addresses.len()
        && expect
            .addresses
            .iter()
            .all(|a| advert.addresses.contains(a));
    if !same_addresses {
        return Err(Drop::Addresses);
    }
    Ok(())
}

/// The v2 authentication check: same type, and for PASS the same 8 bytes.
fn check_auth(got: &Auth, want: &Auth) -> Result<(), Drop> {
    match (got, want) {
        (Auth::Pass(got), Auth::Pass(want)) if !constant_time_eq(got, want) => Err(Drop::AuthPass),
        (Auth::Pass(_), Auth::Pass(_)) | (Auth::None, Auth::None) | (Auth::Ah, Auth::Ah) => Ok(()),
        _ => Err(Drop::AuthType),
    }
}

/// Compares without an early exit, so timing does not reveal how much of a
/// guessed password was right.
fn constant_time_eq(a: &[u8; 8], b: &[u8; 8]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}
