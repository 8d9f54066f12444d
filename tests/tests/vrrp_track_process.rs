//! `vrrp_track_process` between two lb-daemons: dir1 (priority 150) tracks
//! a process by name, with weight 0 (FAULT without it) or a negative
//! weight; killing the process hands the VIP to dir2 (100), starting it
//! again brings it back.
use std::{
    fs,
    path::Path,
    process::{Child, Command},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Pair, VrrpConf, VIP};

const VIP_24: &str = "192.0.2.50/24";
const FAILOVER: Duration = Duration::from_secs(8);

/// A running copy of `sleep` under a name no other process has (its
/// `comm`), killed when dropped.
struct Tracked(Child);

impl Tracked {
    fn start(dir: &Path, name: &str) -> Result<Tracked> {
        let exe = dir.join(name);
        if !exe.exists() {
            fs::copy("/bin/sleep", &exe).context("copying /bin/sleep")?;
        }
        Ok(Tracked(Command::new(&exe).arg("600").spawn()?))
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(priority: u8, extra: &str) -> String {
    let state = if priority > 100 { "MASTER" } else { "BACKUP" };
    VrrpConf {
        extra: extra.to_owned(),
        ..VrrpConf::fast(state, priority)
    }
    .render()
}

/// Waits until director `holder` alone holds the VIP and dir1 is in `dir1_state`.
fn wait_holder(pair: &Pair, holder: usize, d1: &Daemon, dir1_state: &str) -> Result<()> {
    let other = 3 - holder;
    wait_until(FAILOVER, Duration::from_millis(50), || {
        pair.holds(holder, VIP_24) && !pair.holds(other, VIP_24) && d1.vrrp_state() == dir1_state
    })
    .with_context(|| format!("dir{holder} should hold {VIP}:\n{}", d1.log()))
}

/// dir1 tracking process `name` with the `vrrp_track_process` body `body`.
fn tracking(name: &str, body: &str) -> String {
    let block = format!("vrrp_track_process proc {{\n    process {name}\n{body}}}\n");
    block + &config(150, "    track_process {\n        proc\n    }\n")
}

#[test]
fn killing_a_tracked_process_fails_over_and_starting_it_fails_back() -> Result<()> {
    let pair = Pair::new()?;
    // comm holds at most 15 characters.
    let name = format!("lbtp{}", std::process::id() % 100_000_000);
    let process = Tracked::start(pair.dir.path(), &name)?;
    let d1 = pair.start(1, &tracking(&name, ""))?;
    let _d2 = pair.start(2, &config(100, ""))?;
    wait_holder(&pair, 1, &d1, "MASTER")?;

    drop(process);
    wait_holder(&pair, 2, &d1, "FAULT")?;
    ensure!(
        d1.log().contains("Track process proc quorum lost"),
        "{}",
        d1.log()
    );

    let _process = Tracked::start(pair.dir.path(), &name)?;
    wait_holder(&pair, 1, &d1, "MASTER")?;
    Ok(())
}

#[test]
fn a_weighted_process_lowers_priority_below_the_peer_after_its_delay() -> Result<()> {
    let pair = Pair::new()?;
    let name = format!("lbtq{}", std::process::id() % 100_000_000);
    let process = Tracked::start(pair.dir.path(), &name)?;
    // Losing the process costs 60: 150 - 60 = 90 < 100, after 0.5 s.
    let d1 = pair.start(1, &tracking(&name, "    weight -60\n    delay 0.5\n"))?;
    let _d2 = pair.start(2, &config(100, ""))?;
    wait_holder(&pair, 1, &d1, "MASTER")?;

    drop(process);
    wait_holder(&pair, 2, &d1, "BACKUP")?;
    let priority = d1.status()?["vrrp"][0]["priority"].clone();
    ensure!(priority == 90, "effective priority 90, not {priority}");
    let lost = d1.log();
    ensure!(lost.contains("Track process proc quorum lost"), "{lost}");

    let _process = Tracked::start(pair.dir.path(), &name)?;
    wait_holder(&pair, 1, &d1, "MASTER")?;
    Ok(())
}
