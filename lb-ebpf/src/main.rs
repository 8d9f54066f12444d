//! XDP entry point of lb-daemon's fast path.
//!
//! For now the program proves the build/load/attach chain: it counts packets
//! per (VIP, port, protocol) in [`maps::vip_stats`] and passes every packet on.
#![no_std]
#![no_main]

mod maps;
mod parse;

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};

/// Counts packets whose destination is a configured VIP; never drops.
#[xdp]
pub fn lb_xdp(ctx: XdpContext) -> u32 {
    if let Some(key) = parse::destination(&ctx) {
        maps::count(&key, ctx.data_end() - ctx.data());
    }
    xdp_action::XDP_PASS
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // eBPF programs cannot panic; the verifier rejects any reachable loop.
    loop {}
}
