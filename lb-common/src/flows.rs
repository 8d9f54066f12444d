//! The connection table (`lb_flows`): a set-associative cache in an array
//! map, shared by every CPU. A flow's 64-bit hash ([`flow_hash`]) picks its
//! set ([`flow_set`]), one 64-byte cache line of [`FLOW_WAYS`] entries, and
//! is the entry's key: a lookup reads one line and compares hashes; a new
//! flow overwrites an empty entry of that line, else the one seen longest
//! ago. No lock, no list, no allocation.
//!
//! Entries are written without a lock: an entry's second word carries a
//! check byte derived from the hash ([`FlowEntry::holds`]), so an entry torn
//! by two CPUs writing the same way at once (the first word from one flow,
//! the second from another) matches neither flow instead of sending one of
//! them to the other's real server.

/// Entries per set: 16-byte entries in a 64-byte line.
pub const FLOW_WAYS: usize = 4;

/// [`FlowEntry::state`] bit: the client closed the flow (FIN or RST seen),
/// so it no longer counts in [`crate::CONNS_MAP`].
pub const FLOW_CLOSED: u8 = 1;
/// [`FlowEntry::state`] bit: the flow counts in [`crate::CONNS_MAP`] (its
/// service schedules by `lc`/`wlc`; no other scheduler reads the counts,
/// so their flows leave them alone).
pub const FLOW_COUNTED: u8 = 2;

/// One flow: its hash and its assignment, two 8-byte words.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowEntry {
    /// [`flow_hash`] of the flow's 5-tuple; 0: the entry is empty.
    pub hash: u64,
    /// Real id the flow is sent to.
    pub real: u16,
    /// Id of the service the flow belongs to (its `vip_stats` entry).
    pub service: u8,
    /// [`FLOW_CLOSED`], [`FLOW_COUNTED`].
    pub state: u8,
    /// The low 16 bits of [`crate::GENERATIONS_MAP`]`[service]` when the
    /// entry was written: while they still match, the program forwards the
    /// flow without looking the service up.
    pub generation: u16,
    /// When the flow was last seen, in the program's coarse clock (about a
    /// second a tick, wrapping): the set's victim is the entry seen longest
    /// ago.
    pub seen: u8,
    /// [`flow_check`] of `hash`: binds the second word to the first.
    pub check: u8,
}

/// One set: a cache line of entries.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowSet {
    /// The entries, in no particular order.
    pub ways: [FlowEntry; FLOW_WAYS],
}

impl FlowEntry {
    /// Whether this entry is the flow whose hash is `hash`.
    #[inline(always)]
    pub const fn holds(&self, hash: u64) -> bool {
        self.hash == hash && self.check == flow_check(hash)
    }

    /// Whether the entry still counts as a connection of its real server.
    #[inline(always)]
    pub const fn counted(&self) -> bool {
        self.state & (FLOW_COUNTED | FLOW_CLOSED) == FLOW_COUNTED
    }
}

/// The check byte of an entry of hash `hash` (bits the set index does not
/// use, and not bit 0, which is always set).
#[inline(always)]
pub const fn flow_check(hash: u64) -> u8 {
    (hash >> 8) as u8
}

/// The set of hash `hash` in a table of `mask + 1` sets (a power of two).
#[inline(always)]
pub const fn flow_set(hash: u64, mask: u32) -> u32 {
    (hash >> 32) as u32 & mask
}

/// The number of sets of a table of at least `entries` entries (a power of
/// two, at least one).
pub const fn flow_sets(entries: u32) -> u32 {
    let sets = entries.div_ceil(FLOW_WAYS as u32);
    if sets <= 1 {
        1
    } else {
        match sets.checked_next_power_of_two() {
            Some(sets) => sets,
            None => 1 << 31,
        }
    }
}

/// Per-word salts of [`flow_hash`] (hexadecimal digits of pi).
const SALT: [u64; 5] = [
    0x243F_6A88_85A3_08D3,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C89,
    0x4528_21E6_38D0_1377,
];
/// Per-word odd multipliers of [`flow_hash`] (published mixing constants:
/// the golden ratio's, SplitMix64's two, degski64's and wyhash's).
const MUL: [u64; 5] = [
    0x9E37_79B9_7F4A_7C15,
    0xBF58_476D_1CE4_E5B9,
    0x94D0_49BB_1331_11EB,
    0xD6E8_FEB8_6659_FD93,
    0xA076_1D64_78BD_642F,
];

/// The flow hash of a 5-tuple: the key of its entry and (its bits 32 and
/// up) its set. Never 0 (bit 0 is always set).
///
/// Each 8-byte word of the key is salted and mixed on its own by
/// [`mix_word`] (a bijection with full avalanche, a multiplier of its own
/// per word), and the five results are XORed. The words' mixes do not wait
/// for each other, so a CPU runs them side by side: the hash costs two
/// multiplies of latency where a chain of seven stood before (the set, and
/// everything after it, waits for the hash). On IPv4 two of the words are
/// zero and their mixes fold into a constant. Two flows that differ in one
/// word never share a hash (bit 0 aside); differences in several words
/// cancel only by a 64-bit coincidence, since each word's difference is
/// spread over all 64 bits before the XOR (a single multiply is not
/// enough: it leaves a difference in a word's top byte in the top byte).
#[inline(always)]
pub fn flow_hash(key: &crate::FlowKey) -> u64 {
    // SAFETY: FlowKey is 40 bytes of plain data (explicit padding), 8-byte
    // aligned.
    let words: [u64; 5] = unsafe { core::mem::transmute(*key) };
    let mut h = 0;
    let mut i = 0;
    while i < 5 {
        h ^= mix_word(words[i] ^ SALT[i], MUL[i]);
        i += 1;
    }
    h | 1
}

