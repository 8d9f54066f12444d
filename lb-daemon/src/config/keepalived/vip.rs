//! A `virtual_ipaddress` line: `ADDR[/PREFIX] [brd X|+|-] [dev IF]
//! [scope S] [label L] [peer X] [no_track]`, read as keepalived's
//! `parse_route`/`parse_ipaddress` reads it.

use std::net::{IpAddr, Ipv4Addr};

use super::args::{options, put, ArgError, FromArgs};
use super::parser::Word;
use crate::config::model::{parse_prefixed, VirtualIp};

impl FromArgs for VirtualIp {
    fn from_args(args: &[Word]) -> Result<Self, ArgError> {
        let first = args
            .first()
            .ok_or_else(|| ArgError::at(0, "address missing"))?;
        let address = parse_prefixed(&first.text).map_err(|m| ArgError::at(0, m))?;
        let no_track = args.last().is_some_and(|w| w.text == "no_track");
        let end = args.len() - usize::from(no_track);
        let mut ip = VirtualIp {
            address,
            brd: None,
            dev: None,
            scope: None,
            label: None,
            peer: None,
            no_track,
        };
        let mut brd: Option<String> = None;
        options(&args[..end], 1, |name, value| match name {
            "brd" | "broadcast" => put(&mut brd, value),
            "dev" => put(&mut ip.dev, value),
            "scope" => put(&mut ip.scope, value),
            "label" => put(&mut ip.label, value),
            "peer" => put(&mut ip.peer, value),
            _ => Ok(false),
        })?;
        if let Some(brd) = brd {
            let index = args
                .iter()
                .rposition(|w| w.text == "brd" || w.text == "broadcast")
                .map_or(0, |i| i + 1);
            ip.brd = Some(broadcast(&brd, &ip).map_err(|m| ArgError::at(index, m))?);
        }
        Ok(ip)
    }
}

/// The broadcast address `brd` gives `ip`: an IPv4 address, or `+` (host
/// bits set) / `-` (host bits clear) of the address, or of its peer.
fn broadcast(brd: &str, ip: &VirtualIp) -> Result<IpAddr, String> {
    let IpAddr::V4(address) = ip.address.addr() else {
        return Err("an IPv6 address has no broadcast address".into());
    };
    let base = match ip.peer {
        Some(IpAddr::V4(peer)) => peer,
        _ => address,
    };
    let prefix = ip.address.prefix_len();
    let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
    let computed = |set: bool| {
        if prefix > 30 {
            return Err(format!(
                "prefix length {prefix} is too long for a broadcast address"
            ));
        }
        let base = u32::from(base);
        let bits = if set {
            base | host_bits
        } else {
            base & !host_bits
        };
        Ok(IpAddr::V4(Ipv4Addr::from(bits)))
    };
    match brd {
        "+" => computed(true),
        "-" => computed(false),
        other => other
            .parse::<Ipv4Addr>()
            .map(IpAddr::V4)
            .map_err(|_| format!("`{other}` is not an IPv4 address, `+` or `-`")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::args::tests::read;
    use super::*;

    #[test]
    fn virtual_ips_with_options() {
        let ip: VirtualIp = read("192.0.2.1/24 dev eth0 label eth0:1 no_track").unwrap();
        assert_eq!(ip.address.prefix_len(), 24);
        assert_eq!(ip.label.as_deref(), Some("eth0:1"));
        assert!(ip.no_track);
        assert_eq!(read::<VirtualIp>("192.0.2.1 dev").unwrap_err().index, 2);
        assert_eq!(
            read::<VirtualIp>("192.0.2.1 colour red").unwrap_err().index,
            1
        );
        assert_eq!(read::<VirtualIp>("192.0.2.1 brd x").unwrap_err().index, 2);
    }

    #[test]
    fn broadcast_plus_and_minus_are_computed_like_keepalived() {
        let brd = |text: &str| read::<VirtualIp>(text).map(|ip| ip.brd.map(|b| b.to_string()));
        assert_eq!(brd("192.0.2.10/24 brd +"), Ok(Some("192.0.2.255".into())));
        assert_eq!(
            brd("192.0.2.10/24 broadcast -"),
            Ok(Some("192.0.2.0".into()))
        );
        assert_eq!(brd("192.0.2.10/30 brd +"), Ok(Some("192.0.2.11".into())));
        let peer = "192.0.2.10/24 peer 198.51.100.1 brd + dev eth0";
        assert_eq!(brd(peer), Ok(Some("198.51.100.255".into())));
        assert_eq!(
            brd("192.0.2.10/24 brd 192.0.2.127"),
            Ok(Some("192.0.2.127".into()))
        );
        for bad in [
            "192.0.2.10 brd +",
            "192.0.2.10/31 brd -",
            "2001:db8::1/64 brd +",
        ] {
            let err = read::<VirtualIp>(bad).unwrap_err();
            assert_eq!(err.index, 2, "{bad}: {}", err.message);
        }
        assert_eq!(
            read::<VirtualIp>("192.0.2.1/24 brd ++").unwrap_err().index,
            2
        );
    }
}
