//! The VIP pre-filter as the daemon writes it (layout and hash in
//! `lb-common`): one bit per hashed service address, a second bitmap for
//! addresses with an "all ports" service. Bits are set before a service is
//! added and cleared after it is removed, so the program never skips a
//! service that is in `lb_vips`.
use lb_common::{filter_bit_of, VipKey, FILTER_WORDS};

/// The pre-filter's words for a set of services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipFilter(Vec<u64>);

impl VipFilter {
    /// The filter of `keys`.
    pub fn of<'a>(keys: impl IntoIterator<Item = &'a VipKey>) -> Self {
        let mut words = vec![0u64; 2 * FILTER_WORDS as usize];
        for key in keys {
            let bit = filter_bit_of(&key.addr) as usize;
            let (word, mask) = (bit / 64, 1u64 << (bit % 64));
            words[word] |= mask;
            if key.port == 0 {
                words[FILTER_WORDS as usize + word] |= mask;
            }
        }
        VipFilter(words)
    }

    /// The words of `self` that differ from `old`, as (index, value).
    pub fn changes<'a>(&'a self, old: &'a VipFilter) -> impl Iterator<Item = (u32, u64)> + 'a {
        self.0
            .iter()
            .zip(&old.0)
            .enumerate()
            .filter(|(_, (new, old))| new != old)
            .map(|(i, (new, _))| (i as u32, *new))
    }
}

impl Default for VipFilter {
    /// The filter of no service.
    fn default() -> Self {
        VipFilter::of([])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(f: &VipFilter) -> usize {
        f.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    #[test]
    fn a_service_sets_its_bit_and_all_ports_its_second_bit() {
        let web = VipKey::v4([192, 0, 2, 50], 80, 6);
        let all = VipKey::v4([192, 0, 2, 51], 0, 17);
        let f = VipFilter::of([&web]);
        assert_eq!(bits(&f), 1);
        let bit = filter_bit_of(&web.addr) as usize;
        assert_ne!(f.0[bit / 64] & (1 << (bit % 64)), 0);
        assert_eq!(bits(&VipFilter::of([&web, &all])), 3);
        // Two ports of one address share the bit.
        let web2 = VipKey::v4([192, 0, 2, 50], 443, 6);
        assert_eq!(VipFilter::of([&web, &web2]), f);
    }

    #[test]
    fn changes_list_exactly_the_words_that_differ() {
        let web = VipKey::v4([192, 0, 2, 50], 80, 6);
        let v6 = VipKey::v6(
            [
                0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50,
            ],
            0,
            6,
        );
        let empty = VipFilter::default();
        let f = VipFilter::of([&web, &v6]);
        let changes: Vec<_> = f.changes(&empty).collect();
        assert!((2..=3).contains(&changes.len()), "{changes:?}");
        assert_eq!(f.changes(&f).count(), 0);
        let back: Vec<_> = empty.changes(&f).collect();
        assert!(back.iter().all(|(_, w)| *w == 0) && back.len() == changes.len());
    }
}
