//! The descriptor limit. Every health check in flight holds a socket, so
//! 10,000 real servers whose checks time out together need about 10,000
//! descriptors, far above the soft limit of 1,024 a service manager
//! usually sets. As systemd's documentation advises, the daemon raises its
//! soft limit to the hard limit at start, and its scripts get the original
//! soft limit back (programs using `select()` break above 1,024).
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{info, warn};

/// The soft limit the daemon started with (0: not raised).
static ORIGINAL_SOFT: AtomicU64 = AtomicU64::new(0);

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns (before,
/// after).
pub fn raise_nofile() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let before = limit.rlim_cur;
    if before >= limit.rlim_max {
        return Some((before, before));
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        warn!(
            "could not raise the descriptor limit from {before}: {}",
            std::io::Error::last_os_error()
        );
        return None;
    }
    ORIGINAL_SOFT.store(before, Ordering::Relaxed);
    info!(
        "descriptor limit raised from {before} to {} (health checks hold one each)",
        limit.rlim_max
    );
    Some((before, limit.rlim_max))
}

/// In a child between fork and exec: the soft limit the daemon started
/// with, if it raised it (async-signal-safe).
pub fn restore_nofile_in_child() {
    let original = ORIGINAL_SOFT.load(Ordering::Relaxed);
    if original == 0 {
        return;
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit are async-signal-safe system calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = original.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
