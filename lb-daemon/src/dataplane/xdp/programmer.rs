//! Writing services into the program's maps without a packet ever seeing a
//! half-updated backend set: a service's new table is written into the slot
//! not in force, then the service's `lb_vips` entry, which names the slot,
//! is replaced in one update (the map is not preallocated, so the kernel
//! swaps the entry under RCU). A slot is written again only after
//! [`SLOT_QUIET`], far longer than any program run that could still be
//! reading it.
use std::{
    collections::{BTreeMap, VecDeque},
    net::IpAddr,
    path::PathBuf,
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Result};
use lb_common::{Real, Service, VipKey, MAX_REALS, MAX_SERVICES};
use tracing::warn;

use super::{
    adopt::{self, RealSlot},
    filter::VipFilter,
    tables::{self, Member, Scheduler},
    FastPath,
};

/// How long a table slot taken out of service stays untouched.
pub const SLOT_QUIET: Duration = Duration::from_millis(20);

/// One real server of a service, resolved for the data plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backend {
    /// Its port (identifies it with the address; the packet's port is kept).
    pub port: u16,
    /// Scheduling weight (0: no new flows).
    pub weight: u32,
    /// Where and how to send its packets (address, MACs, interface, method).
    pub real: Real,
}

impl Backend {
    fn addr(&self) -> IpAddr {
        addr_of(&self.real)
    }
}

/// The address of a [`Real`] entry.
pub fn addr_of(real: &Real) -> IpAddr {
    if real.family == lb_common::FAMILY_IPV4 {
        IpAddr::from([real.addr[0], real.addr[1], real.addr[2], real.addr[3]])
    } else {
        IpAddr::from(real.addr)
    }
}

/// The ids a service and its real servers have in the maps (indexes of
/// their counters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceIds {
    /// Service id (`vip_stats`).
    pub id: u32,
    /// Real ids (`lb_reals`, `rs_stats`, `lb_conns`), in backend order.
    pub reals: Vec<RealId>,
}

/// One backend's real id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealId {
    /// Backend address.
    pub addr: IpAddr,
    /// Backend port.
    pub port: u16,
    /// Its id.
    pub id: u32,
}

/// What is programmed for one service.
#[derive(Debug, Clone)]
struct Programmed {
    id: u32,
    slot: u32,
    sched: Scheduler,
    backends: Vec<Backend>,
    /// When the other slot was taken out of service.
    retired_at: Instant,
}

/// Real ids are given per (service, address, port) so that counters are per
/// destination as in IPVS; freed ids are reused oldest first.
#[derive(Debug)]
struct RealIds {
    given: BTreeMap<RealSlot, u32>,
    /// Ids a killed run gave, which adopted flows name: given to the same
    /// real servers again when their service is programmed; the rest are
    /// freed at `reserved_until` (a real server may still be resolving
    /// when its service is first programmed).
    reserved: BTreeMap<RealSlot, u32>,
    reserved_until: Instant,
    free: VecDeque<u32>,
    /// Where given and reserved ids are recorded (see [`adopt`]).
    record: Option<PathBuf>,
}

impl RealIds {
    fn new(reserved: BTreeMap<RealSlot, u32>, record: Option<PathBuf>) -> RealIds {
        let taken: std::collections::BTreeSet<u32> = reserved.values().copied().collect();
        RealIds {
            given: BTreeMap::new(),
            reserved,
            reserved_until: Instant::now() + ADOPTION_WINDOW,
            free: (0..MAX_REALS).filter(|id| !taken.contains(id)).collect(),
            record,
        }
    }

    /// Writes the given and reserved ids to the record.
    fn save(&self) {
        let Some(path) = &self.record else { return };
        let mut all = self.reserved.clone();
        all.extend(&self.given);
        if let Err(e) = adopt::write(path, &all) {
            warn!("XDP fast path: {e}; a restart will not keep established flows");
        }
    }

    /// Frees the ids still reserved; false when there were none.
    fn release_reserved(&mut self) -> bool {
        let released = std::mem::take(&mut self.reserved);
        self.free.extend(released.values());
        !released.is_empty()
    }
}

/// How long ids of a killed run stay reserved for their real servers: a
/// node that does not own the service again by then has left its flows to
/// the peer that took over.
pub const ADOPTION_WINDOW: Duration = Duration::from_secs(60);

