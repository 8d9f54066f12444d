//! Building a service's scheduling table (pure): which real servers it has
//! and the ring the XDP program indexes. Weights are expressed by
//! repetition in the ring:
//! * `rr`: each server once; `wrr`: IPVS's interleaved weighted sequence;
//! * `sh`: IPVS's 256 source-hash buckets, each server taking `weight`
//!   consecutive buckets per turn;
//! * `mh`: a Maglev lookup table whose size is the smallest prime >= 100 x
//!   servers, each server taking `weight` turns per round;
//! * `lc`/`wlc`: no ring (the program compares connections per weight).
//!
//! `sh` and `mh` order servers by address and port first, so two directors
//! with the same servers build the same table whatever their configuration
//! order or real ids: a flow keeps its server when the other director takes
//! over.
use std::{fmt, net::IpAddr};

use lb_common::{
    hash_addr_port, SchedTable, MAX_BACKENDS, RING_MAX, SCHED_LC, SCHED_MH, SCHED_RR, SCHED_SH,
    SCHED_WRR,
};

use crate::config::LbAlgo;

/// IPVS's source-hash table size (`IP_VS_SH_TAB_SIZE`).
const SH_BUCKETS: usize = 256;

/// The schedulers the fast path runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    /// Round robin.
    Rr,
    /// Weighted round robin.
    Wrr,
    /// Least connections.
    Lc,
    /// Weighted least connections.
    Wlc,
    /// Source hashing.
    Sh,
    /// Maglev hashing.
    Mh,
}

impl Scheduler {
    /// The fast-path scheduler for `lb_algo`, if there is one.
    pub fn of(algo: LbAlgo) -> Option<Scheduler> {
        Some(match algo {
            LbAlgo::Rr => Scheduler::Rr,
            LbAlgo::Wrr => Scheduler::Wrr,
            LbAlgo::Lc => Scheduler::Lc,
            LbAlgo::Wlc => Scheduler::Wlc,
            LbAlgo::Sh => Scheduler::Sh,
            LbAlgo::Mh => Scheduler::Mh,
            _ => return None,
        })
    }

    /// The `SCHED_*` code the program switches on.
    pub fn code(self) -> u8 {
        match self {
            Scheduler::Rr => SCHED_RR,
            Scheduler::Wrr => SCHED_WRR,
            Scheduler::Lc | Scheduler::Wlc => SCHED_LC,
            Scheduler::Sh => SCHED_SH,
            Scheduler::Mh => SCHED_MH,
        }
    }
}

/// One real server of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its real id in the program's maps.
    pub real: u32,
    /// Scheduling weight (0: takes no new flows, left out).
    pub weight: u32,
    /// Address, for the hashing schedulers' stable order and Maglev's
    /// permutations.
    pub addr: IpAddr,
    /// Port, as `addr`.
    pub port: u16,
}

/// A service has more real servers than a table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyServers(pub usize);

impl fmt::Display for TooManyServers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} real servers with a weight; the fast path holds at most {MAX_BACKENDS} per service",
            self.0
        )
    }
}

impl std::error::Error for TooManyServers {}

/// The table of a service scheduled by `sched` over `members`.
pub fn build(sched: Scheduler, members: &[Member]) -> Result<Box<SchedTable>, TooManyServers> {
    let mut serving: Vec<Member> = members.iter().copied().filter(|m| m.weight > 0).collect();
    if serving.len() > MAX_BACKENDS {
        return Err(TooManyServers(serving.len()));
    }
    if matches!(sched, Scheduler::Sh | Scheduler::Mh) {
        serving.sort_by_key(|m| (m.addr, m.port));
    }
    let mut table = Box::<SchedTable>::default();
    table.count = serving.len() as u32;
    for (i, m) in serving.iter().enumerate() {
        table.reals[i] = m.real;
        table.weights[i] = match sched {
            Scheduler::Lc => 1,
            _ => m.weight,
        };
    }
    if serving.is_empty() {
        return Ok(table);
    }
    let weights = serving.iter().map(|m| m.weight);
    let ring = match sched {
        Scheduler::Rr | Scheduler::Lc | Scheduler::Wlc => (0..serving.len()).collect(),
        Scheduler::Wrr => weighted_round_robin(&reduced(weights, RING_MAX)),
        Scheduler::Sh => source_hash_buckets(&reduced(weights, SH_BUCKETS)),
        Scheduler::Mh => maglev(&serving, &reduced(weights, RING_MAX)),
    };
    table.len = ring.len() as u32;
    for (slot, position) in table.ring.iter_mut().zip(ring) {
        *slot = position as u16;
    }
    Ok(table)
}

