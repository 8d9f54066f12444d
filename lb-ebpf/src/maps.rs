//! Maps of the XDP program; names and layouts come from `lb-common`.
use aya_ebpf::{btf_maps::PerCpuHashMap, macros::btf_map};
use lb_common::{VipCounters, VipKey, MAX_VIPS};

/// Per-VIP counters (`lb_common::VIP_STATS_MAP`). Userspace inserts one entry
/// per VIP; packets to other destinations are not counted.
#[btf_map]
#[allow(non_upper_case_globals)]
static vip_stats: PerCpuHashMap<VipKey, VipCounters, { MAX_VIPS as usize }> =
    PerCpuHashMap::new();

/// Adds one packet of `len` bytes to the counters of `key`, if it is a VIP.
#[inline(always)]
pub fn count(key: &VipKey, len: usize) {
    if let Some(c) = vip_stats.get_ptr_mut(key) {
        // SAFETY: per-CPU slot of this CPU; XDP runs with preemption disabled.
        unsafe {
            (*c).packets += 1;
            (*c).bytes += len as u64;
        }
    }
}
