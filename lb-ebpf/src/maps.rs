//! Maps of the XDP program; names, keys and values come from `lb-common`,
//! whose crate documentation shows how they fit together.
use aya_ebpf::{
    bindings::{BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC},
    btf_maps::{Array, HashMap, LruHashMap, PerCpuArray},
    macros::btf_map,
};
use lb_common::{
    Counters, Flow, FlowKey, Real, SchedTable, Service, VipKey, DEFAULT_FLOWS, FILTER_WORDS,
    MAX_REALS, MAX_SERVICES,
};

/// VIP -> service. Not preallocated: an update swaps the whole value under
/// RCU, so a packet sees either the old or the new service, never a mix.
#[btf_map(name = "lb_vips")]
pub static LB_VIPS: HashMap<
    VipKey,
    Service,
    { MAX_SERVICES as usize },
    { BPF_F_NO_PREALLOC as usize },
> = HashMap::new();

/// The VIP pre-filter's two bitmaps ("some service", "an all-ports
/// service" on an address hashed to the bit), 64 bits a word.
#[btf_map(name = "lb_vip_filter")]
pub static LB_FILTER: Array<u64, { 2 * FILTER_WORDS as usize }> = Array::new();

/// Two table slots per service: the one in force and the one being built.
#[btf_map(name = "lb_tables")]
pub static LB_TABLES: Array<SchedTable, { 2 * MAX_SERVICES as usize }> = Array::new();

/// Real servers by id.
#[btf_map(name = "lb_reals")]
pub static LB_REALS: Array<Real, { MAX_REALS as usize }> = Array::new();

/// Connection table; the daemon may resize it at load time. Each CPU keeps
/// its own LRU list (no lock shared between CPUs on insert); lookups see
/// every CPU's entries.
#[btf_map(name = "lb_flows")]
pub static LB_FLOWS: LruHashMap<
    FlowKey,
    Flow,
    { DEFAULT_FLOWS as usize },
    { BPF_F_NO_COMMON_LRU as usize },
> = LruHashMap::new();

/// Generation of each service id (see `flows`).
#[btf_map(name = "lb_svc_gen")]
pub static LB_GENS: Array<u32, { MAX_SERVICES as usize }> = Array::new();

/// Round-robin cursor per service, per CPU.
#[btf_map(name = "lb_rr")]
pub static LB_RR: PerCpuArray<u32, { MAX_SERVICES as usize }> = PerCpuArray::new();

/// Connections per real server counted by the data plane (`lc`).
#[btf_map(name = "lb_conns")]
pub static LB_CONNS: Array<i64, { MAX_REALS as usize }> = Array::new();

/// Traffic per service.
#[btf_map(name = "vip_stats")]
pub static VIP_STATS: PerCpuArray<Counters, { MAX_SERVICES as usize }> = PerCpuArray::new();

/// Traffic per real server.
#[btf_map(name = "rs_stats")]
pub static RS_STATS: PerCpuArray<Counters, { MAX_REALS as usize }> = PerCpuArray::new();

/// Adds one packet of `len` bytes to `counters[index]`.
#[inline(always)]
pub fn count<const N: usize>(counters: &PerCpuArray<Counters, N>, index: u32, len: u64) {
    if let Some(c) = counters.get_ptr_mut(index) {
        // SAFETY: this CPU's slot; XDP runs with preemption disabled.
        unsafe {
            (*c).packets += 1;
            (*c).bytes += len;
        }
    }
}
