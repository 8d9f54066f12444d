//! Sending a packet to its real server: `DR` rewrites the Ethernet header,
//! `TUN` prepends an outer IPv4 (IP-in-IP) or IPv6 (IPv6-in-IPv6) header as
//! IPVS's tunnelling does. The packet leaves by `XDP_TX` when the real server
//! is behind the interface it came in on, else by `bpf_redirect`.
use core::mem;

use aya_ebpf::{bindings::xdp_action, helpers::bpf_redirect, programs::XdpContext};
use lb_common::{PassReason, Real, FAMILY_IPV4, FWD_TUN};
use network_types::{
    eth::EthHdr,
    ip::{Ipv4Hdr, Ipv6Hdr},
};

use crate::parse::{ptr_at, Packet, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, IPV4_DF};

const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;

/// Forwards the parsed packet to `real`; the reason when it cannot (the
/// packet then goes to the kernel).
#[inline(always)]
pub fn forward(ctx: &XdpContext, packet: &Packet, real: &Real) -> Result<u32, PassReason> {
    if real.forward == FWD_TUN {
        encapsulate(ctx, packet, real)?;
    }
    let macs: *mut [u8; 12] = ptr_at(ctx, 0).ok_or(PassReason::Internal)?;
    set_macs(macs, real);
    if real.ifindex == unsafe { (*ctx.ctx).ingress_ifindex } {
        Ok(xdp_action::XDP_TX)
    } else {
        // SAFETY: plain helper call.
        Ok(unsafe { bpf_redirect(real.ifindex, 0) } as u32)
    }
}

// `dmac` then `smac` are 12 contiguous bytes in `Real`, as destination then
// source are in the Ethernet header: one 8-byte and one 4-byte copy.
const _: () = assert!(mem::offset_of!(Real, smac) == mem::offset_of!(Real, dmac) + 6);
const _: () = assert!(mem::offset_of!(Real, dmac) % 8 == 0);

/// Writes the real server's next-hop MAC and the egress MAC into the
/// Ethernet header at `macs` with two fixed-size stores (no copy routine).
#[inline(always)]
fn set_macs(macs: *mut [u8; 12], real: &Real) {
    let from = &real.dmac as *const [u8; 6] as *const u8;
    let to = macs as *mut u8;
    // SAFETY: both ranges are 12 bytes (asserted above for `Real`, checked
    // by `ptr_at` for the packet); unaligned accesses are single loads and
    // stores in this object.
    unsafe {
        let head = (from as *const u64).read_unaligned();
        let tail = (from.add(8) as *const u32).read_unaligned();
        (to as *mut u64).write_unaligned(head);
        (to.add(8) as *mut u32).write_unaligned(tail);
    }
}

/// Prepends the outer IP header toward `real`, keeping the link-layer
/// header (and its 802.1Q tag) in front; [`PassReason::TooBig`] when the
/// result would exceed the real server's MTU.
#[inline(always)]
fn encapsulate(ctx: &XdpContext, packet: &Packet, real: &Real) -> Result<(), PassReason> {
    use PassReason::Internal;
    let v4 = real.family == FAMILY_IPV4;
    if v4 != (packet.flow.family == FAMILY_IPV4) {
        return Err(Internal);
    }
    let outer = if v4 { Ipv4Hdr::LEN } else { Ipv6Hdr::LEN };
    let total = usize::from(packet.ip_len) + outer;
    if total > usize::from(real.mtu) {
        return Err(PassReason::TooBig);
    }
    // What the inner header says, read before the head moves.
    let inner: *const [u8; 12] = ptr_at(ctx, packet.l3).ok_or(Internal)?;
    let inner = unsafe { *inner };
    let vlan_tci: Option<[u8; 2]> = if packet.l3 > EthHdr::LEN {
        let tag: *const [u8; 4] = ptr_at(ctx, EthHdr::LEN).ok_or(Internal)?;
        let tag = unsafe { *tag };
        Some([tag[0], tag[1]])
    } else {
        None
    };
    // SAFETY: plain helper call; every pointer is re-derived afterwards.
    if unsafe { aya_ebpf::helpers::bpf_xdp_adjust_head(ctx.ctx, -(outer as i32)) } != 0 {
        return Err(Internal);
    }
    let ether_type = if v4 { ETH_P_IP } else { ETH_P_IPV6 };
    let eth: *mut EthHdr = ptr_at(ctx, 0).ok_or(Internal)?;
    match vlan_tci {
        Some(tci) => {
            let tag: *mut [u8; 4] = ptr_at(ctx, EthHdr::LEN).ok_or(Internal)?;
            let inner_type = ether_type.to_be_bytes();
            // SAFETY: bounds checked by `ptr_at`.
            unsafe {
                (*eth).ether_type = ETH_P_8021Q.to_be();
                *tag = [tci[0], tci[1], inner_type[0], inner_type[1]];
            }
        }
        // SAFETY: bounds checked by `ptr_at`.
        None => unsafe { (*eth).ether_type = ether_type.to_be() },
    }
    if v4 {
        let ip: *mut Ipv4Hdr = ptr_at(ctx, packet.l3).ok_or(Internal)?;
        // The inner TOS, DF bit and TTL carry over, as IPVS does.
        let df = u16::from_be_bytes([inner[6], inner[7]]) & IPV4_DF;
        let mut header = Ipv4Hdr {
            vihl: 0x45,
            tos: inner[1],
            tot_len: (total as u16).to_be_bytes(),
            id: [0, 0],
            frags: df.to_be_bytes(),
            ttl: inner[8],
            proto: IPPROTO_IPIP,
            check: [0, 0],
            src_addr: [real.src[0], real.src[1], real.src[2], real.src[3]],
            dst_addr: [real.addr[0], real.addr[1], real.addr[2], real.addr[3]],
        };
        header.check = checksum(&header).to_be_bytes();
        // SAFETY: bounds checked by `ptr_at`.
        unsafe { *ip = header };
    } else {
        let ip: *mut Ipv6Hdr = ptr_at(ctx, packet.l3).ok_or(Internal)?;
        // Traffic class straddles the first two bytes of the inner header.
        let class = (inner[0] << 4) | (inner[1] >> 4);
        let header = Ipv6Hdr {
            vcf: [0x60 | (class >> 4), class << 4, 0, 0],
            payload_len: packet.ip_len.to_be_bytes(),
            next_hdr: IPPROTO_IPV6,
            hop_limit: inner[7],
            src_addr: real.src,
            dst_addr: real.addr,
        };
        // SAFETY: bounds checked by `ptr_at`.
        unsafe { *ip = header };
    }
    Ok(())
}

/// The IPv4 header checksum of `header` (whose checksum field is zero).
#[inline(always)]
fn checksum(header: &Ipv4Hdr) -> u16 {
    // SAFETY: Ipv4Hdr is 20 bytes of plain data.
    let words: &[u8; 20] = unsafe { &*(header as *const Ipv4Hdr as *const [u8; 20]) };
    let mut sum = 0u32;
    let mut i = 0;
    while i < 20 {
        sum += u32::from(u16::from_be_bytes([words[i], words[i + 1]]));
        i += 2;
    }
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    !(sum as u16)
}
