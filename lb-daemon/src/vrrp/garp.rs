//! Announcing a new master's addresses: gratuitous ARP for IPv4 and
//! unsolicited neighbour advertisements for IPv6, so switches and hosts
//! update their caches at once.
//!
//! The frames are built here rather than with a packet crate: an ARP
//! announcement is 42 fixed bytes and an NA 32, and the sockets involved
//! (AF_PACKET, raw ICMPv6) need a couple of socket options no crate wraps
//! better than socket2/libc already do.
use std::{
    io, mem,
    net::{Ipv4Addr, Ipv6Addr, SocketAddrV6},
    os::fd::AsRawFd,
    time::Duration,
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::task::AbortHandle;
use tracing::warn;

use super::garp_pace::{self as pace, Kind};

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IP: u16 = 0x0800;
const ARPOP_REQUEST: u16 = 1;
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// Override flag of a neighbour advertisement.
const NA_OVERRIDE: u8 = 0x20;
/// "Target link-layer address" option of neighbour discovery.
const ND_OPT_TARGET_LL: u8 = 2;
/// All-nodes multicast group, where unsolicited advertisements go.
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A gratuitous ARP request announcing that `ip` is at `mac`, as keepalived
/// sends it: broadcast, sender and target protocol address both `ip`.
pub fn arp_frame(mac: [u8; 6], ip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware type: Ethernet
    f[16..18].copy_from_slice(&ETH_P_IP.to_be_bytes());
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&ARPOP_REQUEST.to_be_bytes());
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    f[32..38].copy_from_slice(&[0xff; 6]);
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// An unsolicited neighbour advertisement (RFC 4861 §7.2.6) for `target`
/// at `mac`, with the override flag; the kernel fills in the checksum.
pub fn na_message(mac: [u8; 6], target: Ipv6Addr) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0] = ICMPV6_NEIGHBOR_ADVERT;
    m[4] = NA_OVERRIDE;
    m[8..24].copy_from_slice(&target.octets());
    m[24] = ND_OPT_TARGET_LL;
    m[25] = 1; // option length in units of 8 bytes
    m[26..32].copy_from_slice(&mac);
    m
}

/// The index and Ethernet address of interface `name` in this network
/// namespace (for the addresses that live on an interface other than the
/// instance's).
pub fn interface(name: &str) -> io::Result<(u32, [u8; 6])> {
    let link = nix::ifaddrs::getifaddrs()?
        .filter(|a| a.interface_name == name)
        .find_map(|a| {
            let link = a.address?.as_link_addr().copied()?;
            Some((u32::try_from(link.ifindex()).ok()?, link.addr()?))
        });
    link.ok_or_else(|| {
        let message = format!("interface {name} has no Ethernet address");
        io::Error::new(io::ErrorKind::NotFound, message)
    })
}

/// Something that announces addresses of one family on one interface.
pub trait Announcer: Send + 'static {
    /// The announced address type.
    type Addr: Copy + Send + Sync + 'static;
    /// Which pacing applies.
    const KIND: Kind;
    /// Sends one announcement of `addr` at `mac`.
    fn send(&self, mac: [u8; 6], addr: Self::Addr) -> io::Result<()>;
}

/// An AF_PACKET socket sending gratuitous ARPs on one interface.
pub struct ArpSocket {
    socket: Socket,
    to: libc::sockaddr_ll,
}

impl ArpSocket {
    /// Opens the socket for interface `ifindex`.
    pub fn open(ifindex: u32) -> io::Result<ArpSocket> {
        let socket = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(ETH_P_ARP.to_be()))),
        )?;
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
        let mut to: libc::sockaddr_ll = unsafe { mem::zeroed() };
        to.sll_family = libc::AF_PACKET as u16;
        to.sll_protocol = ETH_P_ARP.to_be();
        to.sll_ifindex = ifindex as i32;
        to.sll_halen = 6;
        to.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        Ok(ArpSocket { socket, to })
    }
}

impl Announcer for ArpSocket {
    type Addr = Ipv4Addr;
    const KIND: Kind = Kind::Arp;

