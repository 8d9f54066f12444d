//! VRRP socket I/O: raw IP sockets for protocol 112 bound to the instance's
//! interface, joined to the instance's multicast group (224.0.0.18 or
//! ff02::12 unless `vrrp_mcast_group4/6` says otherwise) or used for unicast
//! peers, sending with TTL / hop limit 255. No protocol logic lives here.
use std::{
    io::{self, IoSliceMut, Read},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    os::fd::AsRawFd,
};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::packet::{IPPROTO_VRRP, VRRP_TTL};
use crate::config::UnicastPeer;

/// A received VRRP packet with the IP header fields validation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address.
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// The VRRP message.
    pub payload: Vec<u8>,
}

/// How an instance's adverts travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// To this multicast group on the interface (`vrrp_mcast_group4/6`,
    /// by default 224.0.0.18 or ff02::12), which the receiving socket joins.
    Multicast(IpAddr),
    /// To each of these peers (keepalived's `unicast_peer`), with TTL /
    /// hop limit `ttl` (`unicast_ttl`; [`VRRP_TTL`] when absent).
    Unicast {
        /// The peers, with the TTL range their adverts must arrive with.
        peers: Vec<UnicastPeer>,
        /// `unicast_ttl`.
        ttl: Option<u8>,
    },
}

/// Raw VRRP sockets on one interface: one to receive (unbound, since a raw
/// socket bound to an address only receives packets sent to that address,
/// which would exclude the multicast group), one to send from a fixed source.
pub struct VrrpSocket {
    rx: AsyncFd<Socket>,
    tx: AsyncFd<Socket>,
    ifindex: u32,
    v6: bool,
}

impl VrrpSocket {
    /// Opens the sockets on `ifname` (index `ifindex`), sending from `src`
    /// (for IPv6, the interface's link-local address, as RFC 5798 requires).
    pub fn open(
        ifname: &str,
        ifindex: u32,
        src: IpAddr,
        transport: &Transport,
    ) -> io::Result<VrrpSocket> {
        let domain = if src.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let open = || -> io::Result<Socket> {
            let socket = Socket::new(
                domain,
                Type::RAW,
                Some(Protocol::from(i32::from(IPPROTO_VRRP))),
            )?;
            socket.bind_device(Some(ifname.as_bytes()))?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        };
        let (rx, tx) = (open()?, open()?);
        let (group, unicast_ttl) = match transport {
            Transport::Multicast(group) => (Some(*group), VRRP_TTL),
            Transport::Unicast { ttl, .. } => (None, ttl.unwrap_or(VRRP_TTL)),
        };
        match src {
            IpAddr::V4(src) => {
                // Only the groups this socket joined, not every group of the host.
                rx.set_multicast_all_v4(false)?;
                match group {
                    Some(IpAddr::V4(group)) => {
                        rx.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(ifindex))?
                    }
                    Some(IpAddr::V6(group)) => return Err(family_mismatch(group.into())),
                    None => {}
                }
                tx.bind(&SocketAddrV4::new(src, 0).into())?;
                tx.set_ttl_v4(u32::from(unicast_ttl))?;
                tx.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
                tx.set_multicast_loop_v4(false)?;
            }
            IpAddr::V6(src) => {
                // As for IPv4; kernels before 4.20 lack the option and
                // deliver other groups too, which the receive filter drops.
                let _ = rx.set_multicast_all_v6(false);
                match group {
                    Some(IpAddr::V6(group)) => rx.join_multicast_v6(&group, ifindex)?,
                    Some(IpAddr::V4(group)) => return Err(family_mismatch(group.into())),
                    None => {}
                }
                // The hop limit and destination come as control messages.
                setsockopt(&rx, sockopt::Ipv6RecvHopLimit, &true)?;
                setsockopt(&rx, sockopt::Ipv6RecvPacketInfo, &true)?;
                tx.bind(&SocketAddrV6::new(src, 0, 0, scope(src, ifindex)).into())?;
                tx.set_unicast_hops_v6(u32::from(unicast_ttl))?;
                tx.set_multicast_hops_v6(u32::from(VRRP_TTL))?;
                tx.set_multicast_if_v6(ifindex)?;
                tx.set_multicast_loop_v6(false)?;
            }
        }
        // Nothing is ever read from the sending socket: keep its queue small.
        tx.set_recv_buffer_size(0)?;
        Ok(VrrpSocket {
            rx: register(rx)?,
            tx: register(tx)?,
            ifindex,
            v6: src.is_ipv6(),
        })
    }

    /// Receives the next packet; `Ok(None)` for a datagram whose IP header
    /// (IPv4) or control data (IPv6) cannot be read.
    pub async fn recv(&self) -> io::Result<Option<Packet>> {
        loop {
            let mut guard = self.rx.readable().await?;
            let received = guard.try_io(|s| match self.v6 {
                false => {
                    let mut buf = [0u8; 2048];
                    let len = s.get_ref().read(&mut buf)?;
                    Ok(split_ipv4(&buf[..len]))
                }
                true => recv_v6(s.get_ref()),
            });
            if let Ok(result) = received {
                return result;
            }
        }
    }

    /// The next packet already queued on the socket, without waiting: read
    /// straight from the kernel's queue, whatever the reactor has seen so
    /// far; `None` when the queue is empty.
    pub fn try_recv(&self) -> Option<io::Result<Option<Packet>>> {
        let socket = self.rx.get_ref();
        let received = match self.v6 {
            false => {
                let mut buf = [0u8; 2048];
                (&*socket).read(&mut buf).map(|len| split_ipv4(&buf[..len]))
            }
            true => recv_v6(socket),
        };
        match received {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            other => Some(other),
        }
    }

    /// Sends `payload` (a VRRP message) to `dst`.
    pub async fn send(&self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        let to = SockAddr::from(match dst {
            IpAddr::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, 0)),
            IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, 0, 0, scope(a, self.ifindex))),
        });
        loop {
            let mut guard = self.tx.writable().await?;
            if let Ok(result) = guard.try_io(|s| s.get_ref().send_to(payload, &to)) {
                return result.map(drop);
            }
        }
    }
}

