//! Malformed adverts of every drop reason, injected on the wire: each is
//! dropped, counted under its reason in `lb-daemon status`, and leaves the
//! instance's state alone. A final valid advert with a higher priority makes
//! the master step down, proving the injection path reaches the daemon.
use std::{
    fs,
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_daemon::vrrp::{
    packet::{encode, Advert, Auth, VRRP_MCAST_V4, VRRP_MCAST_V6},
    Version,
};
use lb_tests::{
    in_netns, inject, wait_until, Daemon, Injection, Lab, LabSpec, VrrpConf, VIP, VIP6,
};
use serde_json::Value;

const COPIES: u64 = 3;

/// A valid VRRPv2 advert of another router for VRID 51, priority 200.
fn valid() -> Advert {
    Advert {
        version: Version::V2,
        vrid: 51,
        priority: 200,
        max_advert_int: Duration::from_secs(1),
        addresses: vec![IpAddr::V4(VIP.parse().unwrap())],
        auth: Auth::pass("lab-pass"),
    }
}

/// Recomputes the VRRPv2 checksum (over the VRRP message) after a mutation.
fn fix_checksum(msg: &mut [u8]) {
    msg[6..8].fill(0);
    let mut sum: u32 = msg
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    msg[6..8].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

fn encoded(advert: &Advert, src: Ipv4Addr) -> Vec<u8> {
    encode(advert, IpAddr::V4(src), IpAddr::V4(VRRP_MCAST_V4))
}

/// (reason as status names it, TTL to send with, message bytes)
fn cases(src: Ipv4Addr) -> Vec<(&'static str, u32, Vec<u8>)> {
    let mutate = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut m = encoded(&valid(), src);
        f(&mut m);
        fix_checksum(&mut m);
        m
    };
    vec![
        ("ttl", 64, encoded(&valid(), src)),
        ("truncated", 255, encoded(&valid(), src)[..4].to_vec()),
        ("version", 255, mutate(&|m| m[0] = 0x41)),
        ("type", 255, mutate(&|m| m[0] = 0x22)),
        ("address_count", 255, mutate(&|m| m[3] = 2)),
        ("checksum", 255, {
            let mut m = encoded(&valid(), src);
            m[6] ^= 0xff;
            m
        }),
        ("auth_type_invalid", 255, mutate(&|m| m[4] = 7)),
        ("zero_interval", 255, mutate(&|m| m[5] = 0)),
        (
            "vrid",
            255,
            encoded(
                &Advert {
                    vrid: 52,
                    ..valid()
                },
                src,
            ),
        ),
        (
            "auth_type",
            255,
            encoded(
                &Advert {
                    auth: Auth::None,
                    ..valid()
                },
                src,
            ),
        ),
        (
            "auth_pass",
            255,
            encoded(
                &Advert {
                    auth: Auth::pass("wrong-pw"),
                    ..valid()
                },
                src,
            ),
        ),
        (
            "interval",
            255,
            encoded(
                &Advert {
                    max_advert_int: Duration::from_secs(2),
                    ..valid()
                },
                src,
            ),
        ),
        (
            "addresses",
            255,
            encoded(
                &Advert {
                    addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99))],
                    ..valid()
                },
                src,
            ),
        ),
    ]
}

/// Sends `msg` to 224.0.0.18 with `ttl`, `copies` times.
fn inject_v4(msg: &[u8], ttl: u32, copies: u64) -> std::io::Result<()> {
    let how = Injection {
        hops: ttl,
        ..Injection::to(IpAddr::V4(VRRP_MCAST_V4))
    };
    inject(msg, how, copies)
}

/// Starts lb-daemon on dir1 with `conf` and waits until it is master (it
/// has no peer); the temp dir holds its configuration.
fn start_master(lab: &Lab, conf: &VrrpConf) -> Result<(Daemon, tempfile::TempDir)> {
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, conf.render())?;
    let daemon = Daemon::start(lab.director(1).ns(), &path, "dir1")?;
    daemon.wait_status("never became master", Duration::from_secs(6), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    Ok((daemon, tmp))
}

