//! Fuzzes the VRRP receive path: `parse`, then `validate` against a fixed
//! instance configuration. Neither may panic on any input.
//!
//! The first input byte chooses the IP context (family, TTL), the rest is
//! the VRRP payload.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use lb_daemon::vrrp::packet::{
    parse, validate, Auth, Expect, Received, VRRP_MCAST_V4, VRRP_MCAST_V6, VRRP_TTL,
};
use lb_daemon::vrrp::Version;
use libfuzzer_sys::fuzz_target;

const V4_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const V6_SRC: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
const ADDRESSES: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 50)),
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x50)),
];

fuzz_target!(|data: &[u8]| {
    let Some((&context, payload)) = data.split_first() else {
        return;
    };
    let (src, dst) = match context & 0b11 {
        0 => (V4_SRC, IpAddr::V4(VRRP_MCAST_V4)),
        1 => (V6_SRC, IpAddr::V6(VRRP_MCAST_V6)),
        2 => (V4_SRC, IpAddr::V6(VRRP_MCAST_V6)),
        _ => (V6_SRC, IpAddr::V4(VRRP_MCAST_V4)),
    };
    let ttl = if context & 0b100 == 0 {
        VRRP_TTL
    } else {
        context
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
});
