//! keepalived.conf text: lexer, parser, binder, validation; includes stay
//! in an empty scratch directory of this process.
#![no_main]

use std::sync::LazyLock;

use tempfile::TempDir;

static DIR: LazyLock<TempDir> = LazyLock::new(|| tempfile::tempdir().expect("a scratch directory"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lb_daemon::fuzzing::config::keepalived_conf(DIR.path(), data)
});
