//! The end of a lab run, shared by `cargo xtask lab` and its BGP variant:
//! staying up for `--hold` (or until Ctrl-C), then tearing everything down
//! and checking that nothing is left.
use std::{thread, time::Duration};

use anyhow::{ensure, Result};
use lb_tests::{cleanup_current_process, Daemon, Lab};

use crate::cmd;

/// Keeps the lab up for `hold`, or until Ctrl-C.
pub fn hold_up(hold: Option<Duration>) {
    match hold {
        Some(d) => thread::sleep(d),
        None => {
            cmd::step("lab is up; press Ctrl-C to tear it down");
            loop {
                thread::park();
            }
        }
    }
}

/// Stops `daemons` (each must exit cleanly), removes `lab` and checks that
/// nothing is left.
pub fn tear_down(daemons: Vec<Daemon>, lab: Lab) -> Result<()> {
    cmd::step("tearing the lab down");
    for mut d in daemons {
        let status = d.stop()?;
        ensure!(
            status.success(),
            "lb-daemon exited with {status} on SIGTERM"
        );
    }
    let prefix = lab.prefix().to_owned();
    drop(lab);
    let left = cleanup_current_process();
    ensure!(
        left.is_empty(),
        "namespaces left behind under {prefix}: {left:?}"
    );
    cmd::step("lab removed: no namespace, process or XDP attachment left");
    Ok(())
}
