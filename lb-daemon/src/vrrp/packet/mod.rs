//! VRRP packet codec: VRRPv2 (RFC 3768, IPv4 only) and VRRPv3 (RFC 5798,
//! IPv4 and IPv6). Pure code, no sockets.
//!
//! The socket layer hands [`parse`] the VRRP message (the IP payload for
//! protocol 112) together with the IP source, destination and TTL/hop limit;
//! [`parse`] does the checks that need no configuration and returns an
//! [`Advert`]. After demultiplexing by VRID, [`validate`] does the checks
//! against one instance's configuration ([`Expect`]). Every rejection is a
//! [`Drop`] reason, counted in [`DropCounts`].
//!
//! Wire format (both versions share the first four bytes and the checksum):
//!
//! ```text
//!  v2: |Ver=2|Type| VRID | Priority | Count | AuthType | AdverInt(s) | Checksum |
//!      | IPv4 address (count) ... | Authentication Data (8 bytes)            |
//!  v3: |Ver=3|Type| VRID | Priority | Count | Rsvd(4) MaxAdverInt(12, cs) | Checksum |
//!      | IPv4 or IPv6 address (count) ...                                    |
//! ```
//!
//! Parsing never panics: every access to received bytes is bounds-checked.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::Version;

mod checksum;
mod drop;
mod validate;

pub use drop::{Drop, DropCounts};
pub use validate::{validate, Expect};

/// IP protocol number of VRRP (both versions).
pub const IPPROTO_VRRP: u8 = 112;
/// IPv4 multicast group VRRP adverts are sent to.
pub const VRRP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group VRRPv3 adverts are sent to.
pub const VRRP_MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL (IPv4) / hop limit (IPv6) adverts are sent with and must arrive with.
pub const VRRP_TTL: u8 = 255;

/// Fixed header: version/type, VRID, priority, count, 2 version-specific bytes, checksum.
const HEADER_LEN: usize = 8;
/// VRRPv2 authentication data trailing the addresses.
const AUTH_LEN: usize = 8;
/// The only VRRP packet type.
const TYPE_ADVERTISEMENT: u8 = 1;
/// VRRPv3 Max Adver Int: the low 12 bits of its 16-bit field.
const V3_INTERVAL_MASK: u16 = 0x0fff;

/// VRRPv2 authentication, as keepalived implements it (RFC 3768 keeps the
/// field only for RFC 2338 compatibility). VRRPv3 adverts always carry `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Auth type 0: no authentication; the authentication data is zero.
    None,
    /// Auth type 1: a simple password, sent in clear (8 bytes, zero padded).
    Pass([u8; 8]),
    /// Auth type 2: IPsec AH. The AH header itself is the socket layer's
    /// business; in the VRRP message only the type is carried (data is zero).
    Ah,
}

impl Auth {
    /// The PASS authentication keepalived derives from `auth_pass`: its first
    /// 8 bytes, zero padded (keepalived truncates longer passwords).
    pub fn pass(secret: &str) -> Auth {
        let mut data = [0u8; AUTH_LEN];
        for (slot, byte) in data.iter_mut().zip(secret.as_bytes()) {
            *slot = *byte;
        }
        Auth::Pass(data)
    }

    /// The wire auth type code.
    fn type_code(&self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
            Auth::Ah => 2,
        }
    }

    /// The 8 bytes of authentication data sent after the addresses.
    fn data(&self) -> [u8; AUTH_LEN] {
        match self {
            Auth::Pass(data) => *data,
            Auth::None | Auth::Ah => [0; AUTH_LEN],
        }
    }

    /// Decodes a v2 auth type code and its data; `None` for unknown codes.
    fn from_wire(code: u8, data: [u8; AUTH_LEN]) -> Option<Auth> {
        match code {
            0 => Some(Auth::None),
            1 => Some(Auth::Pass(data)),
            2 => Some(Auth::Ah),
            _ => None,
        }
    }
}

/// A VRRP advertisement, decoded or to be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    /// Protocol version.
    pub version: Version,
    /// Virtual router identifier (1-255 in valid configurations).
    pub vrid: u8,
    /// Sender priority: 0 = master is stepping down, 255 = address owner.
    pub priority: u8,
    /// Advertisement interval: v2 sends whole seconds (1-255), v3
    /// centiseconds (1-4095); [`encode`] rounds to the version's unit.
    pub max_advert_int: Duration,
    /// The virtual addresses, all of the packet's address family.
    pub addresses: Vec<IpAddr>,
    /// v2 authentication; always [`Auth::None`] for v3.
    pub auth: Auth,
}

/// What the socket layer knows about a received packet besides its payload.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// The VRRP message: the IP payload for protocol 112 (after any IPv4
    /// header and AH header).
    pub payload: &'a [u8],
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address.
    pub dst: IpAddr,
    /// IPv4 TTL, or IPv6 hop limit.
    pub ttl: u8,
}

