//! Cleanup paths for programs that own a lab outside of a test harness
//! (`cargo xtask lab`): on SIGINT/SIGTERM/SIGHUP and on panic.
//!
//! Both remove *every* namespace of the current process, so they must not be
//! used in test binaries, where several labs of concurrent tests share it.

use std::sync::Once;
use std::thread;

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};

use crate::names::cleanup_current_process;

/// Block SIGINT, SIGTERM and SIGHUP in the calling thread and start a thread
/// that waits for them; on receipt it removes all namespaces of the process
/// ([`cleanup_current_process`]) and exits with status 128 + signal number.
///
/// Call it first thing in `main`, before any other thread is started: threads
/// inherit the blocked mask, so the signal always reaches the waiting thread.
/// Children spawned through `std::process::Command` get a clean mask.
pub fn install_cleanup_on_signals() -> Result<()> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block().context("blocking termination signals")?;
    thread::Builder::new()
        .name("lab-signals".into())
        .spawn(move || {
            let signal = set.wait().unwrap_or(Signal::SIGTERM);
            eprintln!("lab: {signal} received, removing lab namespaces");
            cleanup_current_process();
            std::process::exit(128 + signal as i32);
        })
        .context("starting signal thread")?;
    Ok(())
}

/// Chain a panic hook that, after the previous hook has reported the panic,
/// removes all namespaces of the process. Useful where panics may abort
/// instead of unwinding; with unwinding, `Drop` already cleans up. Installed
/// at most once.
pub fn install_panic_cleanup_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            cleanup_current_process();
        }));
    });
}
