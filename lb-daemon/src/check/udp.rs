//! `UDP_CHECK`, as keepalived's `check_udp.c`: a connected UDP socket sends
//! `payload` (an empty datagram when none is configured).
//!
//! * Without `require_reply`, silence until the timeout is success; only an
//!   ICMP destination/port unreachable (`ECONNREFUSED`, `EHOSTUNREACH`,
//!   `ENETUNREACH` on the connected socket) or a send error fails.
//! * With `require_reply`, a reply must arrive within the timeout. When the
//!   keyword has hex data, the reply's length must lie within
//!   `min_reply_length..=max_reply_length` (default 0..=255) and its first
//!   `min(len, data len)` octets must match the data, where `x`/`X` nibbles
//!   are wildcards (keepalived's `read_hex_str` mask).
//!
//! The socket helpers here ([`bound_socket`], [`connected_udp`]) are shared
//! by the other datagram checkers (DNS_CHECK, PING_CHECK).

use std::io;

use anyhow::{bail, Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::{Attempt, Check, Outcome, Reason, Target};
use crate::config::Checker;

/// keepalived's default `max_reply_length` (`UINT8_MAX`).
pub const DEFAULT_MAX_REPLY_LENGTH: usize = 255;

/// Hex octets with a mask of wildcard bits (set bits are "don't care").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HexPattern {
    /// The octets (wildcard nibbles are 0).
    pub data: Vec<u8>,
    /// Per octet, the bits to ignore.
    pub mask: Vec<u8>,
}

impl HexPattern {
    /// Parses keepalived's hex strings: hex digits, spaces and tabs
    /// separating octets (a lone digit before a space is one octet), and,
    /// when `wildcards`, `x`/`X` nibbles matching anything.
    pub fn parse(text: &str, wildcards: bool) -> Result<HexPattern> {
        let nibble = |c: char| match c {
            'x' | 'X' if wildcards => Some((0, 0x0f)),
            _ => c.to_digit(16).map(|d| (d as u8, 0)),
        };
        let mut pattern = HexPattern::default();
        for word in text.split([' ', '\t']).filter(|w| !w.is_empty()) {
            let chars: Vec<char> = word.chars().collect();
            for pair in chars.chunks(2) {
                let mut octet = (0u8, 0u8);
                for &c in pair {
                    let (value, mask) = nibble(c).with_context(|| format!("bad hex {text:?}"))?;
                    octet = (octet.0 << 4 | value, octet.1 << 4 | mask);
                }
                pattern.data.push(octet.0);
                pattern.mask.push(octet.1);
            }
        }
        if pattern.data.is_empty() {
            bail!("empty hex string");
        }
        Ok(pattern)
    }

    /// Whether `reply` matches on the first `min(reply.len(), self.len)`
    /// octets, as keepalived's `check_udp_reply`.
    pub fn matches_prefix(&self, reply: &[u8]) -> bool {
        reply
            .iter()
            .zip(self.data.iter().zip(&self.mask))
            .all(|(got, (want, mask))| (got ^ want) & !mask == 0)
    }
}

/// A socket of `ty`/`protocol` for `target`'s family, bound to
/// `target.bind_if` and `target.bind` when configured, non-blocking.
pub fn bound_socket(target: &Target, ty: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(target.addr), ty, Some(protocol))?;
    socket.set_nonblocking(true)?;
    socket.set_cloexec(true)?;
    if let Some(dev) = &target.bind_if {
        socket.bind_device(Some(dev.as_bytes()))?;
    }
    if let Some(bind) = target.bind {
        socket.bind(&bind.into())?;
    }
    Ok(socket)
}

/// A UDP socket connected to `target.addr` (ICMP errors then surface as
/// errors on the socket).
pub async fn connected_udp(target: &Target) -> io::Result<UdpSocket> {
    let socket = bound_socket(target, Type::DGRAM, Protocol::UDP)?;
    let socket = UdpSocket::from_std(socket.into())?;
    socket.connect(target.addr).await?;
    Ok(socket)
}

