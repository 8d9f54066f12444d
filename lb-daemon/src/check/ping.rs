//! `PING_CHECK`, as keepalived's `check_ping.c`: one ICMP (or ICMPv6) echo
//! request to the target address; up when the matching echo reply arrives
//! within the timeout, down on timeout or an ICMP error.
//!
//! Like keepalived, an unprivileged ICMP datagram socket is used (the
//! kernel picks the identifier and delivers only our replies); where
//! `net.ipv4.ping_group_range` forbids it (the default in a fresh network
//! namespace), a raw socket is used instead (root). Replies are matched by
//! type, sequence number and a random token in the payload.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io;
use std::net::SocketAddr;

use anyhow::Result;
use socket2::{Protocol, Type};
use tokio::net::UdpSocket;

use super::udp::bound_socket;
use super::{Attempt, Check, Outcome, Reason, Target};
use crate::config::Checker;

/// ICMP echo request / reply types.
const ECHO_V4: (u8, u8) = (8, 0);
/// ICMPv6 echo request / reply types.
const ECHO_V6: (u8, u8) = (128, 129);

/// `PING_CHECK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PingCheck;

impl PingCheck {
    /// Builds the check (it has no options of its own).
    pub fn new(_checker: &Checker) -> Result<PingCheck> {
        Ok(PingCheck)
    }
}

/// An ICMP socket for `target`: datagram when allowed, else raw. The flag
/// says whether received IPv4 packets carry their IP header (raw IPv4).
fn icmp_socket(target: &Target) -> io::Result<(UdpSocket, bool)> {
    let v4 = target.addr.is_ipv4();
    let protocol = if v4 {
        Protocol::ICMPV4
    } else {
        Protocol::ICMPV6
    };
    let (socket, raw) = match bound_socket(target, Type::DGRAM, protocol) {
        Ok(socket) => (socket, false),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
            (bound_socket(target, Type::RAW, protocol)?, true)
        }
        Err(e) => return Err(e),
    };
    Ok((UdpSocket::from_std(socket.into())?, raw && v4))
}

/// The internet checksum of `data`.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo message of `kind` with `seq` and `token` as payload.
fn echo(kind: u8, seq: u16, token: [u8; 8]) -> Vec<u8> {
    let mut msg = vec![kind, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(&token);
    // The kernel fills it for ICMPv6 and datagram sockets; raw IPv4 needs it.
    let sum = checksum(&msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    msg
}

/// Sends one echo request and waits for its reply.
async fn ping(target: &Target) -> io::Result<()> {
    let (socket, skip_ip_header) = icmp_socket(target)?;
    let (request, reply) = if target.addr.is_ipv4() {
        ECHO_V4
    } else {
        ECHO_V6
    };
    let random = RandomState::new().hash_one(std::time::Instant::now());
    let (seq, token) = (random as u16, random.to_be_bytes());
    let dest = SocketAddr::new(target.addr.ip(), 0);
    socket.send_to(&echo(request, seq, token), dest).await?;
    let mut buf = [0u8; 1500];
    loop {
        let (len, from) = socket.recv_from(&mut buf).await?;
        let mut packet = &buf[..len];
        if skip_ip_header {
            let ihl = usize::from(packet.first().map_or(0, |b| b & 0x0f)) * 4;
            packet = packet.get(ihl..).unwrap_or_default();
        }
        let ours = from.ip() == target.addr.ip()
            && packet.len() >= 16
            && packet[0] == reply
            && packet[6..8] == seq.to_be_bytes()
            && packet[8..16] == token;
        if ours {
            return Ok(());
        }
    }
}

impl Check for PingCheck {
    fn kind(&self) -> &'static str {
        "PING_CHECK"
    }

    /// Pings `target.addr`'s address (its port is not used).
    fn check<'a>(&'a self, target: &'a Target) -> Attempt<'a> {
        Box::pin(async move {
            let ip = target.addr.ip();
            match tokio::time::timeout(target.timeout, ping(target)).await {
                Ok(Ok(())) => Outcome::Up,
                Ok(Err(e)) => {
                    Outcome::down(Reason::of_io(&e), format!("PING_CHECK to {ip} failed: {e}"))
                }
                Err(_) => Outcome::down(Reason::Timeout, format!("PING_CHECK to {ip} timed out")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_checksum_verifies() {
        let msg = echo(8, 0x1234, *b"abcdefgh");
        assert_eq!(checksum(&msg), 0);
    }
}
