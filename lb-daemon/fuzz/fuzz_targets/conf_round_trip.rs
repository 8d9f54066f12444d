//! Differential: keepalived.conf -> model -> TOML -> model is the same model
//! (includes stay in an empty scratch directory of this process).
#![no_main]

use std::sync::LazyLock;

use tempfile::TempDir;

static DIR: LazyLock<TempDir> = LazyLock::new(|| tempfile::tempdir().expect("a scratch directory"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lb_daemon::fuzzing::config::conf_round_trip(DIR.path(), data)
});
