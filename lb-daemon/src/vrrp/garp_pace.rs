//! Pacing of gratuitous ARPs and unsolicited NAs (`vrrp_garp_interval`,
//! `vrrp_gna_interval`): as in keepalived, two packets of one kind sent on
//! one interface are at least the interval apart, whichever instance sends
//! them; a packet due earlier waits in its burst's queue. Pure slot
//! arithmetic plus the process-wide table of interfaces' next free slots.
use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
    time::Duration,
};

use tokio::time::Instant;

/// Which announcements a pacer spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Gratuitous ARP.
    Arp,
    /// Unsolicited neighbour advertisement.
    Na,
}

/// The next free send slot of one interface and kind.
#[derive(Debug, Default)]
pub struct Pacer {
    next: Option<Instant>,
}

impl Pacer {
    /// Reserves the first slot at or after `now` that is `interval` after
    /// the previous reservation, and returns it.
    pub fn reserve(&mut self, now: Instant, interval: Duration) -> Instant {
        let at = self.next.map_or(now, |next| next.max(now));
        self.next = Some(at + interval);
        at
    }
}

/// Reserves the next slot for a packet of `kind` on interface `ifindex`.
pub fn reserve(ifindex: u32, kind: Kind, interval: Duration) -> Instant {
    static PACERS: OnceLock<Mutex<HashMap<(u32, Kind), Pacer>>> = OnceLock::new();
    let mut pacers = PACERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    pacers
        .entry((ifindex, kind))
        .or_default()
        .reserve(Instant::now(), interval)
}

/// The order of a burst's packets: `count` rounds over `addresses`, as
/// keepalived sends them.
pub fn rounds<A: Copy>(addresses: &[A], count: u32) -> impl Iterator<Item = A> + '_ {
    (0..count).flat_map(move |_| addresses.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_keep_the_interval_from_the_previous_packet() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut pacer = Pacer::default();
        // The first packet goes at once, the next ones queue behind it.
        assert_eq!(pacer.reserve(t0, ms(100)), t0);
        assert_eq!(pacer.reserve(t0, ms(100)), t0 + ms(100));
        assert_eq!(pacer.reserve(t0 + ms(50), ms(100)), t0 + ms(200));
        // After a quiet spell a packet goes at once again.
        assert_eq!(pacer.reserve(t0 + ms(1000), ms(100)), t0 + ms(1000));
        assert_eq!(pacer.reserve(t0 + ms(1000), ms(100)), t0 + ms(1100));
    }

    #[test]
    fn interfaces_and_kinds_are_paced_apart() {
        let interval = Duration::from_secs(3600);
        let first = reserve(u32::MAX, Kind::Arp, interval);
        assert!(reserve(u32::MAX, Kind::Arp, interval) >= first + interval);
        assert!(reserve(u32::MAX, Kind::Na, interval) < first + interval);
        assert!(reserve(u32::MAX - 1, Kind::Arp, interval) < first + interval);
    }

    #[test]
    fn rounds_repeat_the_whole_address_list() {
        let order: Vec<u8> = rounds(&[1, 2], 3).collect();
        assert_eq!(order, [1, 2, 1, 2, 1, 2]);
        assert_eq!(rounds(&[1, 2], 0).count(), 0);
    }
}
