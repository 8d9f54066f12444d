//! VRRP socket I/O: raw IP sockets for protocol 112 bound to the instance's
//! interface, joined to the VRRP multicast group (or used for unicast peers),
//! sending with TTL 255. No protocol logic lives here.
use std::{
    io::{self, Read},
    net::{IpAddr, Ipv4Addr, SocketAddrV4},
};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::packet::{IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_TTL};

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

/// Raw VRRP sockets on one interface: one to receive (unbound, since a raw
/// socket bound to an address only receives packets sent to that address,
/// which would exclude the multicast group), one to send from a fixed source.
pub struct VrrpSocket {
    rx: AsyncFd<Socket>,
    tx: AsyncFd<Socket>,
}

/// How an instance's adverts travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// To 224.0.0.18 on the interface.
    Multicast,
    /// To each of these peers (keepalived's `unicast_peer`).
    Unicast(Vec<IpAddr>),
}

impl VrrpSocket {
    /// Opens IPv4 sockets on `ifname` (index `ifindex`), sending from `src`.
    pub fn open_v4(
        ifname: &str,
        ifindex: u32,
        src: Ipv4Addr,
        transport: &Transport,
    ) -> io::Result<VrrpSocket> {
        let open = || -> io::Result<Socket> {
            let socket = Socket::new(
                Domain::IPV4,
                Type::RAW,
                Some(Protocol::from(i32::from(IPPROTO_VRRP))),
            )?;
            socket.bind_device(Some(ifname.as_bytes()))?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        };
        let rx = open()?;
        if *transport == Transport::Multicast {
            rx.join_multicast_v4_n(&VRRP_MCAST_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
            // Only the groups this socket joined, not every group of the host.
            rx.set_multicast_all_v4(false)?;
        }
        let tx = open()?;
        tx.bind(&SocketAddrV4::new(src, 0).into())?;
        tx.set_ttl_v4(u32::from(VRRP_TTL))?;
        tx.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
        tx.set_multicast_loop_v4(false)?;
        // Nothing is ever read from the sending socket: keep its queue empty.
        tx.set_recv_buffer_size(0)?;
        Ok(VrrpSocket {
            rx: register(rx)?,
            tx: register(tx)?,
        })
    }

    /// Receives the next packet. IPv4 raw sockets deliver the IP header too:
    /// a datagram whose header cannot be read is returned as `Ok(None)`.
    pub async fn recv(&self) -> io::Result<Option<Packet>> {
        let mut buf = [0u8; 2048];
        let len = loop {
            let mut guard = self.rx.readable().await?;
            match guard.try_io(|s| s.get_ref().read(&mut buf)) {
                Ok(result) => break result?,
                Err(_would_block) => continue,
            }
        };
        Ok(split_ipv4(&buf[..len]))
    }

    /// Sends `payload` (a VRRP message) to `dst`.
    pub async fn send(&self, payload: &[u8], dst: IpAddr) -> io::Result<()> {
        let to = SockAddr::from(std::net::SocketAddr::new(dst, 0));
        loop {
            let mut guard = self.tx.writable().await?;
            match guard.try_io(|s| s.get_ref().send_to(payload, &to)) {
                Ok(result) => return result.map(drop),
                Err(_would_block) => continue,
            }
        }
    }
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
}
