//! Draining: an operator's runtime override that sets one real server's
//! programmed weight to 0 (no new flows; established ones continue, in IPVS
//! and in the XDP fast path alike, since both consume the desired state) and
//! later gives it back its configured (or dynamic) weight, without touching
//! the configuration.
//!
//! * A service is named `VIP:PORT` (`192.0.2.1:80`, `[2001:db8::1]:80`) or
//!   `fwmark:N`; a real server `RS:PORT`.
//! * `VIP:PORT` names every virtual server with a service on that address
//!   and port, whatever its protocol: a real server behind both a TCP and a
//!   UDP service on `VIP:PORT` is drained in both (it is the host that is
//!   taken out). Virtual servers of a `virtual_server_group` match through
//!   any of their member addresses; `fwmark:N` matches both families.
//! * A drain is not a health verdict: it runs no `notify_down`, writes no
//!   FIFO line and leaves the quorum alone (it is computed from the
//!   effective weights, as keepalived does).
//! * It is kept across a reload as long as the real server stays configured
//!   in the same virtual server (see [`super::Carried`]).
use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use serde::Serialize;

use super::model::Model;
use super::services::keys;
use super::types::ServiceKey;

/// A service as the operator names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ServiceRef {
    /// `VIP:PORT`, any protocol.
    Addr(SocketAddr),
    /// `fwmark:N`, either family.
    Fwmark(u32),
}

impl ServiceRef {
    /// Whether the service `key` is the one named.
    pub fn matches(&self, key: &ServiceKey) -> bool {
        match (self, key) {
            (ServiceRef::Addr(want), ServiceKey::Addr { ip, port, .. }) => {
                want.ip() == *ip && want.port() == *port
            }
            (ServiceRef::Fwmark(want), ServiceKey::Fwmark { mark, .. }) => want == mark,
            _ => false,
        }
    }
}

impl FromStr for ServiceRef {
    type Err = String;

    /// `192.0.2.1:80`, `[2001:db8::1]:80`, `fwmark:7`.
    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(mark) = text.strip_prefix("fwmark:") {
            return mark
                .parse()
                .map(ServiceRef::Fwmark)
                .map_err(|_| format!("{text:?}: the firewall mark must be a number (fwmark:N)"));
        }
        parse_endpoint(text, "service").map(ServiceRef::Addr)
    }
}

impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceRef::Addr(addr) => write!(f, "{addr}"),
            ServiceRef::Fwmark(mark) => write!(f, "fwmark:{mark}"),
        }
    }
}

/// `ADDR:PORT` or `[IPv6]:PORT`; `what` names the argument in errors.
pub fn parse_endpoint(text: &str, what: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>().map_err(|_| {
        let hint = match text.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => format!(" (a port is required: [{v6}]:PORT)"),
            Ok(IpAddr::V4(v4)) => format!(" (a port is required: {v4}:PORT)"),
            Err(_) => String::new(),
        };
        format!(
            "{text:?} is not a {what} ADDRESS:PORT (IPv6 as [2001:db8::1]:80{}){hint}",
            if what == "service" {
                ", or fwmark:N"
            } else {
                ""
            }
        )
    })
}

/// What a drain or undrain changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drained {
    /// The services (`TCP 192.0.2.1:80`) whose real server was (un)drained.
    pub services: Vec<String>,
    /// Virtual servers whose drained flag changed (already in that state
    /// otherwise).
    #[serde(skip)]
    pub changed: Vec<usize>,
}

impl Model {
    /// Sets the drained flag of real server `server` in every virtual server
    /// `service` names. Errors name what is unknown.
    pub fn set_drained(
        &mut self,
        service: ServiceRef,
        server: SocketAddr,
        drained: bool,
    ) -> Result<Drained, String> {
        let matching: Vec<usize> = (0..self.config.virtual_server.len())
            .filter(|&vs| {
                let keys = keys(&self.config, &self.config.virtual_server[vs]);
                keys.iter().any(|k| service.matches(k))
            })
            .collect();
        if matching.is_empty() {
            return Err(format!("no virtual server serves {service}"));
        }
        let mut result = Drained {
            services: Vec::new(),
            changed: Vec::new(),
        };
        for vs in matching {
            let config = &self.config.virtual_server[vs];
            let reals = config.real_server.iter().enumerate().filter(|(_, real)| {
                real.address == server.ip()
                    && real.port.or(config.port).unwrap_or(0) == server.port()
            });
            let mut found = false;
            for (rs, _) in reals {
                found = true;
                let state = &mut self.states[vs].reals[rs];
                if state.drained != drained {
                    state.drained = drained;
                    result.changed.push(vs);
                }
            }
            if found {
                let labels = keys(&self.config, config).into_iter();
                result
                    .services
                    .extend(labels.filter(|k| service.matches(k)).map(|k| k.to_string()));
            }
        }
        if result.services.is_empty() {
            return Err(format!(
                "{server} is not a real server of {service} (lb-daemon status lists them)"
            ));
        }
        result.changed.dedup();
        for &vs in &result.changed {
            self.rebuild(vs);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_named_by_address_and_port_or_fwmark() {
        assert_eq!(
            "192.0.2.1:80".parse(),
            Ok(ServiceRef::Addr("192.0.2.1:80".parse().unwrap()))
        );
        assert_eq!(
            "[2001:db8::1]:443".parse(),
            Ok(ServiceRef::Addr("[2001:db8::1]:443".parse().unwrap()))
        );
        assert_eq!("fwmark:7".parse(), Ok(ServiceRef::Fwmark(7)));
        assert_eq!(ServiceRef::Fwmark(7).to_string(), "fwmark:7");
        assert_eq!(
            "[2001:db8::1]:80"
                .parse::<ServiceRef>()
                .unwrap()
                .to_string(),
            "[2001:db8::1]:80"
        );
    }

    #[test]
    fn malformed_names_say_what_is_expected() {
        let bare_v6 = "2001:db8::1".parse::<ServiceRef>().unwrap_err();
        assert!(bare_v6.contains("[2001:db8::1]:PORT"), "{bare_v6}");
        let no_port = parse_endpoint("192.0.2.9", "real server").unwrap_err();
        assert!(no_port.contains("192.0.2.9:PORT"), "{no_port}");
        assert!(!no_port.contains("fwmark"), "{no_port}");
        for bad in [
            "fwmark:x",
            "fwmark:",
            "192.0.2.1:99999",
            "host:80",
            "",
            ":80",
        ] {
            assert!(bad.parse::<ServiceRef>().is_err(), "{bad}");
        }
        assert!("2001:db8::1:80".parse::<ServiceRef>().is_err());
    }

    #[test]
    fn matching_ignores_protocol_and_family() {
        use crate::config::Protocol;
        use crate::state::desired::Family;
        let vip: SocketAddr = "192.0.2.1:80".parse().unwrap();
        let key = |protocol| ServiceKey::Addr {
            ip: vip.ip(),
            port: 80,
            protocol,
        };
        let named = ServiceRef::Addr(vip);
        assert!(named.matches(&key(Protocol::Tcp)) && named.matches(&key(Protocol::Udp)));
        assert!(!ServiceRef::Addr("192.0.2.1:81".parse().unwrap()).matches(&key(Protocol::Tcp)));
        let mark = ServiceKey::Fwmark {
            mark: 7,
            family: Family::V6,
        };
        assert!(ServiceRef::Fwmark(7).matches(&mark));
        assert!(!ServiceRef::Fwmark(8).matches(&mark) && !named.matches(&mark));
    }
}
