//! Mastership over time, as the adverts on the wire tell it: for one fault
//! and one VRID, the longest stretch with two masters after the heal and
//! the longest stretch with none.
//!
//! A node is master while it advertises: its adverts form a stream as long
//! as no two follow each other by more than [`STREAM_GAP`] advert intervals
//! (a backup would have taken over by then), and the stream spans its first
//! to its last advert. Two streams of one VRID overlapping means two
//! masters. No master is a gap between adverts (of anyone) longer than the
//! advert interval, less that interval.
use std::{
    collections::BTreeMap,
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use super::observer::Advert;

/// Adverts further apart than this many intervals end a stream.
const STREAM_GAP: f64 = 3.5;

/// One fault's window: adverts from `from` (a little before the fault) to
/// `end` (convergence plus a settling interval); the fault healed at `heal`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// When the fault was applied.
    pub fault: Instant,
    /// When it was healed.
    pub heal: Instant,
    /// The end of the observation.
    pub end: Instant,
    /// The advert interval.
    pub advert: Duration,
}

/// What the adverts of one VRID say about one fault's window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mastership {
    /// Longest time two nodes advertised at once after the heal.
    pub dual_after_heal: Duration,
    /// Longest time nobody advertised (beyond one interval) from the fault on.
    pub no_master: Duration,
}

/// [`Mastership`] of `vrid` in `window`, from `adverts` (those of the
/// window, starting a few intervals before the fault).
pub fn mastership(adverts: &[Advert], vrid: u8, window: &Window) -> Mastership {
    let mut times: Vec<(Instant, Ipv4Addr)> = adverts
        .iter()
        .filter(|a| a.vrid == vrid && a.priority > 0 && a.at <= window.end)
        .map(|a| (a.at, a.src))
        .collect();
    times.sort();
    Mastership {
        dual_after_heal: dual(&streams(&times, window.advert), window),
        no_master: no_master(&times, window),
    }
}

/// The streams of each sender: `(sender, first, last)`.
fn streams(times: &[(Instant, Ipv4Addr)], advert: Duration) -> Vec<(Ipv4Addr, Instant, Instant)> {
    let gap = advert.mul_f64(STREAM_GAP);
    let mut open: BTreeMap<Ipv4Addr, (Instant, Instant)> = BTreeMap::new();
    let mut done = Vec::new();
    for &(at, src) in times {
        match open.get_mut(&src) {
            Some((_, last)) if at - *last <= gap => *last = at,
            Some(stream) => {
                done.push((src, stream.0, stream.1));
                *stream = (at, at);
            }
            None => drop(open.insert(src, (at, at))),
        }
    }
    done.extend(
        open.into_iter()
            .map(|(src, (first, last))| (src, first, last)),
    );
    done
}

/// The longest overlap of two senders' streams after the heal.
fn dual(streams: &[(Ipv4Addr, Instant, Instant)], window: &Window) -> Duration {
    let mut longest = Duration::ZERO;
    for (i, a) in streams.iter().enumerate() {
        for b in streams[i + 1..].iter().filter(|b| b.0 != a.0) {
            let from = a.1.max(b.1).max(window.heal);
            let to = a.2.min(b.2).min(window.end);
            longest = longest.max(to.saturating_duration_since(from));
        }
    }
    longest
}

/// The longest gap between adverts (from the fault to the end), less one
/// interval; the whole window when there was no advert at all.
fn no_master(times: &[(Instant, Ipv4Addr)], window: &Window) -> Duration {
    if times.is_empty() {
        return window.end.saturating_duration_since(window.fault);
    }
    let instants: Vec<Instant> = times.iter().map(|t| t.0).chain([window.end]).collect();
    instants
        .windows(2)
        .filter(|w| w[1] > window.fault)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .max()
        .unwrap_or_default()
        .saturating_sub(window.advert)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Adverts of VRID 51 from `src` at each of `at` (ms after `t0`).
    fn from(t0: Instant, src: Ipv4Addr, at: &[u64]) -> Vec<Advert> {
        at.iter()
            .map(|&n| Advert {
                at: t0 + ms(n),
                vrid: 51,
                src,
                priority: 100,
            })
            .collect()
    }

    fn window(t0: Instant, fault: u64, heal: u64, end: u64) -> Window {
        Window {
            fault: t0 + ms(fault),
            heal: t0 + ms(heal),
            end: t0 + ms(end),
            advert: ms(500),
        }
    }

    #[test]
    fn a_failover_has_a_gap_and_no_overlap() {
        let t0 = Instant::now();
        // A advertises until 1000, B takes over at 2800 (master down).
        let mut adverts = from(t0, A, &[0, 500, 1000]);
        adverts.extend(from(t0, B, &[2800, 3300, 3800]));
        let m = mastership(&adverts, 51, &window(t0, 1100, 3000, 4000));
        assert_eq!(m.dual_after_heal, Duration::ZERO);
        assert_eq!(m.no_master, ms(1800 - 500));
    }

    #[test]
    fn a_partition_overlaps_until_the_loser_stops() {
        let t0 = Instant::now();
        let mut adverts = from(t0, A, &[0, 500, 1000, 1500, 2000, 2500, 3000]);
        // B became master at 1800 during the partition, healed at 2200;
        // its last advert is at 2300.
        adverts.extend(from(t0, B, &[1800, 2300]));
        let m = mastership(&adverts, 51, &window(t0, 100, 2200, 3000));
        assert_eq!(m.dual_after_heal, ms(100));
        // Other VRIDs and priority-0 resignations do not count.
        let mut other = adverts.clone();
        other.iter_mut().for_each(|a| a.vrid = 52);
        assert_eq!(
            mastership(&other, 51, &window(t0, 100, 2200, 3000)).no_master,
            ms(2900)
        );
    }

    #[test]
    fn separate_streams_of_one_node_do_not_overlap_with_themselves() {
        let t0 = Instant::now();
        let adverts = from(t0, A, &[0, 500, 4000, 4500]);
        let m = mastership(&adverts, 51, &window(t0, 600, 700, 5000));
        assert_eq!(m.dual_after_heal, Duration::ZERO);
        assert_eq!(m.no_master, ms(3000));
    }
}