/// `weights` divided by their greatest common divisor, then scaled down
/// (keeping every weight >= 1) so that their sum fits `capacity` slots and
/// every server keeps at least one.
fn reduced(weights: impl Iterator<Item = u32>, capacity: usize) -> Vec<u32> {
    let weights: Vec<u32> = weights.collect();
    let divisor = weights.iter().copied().fold(0, gcd).max(1);
    let mut reduced: Vec<u32> = weights.iter().map(|w| w / divisor).collect();
    let sum: u64 = reduced.iter().map(|&w| u64::from(w)).sum();
    if sum > capacity as u64 {
        let scale = (capacity - weights.len()) as f64 / sum as f64;
        reduced = reduced
            .iter()
            .map(|&w| ((f64::from(w) * scale).floor() as u32).max(1))
            .collect();
    }
    reduced
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// IPVS's `wrr` sequence: the current weight starts at the maximum and
/// drops by one (weights are already reduced) each pass; a pass picks, in
/// order, every server whose weight reaches it.
fn weighted_round_robin(weights: &[u32]) -> Vec<usize> {
    let max = weights.iter().copied().max().unwrap_or(0);
    let mut ring = Vec::new();
    for current in (1..=max).rev() {
        ring.extend((0..weights.len()).filter(|&i| weights[i] >= current));
        if ring.len() >= RING_MAX {
            ring.truncate(RING_MAX);
            break;
        }
    }
    ring
}

/// IPVS's `sh` buckets: servers in turn, each filling `weight` consecutive
/// buckets per turn.
fn source_hash_buckets(weights: &[u32]) -> Vec<usize> {
    let mut ring = Vec::with_capacity(SH_BUCKETS);
    'fill: loop {
        for (i, &w) in weights.iter().enumerate() {
            for _ in 0..w {
                if ring.len() == SH_BUCKETS {
                    break 'fill;
                }
                ring.push(i);
            }
        }
    }
    ring
}

/// The Maglev lookup table (Eisenbud et al., NSDI 2016, section 3.4) with
/// weighted turns.
fn maglev(members: &[Member], weights: &[u32]) -> Vec<usize> {
    let size = RING_MAX;
    let mut next: Vec<usize> = vec![0; members.len()];
    let permutation: Vec<(usize, usize)> = members
        .iter()
        .map(|m| {
            let key = key_bytes(m.addr);
            let offset = hash_addr_port(&key, m.port) as usize % size;
            let skip = hash_addr_port(&key, !m.port) as usize % (size - 1) + 1;
            (offset, skip)
        })
        .collect();
    let mut ring: Vec<Option<usize>> = vec![None; size];
    let mut filled = 0;
    while filled < size {
        for (i, &(offset, skip)) in permutation.iter().enumerate() {
            for _ in 0..weights[i] {
                let slot = loop {
                    let slot = (offset + next[i] * skip) % size;
                    next[i] += 1;
                    if ring[slot].is_none() {
                        break slot;
                    }
                };
                ring[slot] = Some(i);
                filled += 1;
                if filled == size {
                    return ring.into_iter().map(|s| s.unwrap_or(0)).collect();
                }
            }
        }
    }
    ring.into_iter().map(|s| s.unwrap_or(0)).collect()
}

