//! VRRP on the lab's wire: adverts injected from a host's `eth0` (any
//! destination, any of the host's source addresses, any TTL), and the adverts
//! a host sees, captured with tcpdump.
use std::{
    io,
    net::{IpAddr, SocketAddr, SocketAddrV6},
};

use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};

use crate::{lab::HOST_IF, Netns};

/// Where and how [`inject`] sends.
#[derive(Debug, Clone, Copy)]
pub struct Injection {
    /// Destination: a VRRP multicast group or a host's address.
    pub to: IpAddr,
    /// Source address (one of the sending host's own), or the kernel's choice.
    pub from: Option<IpAddr>,
    /// TTL / hop limit (VRRP requires 255 on multicast).
    pub hops: u32,
}

impl Injection {
    /// To `to` with TTL 255 from the kernel's choice of source.
    pub fn to(to: IpAddr) -> Injection {
        Injection {
            to,
            from: None,
            hops: 255,
        }
    }
}

/// Sends `msg` as the VRRP payload of `copies` datagrams as `how` says, from
/// the calling thread's namespace, out of its `eth0` (run it in
/// [`crate::in_netns`]).
pub fn inject(msg: &[u8], how: Injection, copies: u64) -> io::Result<()> {
    let domain = match how.to {
        IpAddr::V4(_) => Domain::IPV4,
        IpAddr::V6(_) => Domain::IPV6,
    };
    let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(112)))?;
    socket.bind_device(Some(HOST_IF.as_bytes()))?;
    let ifindex = nix::net::if_::if_nametoindex(HOST_IF).map_err(io::Error::from)?;
    let to = match how.to {
        IpAddr::V4(_) => {
            socket.set_multicast_ttl_v4(how.hops)?;
            socket.set_ttl_v4(how.hops)?;
            SocketAddr::new(how.to, 0)
        }
        IpAddr::V6(to) => {
            socket.set_multicast_hops_v6(how.hops)?;
            socket.set_unicast_hops_v6(how.hops)?;
            socket.set_multicast_if_v6(ifindex)?;
            let link_scoped = to.is_multicast() || to.segments()[0] & 0xffc0 == 0xfe80;
            let scope = if link_scoped { ifindex } else { 0 };
            SocketAddr::V6(SocketAddrV6::new(to, 0, 0, scope))
        }
    };
    if let Some(from) = how.from {
        socket.bind(&SocketAddr::new(from, 0).into())?;
    }
    for _ in 0..copies {
        socket.send_to(msg, &to.into())?;
    }
    Ok(())
}

/// One VRRP packet as tcpdump printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
}

/// The first `count` VRRP packets (IPv4 or IPv6) that `ns`'s `eth0` sees,
/// waiting at most 10 s for them.
pub fn capture(ns: &Netns, count: usize) -> Result<Vec<Seen>> {
    let count = count.to_string();
    let out = ns.exec(&[
        "timeout",
        "10",
        "tcpdump",
        "-i",
        HOST_IF,
        "-n",
        "-l",
        "-c",
        &count,
        "ip proto 112 or ip6 proto 112",
    ])?;
    let text = String::from_utf8_lossy(&out.stdout);
    // `01:02:03.456 IP 192.0.2.2 > 224.0.0.20: VRRPv3, Advertisement, ...`
    let seen: Vec<Seen> = text
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            Some(Seen {
                src: words.get(2)?.parse().ok()?,
                dst: words.get(4)?.trim_end_matches(':').parse().ok()?,
            })
        })
        .collect();
    (seen.len().to_string() == count)
        .then_some(seen)
        .with_context(|| {
            format!(
                "tcpdump saw fewer than {count} VRRP packets: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}
