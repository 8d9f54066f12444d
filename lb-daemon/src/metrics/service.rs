//! The labels of a virtual service, the same from every source (the desired
//! state's keys, IPVS's and the fast path's `TCP 192.0.2.1:80` names), as
//! the keepalived exporter spells them: `vip` `ADDR:PORT` (IPv6 as
//! `[ADDR]:PORT`, `fwmark:N` for fwmark services) and `proto` the IP
//! protocol number (`6` TCP, `17` UDP, `132` SCTP, `0` for fwmark).
use std::net::{IpAddr, SocketAddr};

use crate::config::Protocol;
use crate::state::desired::{Family, ServiceKey};

/// A service's labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Service {
    /// `ADDR:PORT` or `fwmark:N`.
    pub vip: String,
    /// IP protocol number.
    pub proto: &'static str,
}

/// `ADDR:PORT`, IPv6 in brackets.
pub fn endpoint(ip: IpAddr, port: u64) -> String {
    match u16::try_from(port) {
        Ok(port) => SocketAddr::new(ip, port).to_string(),
        Err(_) => ip.to_string(),
    }
}

impl Service {
    /// The labels of the service `key`.
    pub fn of_key(key: &ServiceKey) -> Service {
        match *key {
            ServiceKey::Addr { ip, port, protocol } => Service {
                vip: SocketAddr::new(ip, port).to_string(),
                proto: match protocol {
                    Protocol::Tcp => "6",
                    Protocol::Udp => "17",
                    Protocol::Sctp => "132",
                },
            },
            ServiceKey::Fwmark { mark, .. } => Service {
                vip: format!("fwmark:{mark}"),
                proto: "0",
            },
        }
    }
}

/// The service key a name as `ipvsadm -Ln` writes it stands for (the
/// reverse of [`ServiceKey`]'s `Display`).
pub fn key_from_name(name: &str) -> Option<ServiceKey> {
    let mut words = name.split_whitespace();
    let (kind, rest) = (words.next()?, words.next()?);
    if kind == "FWM" {
        let family = match words.next()? {
            "IPv4" => Family::V4,
            "IPv6" => Family::V6,
            _ => return None,
        };
        let mark = rest.parse().ok()?;
        return Some(ServiceKey::Fwmark { mark, family });
    }
    let addr: SocketAddr = rest.parse().ok()?;
    let protocol = match kind {
        "TCP" => Protocol::Tcp,
        "UDP" => Protocol::Udp,
        "SCTP" => Protocol::Sctp,
        _ => return None,
    };
    Some(ServiceKey::Addr {
        ip: addr.ip(),
        port: addr.port(),
        protocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys_give_the_same_labels() {
        for name in [
            "TCP 192.0.2.1:80",
            "UDP [2001:db8::1]:53",
            "SCTP 192.0.2.1:9",
            "FWM 7 IPv4",
        ] {
            let key = key_from_name(name).unwrap();
            assert_eq!(key.to_string(), name);
        }
        let labels = |name| Service::of_key(&key_from_name(name).unwrap());
        let v4 = labels("TCP 192.0.2.1:80");
        assert_eq!((v4.vip.as_str(), v4.proto), ("192.0.2.1:80", "6"));
        let v6 = labels("UDP [2001:db8::1]:53");
        assert_eq!((v6.vip.as_str(), v6.proto), ("[2001:db8::1]:53", "17"));
        let mark = labels("FWM 7 IPv6");
        assert_eq!((mark.vip.as_str(), mark.proto), ("fwmark:7", "0"));
        for bad in [
            "garbage",
            "TCP 192.0.2.1",
            "ICMP 192.0.2.1:80",
            "FWM x IPv4",
            "FWM 7 IPv5",
        ] {
            assert_eq!(key_from_name(bad), None, "{bad}");
        }
    }
}