/// An address in the program's 16-byte key layout.
pub fn key_bytes(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(a) => lb_common::widen_v4(a.octets()),
        IpAddr::V6(a) => a.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn members(weights: &[u32]) -> Vec<Member> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| Member {
                real: 100 + i as u32,
                weight,
                addr: IpAddr::from([192, 0, 2, 11 + i as u8]),
                port: 80,
            })
            .collect()
    }

    fn shares(table: &SchedTable) -> Vec<usize> {
        let mut counts = vec![0; table.count as usize];
        for &p in &table.ring[..table.len as usize] {
            counts[p as usize] += 1;
        }
        counts
    }

    #[test]
    fn rr_lists_each_server_once_and_skips_weight_zero() {
        let t = build(Scheduler::Rr, &members(&[1, 0, 5])).unwrap();
        assert_eq!((t.count, t.len), (2, 2));
        assert_eq!(&t.reals[..2], &[100, 102]);
        assert_eq!(&t.ring[..2], &[0, 1]);
    }

    #[test]
    fn wrr_interleaves_like_ipvs() {
        // IPVS with weights 4, 3, 2: a a b a b c a b c.
        let t = build(Scheduler::Wrr, &members(&[4, 3, 2])).unwrap();
        assert_eq!(&t.ring[..t.len as usize], &[0, 0, 1, 0, 1, 2, 0, 1, 2]);
        // Common divisors do not lengthen the ring.
        let t = build(Scheduler::Wrr, &members(&[200, 100])).unwrap();
        assert_eq!(&t.ring[..t.len as usize], &[0, 0, 1]);
    }

    #[test]
    fn lc_uses_weight_one_and_wlc_the_weights() {
        let lc = build(Scheduler::Lc, &members(&[3, 2])).unwrap();
        assert_eq!(&lc.weights[..2], &[1, 1]);
        let wlc = build(Scheduler::Wlc, &members(&[3, 2])).unwrap();
        assert_eq!(&wlc.weights[..2], &[3, 2]);
        assert_eq!(wlc.len, 2);
    }

    #[test]
    fn sh_fills_256_buckets_by_weight() {
        let t = build(Scheduler::Sh, &members(&[1, 3])).unwrap();
        assert_eq!(t.len, 256);
        assert_eq!(&t.ring[..5], &[0, 1, 1, 1, 0]);
        assert_eq!(shares(&t), vec![64, 192]);
    }

    #[test]
    fn maglev_table_is_prime_sized_balanced_and_order_independent() {
        let t = build(Scheduler::Mh, &members(&[1, 1, 1])).unwrap();
        assert_eq!(t.len as usize, RING_MAX);
        assert!((2..RING_MAX)
            .take_while(|d| d * d <= RING_MAX)
            .all(|d| !RING_MAX.is_multiple_of(d)));
        const { assert!(RING_MAX >= 100 * MAX_BACKENDS) };
        for share in shares(&t) {
            assert!((2130..=2150).contains(&share), "{:?}", shares(&t));
        }
        let mut reversed = members(&[1, 1, 1]);
        reversed.reverse();
        for m in &mut reversed {
            m.real += 50; // other ids on the other director
        }
        let other = build(Scheduler::Mh, &reversed).unwrap();
        assert_eq!(t.ring, other.ring);
    }

    #[test]
    fn too_many_servers_is_an_error() {
        let err = build(Scheduler::Rr, &members(&[1; MAX_BACKENDS + 1])).unwrap_err();
        assert!(err.to_string().contains("at most 64"), "{err}");
    }

    proptest! {
        #[test]
        fn maglev_moves_only_the_removed_servers_flows(n in 2usize..12, gone in 0usize..12) {
            let gone = gone % n;
            let all = members(&vec![1; n]);
            let before = build(Scheduler::Mh, &all).unwrap();
            let mut rest = all.clone();
            rest.remove(gone);
            let after = build(Scheduler::Mh, &rest).unwrap();
            let real_at = |t: &SchedTable, slot: usize| t.reals[t.ring[slot] as usize];
            let size = RING_MAX;
            let kept = (0..size)
                .filter(|&s| real_at(&before, s) != all[gone].real)
                .filter(|&s| real_at(&before, s) == real_at(&after, s))
                .count();
            let survivors = (0..size).filter(|&s| real_at(&before, s) != all[gone].real).count();
            // Maglev's promise: nearly every slot of a surviving server stays.
            prop_assert!(kept * 100 >= survivors * 90, "kept {} of {}", kept, survivors);
        }

        #[test]
        fn every_table_references_only_serving_members(weights in proptest::collection::vec(0u32..300, 1..40)) {
            for sched in [Scheduler::Rr, Scheduler::Wrr, Scheduler::Sh, Scheduler::Mh, Scheduler::Wlc] {
                let t = build(sched, &members(&weights)).unwrap();
                let serving = weights.iter().filter(|&&w| w > 0).count();
                prop_assert_eq!(t.count as usize, serving);
                prop_assert!(t.len as usize <= RING_MAX);
                prop_assert_eq!(t.len == 0, serving == 0);
                prop_assert!(t.ring[..t.len as usize].iter().all(|&p| (p as u32) < t.count));
                if sched == Scheduler::Wrr || sched == Scheduler::Sh {
                    // every serving member appears
                    let mut seen = vec![false; serving];
                    for &p in &t.ring[..t.len as usize] { seen[p as usize] = true; }
                    prop_assert!(seen.iter().all(|&s| s));
                }
            }
        }
    }
}