/// Owns the fast path's maps and what is written in them.
pub struct Programmer {
    fast_path: FastPath,
    services: BTreeMap<VipKey, Programmed>,
    free_services: VecDeque<u32>,
    reals: RealIds,
    /// The VIP pre-filter as written in the map.
    filter: VipFilter,
    /// Each service id's generation as written in `lb_svc_gen`.
    generations: Vec<u32>,
}

impl Programmer {
    /// Takes over a freshly loaded program (empty maps).
    pub fn new(fast_path: FastPath) -> Programmer {
        Programmer::with_ids(fast_path, RealIds::new(BTreeMap::new(), None))
    }

    /// Takes over a freshly loaded program whose connection table holds
    /// flows adopted from a killed run, naming the real ids `reserved`
    /// gives; records the ids it gives in `record`.
    pub fn adopting(
        fast_path: FastPath,
        reserved: BTreeMap<RealSlot, u32>,
        record: PathBuf,
    ) -> Programmer {
        Programmer::with_ids(fast_path, RealIds::new(reserved, Some(record)))
    }

    fn with_ids(fast_path: FastPath, reals: RealIds) -> Programmer {
        Programmer {
            fast_path,
            services: BTreeMap::new(),
            free_services: (0..MAX_SERVICES).collect(),
            reals,
            filter: VipFilter::default(),
            generations: vec![0; MAX_SERVICES as usize],
        }
    }

    /// Frees the reserved ids once [`ADOPTION_WINDOW`] has passed.
    pub fn expire_reserved(&mut self) {
        if Instant::now() >= self.reals.reserved_until && self.reals.release_reserved() {
            self.reals.save();
        }
    }

    /// The loaded program (to attach it, read counters, run tests).
    pub fn fast_path(&mut self) -> &mut FastPath {
        &mut self.fast_path
    }

    /// How full the service and real-server maps are: `(services, reals)`
    /// in use (their capacities are `MAX_SERVICES` and `MAX_REALS`).
    pub fn fill(&self) -> (usize, usize) {
        (self.services.len(), self.reals.given.len())
    }

    /// The service id and per-backend real ids of `key`, if programmed.
    pub fn ids(&self, key: &VipKey) -> Option<ServiceIds> {
        let p = self.services.get(key)?;
        let reals = p
            .backends
            .iter()
            .filter_map(|b| {
                let id = self.reals.given.get(&(*key, b.addr(), b.port))?;
                Some(RealId {
                    addr: b.addr(),
                    port: b.port,
                    id: *id,
                })
            })
            .collect();
        Some(ServiceIds { id: p.id, reals })
    }

    /// Makes `key` a service scheduled by `sched` over `backends`; does
    /// nothing when that is already what is programmed.
    pub fn set_service(
        &mut self,
        key: VipKey,
        sched: Scheduler,
        backends: &[Backend],
    ) -> Result<()> {
        if let Some(p) = self.services.get(&key) {
            if p.sched == sched && p.backends == backends {
                return Ok(());
            }
        }
        let members = self.assign_reals(key, backends)?;
        let table = tables::build(sched, &members)?;
        let (id, slot, retired_at) = match self.services.get(&key) {
            Some(p) => (p.id, 1 - p.slot, p.retired_at),
            None => (self.take_service_id()?, 0, Instant::now() - SLOT_QUIET),
        };
        // The slot being written was retired by the previous swap.
        if let Some(wait) = SLOT_QUIET.checked_sub(retired_at.elapsed()) {
            thread::sleep(wait);
        }
        // A new address must pass the pre-filter before its service exists.
        self.write_filter(Some(&key))?;
        let mut maps = self.fast_path.maps();
        for (b, m) in backends.iter().zip(&members) {
            maps.set_real(m.real, &b.real)?;
        }
        maps.set_table(2 * id + slot, &table)?;
        let service = Service {
            id,
            table: 2 * id + slot,
            sched: sched.code(),
            pad: [0; 3],
        };
        maps.set_service(&key, &service)?;
        let stale: Vec<_> = self.services.get(&key).map_or_else(Vec::new, |p| {
            removed(&p.backends, backends)
                .map(|b| (b.addr(), b.port))
                .collect()
        });
        for (addr, port) in stale {
            self.release_real(&key, addr, port);
        }
        self.services.insert(
            key,
            Programmed {
                id,
                slot,
                sched,
                backends: backends.to_vec(),
                retired_at: Instant::now(),
            },
        );
        Ok(())
    }