fn instance(daemon: &Daemon) -> Result<Value> {
    Ok(daemon.status()?["vrrp"][0].clone())
}

#[test]
fn every_malformed_advert_is_dropped_counted_and_ignored() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let conf = VrrpConf::v2("MASTER", 100);
    let (daemon, _tmp) = start_master(&lab, &conf)?;

    let injector = lab.director(2);
    for (reason, ttl, msg) in cases(injector.ipv4()) {
        in_netns(injector.ns_name(), || inject_v4(&msg, ttl, COPIES))??;
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
            instance(&daemon)
                .map(|i| i["drops"][reason] == COPIES)
                .unwrap_or(false)
        })
        .with_context(|| {
            format!(
                "{reason}: not counted {COPIES} times: {}",
                instance(&daemon).unwrap_or_default()
            )
        })?;
        let now = instance(&daemon)?;
        ensure!(now["state"] == "MASTER", "{reason}: state changed: {now}");
        ensure!(
            now["adverts_received"] == 0,
            "{reason}: an advert was accepted: {now}"
        );
    }
    let total: u64 = instance(&daemon)?["drops"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    ensure!(
        total == COPIES * cases(injector.ipv4()).len() as u64,
        "no other drops: {total}"
    );

    // Positive control: the same injection path with a valid advert wins.
    let msg = encoded(&valid(), injector.ipv4());
    in_netns(injector.ns_name(), || inject_v4(&msg, 255, 1))??;
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        instance(&daemon)
            .map(|i| i["state"] == "BACKUP")
            .unwrap_or(false)
    })
    .context("a valid higher-priority advert did not make dir1 step down")?;
    Ok(())
}

#[test]
fn ipv6_hop_limit_and_address_family_drops() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let (daemon, _tmp) = start_master(&lab, &VrrpConf::fast("MASTER", 100).ipv6())?;

    // The injector's own link-local source, as a real peer would use.
    let injector = lab.director(2);
    let src = injector
        .ns()
        .ip(&["-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"])?;
    let src: std::net::Ipv6Addr = src
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .context("link-local address")?
        .parse()?;
    let v3 = Advert {
        version: Version::V3,
        vrid: 51,
        priority: 200,
        max_advert_int: Duration::from_millis(100),
        addresses: vec![IpAddr::V6(VIP6.parse()?)],
        auth: Auth::None,
    };
    let to = IpAddr::V6(VRRP_MCAST_V6);
    let valid_v3 = encode(&v3, IpAddr::V6(src), to);
    // VRRPv2 has no IPv6: a v2 message over IPv6 is the wrong family.
    let v2_over_v6 = encode(
        &Advert {
            version: Version::V2,
            ..v3.clone()
        },
        IpAddr::V6(src),
        to,
    );
    for (reason, hops, msg) in [("ttl", 64, &valid_v3), ("address_family", 255, &v2_over_v6)] {
        let how = Injection {
            hops,
            ..Injection::to(to)
        };
        in_netns(injector.ns_name(), || inject(msg, how, COPIES))??;
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
            instance(&daemon)
                .map(|i| i["drops"][reason] == COPIES)
                .unwrap_or(false)
        })
        .with_context(|| {
            format!(
                "{reason}: not counted: {}",
                instance(&daemon).unwrap_or_default()
            )
        })?;
        ensure!(
            instance(&daemon)?["state"] == "MASTER",
            "{reason}: state changed"
        );
    }
    // Positive control over the same path.
    in_netns(injector.ns_name(), || {
        inject(&valid_v3, Injection::to(to), 1)
    })??;
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        instance(&daemon)
            .map(|i| i["state"] == "BACKUP")
            .unwrap_or(false)
    })
    .context("a valid higher-priority IPv6 advert did not make dir1 step down")?;
    Ok(())
}
