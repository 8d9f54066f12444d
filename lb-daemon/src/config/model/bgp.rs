//! Active-active directors behind BGP (our extension): the `bgp_speaker`
//! block says how this director talks to its routers (through BIRD), and a
//! virtual server's `bgp_announce` block says when its address is announced.
use std::{fmt, net::IpAddr, net::Ipv4Addr, path::PathBuf, str::FromStr};

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::TrackRef;

/// `bgp_speaker { … }`: this director's BGP identity and neighbours.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BgpSpeaker {
    /// BGP router id; the first neighbour's local address when absent.
    pub router_id: Option<Ipv4Addr>,
    /// This director's AS number (required).
    pub local_as: Option<u32>,
    /// BGP hold time in seconds (3 when absent; BIRD's own default of 240 s
    /// would keep a dead director's route for minutes).
    pub hold_time: Option<u16>,
    /// BFD with every neighbour, when present.
    pub bfd: Option<Bfd>,
    /// Interface where the routers' traffic to announced addresses arrives:
    /// the fast path attaches there.
    pub interface: Option<String>,
    /// The BIRD binary run as the daemon's child (`bird` from `PATH` when
    /// absent).
    pub bird_binary: Option<PathBuf>,
    /// Announce through the system's BIRD instead of a child: the daemon
    /// writes its static protocols to this file, which the system BIRD's
    /// configuration includes (sessions, router id and BFD are the system
    /// BIRD's own then).
    pub bird_include: Option<PathBuf>,
    /// The system BIRD's control socket ([`DEFAULT_BIRD_SOCKET`] when
    /// absent); only with `bird_include`.
    pub bird_socket: Option<PathBuf>,
    /// The routers.
    pub neighbor: Vec<Neighbor>,
}

/// Where Debian's BIRD 2 listens for control commands.
pub const DEFAULT_BIRD_SOCKET: &str = "/run/bird/bird.ctl";

/// `bfd { interval MS multiplier N }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bfd {
    /// Transmit and receive interval in milliseconds (100 when absent).
    pub interval: Option<u32>,
    /// Missed packets before the session is down (3 when absent).
    pub multiplier: Option<u8>,
}

/// `neighbor ADDRESS { … }`: one router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Neighbor {
    /// The router's address.
    pub address: IpAddr,
    /// The router's AS number (required).
    #[serde(default)]
    pub remote_as: Option<u32>,
    /// Address of this director the session runs from; BIRD picks one when
    /// absent.
    #[serde(default)]
    pub local_address: Option<IpAddr>,
    /// TCP port of the router (179 when absent).
    #[serde(default)]
    pub port: Option<u16>,
}

impl Neighbor {
    /// A neighbour at `address` with nothing else set.
    pub fn at(address: IpAddr) -> Neighbor {
        Neighbor {
            address,
            remote_as: None,
            local_address: None,
            port: None,
        }
    }
}

/// A virtual server's `bgp_announce { … }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BgpAnnounce {
    /// The prefix announced; the virtual server's address as a host route
    /// (/32 or /128) when absent.
    pub prefix: Option<IpNet>,
    /// Real servers that must be up (weight above 0, not drained) for the
    /// address to be announced (1 when absent).
    pub min_healthy: Option<u32>,
    /// BGP communities attached to the route.
    pub community: Vec<Community>,
    /// Seconds between the withdraw and the fast path letting go, so that
    /// routers move the flows first (2 when absent).
    pub drain: Option<f64>,
    /// Seconds after start-up before the first announcement, on top of
    /// every real server's first check (0 when absent).
    pub announce_delay: Option<f64>,
    /// Announce only while this director is VRRP MASTER of the address (the
    /// address must then be a VIP of a `vrrp_instance`).
    pub only_while_master: bool,
    /// `vrrp_script`s that must pass for the address to be announced
    /// (weights do not apply: any failure withdraws).
    pub track_script: Vec<TrackRef>,
    /// Interfaces that must be up.
    pub track_interface: Vec<TrackRef>,
    /// `track_file`s whose value must be 0 (or not, with `reverse`).
    pub track_file: Vec<TrackRef>,
}

/// A standard BGP community, `ASN:VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u16, pub u16);

impl FromStr for Community {
    type Err = String;

    fn from_str(text: &str) -> Result<Community, String> {
        let bad = || format!("`{text}` is not a BGP community ASN:VALUE (each 0-65535)");
        let (asn, value) = text.split_once(':').ok_or_else(bad)?;
        Ok(Community(
            asn.parse().map_err(|_| bad())?,
            value.parse().map_err(|_| bad())?,
        ))
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

impl Serialize for Community {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Community {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Community, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_read_and_print_as_asn_colon_value() {
        let c: Community = "64513:100".parse().unwrap();
        assert_eq!(c, Community(64513, 100));
        assert_eq!(c.to_string(), "64513:100");
        for bad in ["64513", "70000:1", "1:x", ":"] {
            assert!(bad.parse::<Community>().is_err(), "{bad}");
        }
    }
}
