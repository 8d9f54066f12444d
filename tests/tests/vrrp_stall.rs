//! A daemon stopped (SIGSTOP, a stall) for longer than the master-down
//! interval finds, when it continues, its master-down timer due and the
//! master's adverts queued at once. It must hear the master first: taking
//! over for a moment adds the VIP, sends gratuitous ARPs that point the
//! LAN at a node about to drop it again (found by the chaos soak: the
//! client's ARP named the wrong node for seconds).
use std::{thread, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{Pair, VrrpConf};
use nix::sys::signal::Signal;

/// Stops and continues the backup this many times: a runtime that takes
/// the timer first (as one picking a random ready branch does in 3 of 8)
/// shows it almost surely.
const ROUNDS: usize = 12;

#[test]
fn a_continued_backup_hears_the_queued_adverts_before_its_timer() -> Result<()> {
    let pair = Pair::new()?;
    let master = VrrpConf::fast("MASTER", 150).render();
    let d1 = pair.start(1, &master)?;
    d1.wait_status("MASTER", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    let d2 = pair.start(2, &VrrpConf::fast("BACKUP", 100).render())?;
    d2.wait_status("BACKUP, hearing dir1", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "BACKUP" && s["vrrp"][0]["adverts_received"].as_u64() > Some(0)
    })?;
    for round in 0..ROUNDS {
        let heard = d2.status()?["vrrp"][0]["adverts_received"]
            .as_u64()
            .context("adverts_received")?;
        d2.signal(Signal::SIGSTOP)?;
        // The fault itself: 6 intervals, twice the master-down interval.
        thread::sleep(Duration::from_millis(600));
        d2.signal(Signal::SIGCONT)?;
        d2.wait_status(
            &format!("round {round}: the queued adverts read"),
            Duration::from_secs(5),
            |s| s["vrrp"][0]["adverts_received"].as_u64() > Some(heard + 3),
        )?;
    }
    let status = d2.status()?;
    ensure!(
        !d2.log().contains("Entering MASTER STATE") && status["vrrp"][0]["adverts_sent"] == 0,
        "the continued backup took over from a master it had heard: {}\n{}",
        status["vrrp"][0],
        d2.log()
    );
    ensure!(!pair.holds(2, "192.0.2.50/24"), "dir2 holds the VIP");
    Ok(())
}
