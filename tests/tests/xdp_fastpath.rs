//! Packet fixtures for the fast path's shortcuts (see `xdp_fixtures` for
//! the paths every packet can take): each shortcut must give exactly what
//! the long way gives.
use anyhow::{ensure, Result};
use lb_common::FWD_DR;
use lb_daemon::dataplane::xdp::{tables::Scheduler, Programmer};
use lb_tests::frames::{FIN, SYN};

mod xdp_common;

use xdp_common::*;

/// The connection counts of the three real servers of `vip4(80, TCP)`.
fn connections(p: &mut Programmer) -> Result<Vec<i64>> {
    let ids = p.ids(&vip4(80, TCP)).expect("programmed");
    ids.reals
        .iter()
        .map(|r| p.fast_path().maps().connections(r.id))
        .collect()
}

#[test]
fn only_lc_flows_count_connections_even_across_a_scheduler_change() -> Result<()> {
    let mut p = programmer()?;
    p.set_service(vip4(80, TCP), Scheduler::Rr, &three(FWD_DR))?;
    for i in 0..3 {
        sent_to(&mut p, &to_vip(40000 + i, SYN))?;
    }
    ensure!(
        connections(&mut p)? == [0, 0, 0],
        "rr flows are not counted"
    );
    // The same service now schedules by lc: closing a flow opened under rr
    // takes nothing off, and lc's own flows count.
    p.set_service(vip4(80, TCP), Scheduler::Lc, &three(FWD_DR))?;
    sent_to(&mut p, &to_vip(40000, FIN))?;
    ensure!(connections(&mut p)? == [0, 0, 0], "an rr flow's FIN");
    let n = sent_to(&mut p, &to_vip(41000, SYN))?;
    let mut expected = vec![0, 0, 0];
    expected[usize::from(n - 1)] = 1;
    ensure!(connections(&mut p)? == expected, "an lc flow counts");
    sent_to(&mut p, &to_vip(41000, FIN))?;
    ensure!(connections(&mut p)? == [0, 0, 0], "and its FIN releases it");
    Ok(())
}
