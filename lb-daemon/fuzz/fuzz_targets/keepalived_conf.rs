//! keepalived.conf text: lexer, parser, binder, validation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::config::keepalived_conf(data));
