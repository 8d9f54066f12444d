//! Entry points of the fuzz targets (`lb-daemon/fuzz`, `cargo xtask
//! fuzz`), compiled only with the `fuzzing` feature so that the daemon's
//! API stays as it is. Each takes the fuzzer's bytes, feeds them to one
//! decoder of outside input exactly as the daemon does, and panics when a
//! property fails; a panic is also what any decoder bug looks like, so
//! every function here must not panic on any input of a correct program.
//!
//! * [`config`]: keepalived.conf (lexer, parser with `include`, binder,
//!   validation), TOML, and the keepalived.conf -> TOML round trip;
//! * [`replies`]: what servers and the kernel send back: HTTP replies to
//!   HTTP_GET/SSL_GET, DNS and SMTP replies to their checks, control-socket
//!   requests and replies, IPVS and rtnetlink replies;
//! * [`vrrp_packet`]: received VRRP adverts.
pub mod config;
pub mod replies;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::vrrp::packet::{
    parse, validate, Auth, Expect, Received, VRRP_MCAST_V4, VRRP_MCAST_V6, VRRP_TTL,
};
use crate::vrrp::Version;

/// A received VRRP advert: `parse`, then `validate` against a v2 and a v3
/// instance. The first byte chooses the IP context (family, TTL), the rest
/// is the VRRP payload.
pub fn vrrp_packet(data: &[u8]) {
    const V4_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const V6_SRC: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    const ADDRESSES: [IpAddr; 2] = [
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 50)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50)),
    ];
    let Some((&context, payload)) = data.split_first() else {
        return;
    };
    let (src, dst) = match context & 0b11 {
        0 => (V4_SRC, IpAddr::V4(VRRP_MCAST_V4)),
        1 => (V6_SRC, IpAddr::V6(VRRP_MCAST_V6)),
        2 => (V4_SRC, IpAddr::V6(VRRP_MCAST_V6)),
        _ => (V6_SRC, IpAddr::V4(VRRP_MCAST_V4)),
    };
    let ttl = match context & 0b100 {
        0 => VRRP_TTL,
        _ => context,
    };
    let rx = Received {
        payload,
        src,
        dst,
        ttl,
    };
    let Ok(advert) = parse(&rx) else {
        return;
    };
    let auth = Auth::pass("lab-pass");
    let expect = Expect {
        version: Version::V2,
        vrid: 51,
        auth: &auth,
        advert_int: Duration::from_secs(1),
        addresses: &ADDRESSES[..1],
    };
    let _ = validate(&advert, &expect);
    let expect = Expect {
        version: Version::V3,
        addresses: &ADDRESSES[1..],
        ..expect
    };
    let _ = validate(&advert, &expect);
}
