//! TOML configuration, and its TOML -> model -> TOML round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::config::toml_config(data));
