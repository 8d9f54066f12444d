//! The VIP pre-filter: a bitmap indexed by a hash of the destination
//! address, read before any transport parsing. A clear bit means "no
//! service on this address", so most traffic for other destinations leaves
//! after one array read; a set bit is only a hint (addresses may share a
//! bit), confirmed by the service lookup. A second bitmap marks addresses
//! with an "all ports" (port 0) service, so the program looks that service
//! up only where one may exist.

/// Bits in each bitmap.
pub const FILTER_BITS: u32 = 1 << 12;
/// 64-bit words in each bitmap; [`crate::FILTER_MAP`] holds the "any
/// service" bitmap in words `0..FILTER_WORDS` and the "all ports" bitmap in
/// `FILTER_WORDS..2 * FILTER_WORDS`.
pub const FILTER_WORDS: u32 = FILTER_BITS / 64;

/// The bit of an address given as the four little-endian words of its
/// 16-byte key layout (what the program loads from the packet).
#[inline(always)]
pub const fn filter_bit(words: [u32; 4]) -> u32 {
    let folded = words[0] ^ words[1] ^ words[2] ^ words[3];
    // Fibonacci hashing: the high bits of the product mix every input bit.
    folded.wrapping_mul(0x9E37_79B1) >> (32 - FILTER_BITS.trailing_zeros())
}

/// [`filter_bit`] of an address in the 16-byte key layout.
pub const fn filter_bit_of(addr: &[u8; 16]) -> u32 {
    filter_bit([word(addr, 0), word(addr, 4), word(addr, 8), word(addr, 12)])
}

const fn word(a: &[u8; 16], i: usize) -> u32 {
    u32::from_le_bytes([a[i], a[i + 1], a[i + 2], a[i + 3]])
}
