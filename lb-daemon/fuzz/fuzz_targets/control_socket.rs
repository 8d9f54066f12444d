//! Control-socket requests (daemon side) and replies (client side).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::replies::control_socket(data));