/// A multicast group of the other family than the instance's addresses.
fn family_mismatch(group: IpAddr) -> io::Error {
    let message = format!("multicast group {group} is not of the instance's address family");
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The scope id an IPv6 address needs: the interface for link-local and
/// multicast link-scope addresses, none otherwise.
fn scope(addr: Ipv6Addr, ifindex: u32) -> u32 {
    let link_scoped =
        addr.segments()[0] & 0xffc0 == 0xfe80 || addr.segments()[0] & 0xff0f == 0xff02;
    if link_scoped {
        ifindex
    } else {
        0
    }
}

/// One IPv6 datagram: the payload, with source from the socket address and
/// destination and hop limit from the control messages.
fn recv_v6(socket: &Socket) -> io::Result<Option<Packet>> {
    let mut buf = [0u8; 2048];
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<SockaddrIn6>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )?;
    let (mut dst, mut ttl) = (None, None);
    for c in msg.cmsgs()? {
        match c {
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr))
            }
            ControlMessageOwned::Ipv6HopLimit(limit) => ttl = u8::try_from(limit).ok(),
            _ => {}
        }
    }
    let (len, src) = (msg.bytes, msg.address.map(|a| a.ip()));
    Ok(match (src, dst, ttl) {
        (Some(src), Some(dst), Some(ttl)) => Some(Packet {
            src: IpAddr::V6(src),
            dst: IpAddr::V6(dst),
            ttl,
            payload: buf[..len].to_vec(),
        }),
        _ => None,
    })
}

/// Registers `socket` with the runtime's reactor.
fn register(socket: Socket) -> io::Result<AsyncFd<Socket>> {
    // SAFETY: the Socket owns its descriptor; it stays open and the same for
    // as long as the AsyncFd owns the Socket.
    Ok(unsafe { AsyncFd::register(socket) }?)
}

/// Splits an IPv4 datagram into header fields and payload; `None` when the
/// header is truncated or is not IPv4.
fn split_ipv4(datagram: &[u8]) -> Option<Packet> {
    let first = *datagram.first()?;
    let ihl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || ihl < 20 || datagram.len() < ihl {
        return None;
    }
    let addr = |at: usize| -> Option<IpAddr> {
        let octets: [u8; 4] = datagram.get(at..at + 4)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(octets)))
    };
    Some(Packet {
        src: addr(12)?,
        dst: addr(16)?,
        ttl: datagram[8],
        payload: datagram[ihl..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::packet::VRRP_MCAST_V6;

    #[test]
    fn splits_header_fields_and_payload() {
        let mut d = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0, 192, 0, 2, 2, 224, 0, 0, 18,
        ];
        d.extend_from_slice(&[0x21, 51, 100, 1]);
        let p = split_ipv4(&d).unwrap();
        assert_eq!(p.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)));
        assert_eq!(p.ttl, 255);
        assert_eq!(p.payload, vec![0x21, 51, 100, 1]);
    }

    #[test]
    fn rejects_truncated_or_foreign_headers() {
        assert_eq!(split_ipv4(&[]), None);
        assert_eq!(split_ipv4(&[0x45, 0, 0]), None);
        assert_eq!(split_ipv4(&[0x65; 40]), None, "not IPv4");
        assert_eq!(split_ipv4(&[0x4f; 40]), None, "IHL beyond the datagram");
    }

    #[test]
    fn link_scoped_ipv6_addresses_get_the_interface_as_scope() {
        assert_eq!(scope("fe80::1".parse().unwrap(), 7), 7);
        assert_eq!(scope(VRRP_MCAST_V6, 7), 7);
        assert_eq!(scope("2001:db8::1".parse().unwrap(), 7), 0);
    }
}
