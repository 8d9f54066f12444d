//! Bounds-checked header parsing. Every read goes through [`ptr_at`], which
//! proves to the verifier that the access lies inside the packet. Anything
//! the fast path must not touch (other protocols, fragments, IPv4 options,
//! IPv6 extension headers, truncated or inconsistent headers) yields the
//! [`PassReason`] it goes to the kernel for; telling the reasons apart is
//! left to the exits, so the accepted path tests no more than before.
use core::mem;

use aya_ebpf::programs::XdpContext;
use lb_common::{filter_bit, FlowKey, PassReason, FAMILY_IPV4, FAMILY_IPV6};
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
/// IPv6 fragment header.
const IPPROTO_FRAGMENT: u8 = 44;
/// IPv6 extension headers other than fragment, AH and ESP: hop-by-hop,
/// routing, destination options, mobility, HIP, shim6.
const IPV6_EXTENSIONS: [u8; 6] = [0, 43, 60, 135, 139, 140];
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
    /// The destination's bit in the VIP pre-filter.
    pub filter_bit: u32,
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

/// A `T` read from the packet at `offset`, if it fits entirely. Any
/// alignment: the object is built with misaligned access allowed, so a
/// word is one load, not a byte loop.
#[inline(always)]
pub fn load<T: Copy>(ctx: &XdpContext, offset: usize) -> Option<T> {
    let p: *const T = ptr_at(ctx, offset)?;
    // SAFETY: `ptr_at` checked the bounds; the read tolerates any alignment.
    Some(unsafe { p.read_unaligned() })
}

/// An IPv4 address (as loaded from the packet) in the 16-byte key layout.
#[inline(always)]
fn v4_key(addr: u32) -> [u8; 16] {
    // SAFETY: [u32; 4] and [u8; 16] are plain data of the same size.
    unsafe { mem::transmute::<[u32; 4], [u8; 16]>([addr, 0, 0, 0]) }
}

/// An IPv6 address (two words as loaded from the packet) in key layout.
#[inline(always)]
fn v6_key(hi: u64, lo: u64) -> [u8; 16] {
    // SAFETY: as in `v4_key`.
    unsafe { mem::transmute::<[u64; 2], [u8; 16]>([hi, lo]) }
}

/// The link layer of a frame: the IP header's offset (after Ethernet and
/// an optional 802.1Q tag) and the ether type it carries.
#[inline(always)]
pub fn link(ctx: &XdpContext) -> Result<(usize, u16), PassReason> {
    use PassReason::Malformed;
    let mut l3 = EthHdr::LEN;
    let mut ether_type = u16::from_be(load::<u16>(ctx, 12).ok_or(Malformed)?);
    if ether_type == ETH_P_8021Q {
        // The tag's own ether type is its last two bytes.
        ether_type = u16::from_be(load::<u16>(ctx, l3 + VlanHdr::LEN - 2).ok_or(Malformed)?);
        l3 += VlanHdr::LEN;
    }
    Ok((l3, ether_type))
}

/// Parses a TCP or UDP packet over IPv4 whose header starts at `l3`.
/// Headers are read a word at a time (little-endian loads: the first byte
/// on the wire is the lowest byte of the word). `admit` is asked, with the
/// destination's pre-filter bit, before the transport header is read:
/// `false` stops there (the packet is for no service). It is also asked
/// before a fragment or a header with options is counted as such, so every
/// reason but `Malformed` concerns packets to addresses the pre-filter
/// admits.
///
/// [`ipv4`] and [`ipv6`] are separate so that each family's caller is
/// inlined on its own: the IPv4 path then knows half its key is zero.
#[inline(always)]
pub fn ipv4(
    ctx: &XdpContext,
    l3: usize,
    admit: impl Fn(u32) -> bool,
) -> Result<Packet, PassReason> {
    use PassReason::Malformed;
    let available = ctx.data_end() - ctx.data() - l3;
    // vihl, tos, tot_len | id, frags | ttl, proto, check | src | dst
    let w: [u32; 5] = load(ctx, l3).ok_or(Malformed)?;
    let total = u16::from_be((w[0] >> 16) as u16);
    let frags = u16::from_be((w[1] >> 16) as u16);
    let bit = filter_bit([w[4], 0, 0, 0]);
    if w[0] as u8 != 0x45 // version 4 and no options
        || frags & IPV4_FRAG_MASK != 0
        || usize::from(total) > available
    {
        return Err(match ipv4_reason(w[0] as u8, frags, total, available) {
            Malformed => Malformed,
            _ if !admit(bit) => PassReason::NotVip,
            reason => reason,
        });
    }
    let flow = FlowKey {
        src: v4_key(w[3]),
        dst: v4_key(w[4]),
        proto: (w[2] >> 8) as u8,
        family: FAMILY_IPV4,
        ..FlowKey::default()
    };
    transport(ctx, flow, l3, Ipv4Hdr::LEN, total, bit, admit)
}

