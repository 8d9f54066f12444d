//! What an instance does with a received packet before its state machine
//! sees it: [`accept`] (pure) decodes and checks it, in keepalived's order;
//! [`RxLog`] logs what the receive path has to say, rate limited, since
//! anyone on the link can send packets as fast as the wire allows.
use std::{
    fmt,
    mem::{discriminant, Discriminant},
    net::IpAddr,
};

use tracing::{debug, info, warn, Level};

use super::{
    fsm::Reason,
    io::{Packet, Transport},
    packet::{self, Advert, Drop, Expect, Received, VRRP_TTL},
    spec::InstanceSpec,
};
use crate::log_limit::{Limiter, Time, WINDOW};

/// Why [`accept`] did not hand an advert on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// For another instance on the same interface: none of our business.
    Sibling,
    /// Dropped, for this reason (counted in the instance's status).
    Dropped(Drop),
}

/// Decodes `packet` and checks it against `spec`; `sibling(vrid)` tells
/// whether another configured instance on the interface has that VRID.
///
/// In order: the codec's checks ([`packet::parse`]; TTL only for multicast,
/// as keepalived: unicast peers may be routed), the VRID, the destination
/// (the instance's multicast group, or not multicast for unicast, like
/// keepalived's "Expected multicast packet but received unicast packet"),
/// the instance checks ([`packet::validate`]) and last, as keepalived's
/// `vrrp_check_packet` does, the source against `unicast_peer` (and the
/// TTL / hop limit against that peer's `min_ttl`..`max_ttl`) when
/// `check_unicast_src` is set.
pub fn accept(
    packet: &Packet,
    spec: &InstanceSpec,
    sibling: impl Fn(u8) -> bool,
) -> Result<Advert, Refused> {
    let received = Received {
        payload: &packet.payload,
        src: packet.src,
        dst: packet.dst,
        // keepalived checks TTL/hop limit 255 only for multicast: unicast
        // peers may be routed (and keepalived sends IPv6 unicast with the
        // default hop limit), so treat their packets as on-link.
        ttl: match spec.transport {
            Transport::Multicast(_) => packet.ttl,
            Transport::Unicast { .. } => VRRP_TTL,
        },
    };
    let advert = packet::parse(&received).map_err(Refused::Dropped)?;
    if advert.vrid != spec.vrid {
        return Err(match sibling(advert.vrid) {
            true => Refused::Sibling,
            false => Refused::Dropped(Drop::Vrid),
        });
    }
    let destination_fits = match &spec.transport {
        Transport::Multicast(group) => packet.dst == *group,
        Transport::Unicast { .. } => !packet.dst.is_multicast(),
    };
    if !destination_fits {
        return Err(Refused::Dropped(Drop::Destination));
    }
    let advertised = spec.advertised();
    let expect = Expect {
        version: spec.version,
        vrid: spec.vrid,
        auth: &spec.auth,
        advert_int: spec.advert_int,
        addresses: &advertised,
    };
    packet::validate(&advert, &expect).map_err(Refused::Dropped)?;
    if let (Transport::Unicast { peers, .. }, true) = (&spec.transport, spec.check_unicast_src) {
        match peers.iter().find(|peer| peer.address == packet.src) {
            None => return Err(Refused::Dropped(Drop::UnicastSource)),
            Some(peer) if !peer.accepts_ttl(packet.ttl) => {
                return Err(Refused::Dropped(Drop::PeerTtl))
            }
            Some(_) => {}
        }
    }
    Ok(advert)
}

/// A line the receive path logs: each one can repeat once per packet.
#[derive(Debug, Clone)]
pub enum Line {
    /// A packet was dropped.
    Dropped {
        /// Why.
        drop: Drop,
        /// Its source.
        src: IpAddr,
    },
    /// The state machine's notice about a received advert.
    Notice(Reason),
    /// Reading from the socket failed.
    ReceiveError(String),
}

/// Lines are limited per kind: drop reason, notice, or receive error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// [`Line::Dropped`] for one reason.
    Dropped(Drop),
    /// [`Line::Notice`] of one kind.
    Notice(Discriminant<Reason>),
    /// [`Line::ReceiveError`].
    ReceiveError,
}

