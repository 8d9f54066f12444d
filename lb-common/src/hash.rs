//! The flow hash used by the `sh` and `mh` schedulers. Shared so that the
//! daemon's tests and both directors compute exactly what the program does:
//! MurmurHash3's 32-bit mixing (written here because it must compile for
//! the BPF target and stay within what the verifier accepts).

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;
const SEED: u32 = 0x6c62_2d78;

#[inline(always)]
const fn mix(h: u32, word: u32) -> u32 {
    let k = word.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    (h ^ k)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

#[inline(always)]
const fn finish(mut h: u32, len: u32) -> u32 {
    h ^= len;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[inline(always)]
const fn word(a: &[u8; 16], i: usize) -> u32 {
    u32::from_le_bytes([a[i], a[i + 1], a[i + 2], a[i + 3]])
}

/// Hash of an address in the 16-byte key layout (`sh`: the client address).
#[inline(always)]
pub const fn hash_addr(addr: &[u8; 16]) -> u32 {
    let h = mix(SEED, word(addr, 0));
    let h = mix(h, word(addr, 4));
    let h = mix(h, word(addr, 8));
    finish(mix(h, word(addr, 12)), 16)
}

/// Hash of an address and port (`mh`: the client address and port).
#[inline(always)]
pub const fn hash_addr_port(addr: &[u8; 16], port: u16) -> u32 {
    let h = mix(SEED, word(addr, 0));
    let h = mix(h, word(addr, 4));
    let h = mix(h, word(addr, 8));
    let h = mix(h, word(addr, 12));
    finish(mix(h, port as u32), 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: (u32, u32) = (2_683_849_649, 2_168_056_038);

    #[test]
    fn hashes_spread_and_depend_on_every_input() {
        let a = [192, 0, 2, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut b = a;
        b[3] = 101;
        assert_ne!(hash_addr(&a), hash_addr(&b));
        assert_ne!(hash_addr_port(&a, 1000), hash_addr_port(&a, 1001));
        // Known values pin the function: changing it changes every
        // director's Maglev choices, which must then change together.
        assert_eq!(hash_addr_port(&a, 1000), PINNED.0);
        assert_eq!(hash_addr(&a), PINNED.1);
        let buckets = (0..10_000u16).fold([0u32; 8], |mut acc, p| {
            acc[(hash_addr_port(&a, p) % 8) as usize] += 1;
            acc
        });
        assert!(
            buckets.iter().all(|&n| (1000..1500).contains(&n)),
            "{buckets:?}"
        );
    }
}
