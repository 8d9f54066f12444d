//! Benchmark feeding: live-frame benchmarks (`BPF_F_TEST_XDP_LIVE_FRAMES`)
//! recycle each frame with what the program (or, for frames passed to it,
//! the kernel's stack) wrote into it, so the same 5-tuple comes back every
//! time, and a frame the stack forwarded comes back addressed to a real
//! server. [`restore`] copies the frame's headers back from the template
//! the loader set; [`fresh_source`] gives a frame a new source port and
//! last source address octet (random: no state, no map) with both
//! checksums kept valid, so every frame is a new flow to the fast path and
//! to conntrack alike.
use aya_ebpf::{helpers::bpf_get_prandom_u32, programs::XdpContext};
use lb_common::FEED_FRAME_LEN;

use crate::parse::{ptr_at, ETH_P_IP};

/// The first bytes of the frame to restore (`lb_common::FEED_FRAME_GLOBAL`),
/// read-only data the loader sets; all zero restores nothing.
#[no_mangle]
static LB_FEED_FRAME: [u8; FEED_FRAME_LEN] = [0; FEED_FRAME_LEN];

/// Writes [`LB_FEED_FRAME`] over the frame's first bytes, if it is set and
/// the frame that long.
#[inline(always)]
pub fn restore(ctx: &XdpContext) {
    const WORDS: usize = FEED_FRAME_LEN / 8;
    let Some(to) = ptr_at::<[u64; WORDS]>(ctx, 0) else {
        return;
    };
    // SAFETY: a volatile read of the global (the loader rewrites it, so
    // its default must not be folded in) and a write that `ptr_at` checked
    // lies inside the frame, at any alignment.
    unsafe {
        let from = core::ptr::read_volatile(&LB_FEED_FRAME);
        let words: [u64; WORDS] = core::mem::transmute(from);
        if words[0] != 0 {
            to.write_unaligned(words);
        }
    }
}

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Gives an untagged IPv4 TCP or UDP frame without IP options (and of 54
/// bytes at least) a random source port and last source address octet,
/// updating the IPv4 and transport checksums; any other frame is left
/// alone.
#[inline(always)]
pub fn fresh_source(ctx: &XdpContext) {
    let Some(eth) = ptr_at::<[u8; 14]>(ctx, 0) else {
        return;
    };
    let Some(ip) = ptr_at::<[u8; 20]>(ctx, 14) else {
        return;
    };
    // SAFETY: `ptr_at` checked that both headers lie inside the frame.
    unsafe {
        if u16::from_be_bytes([(*eth)[12], (*eth)[13]]) != ETH_P_IP || (*ip)[0] != 0x45 {
            return;
        }
        let check_at = match (*ip)[9] {
            IPPROTO_TCP => 16,
            IPPROTO_UDP => 6,
            _ => return,
        };
        let Some(l4) = ptr_at::<[u8; 20]>(ctx, 34) else {
            return;
        };
        let random = bpf_get_prandom_u32();
        // The source address's last two bytes (IPv4 header bytes 14-15) and
        // the source port, as words as they lie in the frame: the one's
        // complement sum does not depend on byte order as long as every
        // word is taken alike.
        let word = |p: *const u8| p.cast::<u16>().read_unaligned();
        let put = |p: *mut u8, v: u16| p.cast::<u16>().write_unaligned(v);
        let old_addr = word(&(*ip)[14]);
        let new_addr = u16::from_ne_bytes([(*ip)[14], (random >> 16) as u8]);
        let old_port = word(&(*l4)[0]);
        let new_port = random as u16;
        put(&mut (*ip)[14], new_addr);
        put(&mut (*l4)[0], new_port);
        let ip_check = word(&(*ip)[10]);
        put(&mut (*ip)[10], replace(ip_check, old_addr, new_addr));
        let l4_check = word(&(*l4)[check_at]);
        // A UDP checksum of 0 means none.
        if check_at == 16 || l4_check != 0 {
            let sum = replace(replace(l4_check, old_addr, new_addr), old_port, new_port);
            put(&mut (*l4)[check_at], sum);
        }
    }
}

/// A checksum `check` after one of the words it covers went from `old` to
/// `new` (RFC 1624, eqn. 3).
#[inline(always)]
fn replace(check: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!check) + u32::from(!old) + u32::from(new);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    !(sum as u16)
}