/// What a reply must look like, when one is required.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReplyRule {
    /// The expected reply prefix, if data was given.
    data: Option<HexPattern>,
    /// Shortest acceptable reply (only with data, as keepalived).
    min_len: usize,
    /// Longest acceptable reply (only with data, as keepalived).
    max_len: usize,
}

/// `UDP_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpCheck {
    /// The datagram sent (possibly empty).
    payload: Vec<u8>,
    /// `require_reply`, when configured.
    reply: Option<ReplyRule>,
}

impl UdpCheck {
    /// Builds the check from `payload`, `require_reply`, `min_reply_length`
    /// and `max_reply_length`. An empty `require_reply` string means "any
    /// reply"; bad hex is an error.
    pub fn new(checker: &Checker) -> Result<UdpCheck> {
        let payload = match checker.payload.as_deref() {
            Some(hex) => {
                HexPattern::parse(hex, false)
                    .context("UDP_CHECK payload")?
                    .data
            }
            None => Vec::new(),
        };
        let reply = match checker.require_reply.as_deref() {
            None => None,
            Some(hex) => Some(ReplyRule {
                data: match hex.trim() {
                    "" => None,
                    hex => Some(HexPattern::parse(hex, true).context("UDP_CHECK require_reply")?),
                },
                min_len: checker.min_reply_length.unwrap_or(0) as usize,
                max_len: checker
                    .max_reply_length
                    .map_or(DEFAULT_MAX_REPLY_LENGTH, |n| n as usize),
            }),
        };
        Ok(UdpCheck { payload, reply })
    }

    /// One exchange; `Ok(None)` is a timeout without error.
    async fn exchange(&self, target: &Target, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let socket = connected_udp(target).await?;
        socket.send(&self.payload).await?;
        match tokio::time::timeout(target.timeout, socket.recv(buf)).await {
            Ok(received) => received.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// The verdict on `reply`.
    fn judge(&self, target: &Target, reply: &[u8]) -> Outcome {
        let Some(ReplyRule {
            data: Some(pattern),
            min_len,
            max_len,
        }) = &self.reply
        else {
            return Outcome::Up;
        };
        let len = reply.len();
        if len < *min_len || len > *max_len || !pattern.matches_prefix(reply) {
            return Outcome::down(
                Reason::Response,
                format!(
                    "UDP check to {} reply data mismatch ({len} octets)",
                    target.addr
                ),
            );
        }
        Outcome::Up
    }
}

impl Check for UdpCheck {
    fn kind(&self) -> &'static str {
        "UDP_CHECK"
    }

    fn check<'a>(&'a self, target: &'a Target) -> Attempt<'a> {
        Box::pin(async move {
            let max = self.reply.as_ref().map_or(1, |r| r.max_len.max(1));
            // One more octet than accepted, so an over-long reply shows.
            let mut buf = vec![0u8; max + 1];
            match self.exchange(target, &mut buf).await {
                Ok(Some(len)) => self.judge(target, &buf[..len]),
                Ok(None) if self.reply.is_none() => Outcome::Up,
                Ok(None) => Outcome::down(
                    Reason::Timeout,
                    format!(
                        "UDP connection to {} timed out waiting for a reply",
                        target.addr
                    ),
                ),
                Err(e) => Outcome::down(
                    Reason::of_io(&e),
                    format!("UDP connection to {} failed: {e}", target.addr),
                ),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_spaces_and_wildcards() {
        let p = HexPattern::parse("01 2 a0xX", true).unwrap();
        assert_eq!(p.data, vec![0x01, 0x02, 0xa0, 0x00]);
        assert_eq!(p.mask, vec![0, 0, 0, 0xff]);
        assert!(p.matches_prefix(&[0x01, 0x02, 0xa0, 0x77, 0x99]));
        assert!(p.matches_prefix(&[0x01]));
        assert!(!p.matches_prefix(&[0x01, 0x03]));
        assert!(HexPattern::parse("0x", false).is_err());
        assert!(HexPattern::parse("zz", true).is_err());
        assert!(HexPattern::parse("  ", true).is_err());
    }
}
