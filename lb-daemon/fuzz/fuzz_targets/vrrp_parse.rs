//! Received VRRP v2/v3 adverts: `parse` and `validate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::vrrp_packet(data));