/// Parses a TCP or UDP packet over IPv6 whose header starts at `l3`; as
/// [`ipv4`], with every extension header refused.
#[inline(always)]
pub fn ipv6(
    ctx: &XdpContext,
    l3: usize,
    admit: impl Fn(u32) -> bool,
) -> Result<Packet, PassReason> {
    use PassReason::Malformed;
    let available = ctx.data_end() - ctx.data() - l3;
    // vcf, payload_len, next_hdr, hop_limit | src | dst
    let w: [u64; 5] = load(ctx, l3).ok_or(Malformed)?;
    let payload = u16::from_be((w[0] >> 32) as u16);
    let total = payload.checked_add(Ipv6Hdr::LEN as u16).ok_or(Malformed)?;
    if (w[0] as u8) >> 4 != 6 || usize::from(total) > available {
        return Err(Malformed);
    }
    let flow = FlowKey {
        src: v6_key(w[1], w[2]),
        dst: v6_key(w[3], w[4]),
        proto: (w[0] >> 48) as u8,
        family: FAMILY_IPV6,
        ..FlowKey::default()
    };
    let dst = [
        w[3] as u32,
        (w[3] >> 32) as u32,
        w[4] as u32,
        (w[4] >> 32) as u32,
    ];
    transport(ctx, flow, l3, Ipv6Hdr::LEN, total, filter_bit(dst), admit)
}

/// The transport header of an IP packet whose network header (`ip_hdr`
/// bytes at `l3`, `ip_len` bytes with its payload) gave `flow` all but the
/// ports; refused unless TCP or UDP, whole, to an address `admit`s.
#[inline(always)]
fn transport(
    ctx: &XdpContext,
    mut flow: FlowKey,
    l3: usize,
    ip_hdr: usize,
    ip_len: u16,
    filter_bit: u32,
    admit: impl Fn(u32) -> bool,
) -> Result<Packet, PassReason> {
    use PassReason::Malformed;
    if !admit(filter_bit) {
        return Err(PassReason::NotVip);
    }
    let l4 = l3 + ip_hdr;
    let l4_len = match flow.proto {
        IPPROTO_TCP => TCP_HDR_LEN,
        IPPROTO_UDP => UDP_HDR_LEN,
        proto => return Err(transport_reason(flow.family, proto)),
    };
    if usize::from(ip_len) < ip_hdr + l4_len {
        return Err(Malformed);
    }
    // Both headers start with the ports; TCP's flags are byte 13.
    let ports: u32 = load(ctx, l4).ok_or(Malformed)?;
    flow.sport = u16::from_be(ports as u16);
    flow.dport = u16::from_be((ports >> 16) as u16);
    let mut tcp_flags = 0;
    if flow.proto == IPPROTO_TCP {
        let tcp: *const [u8; TCP_HDR_LEN] = ptr_at(ctx, l4).ok_or(Malformed)?;
        // SAFETY: `ptr_at` checked the header lies inside the packet.
        tcp_flags = unsafe { (*tcp)[13] };
    } else {
        let _udp: *const [u8; UDP_HDR_LEN] = ptr_at(ctx, l4).ok_or(Malformed)?;
    }
    Ok(Packet {
        flow,
        l3,
        ip_len,
        tcp_flags,
        filter_bit,
    })
}

/// Why an IPv4 header the fast path refused was refused, from its first
/// byte (version and header length), fragment field and total length.
#[inline(always)]
fn ipv4_reason(vihl: u8, frags: u16, total: u16, available: usize) -> PassReason {
    if vihl >> 4 != 4 || vihl & 0x0F < 5 || usize::from(total) > available {
        PassReason::Malformed
    } else if frags & IPV4_FRAG_MASK != 0 {
        PassReason::Fragment
    } else {
        PassReason::IpOptions
    }
}

/// Why a packet to a VIP address whose next protocol `proto` is neither
/// TCP nor UDP was refused.
#[inline(always)]
fn transport_reason(family: u8, proto: u8) -> PassReason {
    // A volatile read keeps the compiler from merging these tests into the
    // TCP/UDP switch of the accepted path (measured: it otherwise adds
    // branches and spills there).
    // SAFETY: a read of a local.
    let proto = unsafe { core::ptr::read_volatile(&proto) };
    if family != FAMILY_IPV6 {
        PassReason::NotTcpUdp
    } else if proto == IPPROTO_FRAGMENT {
        PassReason::Fragment
    } else if IPV6_EXTENSIONS.contains(&proto) {
        PassReason::IpOptions
    } else {
        PassReason::NotTcpUdp
    }
}
