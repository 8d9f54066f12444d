//! Typed access to the fast path's maps (layouts from `lb-common`).
use anyhow::{Context, Result};
use aya::{
    maps::{Array, HashMap, Map, PerCpuArray},
    Ebpf, Pod,
};
use lb_common::{
    Counters, Flow, FlowKey, Real, SchedTable, Service, VipKey, CONNS_MAP, FILTER_MAP, FLOWS_MAP,
    GENERATIONS_MAP, REALS_MAP, RS_STATS_MAP, TABLES_MAP, VIPS_MAP, VIP_STATS_MAP,
};

use super::loader::missing_map;

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

    /// The real server a flow was given, if the flow is known.
    pub fn flow(&self, key: &FlowKey) -> Result<Option<Flow>> {
        let map: HashMap<_, FlowKey, Flow> = HashMap::try_from(self.data(FLOWS_MAP)?)?;
        match map.get(key, 0) {
            Ok(flow) => Ok(Some(flow)),
            Err(aya::maps::MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives `key` the assignment `flow` (adopting a killed run's flows).
    pub fn set_flow(&mut self, key: &FlowKey, flow: &Flow) -> Result<()> {
        let mut map: HashMap<_, FlowKey, Flow> = HashMap::try_from(self.data_mut(FLOWS_MAP)?)?;
        map.insert(key, flow, 0)
            .with_context(|| format!("{FLOWS_MAP}: setting {key:?}"))
    }

    /// How many flows the connection table holds (one lookup per entry).
    pub fn flow_count(&self) -> Result<usize> {
        let map: HashMap<_, FlowKey, Flow> = HashMap::try_from(self.data(FLOWS_MAP)?)?;
        Ok(map.keys().filter(Result::is_ok).count())
    }

    /// Traffic of service `id`, summed over CPUs.
    pub fn service_counters(&self, id: u32) -> Result<Counters> {
        self.counters(VIP_STATS_MAP, id)
    }

    /// Traffic of real `id`, summed over CPUs.
    pub fn real_counters(&self, id: u32) -> Result<Counters> {
        self.counters(RS_STATS_MAP, id)
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
