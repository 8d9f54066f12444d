//! keepalived.conf split over included files (by name and by pattern) in a
//! scratch directory of this process.
#![no_main]

use std::sync::LazyLock;

use tempfile::TempDir;

static DIR: LazyLock<TempDir> = LazyLock::new(|| tempfile::tempdir().expect("a scratch directory"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    lb_daemon::fuzzing::config::keepalived_includes(DIR.path(), data)
});
