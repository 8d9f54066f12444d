//! Loading the embedded XDP program, attaching it to interfaces and reading
//! and writing its maps.
use anyhow::{anyhow, Context, Result};
use aya::{
    maps::{MapData, PerCpuHashMap, PerCpuValues},
    programs::{Xdp, XdpMode},
    util::nr_cpus,
    Ebpf,
};
use lb_common::{VipCounters, VipKey, VIP_STATS_MAP, XDP_PROGRAM};

use super::embedded_object;

/// How the program is attached to an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAttachMode {
    /// In the driver (native XDP); fails where the driver lacks XDP support.
    Native,
    /// In the generic network stack path (works on every interface, slower).
    Generic,
}

impl From<XdpAttachMode> for XdpMode {
    fn from(mode: XdpAttachMode) -> Self {
        match mode {
            XdpAttachMode::Native => XdpMode::Driver,
            XdpAttachMode::Generic => XdpMode::Skb,
        }
    }
}

/// The loaded fast-path program and its maps. Dropping it detaches the
/// program from every interface it was attached to and frees the maps.
pub struct FastPath {
    ebpf: Ebpf,
}

impl FastPath {
    /// Loads the embedded object and the XDP program into the kernel (the
    /// verifier runs here), without attaching it anywhere.
    pub fn load() -> Result<Self> {
        let mut ebpf = Ebpf::load(embedded_object()?).context("loading the eBPF object")?;
        program(&mut ebpf)?
            .load()
            .context("verifying the XDP program")?;
        Ok(FastPath { ebpf })
    }

    /// Attaches the program to the interface with index `ifindex` of the
    /// calling thread's network namespace.
    pub fn attach(&mut self, ifindex: u32, mode: XdpAttachMode) -> Result<()> {
        program(&mut self.ebpf)?
            .attach_to_if_index(ifindex, mode.into())
            .with_context(|| format!("attaching XDP ({mode:?}) to interface index {ifindex}"))?;
        Ok(())
    }

    /// Starts counting packets sent to `key` (counters start at zero).
    pub fn add_vip(&mut self, key: &VipKey) -> Result<()> {
        let cpus = nr_cpus().map_err(|(what, e)| anyhow!("{what}: {e}"))?;
        let zeros = PerCpuValues::try_from(vec![VipCounters::default(); cpus])?;
        self.vip_stats_mut()?
            .insert(key, zeros, 0)
            .with_context(|| format!("inserting {key:?} into {VIP_STATS_MAP}"))
    }

    /// The counters of `key` summed over all CPUs.
    pub fn vip_counters(&self, key: &VipKey) -> Result<VipCounters> {
        let map: PerCpuHashMap<&MapData, VipKey, VipCounters> = PerCpuHashMap::try_from(
            self.ebpf
                .map(VIP_STATS_MAP)
                .ok_or_else(|| missing_map(VIP_STATS_MAP))?,
        )?;
        let per_cpu = map
            .get(key, 0)
            .with_context(|| format!("{key:?} is not a VIP"))?;
        Ok(per_cpu
            .iter()
            .fold(VipCounters::default(), |sum, c| VipCounters {
                packets: sum.packets + c.packets,
                bytes: sum.bytes + c.bytes,
            }))
    }

    fn vip_stats_mut(&mut self) -> Result<PerCpuHashMap<&mut MapData, VipKey, VipCounters>> {
        let map = self
            .ebpf
            .map_mut(VIP_STATS_MAP)
            .ok_or_else(|| missing_map(VIP_STATS_MAP))?;
        Ok(PerCpuHashMap::try_from(map)?)
    }
}

fn program(ebpf: &mut Ebpf) -> Result<&mut Xdp> {
    let prog = ebpf
        .program_mut(XDP_PROGRAM)
        .ok_or_else(|| anyhow!("the eBPF object has no program {XDP_PROGRAM}"))?;
    Ok(prog.try_into()?)
}

fn missing_map(name: &str) -> anyhow::Error {
    anyhow!("the eBPF object has no map {name}")
}
