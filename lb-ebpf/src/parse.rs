//! Bounds-checked header parsing. Every read goes through [`ptr_at`], which
//! proves to the verifier that the access lies inside the packet.
use core::mem;

use aya_ebpf::programs::XdpContext;
use lb_common::VipKey;
use network_types::{
    eth::EthHdr,
    ip::{Ipv4Hdr, Ipv6Hdr},
    udp::UdpHdr,
    vlan::VlanHdr,
};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
/// "More fragments" flag and fragment offset bits of the IPv4 `frags` field.
const IPV4_FRAG_MASK: u16 = 0x3FFF;

/// Pointer to a `T` at `offset` bytes into the packet, if it fits entirely.
#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Option<*const T> {
    let start = ctx.data();
    if start + offset + mem::size_of::<T>() > ctx.data_end() {
        return None;
    }
    Some((start + offset) as *const T)
}

/// The (destination address, port, protocol) of a TCP or UDP packet over
/// IPv4 or IPv6, optionally behind one 802.1Q tag. Fragments, IPv6 extension
/// headers and other protocols yield `None`.
#[inline(always)]
pub fn destination(ctx: &XdpContext) -> Option<VipKey> {
    let eth: *const EthHdr = ptr_at(ctx, 0)?;
    let mut offset = EthHdr::LEN;
    let mut ether_type = u16::from_be(unsafe { (*eth).ether_type });
    if ether_type == ETH_P_8021Q {
        let vlan: *const VlanHdr = ptr_at(ctx, offset)?;
        ether_type = u16::from_be(unsafe { (*vlan).ether_type });
        offset += VlanHdr::LEN;
    }
    match ether_type {
        ETH_P_IP => {
            let ip: *const Ipv4Hdr = ptr_at(ctx, offset)?;
            let (vihl, frags, proto, dst) =
                unsafe { ((*ip).vihl, (*ip).frags, (*ip).proto, (*ip).dst_addr) };
            let ihl = usize::from(vihl & 0x0F) * 4;
            if vihl >> 4 != 4 || ihl < Ipv4Hdr::LEN || u16::from_be_bytes(frags) & IPV4_FRAG_MASK != 0
            {
                return None;
            }
            let port = dst_port(ctx, offset + ihl, proto)?;
            Some(VipKey::v4(dst, port, proto))
        }
        ETH_P_IPV6 => {
            let ip: *const Ipv6Hdr = ptr_at(ctx, offset)?;
            let (proto, dst) = unsafe { ((*ip).next_hdr, (*ip).dst_addr) };
            let port = dst_port(ctx, offset + Ipv6Hdr::LEN, proto)?;
            Some(VipKey::v6(dst, port, proto))
        }
        _ => None,
    }
}

/// Destination port of the TCP or UDP header at `offset`. Both headers start
/// with source and destination ports, so the UDP layout serves for both.
#[inline(always)]
fn dst_port(ctx: &XdpContext, offset: usize, proto: u8) -> Option<u16> {
    if proto != IPPROTO_TCP && proto != IPPROTO_UDP {
        return None;
    }
    let l4: *const UdpHdr = ptr_at(ctx, offset)?;
    Some(u16::from_be_bytes(unsafe { (*l4).dst }))
}