impl Line {
    fn kind(&self) -> Kind {
        match self {
            Line::Dropped { drop, .. } => Kind::Dropped(*drop),
            Line::Notice(reason) => Kind::Notice(discriminant(reason)),
            Line::ReceiveError(_) => Kind::ReceiveError,
        }
    }

    fn level(&self) -> Level {
        match self {
            Line::Dropped { drop, .. } => drop_level(*drop),
            Line::ReceiveError(_) => Level::WARN,
            Line::Notice(_) => Level::INFO,
        }
    }
}

/// Malformed packets and other VRIDs' adverts say nothing about this
/// instance (debug); an advert for it that fails its checks means a
/// misconfigured or hostile peer (warn).
fn drop_level(drop: Drop) -> Level {
    match drop {
        Drop::Ttl
        | Drop::Truncated
        | Drop::Type
        | Drop::AddressFamily
        | Drop::AddressCount
        | Drop::Checksum
        | Drop::AuthTypeInvalid
        | Drop::ZeroInterval
        | Drop::Vrid => Level::DEBUG,
        Drop::Version
        | Drop::AuthType
        | Drop::AuthPass
        | Drop::Interval
        | Drop::Addresses
        | Drop::Destination
        | Drop::UnicastSource
        | Drop::PeerTtl => Level::WARN,
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Dropped { drop, src } => write!(f, "dropped advert from {src}: {drop}"),
            Line::Notice(reason) => write!(f, "{reason}"),
            Line::ReceiveError(e) => write!(f, "receive error: {e}"),
        }
    }
}

/// The receive path's log of one instance: the first line of each kind is
/// logged, then at most one summary per [`WINDOW`] with the count of the
/// lines it stands for.
#[derive(Debug)]
pub struct RxLog {
    name: String,
    limiter: Limiter<Kind, Line>,
}

impl RxLog {
    /// The log of instance `name`.
    pub fn new(name: &str) -> RxLog {
        RxLog {
            name: name.to_owned(),
            limiter: Limiter::new(WINDOW),
        }
    }

    /// Logs `line` (seen at `now`) unless its kind spoke within the window.
    pub fn log(&mut self, line: Line, now: Time) {
        if let Some(line) = self.limiter.hit(&line.kind(), line, now) {
            emit(line.level(), format_args!("({}) {line}", self.name));
        }
    }

    /// When [`RxLog::flush`] is next due.
    pub fn next_flush(&self) -> Option<Time> {
        self.limiter.next_flush()
    }

    /// Logs the summaries of the windows that ended by `now`:
    /// `(VI_1) 14,880 more in the last 10 s, the latest: dropped advert ...`.
    pub fn flush(&mut self, now: Time) {
        for summary in self.limiter.flush(now) {
            let (more, last) = (summary.more(), &summary.last);
            emit(
                last.level(),
                format_args!("({}) {more}, the latest: {last}", self.name),
            );
        }
    }
}

