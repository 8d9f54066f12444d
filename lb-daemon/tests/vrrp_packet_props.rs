//! VRRP codec properties: encode -> parse round trips for every valid advert,
//! and parse never panics on arbitrary input.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use lb_daemon::vrrp::packet::{encode, parse, validate, Advert, Auth, Expect, Received, VRRP_TTL};
use lb_daemon::vrrp::Version;
use proptest::prelude::*;

fn ipv4() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
}

fn ipv6() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![ipv4(), ipv6()]
}

fn v2_auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        Just(Auth::None),
        Just(Auth::Ah),
        any::<[u8; 8]>().prop_map(Auth::Pass),
    ]
}

/// A valid advert with the IP source and destination it is sent with.
fn valid_advert() -> impl Strategy<Value = (Advert, IpAddr, IpAddr)> {
    let v2 = (
        any::<u8>(),
        any::<u8>(),
        1u64..=255,
        prop::collection::vec(ipv4(), 0..=20),
        v2_auth(),
        ipv4(),
        ipv4(),
    )
        .prop_map(|(vrid, priority, secs, addresses, auth, src, dst)| {
            let advert = Advert {
                version: Version::V2,
                vrid,
                priority,
                max_advert_int: Duration::from_secs(secs),
                addresses,
                auth,
            };
            (advert, src, dst)
        });
    let v3 = |addr: fn() -> BoxedStrategy<IpAddr>, max_addresses: usize| {
        (
            any::<u8>(),
            any::<u8>(),
            1u64..=4095,
            prop::collection::vec(addr(), 0..=max_addresses),
            addr(),
            addr(),
        )
            .prop_map(|(vrid, priority, centis, addresses, src, dst)| {
                let advert = Advert {
                    version: Version::V3,
                    vrid,
                    priority,
                    max_advert_int: Duration::from_millis(centis * 10),
                    addresses,
                    auth: Auth::None,
                };
                (advert, src, dst)
            })
    };
    prop_oneof![
        v2,
        v3(|| ipv4().boxed(), 20),
        v3(|| ipv6().boxed(), 20),
        // the count is one byte: up to 255 addresses fit
        v3(|| ipv6().boxed(), 255),
    ]
}

proptest! {
    #[test]
    fn encode_parse_round_trip((advert, src, dst) in valid_advert()) {
        let bytes = encode(&advert, src, dst);
        let rx = Received { payload: &bytes, src, dst, ttl: VRRP_TTL };
        prop_assert_eq!(parse(&rx), Ok(advert.clone()));
        let expect = Expect {
            version: advert.version,
            vrid: advert.vrid,
            auth: &advert.auth,
            advert_int: advert.max_advert_int,
            addresses: &advert.addresses,
        };
        prop_assert_eq!(validate(&advert, &expect), Ok(()));
    }

    /// Any single corrupted byte is caught (or, if it only touches bits the
    /// receiver ignores, still decodes to something that re-encodes cleanly).
    #[test]
    fn corrupted_byte_never_panics(
        (advert, src, dst) in valid_advert(),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = encode(&advert, src, dst);
        let i = index.index(bytes.len());
        bytes[i] ^= flip;
        let rx = Received { payload: &bytes, src, dst, ttl: VRRP_TTL };
        if let Ok(decoded) = parse(&rx) {
            let again = encode(&decoded, src, dst);
            let rx = Received { payload: &again, src, dst, ttl: VRRP_TTL };
            prop_assert_eq!(parse(&rx), Ok(decoded));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        payload in prop::collection::vec(any::<u8>(), 0..600),
        src in any_ip(),
        dst in any_ip(),
        ttl in prop_oneof![Just(VRRP_TTL), any::<u8>()],
        header in any::<[u8; 2]>(),
    ) {
        // Half the time, make the header plausible so deeper checks run.
        let mut payload = payload;
        if header[0] & 1 == 0 && payload.len() >= 2 {
            payload[0] = if header[1] & 1 == 0 { 0x21 } else { 0x31 };
        }
        let rx = Received { payload: &payload, src, dst, ttl };
        if let Ok(advert) = parse(&rx) {
            let expect = Expect {
                version: advert.version,
                vrid: advert.vrid,
                auth: &Auth::None,
                advert_int: Duration::from_secs(1),
                addresses: &[],
            };
            let _ = validate(&advert, &expect);
            let again = encode(&advert, src, dst);
            let rx = Received { payload: &again, src, dst, ttl: VRRP_TTL };
            prop_assert_eq!(parse(&rx), Ok(advert));
        }
    }
}
