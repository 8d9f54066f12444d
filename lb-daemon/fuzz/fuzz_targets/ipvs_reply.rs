//! IPVS generic netlink replies as the IPVS client decodes them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::replies::ipvs_reply(data));
