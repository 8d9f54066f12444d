//! Ethernet frames for the XDP packet fixtures and benchmarks, built with
//! `etherparse` (an implementation independent of the program's own).
use std::net::IpAddr;

use etherparse::{
    ip_number, EtherType, Ethernet2Header, IpHeaders, Ipv4Header, Ipv6Header, PacketBuilder,
    SingleVlanHeader, VlanId,
};

/// The client's MAC address in fixtures.
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x64];
/// The director's MAC address in fixtures.
pub const DIRECTOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// What to put in a frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// Source address and port.
    pub src: (IpAddr, u16),
    /// Destination address and port.
    pub dst: (IpAddr, u16),
    /// TCP (with these flags: SYN, FIN, RST) or UDP.
    pub l4: L4,
    /// 802.1Q VLAN id.
    pub vlan: Option<u16>,
    /// Payload length.
    pub payload: usize,
}

/// The transport of a [`Frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// TCP with SYN, FIN, RST as given (ACK set unless SYN).
    Tcp {
        /// SYN flag.
        syn: bool,
        /// FIN flag.
        fin: bool,
        /// RST flag.
        rst: bool,
    },
    /// UDP.
    Udp,
}

/// A TCP SYN.
pub const SYN: L4 = L4::Tcp {
    syn: true,
    fin: false,
    rst: false,
};
/// A TCP segment of an established flow.
pub const ACK: L4 = L4::Tcp {
    syn: false,
    fin: false,
    rst: false,
};
/// A TCP FIN.
pub const FIN: L4 = L4::Tcp {
    syn: false,
    fin: true,
    rst: false,
};

impl Frame {
    /// A frame from `src` to `dst`.
    pub fn new(src: (IpAddr, u16), dst: (IpAddr, u16), l4: L4) -> Frame {
        Frame {
            src,
            dst,
            l4,
            vlan: None,
            payload: 16,
        }
    }

    /// The frame's bytes, client MAC -> director MAC, TTL 64, DF set.
    pub fn bytes(&self) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2(CLIENT_MAC, DIRECTOR_MAC);
        let ip = match (self.src.0, self.dst.0) {
            (IpAddr::V4(s), IpAddr::V4(d)) => builder.ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => builder.ipv6(s.octets(), d.octets(), 64),
            _ => panic!("mixed address families"),
        };
        let payload = vec![0xAB; self.payload];
        let mut out = Vec::new();
        match self.l4 {
            L4::Tcp { syn, fin, rst } => {
                let mut tcp = ip.tcp(self.src.1, self.dst.1, 1000, 64240);
                if syn {
                    tcp = tcp.syn();
                } else {
                    tcp = tcp.ack(1);
                }
                if fin {
                    tcp = tcp.fin();
                }
                if rst {
                    tcp = tcp.rst();
                }
                tcp.write(&mut out, &payload).expect("writing a TCP frame");
            }
            L4::Udp => ip
                .udp(self.src.1, self.dst.1)
                .write(&mut out, &payload)
                .expect("writing a UDP frame"),
        }
        if let Some(id) = self.vlan {
            let tci = VlanId::try_new(id).expect("a VLAN id below 4095").value();
            let [hi, lo] = tci.to_be_bytes();
            out.splice(12..12, [0x81, 0x00, hi, lo]);
        }
        out
    }
}

/// `frame` as the director sends it to a real server by direct routing:
/// the same bytes with the MAC addresses replaced.
pub fn direct_routed(frame: &[u8], dmac: [u8; 6], smac: [u8; 6]) -> Vec<u8> {
    let mut out = frame.to_vec();
    out[..6].copy_from_slice(&dmac);
    out[6..12].copy_from_slice(&smac);
    out
}

/// `frame` as IPVS's tunnelling sends it: Ethernet (and its VLAN tag) to
/// `dmac` from `smac`, an outer IPv4 (IP-in-IP) or IPv6 (IPv6-in-IPv6)
/// header from `src` to `dst` carrying the inner TTL, TOS/traffic class and
/// (IPv4) DF bit, then the original IP packet.
pub fn tunnelled(frame: &[u8], dmac: [u8; 6], smac: [u8; 6], src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let (eth, rest) = Ethernet2Header::from_slice(frame).expect("an Ethernet frame");
    let (vlan, ip_bytes) = if eth.ether_type == EtherType::VLAN_TAGGED_FRAME {
        let (v, rest) = SingleVlanHeader::from_slice(rest).expect("a VLAN tag");
        (Some(v), rest)
    } else {
        (None, rest)
    };
    let (inner, _) = IpHeaders::from_slice(ip_bytes).expect("an IP packet");
    let mut out = Vec::new();
    let outer_type = match dst {
        IpAddr::V4(_) => EtherType::IPV4,
        IpAddr::V6(_) => EtherType::IPV6,
    };
    let eth = Ethernet2Header {
        destination: dmac,
        source: smac,
        ether_type: if vlan.is_some() {
            EtherType::VLAN_TAGGED_FRAME
        } else {
            outer_type
        },
    };
    eth.write(&mut out).expect("writing Ethernet");
    if let Some(mut v) = vlan {
        v.ether_type = outer_type;
        v.write(&mut out).expect("writing the VLAN tag");
    }
    match (src, dst, inner) {
        (IpAddr::V4(s), IpAddr::V4(d), IpHeaders::Ipv4(inner, _)) => {
            let mut outer = Ipv4Header::new(
                ip_bytes.len() as u16,
                inner.time_to_live,
                ip_number::IPV4,
                s.octets(),
                d.octets(),
            )
            .expect("an IPv4 header");
            outer.dscp = inner.dscp;
            outer.ecn = inner.ecn;
            outer.dont_fragment = inner.dont_fragment;
            outer.identification = 0;
            outer.header_checksum = outer.calc_header_checksum();
            outer.write(&mut out).expect("writing IPv4");
        }
        (IpAddr::V6(s), IpAddr::V6(d), IpHeaders::Ipv6(inner, _)) => {
            let outer = Ipv6Header {
                traffic_class: inner.traffic_class,
                flow_label: Default::default(),
                payload_length: ip_bytes.len() as u16,
                next_header: ip_number::IPV6,
                hop_limit: inner.hop_limit,
                source: s.octets(),
                destination: d.octets(),
            };
            outer.write(&mut out).expect("writing IPv6");
        }
        _ => panic!("tunnel and packet of different families"),
    }
    out.extend_from_slice(ip_bytes);
    out
}