fn emit(level: Level, message: fmt::Arguments) {
    match level {
        Level::DEBUG | Level::TRACE => debug!("{message}"),
        Level::INFO => info!("{message}"),
        _ => warn!("{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_keepalived_str;
    use crate::vrrp::packet::{encode, Auth, VRRP_MCAST_V4};
    use crate::vrrp::Version;
    use std::{net::Ipv4Addr, path::Path, time::Duration};

    const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
    const STRANGER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);
    const US: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

    fn spec(global: &str, extra: &str) -> InstanceSpec {
        let text = format!(
            "global_defs {{\n{global}}}\nvrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n\
             version 3\n{extra} virtual_ipaddress {{\n 192.0.2.50\n }}\n}}\n"
        );
        let loaded = parse_keepalived_str(&text, Path::new("t.conf")).unwrap();
        InstanceSpec::new(&loaded.config.vrrp_instance[0], &loaded.config)
    }

    fn advert(vrid: u8) -> Advert {
        Advert {
            version: Version::V3,
            vrid,
            priority: 200,
            max_advert_int: Duration::from_secs(1),
            addresses: vec!["192.0.2.50".parse().unwrap()],
            auth: Auth::None,
        }
    }

    fn packet(vrid: u8, src: Ipv4Addr, dst: Ipv4Addr) -> Packet {
        let (src, dst) = (IpAddr::V4(src), IpAddr::V4(dst));
        Packet {
            src,
            dst,
            ttl: 255,
            payload: encode(&advert(vrid), src, dst),
        }
    }

    const UNICAST: &str = " unicast_peer {\n 192.0.2.3\n }\n";

    #[test]
    fn unicast_source_is_checked_only_with_check_unicast_src() {
        let open = spec("", UNICAST);
        let checked = spec("", &format!("{UNICAST} check_unicast_src\n"));
        let global = spec(" vrrp_check_unicast_src\n", UNICAST);
        let none = |_| false;
        assert!(accept(&packet(51, STRANGER, US), &open, none).is_ok());
        for spec in [&checked, &global] {
            assert_eq!(
                accept(&packet(51, STRANGER, US), spec, none),
                Err(Refused::Dropped(Drop::UnicastSource))
            );
            assert_eq!(accept(&packet(51, PEER, US), spec, none), Ok(advert(51)));
        }
    }

    #[test]
    fn a_peer_ttl_range_checks_the_source_and_the_ttl_of_its_adverts() {
        let ranged = spec(
            "",
            " unicast_peer {\n 192.0.2.3 min_ttl 62 max_ttl 64\n }\n",
        );
        let at = |src, ttl| Packet {
            ttl,
            ..packet(51, src, US)
        };
        let none = |_| false;
        assert_eq!(accept(&at(PEER, 64), &ranged, none), Ok(advert(51)));
        assert_eq!(accept(&at(PEER, 62), &ranged, none), Ok(advert(51)));
        for ttl in [61, 65, 255] {
            assert_eq!(
                accept(&at(PEER, ttl), &ranged, none),
                Err(Refused::Dropped(Drop::PeerTtl)),
                "{ttl}"
            );
        }
        // The range turns the source check on, as in keepalived.
        assert_eq!(
            accept(&at(STRANGER, 64), &ranged, none),
            Err(Refused::Dropped(Drop::UnicastSource))
        );
    }

    #[test]
    fn destination_must_be_the_group_or_unicast() {
        let custom = spec(" vrrp_mcast_group4 224.0.0.20\n", "");
        let to = |dst| packet(51, PEER, dst);
        let group = Ipv4Addr::new(224, 0, 0, 20);
        assert_eq!(accept(&to(group), &custom, |_| false), Ok(advert(51)));
        for dst in [VRRP_MCAST_V4, US] {
            assert_eq!(
                accept(&to(dst), &custom, |_| false),
                Err(Refused::Dropped(Drop::Destination)),
                "{dst}"
            );
        }
        let unicast = spec("", UNICAST);
        assert_eq!(
            accept(&to(VRRP_MCAST_V4), &unicast, |_| false),
            Err(Refused::Dropped(Drop::Destination))
        );
    }

    #[test]
    fn siblings_are_ignored_other_vrids_dropped_and_validation_applies() {
        let s = spec("", "");
        let p = packet(52, PEER, VRRP_MCAST_V4);
        assert_eq!(accept(&p, &s, |v| v == 52), Err(Refused::Sibling));
        assert_eq!(accept(&p, &s, |_| false), Err(Refused::Dropped(Drop::Vrid)));
        let mut bad = packet(51, PEER, VRRP_MCAST_V4);
        bad.ttl = 64;
        assert_eq!(
            accept(&bad, &s, |_| false),
            Err(Refused::Dropped(Drop::Ttl))
        );
        // TTL does not matter for unicast peers (they may be routed).
        let unicast = spec("", UNICAST);
        let mut routed = packet(51, PEER, US);
        routed.ttl = 60;
        assert!(accept(&routed, &unicast, |_| false).is_ok());
    }

    #[test]
    fn lines_are_limited_per_kind_at_their_level() {
        let src = IpAddr::V4(PEER);
        let pass = Line::Dropped {
            drop: Drop::AuthPass,
            src,
        };
        let ttl = Line::Dropped {
            drop: Drop::Ttl,
            src,
        };
        assert_ne!(pass.kind(), ttl.kind());
        assert_eq!((pass.level(), ttl.level()), (Level::WARN, Level::DEBUG));
        let lower = |priority| {
            Line::Notice(Reason::LowerPriorityDiscarded {
                from: src,
                priority,
            })
        };
        assert_eq!(lower(1).kind(), lower(2).kind(), "same kind of notice");
        assert_eq!(lower(1).level(), Level::INFO);
        assert_eq!(
            pass.to_string(),
            "dropped advert from 192.0.2.3: received an invalid passwd"
        );
    }
}
