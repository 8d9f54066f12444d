//! `unicast_peer` entries: a peer's address and the TTL / hop limit its
//! adverts must arrive with (keepalived's `min_ttl` / `max_ttl`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// One `unicast_peer` line: `ADDRESS [min_ttl N] [max_ttl N]`. In TOML
/// either the bare address or a table `{ address, min_ttl, max_ttl }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "UnicastPeerRepr", into = "UnicastPeerRepr")]
pub struct UnicastPeer {
    /// Where adverts go, and the source adverts from this peer have.
    pub address: IpAddr,
    /// The lowest TTL / hop limit accepted from this peer (0 when absent).
    pub min_ttl: u8,
    /// The highest TTL / hop limit accepted from this peer (255 when absent).
    pub max_ttl: u8,
}

impl UnicastPeer {
    /// A peer whose adverts may arrive with any TTL.
    pub fn new(address: IpAddr) -> UnicastPeer {
        UnicastPeer {
            address,
            min_ttl: 0,
            max_ttl: u8::MAX,
        }
    }

    /// Whether a TTL range was given: keepalived then checks the source
    /// of adverts (`check_unicast_src`) and their TTL.
    pub fn has_ttl_range(&self) -> bool {
        (self.min_ttl, self.max_ttl) != (0, u8::MAX)
    }

    /// Whether an advert that arrived with `ttl` may come from this peer.
    pub fn accepts_ttl(&self, ttl: u8) -> bool {
        (self.min_ttl..=self.max_ttl).contains(&ttl)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum UnicastPeerRepr {
    Address(IpAddr),
    Full {
        address: IpAddr,
        #[serde(default)]
        min_ttl: u8,
        #[serde(default = "max_ttl")]
        max_ttl: u8,
    },
}

fn max_ttl() -> u8 {
    u8::MAX
}

impl From<UnicastPeerRepr> for UnicastPeer {
    fn from(repr: UnicastPeerRepr) -> Self {
        match repr {
            UnicastPeerRepr::Address(address) => UnicastPeer::new(address),
            UnicastPeerRepr::Full {
                address,
                min_ttl,
                max_ttl,
            } => UnicastPeer {
                address,
                min_ttl,
                max_ttl,
            },
        }
    }
}

impl From<UnicastPeer> for UnicastPeerRepr {
    fn from(peer: UnicastPeer) -> Self {
        match peer.has_ttl_range() {
            false => UnicastPeerRepr::Address(peer.address),
            true => UnicastPeerRepr::Full {
                address: peer.address,
                min_ttl: peer.min_ttl,
                max_ttl: peer.max_ttl,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Peers {
        unicast_peer: Vec<UnicastPeer>,
    }

    #[test]
    fn toml_takes_a_bare_address_or_a_table_and_writes_the_shortest() {
        let text = "unicast_peer = [\"192.0.2.2\", { address = \"2001:db8::2\", max_ttl = 64 }]\n";
        let peers: Peers = toml::from_str(text).unwrap();
        let plain = UnicastPeer::new("192.0.2.2".parse().unwrap());
        let ranged = UnicastPeer {
            max_ttl: 64,
            ..UnicastPeer::new("2001:db8::2".parse().unwrap())
        };
        assert_eq!(peers.unicast_peer, [plain, ranged]);
        assert!(!plain.has_ttl_range() && ranged.has_ttl_range());
        assert!(ranged.accepts_ttl(64) && !ranged.accepts_ttl(65));
        let written = toml::to_string(&peers).unwrap();
        assert_eq!(toml::from_str::<Peers>(&written).unwrap(), peers);
        assert!(written.contains("\"192.0.2.2\""), "{written}");
        let bad = "unicast_peer = [{ address = \"192.0.2.2\", ttl = 3 }]\n";
        assert!(toml::from_str::<Peers>(bad).is_err());
    }
}