impl Version {
    /// The version nibble on the wire.
    fn code(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// Milliseconds per interval unit on the wire and the largest encodable count.
    fn interval_unit(self) -> (u128, u16) {
        match self {
            Version::V2 => (1000, u16::from(u8::MAX)),
            Version::V3 => (10, V3_INTERVAL_MASK),
        }
    }
}

/// The advert interval in wire units for `version`: rounded to the nearest
/// unit and clamped to the encodable range (1-255 s, 1-4095 cs).
fn interval_units(version: Version, interval: Duration) -> u16 {
    let (unit_ms, max) = version.interval_unit();
    let units = (interval.as_millis() + unit_ms / 2) / unit_ms;
    u16::try_from(units).unwrap_or(max).clamp(1, max)
}

/// The inverse of [`interval_units`].
fn interval_from_units(version: Version, units: u16) -> Duration {
    let (unit_ms, _) = version.interval_unit();
    // unit_ms is 10 or 1000, so the product fits u64 for any u16.
    Duration::from_millis(u64::from(units) * (unit_ms as u64))
}

/// Encodes the VRRP message (the IP payload for protocol 112), checksum
/// filled in. `src`/`dst` are the IP source and destination the packet will
/// carry (the v3 checksum covers them through the pseudo-header).
///
/// `encode` is total: the family of `src` is the packet's family, so
/// addresses of the other family are left out; at most 255 addresses are
/// sent (the count is one byte); the interval is rounded to the version's unit
/// and clamped to its range; v3 carries no authentication. A well-formed
/// [`Advert`] is encoded exactly and [`parse`]s back to itself.
pub fn encode(advert: &Advert, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let addresses: Vec<&IpAddr> = advert
        .addresses
        .iter()
        .filter(|a| a.is_ipv6() == src.is_ipv6())
        .take(usize::from(u8::MAX))
        .collect();
    let count = u8::try_from(addresses.len()).unwrap_or(u8::MAX);
    let interval = interval_units(advert.version, advert.max_advert_int);

    let mut msg = Vec::with_capacity(HEADER_LEN + addresses.len() * 16 + AUTH_LEN);
    msg.extend_from_slice(&[
        advert.version.code() << 4 | TYPE_ADVERTISEMENT,
        advert.vrid,
        advert.priority,
        count,
    ]);
    match advert.version {
        // interval_units clamps v2 to 1..=255.
        Version::V2 => msg.extend_from_slice(&[advert.auth.type_code(), interval as u8]),
        Version::V3 => msg.extend_from_slice(&interval.to_be_bytes()),
    }
    msg.extend_from_slice(&[0, 0]); // checksum, filled in below
    for address in addresses {
        match address {
            IpAddr::V4(a) => msg.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => msg.extend_from_slice(&a.octets()),
        }
    }
    if advert.version == Version::V2 {
        msg.extend_from_slice(&advert.auth.data());
    }
    let sum = checksum::compute(advert.version, &msg, src, dst);
    msg[6..HEADER_LEN].copy_from_slice(&sum.to_be_bytes());
    msg
}

/// Decodes a received VRRP message, doing the checks that need no instance
/// configuration.
///
/// Checks, in order (RFC 3768 §7.1, RFC 5798 §7.1; each failure is one [`Drop`]):
/// TTL/hop limit is 255 ([`Drop::Ttl`]); the fixed header is complete
/// ([`Drop::Truncated`]); version is 2 or 3 ([`Drop::Version`]); type is
/// advertisement ([`Drop::Type`]); source and destination are of one family
/// and v2 is IPv4 ([`Drop::AddressFamily`]); the payload holds exactly
/// `count` addresses of that family, plus 8 bytes of auth data for v2
/// ([`Drop::AddressCount`]); the checksum verifies — v2 over the message, v3
/// over the IPv4/IPv6 pseudo-header and the message ([`Drop::Checksum`]); the
/// v2 auth type is 0, 1 or 2 ([`Drop::AuthTypeInvalid`]); the interval is not
/// zero ([`Drop::ZeroInterval`]). The v3 reserved bits are ignored, as RFC
/// 5798 says. A count of zero is accepted (keepalived sends it for instances
/// without virtual addresses).
pub fn parse(rx: &Received) -> Result<Advert, Drop> {
    if rx.ttl != VRRP_TTL {
        return Err(Drop::Ttl);
    }
    let (header, rest) = rx
        .payload
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(Drop::Truncated)?;
    let [ver_type, vrid, priority, count, field_a, field_b, _, _] = *header;
    let version = match ver_type >> 4 {
        2 => Version::V2,
        3 => Version::V3,
        _ => return Err(Drop::Version),
    };
    if ver_type & 0x0f != TYPE_ADVERTISEMENT {
        return Err(Drop::Type);
    }
    let ipv6 = match (rx.src, rx.dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => false,
        (IpAddr::V6(_), IpAddr::V6(_)) if version == Version::V3 => true,
        _ => return Err(Drop::AddressFamily),
    };
    let address_len = if ipv6 { 16 } else { 4 };
    let auth_len = if version == Version::V2 { AUTH_LEN } else { 0 };
    let addresses_len = usize::from(count) * address_len;
    if rest.len() != addresses_len + auth_len {
        return Err(Drop::AddressCount);
    }
    if checksum::compute(version, rx.payload, rx.src, rx.dst) != 0 {
        return Err(Drop::Checksum);
    }
    let (address_bytes, auth_bytes) = rest
        .split_at_checked(addresses_len)
        .ok_or(Drop::AddressCount)?;
    let addresses = if ipv6 {
        let (chunks, _) = address_bytes.as_chunks::<16>();
        chunks.iter().map(|c| IpAddr::from(*c)).collect()
    } else {
        let (chunks, _) = address_bytes.as_chunks::<4>();
        chunks.iter().map(|c| IpAddr::from(*c)).collect()
    };
    let (auth, units) = match version {
        Version::V2 => {
            let data = auth_bytes
                .first_chunk::<AUTH_LEN>()
                .copied()
                .unwrap_or_default();
            let auth = Auth::from_wire(field_a, data).ok_or(Drop::AuthTypeInvalid)?;
            (auth, u16::from(field_b))
        }
        Version::V3 => (
            Auth::None,
            u16::from_be_bytes([field_a, field_b]) & V3_INTERVAL_MASK,
        ),
    };
    if units == 0 {
        return Err(Drop::ZeroInterval);
    }
    Ok(Advert {
        version,
        vrid,
        priority,
        max_advert_int: interval_from_units(version, units),
        addresses,
        auth,
    })
}
