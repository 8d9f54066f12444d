//! Maps of the XDP program; names, keys and values come from `lb-common`,
//! whose crate documentation shows how they fit together.
use aya_ebpf::{
    bindings::{BPF_F_MMAPABLE, BPF_F_NO_PREALLOC},
    btf_maps::{Array, HashMap, PerCpuArray},
    macros::btf_map,
};
use lb_common::{
    flow_sets, Counters, FlowSet, Real, SchedTable, Service, VipKey, DEFAULT_FLOWS, FILTER_WORDS,
    MAX_REALS, MAX_SERVICES, STATS_LEN,
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

/// Connection table (see `lb_common::flow_hash`): one line of entries per
/// set, shared by every CPU. The daemon sizes it at load time and sets
/// [`LB_FLOW_MASK`] to match. Mmapable, so the daemon counts its flows by
/// reading it.
#[btf_map(name = "lb_flows")]
pub static LB_FLOWS: Array<
    FlowSet,
    { flow_sets(DEFAULT_FLOWS) as usize },
    { BPF_F_MMAPABLE as usize },
> = Array::new();

/// Sets in [`LB_FLOWS`] minus one (a power of two minus one); read-only
/// data the daemon sets at load time (`lb_common::FLOW_MASK_GLOBAL`).
#[no_mangle]
static LB_FLOW_MASK: u32 = flow_sets(DEFAULT_FLOWS) - 1;

/// [`LB_FLOW_MASK`] as loaded.
#[inline(always)]
pub fn flow_mask() -> u32 {
    // SAFETY: a plain read; volatile so the compiler does not fold the
    // default in (the loader rewrites the value).
    unsafe { core::ptr::read_volatile(&LB_FLOW_MASK) }
}

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

/// New flows and packets passed to the kernel, by reason
/// (`lb_common::STAT_NEW_FLOWS`, `lb_common::PassReason`).
#[btf_map(name = "lb_xdp_stats")]
pub static LB_STATS: PerCpuArray<u64, { STATS_LEN as usize }> = PerCpuArray::new();

/// Adds one to counter `index` of [`LB_STATS`]: one per-CPU array lookup
/// (inlined by the kernel) and one increment.
#[inline(always)]
pub fn count_stat(index: u32) {
    if let Some(c) = LB_STATS.get_ptr_mut(index) {
        // SAFETY: this CPU's slot; XDP runs with preemption disabled.
        unsafe { *c += 1 };
    }
}

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
