//! Typed access to the fast path's maps (layouts from `lb-common`).
use anyhow::{anyhow, Context, Result};
use aya::{
    maps::{Array, HashMap, Map, PerCpuArray},
    Ebpf, Pod,
};
use lb_common::{
    flow_hash, flow_set, Counters, FlowEntry, FlowKey, FlowSet, Real, SchedTable, Service, VipKey,
    CONNS_MAP, FILTER_MAP, FLOWS_MAP, GENERATIONS_MAP, REALS_MAP, RS_STATS_MAP, STATS_LEN,
    STATS_MAP, TABLES_MAP, VIPS_MAP, VIP_STATS_MAP,
};

use super::{flow_view::FlowView, PacketCounts};

/// The error for a map the object lacks.
pub(super) fn missing_map(name: &str) -> anyhow::Error {
    anyhow!("the eBPF object has no map {name}")
}

/// The maps of one loaded program.
pub struct Maps<'a> {
    ebpf: &'a mut Ebpf,
}

impl<'a> Maps<'a> {
    pub(super) fn new(ebpf: &'a mut Ebpf) -> Self {
        Maps { ebpf }
    }

    fn data_mut(&mut self, name: &str) -> Result<&mut Map> {
        self.ebpf.map_mut(name).ok_or_else(|| missing_map(name))
    }

    fn data(&self, name: &str) -> Result<&Map> {
        self.ebpf.map(name).ok_or_else(|| missing_map(name))
    }

    /// Points `key` at `service` (one atomic replacement of the entry).
    pub fn set_service(&mut self, key: &VipKey, service: &Service) -> Result<()> {
        let mut map: HashMap<_, VipKey, Service> = HashMap::try_from(self.data_mut(VIPS_MAP)?)?;
        map.insert(key, service, 0)
            .with_context(|| format!("{VIPS_MAP}: setting {key:?}"))
    }

    /// Removes the service at `key`; its packets go to the kernel again.
    pub fn remove_service(&mut self, key: &VipKey) -> Result<()> {
        let mut map: HashMap<_, VipKey, Service> = HashMap::try_from(self.data_mut(VIPS_MAP)?)?;
        map.remove(key)
            .with_context(|| format!("{VIPS_MAP}: removing {key:?}"))
    }

    /// The services in the map.
    pub fn services(&self) -> Result<Vec<(VipKey, Service)>> {
        let map: HashMap<_, VipKey, Service> = HashMap::try_from(self.data(VIPS_MAP)?)?;
        Ok(map.iter().collect::<Result<_, _>>()?)
    }

    /// Writes table slot `index`.
    pub fn set_table(&mut self, index: u32, table: &SchedTable) -> Result<()> {
        self.set(TABLES_MAP, index, table)
    }

    /// Writes real server `id`.
    pub fn set_real(&mut self, id: u32, real: &Real) -> Result<()> {
        self.set(REALS_MAP, id, real)
    }

    /// Writes word `index` of the VIP pre-filter.
    pub fn set_filter_word(&mut self, index: u32, word: u64) -> Result<()> {
        self.set(FILTER_MAP, index, &word)
    }

    /// Sets the generation of service `id`.
    pub fn set_generation(&mut self, id: u32, generation: u32) -> Result<()> {
        self.set(GENERATIONS_MAP, id, &generation)
    }

    /// Sets the connection count of real `id` (`lc`).
    pub fn set_connections(&mut self, id: u32, count: i64) -> Result<()> {
        self.set(CONNS_MAP, id, &count)
    }

    /// The connection count of real `id` as the data plane sees it.
    pub fn connections(&self, id: u32) -> Result<i64> {
        let map: Array<_, i64> = Array::try_from(self.data(CONNS_MAP)?)?;
        Ok(map.get(&id, 0)?)
    }

    /// The entry of a flow, if the connection table holds it.
    pub fn flow(&self, key: &FlowKey) -> Result<Option<FlowEntry>> {
        let map: Array<_, FlowSet> = Array::try_from(self.data(FLOWS_MAP)?)?;
        let hash = flow_hash(key);
        let set = map.get(&flow_set(hash, map.len() - 1), 0)?;
        Ok(set.ways.into_iter().find(|entry| entry.holds(hash)))
    }

    /// The connection table's sets (a power of two).
    pub fn flow_sets(&self) -> Result<u32> {
        let map: Array<_, FlowSet> = Array::try_from(self.data(FLOWS_MAP)?)?;
        Ok(map.len())
    }

    /// Writes set `index` of the connection table (adopting a killed run's
    /// flows).
    pub fn set_flow_set(&mut self, index: u32, set: &FlowSet) -> Result<()> {
        self.set(FLOWS_MAP, index, set)
    }

    /// How many flows the connection table holds (its memory read through
    /// a mapping).
    pub fn flow_count(&self) -> Result<usize> {
        Ok(FlowView::of(self.data(FLOWS_MAP)?)?.flows())
    }

    /// Traffic of service `id`, summed over CPUs.
    pub fn service_counters(&self, id: u32) -> Result<Counters> {
        self.counters(VIP_STATS_MAP, id)
    }

    /// Traffic of real `id`, summed over CPUs.
    pub fn real_counters(&self, id: u32) -> Result<Counters> {
        self.counters(RS_STATS_MAP, id)
    }

    /// New flows and packets passed to the kernel by reason, summed over
    /// CPUs.
    pub fn packet_counts(&self) -> Result<PacketCounts> {
        let map: PerCpuArray<_, u64> = PerCpuArray::try_from(self.data(STATS_MAP)?)?;
        let mut counts = [0; STATS_LEN as usize];
        for (index, count) in (0..STATS_LEN).zip(&mut counts) {
            let per_cpu = map
                .get(&index, 0)
                .with_context(|| format!("{STATS_MAP}: reading entry {index}"))?;
            *count = per_cpu.iter().sum();
        }
        Ok(PacketCounts(counts))
    }

    fn counters(&self, name: &str, index: u32) -> Result<Counters> {
        let map: PerCpuArray<_, Counters> = PerCpuArray::try_from(self.data(name)?)?;
        let per_cpu = map.get(&index, 0)?;
        Ok(per_cpu
            .iter()
            .fold(Counters::default(), |sum, c| sum.plus(*c)))
    }

    fn set<V: Pod>(&mut self, name: &str, index: u32, value: &V) -> Result<()> {
        let mut map: Array<_, V> = Array::try_from(self.data_mut(name)?)?;
        map.set(index, value, 0)
            .with_context(|| format!("{name}: writing entry {index}"))
    }
}
