//! rtnetlink replies (links, addresses, routes, neighbours) as the daemon reads them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::replies::rtnetlink_reply(data));
