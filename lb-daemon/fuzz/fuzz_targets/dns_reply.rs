//! DNS replies to DNS_CHECK.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::replies::dns_reply(data));
