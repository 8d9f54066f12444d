//! SMTP replies to SMTP_CHECK.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::replies::smtp_reply(data));