    /// Removes service `key`: its packets go to the kernel again.
    pub fn remove_service(&mut self, key: &VipKey) -> Result<()> {
        let Some(p) = self.services.remove(key) else {
            return Ok(());
        };
        self.fast_path.maps().remove_service(key)?;
        self.write_filter(None)?;
        // Its flows no longer name a service in place.
        self.next_generation(p.id)?;
        for b in &p.backends {
            self.release_real(key, b.addr(), b.port);
        }
        self.free_services.push_back(p.id);
        Ok(())
    }

    /// How long until `key`'s spare table slot may be written (`None`: now).
    pub fn quiet_in(&self, key: &VipKey) -> Option<Duration> {
        let p = self.services.get(key)?;
        SLOT_QUIET.checked_sub(p.retired_at.elapsed())
    }

    /// The services programmed now.
    pub fn keys(&self) -> impl Iterator<Item = &VipKey> {
        self.services.keys()
    }

    /// Writes the pre-filter of the services programmed, plus `adding`.
    fn write_filter(&mut self, adding: Option<&VipKey>) -> Result<()> {
        let wanted = VipFilter::of(self.services.keys().chain(adding));
        let mut maps = self.fast_path.maps();
        for (index, word) in wanted.changes(&self.filter) {
            maps.set_filter_word(index, word)?;
        }
        self.filter = wanted;
        Ok(())
    }

    /// A free service id, at a generation no flow entry names yet.
    fn take_service_id(&mut self) -> Result<u32> {
        let Some(id) = self.free_services.pop_front() else {
            bail!("the fast path holds at most {MAX_SERVICES} services");
        };
        self.next_generation(id)?;
        Ok(id)
    }

    fn next_generation(&mut self, id: u32) -> Result<()> {
        let generation = &mut self.generations[id as usize];
        *generation = generation.wrapping_add(1);
        self.fast_path.maps().set_generation(id, *generation)
    }

    /// Real ids for `backends` of `key` (reserved ones for the real servers
    /// adopted flows name; new ones for new backends, their connection
    /// counts starting at zero), recorded before any map names them.
    fn assign_reals(&mut self, key: VipKey, backends: &[Backend]) -> Result<Vec<Member>> {
        let mut members = Vec::with_capacity(backends.len());
        let mut changed = false;
        for b in backends {
            let slot = (key, b.addr(), b.port);
            let real = match self.reals.given.get(&slot) {
                Some(&id) => id,
                None => {
                    let id = match self.reals.reserved.remove(&slot) {
                        Some(id) => id,
                        None => {
                            let Some(id) = self.reals.free.pop_front() else {
                                bail!("the fast path holds at most {MAX_REALS} real servers");
                            };
                            self.fast_path.maps().set_connections(id, 0)?;
                            id
                        }
                    };
                    self.reals.given.insert(slot, id);
                    changed = true;
                    id
                }
            };
            members.push(Member {
                real,
                weight: b.weight,
                addr: b.addr(),
                port: b.port,
            });
        }
        if changed {
            self.reals.save();
        }
        Ok(members)
    }

    fn release_real(&mut self, key: &VipKey, addr: IpAddr, port: u16) {
        if let Some(id) = self.reals.given.remove(&(*key, addr, port)) {
            self.reals.free.push_back(id);
            self.reals.save();
        }
    }
}

/// Backends of `old` that `new` no longer has.
fn removed<'a>(old: &'a [Backend], new: &'a [Backend]) -> impl Iterator<Item = &'a Backend> {
    old.iter()
        .filter(move |o| !new.iter().any(|n| n.addr() == o.addr() && n.port == o.port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_ids_are_not_free_until_released_and_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let record = dir.path().join(adopt::FILE);
        let key = VipKey::v4([192, 0, 2, 50], 80, 6);
        let slot = (key, "192.0.2.11".parse().unwrap(), 80);
        let mut ids = RealIds::new(BTreeMap::from([(slot, 5)]), Some(record.clone()));
        assert!(!ids.free.contains(&5));
        assert_eq!(ids.free.len() as u32, MAX_REALS - 1);
        ids.given
            .insert((key, "192.0.2.12".parse().unwrap(), 80), 0);
        ids.save();
        assert_eq!(adopt::read(&record).unwrap().len(), 2);
        assert!(ids.release_reserved());
        assert_eq!(ids.free.back(), Some(&5));
        assert!(!ids.release_reserved(), "nothing left to release");
        ids.save();
        assert_eq!(
            adopt::read(&record).unwrap().values().collect::<Vec<_>>(),
            [&0]
        );
    }
}