    fn send(&self, mac: [u8; 6], ip: Ipv4Addr) -> io::Result<()> {
        let frame = arp_frame(mac, ip);
        // SAFETY: frame and sockaddr_ll outlive the call; lengths are theirs.
        let sent = unsafe {
            libc::sendto(
                self.socket.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&self.to as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        match sent < 0 {
            true => Err(io::Error::last_os_error()),
            false => Ok(()),
        }
    }
}

/// A raw ICMPv6 socket sending unsolicited NAs on one interface.
pub struct NaSocket {
    socket: Socket,
    to: SocketAddrV6,
}

impl NaSocket {
    /// Opens the socket for interface `ifname` (index `ifindex`).
    pub fn open(ifname: &str, ifindex: u32) -> io::Result<NaSocket> {
        let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        socket.bind_device(Some(ifname.as_bytes()))?;
        socket.set_multicast_if_v6(ifindex)?;
        // Neighbour discovery messages must carry hop limit 255 (RFC 4861).
        socket.set_multicast_hops_v6(255)?;
        let to = SocketAddrV6::new(ALL_NODES, 0, 0, ifindex);
        Ok(NaSocket { socket, to })
    }
}

impl Announcer for NaSocket {
    type Addr = Ipv6Addr;
    const KIND: Kind = Kind::Na;

    fn send(&self, mac: [u8; 6], ip: Ipv6Addr) -> io::Result<()> {
        self.socket
            .send_to(&na_message(mac, ip), &self.to.into())
            .map(drop)
    }
}

/// One burst: `count` announcements of each of `addrs` on interface
/// `ifindex`, spaced by at least `interval` from any other announcement of
/// the same kind there.
pub struct Burst<A: Announcer> {
    /// The opened socket.
    pub announcer: A,
    /// Interface index, the pacing key.
    pub ifindex: u32,
    /// The MAC address announced.
    pub mac: [u8; 6],
    /// The addresses announced.
    pub addrs: Vec<A::Addr>,
    /// Rounds over `addrs`.
    pub count: u32,
    /// Minimum spacing (zero: send at once).
    pub interval: Duration,
}

impl<A: Announcer> Burst<A> {
    /// Sends the burst: at once without an interval, else from a task
    /// that waits for each packet's slot (its handle returned, so that
    /// leaving MASTER can stop it). `context` prefixes the warning logged
    /// when sending fails.
    pub fn send(self, context: String) -> Option<AbortHandle> {
        if self.addrs.is_empty() || self.count == 0 {
            return None;
        }
        if self.interval.is_zero() {
            let mut packets = pace::rounds(&self.addrs, self.count);
            if let Err(e) = packets.try_for_each(|a| self.announcer.send(self.mac, a)) {
                warn!("{context}: {e}");
            }
            return None;
        }
        let task = tokio::spawn(async move {
            for addr in pace::rounds(&self.addrs, self.count) {
                tokio::time::sleep_until(pace::reserve(self.ifindex, A::KIND, self.interval)).await;
                if let Err(e) = self.announcer.send(self.mac, addr) {
                    return warn!("{context}: {e}");
                }
            }
        });
        Some(task.abort_handle())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

    #[test]
    fn arp_frame_bytes() {
        let f = arp_frame(MAC, Ipv4Addr::new(192, 0, 2, 50));
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06, // Ethernet
            0, 1, 0x08, 0x00, 6, 4, 0, 1, // Ethernet/IPv4, request
            2, 0, 0, 0, 0, 2, 192, 0, 2, 50, // sender
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 192, 0, 2, 50, // target
        ];
        assert_eq!(f, expected);
    }

    #[test]
    fn na_message_bytes() {
        let target: Ipv6Addr = "2001:db8::50".parse().unwrap();
        let m = na_message(MAC, target);
        assert_eq!(&m[..8], &[136, 0, 0, 0, 0x20, 0, 0, 0]);
        assert_eq!(&m[8..24], &target.octets());
        assert_eq!(&m[24..], &[2, 1, 2, 0, 0, 0, 0, 2]);
    }
}
