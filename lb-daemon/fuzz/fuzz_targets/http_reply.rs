//! HTTP replies as HTTP_GET/SSL_GET read them (status line, headers, bodies).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lb_daemon::fuzzing::replies::http_reply(data));
