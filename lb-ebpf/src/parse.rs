//! Bounds-checked header parsing. Every read goes through [`ptr_at`], which
//! proves to the verifier that the access lies inside the packet. Anything
//! the fast path must not touch (other protocols, fragments, IPv4 options,
//! IPv6 extension headers, truncated or inconsistent headers) yields `None`.
use core::mem;

use aya_ebpf::programs::XdpContext;
use lb_common::{widen_v4, FlowKey, FAMILY_IPV4, FAMILY_IPV6};
use network_types::{
    eth::EthHdr,
    ip::{Ipv4Hdr, Ipv6Hdr},
    vlan::VlanHdr,
};

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86DD;
pub const ETH_P_8021Q: u16 = 0x8100;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
/// "More fragments" flag and fragment offset bits of the IPv4 `frags` field.
const IPV4_FRAG_MASK: u16 = 0x3FFF;
/// The IPv4 "don't fragment" bit.
pub const IPV4_DF: u16 = 0x4000;
const TCP_HDR_LEN: usize = 20;
const UDP_HDR_LEN: usize = 8;
/// TCP FIN and RST flag bits.
pub const TCP_FIN_RST: u8 = 0x01 | 0x04;

/// What the program needs from a TCP or UDP packet.
pub struct Packet {
    /// The flow's 5-tuple.
    pub flow: FlowKey,
    /// Offset of the IP header (after Ethernet and an optional 802.1Q tag).
    pub l3: usize,
    /// IP datagram length (IPv4 total length, IPv6 payload + 40).
    pub ip_len: u16,
    /// TCP flags (0 for UDP).
    pub tcp_flags: u8,
}

/// Pointer to a `T` at `offset` bytes into the packet, if it fits entirely.
#[inline(always)]
pub fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Option<*mut T> {
    let start = ctx.data();
    if start + offset + mem::size_of::<T>() > ctx.data_end() {
        return None;
    }
    Some((start + offset) as *mut T)
}

/// Parses a TCP or UDP packet over IPv4 or IPv6, optionally behind one
/// 802.1Q tag.
#[inline(always)]
pub fn packet(ctx: &XdpContext) -> Option<Packet> {
    let eth: *const EthHdr = ptr_at(ctx, 0)?;
    let mut l3 = EthHdr::LEN;
    let mut ether_type = u16::from_be(unsafe { (*eth).ether_type });
    if ether_type == ETH_P_8021Q {
        let vlan: *const VlanHdr = ptr_at(ctx, l3)?;
        ether_type = u16::from_be(unsafe { (*vlan).ether_type });
        l3 += VlanHdr::LEN;
    }
    let available = ctx.data_end() - ctx.data() - l3;
    let mut flow = FlowKey::default();
    let (l4, ip_len) = match ether_type {
        ETH_P_IP => {
            let ip: *const Ipv4Hdr = ptr_at(ctx, l3)?;
            let ip = unsafe { &*ip };
            let total = u16::from_be_bytes(ip.tot_len);
            if ip.vihl != 0x45 // version 4 and no options
                || u16::from_be_bytes(ip.frags) & IPV4_FRAG_MASK != 0
                || usize::from(total) > available
            {
                return None;
            }
            flow.src = widen_v4(ip.src_addr);
            flow.dst = widen_v4(ip.dst_addr);
            flow.proto = ip.proto;
            flow.family = FAMILY_IPV4;
            (l3 + Ipv4Hdr::LEN, total)
        }
        ETH_P_IPV6 => {
            let ip: *const Ipv6Hdr = ptr_at(ctx, l3)?;
            let ip = unsafe { &*ip };
            let total = u16::from_be_bytes(ip.payload_len).checked_add(Ipv6Hdr::LEN as u16)?;
            if ip.vcf[0] >> 4 != 6 || usize::from(total) > available {
                return None;
            }
            flow.src = ip.src_addr;
            flow.dst = ip.dst_addr;
            flow.proto = ip.next_hdr;
            flow.family = FAMILY_IPV6;
            (l3 + Ipv6Hdr::LEN, total)
        }
        _ => return None,
    };
    let l4_len = match flow.proto {
        IPPROTO_TCP => TCP_HDR_LEN,
        IPPROTO_UDP => UDP_HDR_LEN,
        _ => return None,
    };
    if usize::from(ip_len) < l4 - l3 + l4_len {
        return None;
    }
    // Both headers start with the ports; TCP's flags are byte 13.
    let ports: *const [u8; 4] = ptr_at(ctx, l4)?;
    let ports = unsafe { *ports };
    flow.sport = u16::from_be_bytes([ports[0], ports[1]]);
    flow.dport = u16::from_be_bytes([ports[2], ports[3]]);
    let mut tcp_flags = 0;
    if flow.proto == IPPROTO_TCP {
        let tcp: *const [u8; TCP_HDR_LEN] = ptr_at(ctx, l4)?;
        tcp_flags = unsafe { (*tcp)[13] };
    } else {
        let _udp: *const [u8; UDP_HDR_LEN] = ptr_at(ctx, l4)?;
    }
    Some(Packet {
        flow,
        l3,
        ip_len,
        tcp_flags,
    })
}
