//! The labels of a virtual service, the same from every source (the desired
//! state's keys, IPVS's and the fast path's `TCP 192.0.2.1:80` names), as
//! the keepalived exporter spells them: `vip` `ADDR:PORT` (IPv6 as
//! `[ADDR]:PORT`, `fwmark:N` for fwmark services) and `proto` the IP
//! protocol number (`6` TCP, `17` UDP, `132` SCTP, `0` for fwmark).
use std::net::{IpAddr, SocketAddr};

use serde_json::Value;

/// A service's labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Service {
    /// `ADDR:PORT` or `fwmark:N`.
    pub vip: String,
    /// IP protocol number.
    pub proto: &'static str,
}

fn proto(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_uppercase().as_str() {
        "TCP" => "6",
        "UDP" => "17",
        "SCTP" => "132",
        _ => return None,
    })
}

/// `ADDR:PORT`, IPv6 in brackets.
pub fn endpoint(ip: IpAddr, port: u64) -> String {
    match u16::try_from(port) {
        Ok(port) => SocketAddr::new(ip, port).to_string(),
        Err(_) => ip.to_string(),
    }
}

impl Service {
    /// From a name as `ipvsadm -Ln` writes it: `TCP 192.0.2.1:80`,
    /// `UDP [2001:db8::1]:53`, `FWM 7 IPv4`.
    pub fn from_name(name: &str) -> Option<Service> {
        let mut words = name.split_whitespace();
        let (kind, rest) = (words.next()?, words.next()?);
        if kind == "FWM" {
            return Some(Service {
                vip: format!("fwmark:{rest}"),
                proto: "0",
            });
        }
        let addr: SocketAddr = rest.parse().ok()?;
        Some(Service {
            vip: addr.to_string(),
            proto: proto(kind)?,
        })
    }

    /// From a key of the desired state's status (`{"Addr": {"ip", "port",
    /// "protocol"}}` or `{"Fwmark": {"mark", "family"}}`).
    pub fn from_key(key: &Value) -> Option<Service> {
        if let Some(addr) = key.get("Addr") {
            let ip: IpAddr = addr["ip"].as_str()?.parse().ok()?;
            return Some(Service {
                vip: endpoint(ip, addr["port"].as_u64()?),
                proto: proto(addr["protocol"].as_str()?)?,
            });
        }
        let mark = key.get("Fwmark")?["mark"].as_u64()?;
        Some(Service {
            vip: format!("fwmark:{mark}"),
            proto: "0",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_keys_give_the_same_labels() {
        let v4 = Service::from_name("TCP 192.0.2.1:80").unwrap();
        let key = json!({"Addr": {"ip": "192.0.2.1", "port": 80, "protocol": "TCP"}});
        assert_eq!(Service::from_key(&key), Some(v4.clone()));
        assert_eq!((v4.vip.as_str(), v4.proto), ("192.0.2.1:80", "6"));
        let v6 = Service::from_name("UDP [2001:db8::1]:53").unwrap();
        assert_eq!((v6.vip.as_str(), v6.proto), ("[2001:db8::1]:53", "17"));
        let mark = Service::from_key(&json!({"Fwmark": {"mark": 7, "family": "V4"}})).unwrap();
        assert_eq!(Service::from_name("FWM 7 IPv4"), Some(mark));
        assert_eq!(Service::from_name("garbage"), None);
    }
}
