//! What the program must do with a frame, worked out independently of it
//! from the rules its documentation states: TCP or UDP over IPv4 without
//! options or fragmentation, or over IPv6 without extension headers, behind
//! at most one 802.1Q tag, with consistent lengths, to a VIP's address,
//! port (or "all ports") and protocol, is forwarded to a real server of
//! that service (DR: MACs rewritten; TUN: outer header added), the same one
//! for every packet of a flow; everything else is passed unchanged.
use std::collections::HashMap;

use lb_common::{Real, FWD_TUN};

use crate::services::{self, TCP, UDP, VIPS};

pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;
pub const XDP_REDIRECT: u32 = 4;

/// The fields of a frame the fast path may act on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: Vec<u8>,
    pub dst: Vec<u8>,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
}

/// A frame the fast path may forward: its flow, where the IP header starts
/// and the IP datagram's length.
pub struct Parsed {
    pub flow: Flow,
    pub l3: usize,
    pub ip_len: usize,
}

/// The frame's flow, when it is TCP or UDP the fast path may touch.
pub fn parse(frame: &[u8]) -> Option<Parsed> {
    let be16 = |at: usize| Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]));
    let (l3, ether_type) = match be16(12)? {
        0x8100 => (18, be16(16)?),
        other => (14, other),
    };
    let available = frame.len().checked_sub(l3)?;
    let (header, ip_len, proto, src, dst) = match ether_type {
        0x0800 => {
            let ip = frame.get(l3..l3 + 20)?;
            let frags = u16::from_be_bytes([ip[6], ip[7]]);
            if ip[0] != 0x45 || frags & 0x3fff != 0 {
                return None;
            }
            let len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            (20, len, ip[9], &ip[12..16], &ip[16..20])
        }
        0x86dd => {
            let ip = frame.get(l3..l3 + 40)?;
            if ip[0] >> 4 != 6 {
                return None;
            }
            let len = usize::from(u16::from_be_bytes([ip[4], ip[5]])) + 40;
            if len > usize::from(u16::MAX) {
                return None;
            }
            (40, len, ip[6], &ip[8..24], &ip[24..40])
        }
        _ => return None,
    };
    let l4_len = match proto {
        TCP => 20,
        UDP => 8,
        _ => return None,
    };
    if ip_len > available || ip_len < header + l4_len {
        return None;
    }
    let l4 = l3 + header;
    Some(Parsed {
        flow: Flow {
            src: src.to_vec(),
            dst: dst.to_vec(),
            sport: be16(l4)?,
            dport: be16(l4 + 2)?,
            proto,
        },
        l3,
        ip_len,
    })
}

/// The service of `flow`: its exact port first, then "all ports".
pub fn service(flow: &Flow) -> Option<usize> {
    let find = |port: u16| {
        VIPS.iter()
            .position(|v| v.addr == flow.dst && v.port == port && v.proto == flow.proto)
    };
    find(flow.dport).or_else(|| find(0))
}

/// How one run went, or what was wrong with it.
pub enum Verdict {
    Passed,
    Forwarded,
}

/// The real server each flow was sent to so far.
#[derive(Default)]
pub struct Flows(pub HashMap<Flow, (usize, u8)>);

/// Checks the program's `action` and frame `out` for `frame`.
pub fn check(frame: &[u8], action: u32, out: &[u8], flows: &mut Flows) -> Result<Verdict, String> {
    let parsed = parse(frame);
    let service = parsed.as_ref().and_then(|p| service(&p.flow));
    let (Some(parsed), Some(i)) = (parsed, service) else {
        return match (action, out == frame) {
            (XDP_PASS, true) => Ok(Verdict::Passed),
            (XDP_PASS, false) => Err("a frame for no VIP was passed modified".into()),
            _ => Err(format!(
                "a frame for no VIP was forwarded (action {action})"
            )),
        };
    };
    let vip = &VIPS[i];
    let outer = if vip.v6 { 40 } else { 20 };
    let too_big = vip.forward == FWD_TUN && parsed.ip_len + outer > usize::from(vip.mtu);
    if action == XDP_PASS {
        let why = match (vip.weight == 0, too_big, out == frame) {
            (_, _, false) => "was passed modified",
            (true, _, true) | (_, true, true) => return Ok(Verdict::Passed),
            _ => "was passed although its service can take it",
        };
        return Err(format!("a frame for {} {why}", services::describe(i)));
    }
    let expected_action = match vip.ifindex {
        services::LOOPBACK => XDP_TX,
        _ => XDP_REDIRECT,
    };
    if action != expected_action || vip.weight == 0 || too_big {
        return Err(format!(
            "a frame for {} got action {action} (weight {}, {} bytes for MTU {})",
            services::describe(i),
            vip.weight,
            parsed.ip_len + outer,
            vip.mtu
        ));
    }
    let Some((j, k)) = out.get(..6).and_then(services::owner) else {
        return Err("forwarded to a MAC address of no real server".into());
    };
    if j != i {
        return Err(format!(
            "a frame for {} went to a real server of {}",
            services::describe(i),
            services::describe(j)
        ));
    }
    let real = services::real(i, k);
    let expected = forwarded(frame, &parsed, &real);
    if out != expected {
        return Err(format!(
            "rewritten wrongly for real server {k}:\n  got      {out:02x?}\n  expected {expected:02x?}"
        ));
    }
    match flows.0.insert(parsed.flow, (i, k)) {
        Some(before) if before != (i, k) => Err(format!(
            "the flow moved from real server {} to {k}",
            before.1
        )),
        _ => Ok(Verdict::Forwarded),
    }
}

/// `frame` as sent to `real`: DR rewrites the MAC addresses; TUN also puts
/// an outer IP header (inner TOS/traffic class, TTL/hop limit and IPv4 DF
/// carried over) between the link-layer header and the IP datagram.
fn forwarded(frame: &[u8], parsed: &Parsed, real: &Real) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 40);
    out.extend(real.dmac);
    out.extend(real.smac);
    if real.forward != FWD_TUN {
        out.extend(&frame[12..]);
        return out;
    }
    let inner = &frame[parsed.l3..];
    let v6 = real.family == lb_common::FAMILY_IPV6;
    let ether_type: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    if parsed.l3 == 18 {
        out.extend([0x81, 0x00, frame[14], frame[15]]);
    }
    out.extend(ether_type);
    if v6 {
        let class = (inner[0] << 4) | (inner[1] >> 4);
        out.extend([0x60 | (class >> 4), class << 4, 0, 0]);
        out.extend((parsed.ip_len as u16).to_be_bytes());
        out.extend([41, inner[7]]);
        out.extend(real.src);
        out.extend(real.addr);
    } else {
        let mut header = vec![0x45, inner[1]];
        header.extend(((parsed.ip_len + 20) as u16).to_be_bytes());
        header.extend([0, 0, inner[6] & 0x40, 0, inner[8], 4, 0, 0]);
        header.extend(&real.src[..4]);
        header.extend(&real.addr[..4]);
        let sum = header
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        header[10..12].copy_from_slice(&sum.to_be_bytes());
        out.extend(header);
    }
    out.extend(inner);
    out
}
