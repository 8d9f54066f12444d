//! Differential: keepalived.conf -> model -> TOML -> model is the same model.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::config::conf_round_trip(data));