/// One key word's mix: xorshift, multiply by `mul`, xorshift, multiply,
/// xorshift (SplitMix64's finalizer's shape). Every step is a bijection.
#[inline(always)]
const fn mix_word(mut x: u64, mul: u64) -> u64 {
    x ^= x >> 32;
    x = x.wrapping_mul(mul);
    x ^= x >> 29;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 32)
}

const _: () = assert!(core::mem::size_of::<FlowEntry>() * FLOW_WAYS == 64);
const _: () = assert!(core::mem::size_of::<FlowSet>() == 64);
const _: () = assert!(core::mem::size_of::<crate::FlowKey>() == 40);
// Real and service ids fit the entry's fields.
const _: () = assert!(crate::MAX_REALS <= 1 << 16 && crate::MAX_SERVICES <= 1 << 8);

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::{widen_v4, FlowKey, FAMILY_IPV4};

    fn key(client: u32, sport: u16) -> FlowKey {
        FlowKey {
            src: widen_v4(client.to_be_bytes()),
            dst: widen_v4([192, 0, 2, 50]),
            sport,
            dport: 80,
            proto: 6,
            family: FAMILY_IPV4,
            pad: [0; 2],
        }
    }

    #[test]
    fn hashes_are_distinct_and_spread_over_sets() {
        const MASK: u32 = 1023;
        let mut hashes = std::collections::BTreeSet::new();
        let mut sets = [0u32; MASK as usize + 1];
        for client in 0..64u32 {
            for sport in 0..1024u16 {
                let h = flow_hash(&key(0xC633_6400 + client, 1024 + sport));
                assert_eq!(h & 1, 1);
                assert!(hashes.insert(h), "two flows share hash {h:#x}");
                sets[flow_set(h, MASK) as usize] += 1;
            }
        }
        // 65,536 flows over 1,024 sets: 64 each on average.
        assert!(sets.iter().all(|&n| (24..110).contains(&n)), "{sets:?}");
    }

    #[test]
    fn ipv6_clients_differing_in_their_last_bytes_spread_over_sets() {
        // The last two bytes of an IPv6 address are the top bits of a key
        // word: a multiply alone would leave them out of the set index.
        const MASK: u32 = 1023;
        let mut sets = [0u32; MASK as usize + 1];
        for client in 0..65536u32 {
            let mut key = key(0, 443);
            key.family = crate::FAMILY_IPV6;
            key.src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            key.src[14..].copy_from_slice(&(client as u16).to_be_bytes());
            key.dst = [
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50,
            ];
            sets[flow_set(flow_hash(&key), MASK) as usize] += 1;
        }
        assert!(sets.iter().all(|&n| (24..110).contains(&n)), "{sets:?}");
    }

    #[test]
    fn flows_differing_in_the_top_bytes_of_two_words_have_distinct_hashes() {
        // Byte 7 of an address (an IPv6 subnet's last byte) is the top byte
        // of a key word: a hash that multiplies each word once and XORs the
        // products lets such differences in two words cancel (the xdp-fuzz
        // harness found a packet for no VIP matching a VIP's flow so).
        let mut hashes = std::collections::BTreeSet::new();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let mut key = key(0, 443);
                key.family = crate::FAMILY_IPV6;
                key.src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, a, 0, 0, 0, 0, 0, 0, 1, 3];
                key.dst = [
                    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, b, 0, 0, 0, 0, 0, 0, 0, 0x50,
                ];
                let h = flow_hash(&key);
                assert!(
                    hashes.insert(h),
                    "src byte 7 {a}, dst byte 7 {b}: hash {h:#x} again"
                );
            }
        }
    }

    #[test]
    fn every_field_of_the_key_changes_the_hash() {
        let base = key(0xC633_6401, 40000);
        let mut variants = [base; 6];
        variants[0].src[15] = 1;
        variants[1].dst[3] = 51;
        variants[2].sport = 40001;
        variants[3].dport = 81;
        variants[4].proto = 17;
        variants[5].family = 6;
        for v in variants {
            assert_ne!(flow_hash(&v), flow_hash(&base), "{v:?}");
        }
        // Known value pins the function: a daemon adopting the pinned table
        // of a previous run must find its flows where that run put them.
        assert_eq!(flow_hash(&base), PINNED);
    }

    const PINNED: u64 = 0x5ae2_7fd6_cbad_c817;

    #[test]
    fn a_torn_entry_holds_neither_flow() {
        let (a, b) = (flow_hash(&key(1, 1)), flow_hash(&key(2, 2)));
        let torn = FlowEntry {
            hash: a,
            check: flow_check(b),
            ..FlowEntry::default()
        };
        assert_ne!(flow_check(a), flow_check(b));
        assert!(!torn.holds(a) && !torn.holds(b));
        assert!(!FlowEntry::default().holds(a));
    }

    #[test]
    fn set_counts_are_powers_of_two() {
        assert_eq!(flow_sets(0), 1);
        assert_eq!(flow_sets(1), 1);
        assert_eq!(flow_sets(4), 1);
        assert_eq!(flow_sets(5), 2);
        assert_eq!(flow_sets(262_144), 65_536);
        assert_eq!(flow_sets(300_000), 131_072);
        assert_eq!(flow_sets(u32::MAX), 1 << 30);
    }
}
