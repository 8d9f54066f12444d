//! Crash consistency: `kill -9` at any moment, then a start, converges as if
//! the daemon had stopped cleanly. dir1 runs a VRRP instance and an `rr`
//! fast-path DR service over three real servers; dir2 is a peer of the same
//! virtual router whose priority (above or below dir1's) decides in each
//! round who should own the VIP. Each round kills dir1 at a random moment
//! of its startup, of a reload (SIGHUP with a changed address list) or of
//! steady state, starts it again in the same runtime directory and checks
//! the converged state (see [`lb_tests::crash::check`]); connections
//! established through dir1's fast path before the kill keep their real
//! server after it.
//!
//! `LB_CRASH_SEED` replays a run (the seed is printed); `LB_CRASH_ROUNDS`
//! runs more rounds than the default 20.
use std::{fs, path::Path, thread, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{
    crash::{self, Expected, Leftovers},
    daemon::runtime_dir,
    dr_lab, in_netns, retry, wait_until, Daemon, KeptAlive, Lab, VrrpConf, VIP,
};
use nix::sys::signal::Signal;

/// The second address some configurations give dir1's instance.
const VIP2: &str = "192.0.2.51";
/// Every address dir1's instance is ever given.
const ALL_VIPS: [&str; 2] = [VIP, VIP2];
/// dir1's priority; the peer's is above or below it.
const PRIORITY: u8 = 150;
/// The default seed (override with `LB_CRASH_SEED`).
const SEED: u64 = 0x16_c4a5_0001;
/// Connections kept open through dir1's fast path across a kill.
const FLOWS: usize = 6;

/// A small deterministic generator (splitmix64): the run is a function of
/// the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A delay of up to `max_ms` milliseconds; half of them within the
    /// first sixteenth, where the work a signal or a start begins is still
    /// under way.
    fn delay(&mut self, max_ms: u64) -> Duration {
        let max_ms = if self.below(2) == 0 {
            max_ms / 16
        } else {
            max_ms
        };
        Duration::from_millis(self.below(max_ms + 1))
    }
}

fn env_number(name: &str, default: u64) -> Result<u64> {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.with_context(|| format!("{name}={v}: not a number"))
        }
        Err(_) => Ok(default),
    }
}

/// dir1's addresses: the VIP, and [`VIP2`] with `two`.
fn vips(two: bool) -> &'static [&'static str] {
    if two {
        &ALL_VIPS
    } else {
        &ALL_VIPS[..1]
    }
}

/// dir1's configuration: the instance holding `vips` and the fast-path
/// service (no checker: the real servers count as up from the start). The
/// VIP is advertised; [`VIP2`] is `virtual_ipaddress_excluded`, so that the
/// peer's adverts, which carry the VIP only, match either way. With
/// [`VIP2`], rs1 weighs 2: the same real servers, a reprogrammed table.
fn dir1_config(lab: &Lab, vips: &[&str]) -> String {
    let excluded: String = vips[1..]
        .iter()
        .map(|v| format!("    virtual_ipaddress_excluded {{\n        {v}/24 dev eth0\n    }}\n"))
        .collect();
    let vrrp = VrrpConf {
        extra: excluded,
        ..VrrpConf::fast("BACKUP", PRIORITY)
    };
    let reals: String = lab
        .real_servers()
        .enumerate()
        .map(|(i, rs)| {
            let weight = if i == 0 { vips.len() } else { 1 };
            format!(
                "    real_server {} 80 {{\n        weight {weight}\n    }}\n",
                rs.ipv4()
            )
        })
        .collect();
    format!(
        "{}virtual_server {VIP} 80 {{\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    fast_path xdp\n{reals}}}\n",
        vrrp.render()
    )
}

/// The peer's configuration: the same virtual router, no service.
fn peer_config(priority: u8) -> String {
    VrrpConf::fast("BACKUP", priority).render()
}

/// The priority the peer runs with when it should own the VIP or not.
fn peer_priority(high: bool) -> u8 {
    if high {
        PRIORITY + 50
    } else {
        PRIORITY - 50
    }
}

/// Connections opened through the fast path and the real server each
/// landed on.
struct Flows {
    kept: Vec<KeptAlive>,
    owners: Vec<String>,
}

impl Flows {
    fn open(lab: &Lab) -> Result<Flows> {
        let client = lab.client().ns_name();
        // Right after a takeover the client may still send to the old owner.
        retry(Duration::from_secs(5), Duration::from_millis(100), || {
            in_netns(client, || -> Result<Flows> {
                let mut kept: Vec<KeptAlive> = (0..FLOWS)
                    .map(|_| KeptAlive::open(&format!("{VIP}:80")))
                    .collect::<Result<_>>()?;
                let owners = kept.iter_mut().map(KeptAlive::ask).collect::<Result<_>>()?;
                Ok(Flows { kept, owners })
            })?
        })
    }

    /// Asks every connection again, last opened first: each must answer
    /// from its real server. (In the order they were opened, a fresh `rr`
    /// cursor would hand them the same servers again by chance.)
    fn check(&mut self, lab: &Lab) -> Result<()> {
        let now: Vec<Result<String>> = in_netns(lab.client().ns_name(), || {
            self.kept.iter_mut().rev().map(KeptAlive::ask).collect()
        })?;
        let mut now: Vec<String> = now
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| format!("failed: {e:#}")))
            .collect();
        now.reverse();
        ensure!(
            now == self.owners,
            "established flows moved: {:?} -> {now:?}",
            self.owners
        );
        Ok(())
    }
}

/// Where in its life dir1 is killed.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// While it starts (after a random delay).
    Startup,
    /// While it reloads a changed configuration.
    Reload,
    /// In steady state.
    Steady,
}

/// The lab and everything the rounds change.
struct Run<'a> {
    lab: &'a Lab,
    runtime: &'a Path,
    dir1_path: std::path::PathBuf,
    peer_path: std::path::PathBuf,
    dir1: Option<Daemon>,
    peer: Daemon,
    two_vips: bool,
    peer_high: bool,
    peer_generation: u64,
}

impl Run<'_> {
    fn dir1(&self) -> &Daemon {
        self.dir1.as_ref().expect("dir1 runs between rounds")
    }

    fn expected(&self) -> Expected<'static> {
        Expected {
            owner: !self.peer_high,
            vips: vips(self.two_vips),
            all_vips: &ALL_VIPS,
        }
    }

    fn write_dir1(&self) -> Result<()> {
        Ok(fs::write(
            &self.dir1_path,
            dir1_config(self.lab, vips(self.two_vips)),
        )?)
    }

    /// Starts dir1 and waits until its control socket answers.
    fn start_dir1(&mut self) -> Result<()> {
        let mut daemon = Daemon::spawn_in(
            self.lab.director(1).ns(),
            &self.dir1_path,
            "dir1",
            self.runtime,
        )?;
        daemon.wait_ready(Duration::from_secs(10))?;
        self.dir1 = Some(daemon);
        Ok(())
    }

    /// Kills dir1; returns what it held.
    fn kill_dir1(&mut self) -> Result<Leftovers> {
        let daemon = self.dir1.take().context("dir1 is not running")?;
        let held = crash::holdings(&daemon).unwrap_or_default();
        daemon.kill()?;
        Ok(held)
    }

    fn converge(&self, before: &Leftovers) -> Result<()> {
        crash::converge(self.lab.director(1), self.dir1(), &self.expected(), before)?;
        let peer_holds = crash::held_vips(self.lab.director(2), &ALL_VIPS)?;
        ensure!(
            peer_holds.is_empty() != self.peer_high,
            "the peer holds {peer_holds:?} (it should own the VIP: {})",
            self.peer_high
        );
        Ok(())
    }

    /// Gives the peer a priority above (or below) dir1's.
    fn set_peer(&mut self, high: bool) -> Result<()> {
        if high == self.peer_high {
            return Ok(());
        }
        fs::write(&self.peer_path, peer_config(peer_priority(high)))?;
        self.peer.signal(Signal::SIGHUP)?;
        self.peer_generation += 1;
        let generation = self.peer_generation;
        self.peer
            .wait_status("peer reloaded", Duration::from_secs(5), |s| {
                s["config_generation"] == generation
            })?;
        self.peer_high = high;
        let held = crash::holdings(self.dir1())?;
        self.converge(&held)
    }

    /// One round: kill dir1 at `moment`, start it again, check.
    fn round(&mut self, rng: &mut Rng, moment: Moment) -> Result<()> {
        let mut flows = match self.peer_high {
            false => Some(Flows::open(self.lab)?),
            true => None,
        };
        let before = match moment {
            Moment::Steady => {
                thread::sleep(rng.delay(500));
                self.kill_dir1()?
            }
            Moment::Reload => {
                self.two_vips = !self.two_vips;
                self.write_dir1()?;
                self.dir1().signal(Signal::SIGHUP)?;
                thread::sleep(rng.delay(300));
                self.kill_dir1()?
            }
            Moment::Startup => {
                let first = self.kill_dir1()?;
                self.two_vips = rng.below(2) == 1;
                self.write_dir1()?;
                self.dir1 = Some(Daemon::spawn_in(
                    self.lab.director(1).ns(),
                    &self.dir1_path,
                    "dir1",
                    self.runtime,
                )?);
                thread::sleep(rng.delay(1500));
                let second = self.kill_dir1()?;
                Leftovers {
                    prog: second.prog.or(first.prog),
                    maps: first.maps.union(&second.maps).copied().collect(),
                }
            }
        };
        self.start_dir1()?;
        self.converge(&before)?;
        if let Some(flows) = &mut flows {
            flows.check(self.lab)?;
        }
        Ok(())
    }
}

#[test]
fn kill_9_at_random_moments_converges_as_a_clean_stop() -> Result<()> {
    let seed = env_number("LB_CRASH_SEED", SEED)?;
    let rounds = env_number("LB_CRASH_ROUNDS", 20)?;
    eprintln!(
        "crash consistency: seed {seed:#x} (LB_CRASH_SEED), {rounds} rounds (LB_CRASH_ROUNDS)"
    );
    let mut rng = Rng(seed);
    let lab = dr_lab(2)?;
    let tmp = tempfile::tempdir()?;
    let runtime = runtime_dir()?;
    let peer_path = tmp.path().join("dir2.conf");
    fs::write(&peer_path, peer_config(peer_priority(false)))?;
    let peer = Daemon::start(lab.director(2).ns(), &peer_path, "dir2")?;
    let mut run = Run {
        lab: &lab,
        runtime: runtime.path(),
        dir1_path: tmp.path().join("dir1.conf"),
        peer_path,
        dir1: None,
        peer,
        two_vips: false,
        peer_high: false,
        peer_generation: 1,
    };
    run.write_dir1()?;
    run.start_dir1()?;
    run.converge(&Leftovers::default())?;
    for round in 0..rounds {
        run.set_peer(rng.below(3) == 0)?;
        let moment = match rng.below(3) {
            0 => Moment::Startup,
            1 => Moment::Reload,
            _ => Moment::Steady,
        };
        eprintln!(
            "round {round}: kill during {moment:?}, peer {}, {} VIP(s)",
            if run.peer_high { "above" } else { "below" },
            vips(run.two_vips).len()
        );
        run.round(&mut rng, moment)
            .with_context(|| format!("round {round} ({moment:?}), seed {seed:#x}"))?;
    }
    // And a clean stop after all that leaves nothing behind.
    let mut dir1 = run.dir1.take().context("dir1 runs")?;
    let (held, pins) = (crash::holdings(&dir1)?, crash::pin_dir(&dir1)?);
    let status = dir1.stop()?;
    ensure!(
        status.success(),
        "dir1 stopped with {status}:\n{}",
        dir1.log()
    );
    crash::check_clean_stop(lab.director(1), runtime.path(), &pins, &ALL_VIPS, &held)
        .with_context(|| dir1.log())
}

/// A VIP the configuration dropped while the daemon was down (killed before
/// or during the reload that would have removed it) is removed at start,
/// not left on the interface for ever.
#[test]
fn a_vip_dropped_while_the_daemon_was_down_is_removed_at_start() -> Result<()> {
    let lab = dr_lab(1)?;
    let tmp = tempfile::tempdir()?;
    let runtime = runtime_dir()?;
    let path = tmp.path().join("dir1.conf");
    let host = lab.director(1);
    fs::write(&path, dir1_config(&lab, vips(true)))?;
    let mut daemon = Daemon::spawn_in(host.ns(), &path, "dir1", runtime.path())?;
    daemon.wait_ready(Duration::from_secs(10))?;
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        crash::held_vips(host, &ALL_VIPS).is_ok_and(|h| h.len() == 2)
    })
    .with_context(|| format!("both VIPs never held:\n{}", daemon.log()))?;
    daemon.kill()?;
    fs::write(&path, dir1_config(&lab, vips(false)))?;
    let mut daemon = Daemon::spawn_in(host.ns(), &path, "dir1", runtime.path())?;
    daemon.wait_ready(Duration::from_secs(10))?;
    let expected = Expected {
        owner: true,
        vips: vips(false),
        all_vips: &ALL_VIPS,
    };
    crash::converge(host, &daemon, &expected, &Leftovers::default())
}

/// dir1 alone in a DR lab; its configuration and runtime directory stay
/// for a restart.
struct Alone {
    lab: Lab,
    _tmp: tempfile::TempDir,
    runtime: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Alone {
    /// dir1 started, owning the VIP and serving it through the fast path.
    fn start() -> Result<(Alone, Daemon)> {
        let lab = dr_lab(1)?;
        let tmp = tempfile::tempdir()?;
        let runtime = runtime_dir()?;
        let path = tmp.path().join("dir1.conf");
        fs::write(&path, dir1_config(&lab, vips(false)))?;
        let host = lab.director(1);
        let mut daemon = Daemon::spawn_in(host.ns(), &path, "dir1", runtime.path())?;
        daemon.wait_ready(Duration::from_secs(10))?;
        crash::converge(host, &daemon, &OWNER, &Leftovers::default())?;
        let alone = Alone {
            lab,
            _tmp: tmp,
            runtime,
            path,
        };
        Ok((alone, daemon))
    }

    /// Starts dir1 again in the same runtime directory.
    fn restart(&self) -> Result<Daemon> {
        let host = self.lab.director(1);
        let mut daemon = Daemon::spawn_in(host.ns(), &self.path, "dir1", self.runtime.path())?;
        daemon.wait_ready(Duration::from_secs(10))?;
        Ok(daemon)
    }
}

/// What [`Alone`]'s dir1 holds.
const OWNER: Expected = Expected {
    owner: true,
    vips: &[VIP],
    all_vips: &ALL_VIPS,
};

/// Connections established through the fast path keep their real server
/// when the daemon is killed and started again with the same real servers,
/// though `rr` would send a new connection elsewhere.
#[test]
fn established_flows_are_served_while_the_daemon_is_dead_and_after_its_restart() -> Result<()> {
    let (alone, daemon) = Alone::start()?;
    let (lab, host) = (&alone.lab, alone.lab.director(1));
    let mut flows = Flows::open(lab)?;
    let held = crash::holdings(&daemon)?;
    daemon.kill()?;
    // While no daemon runs, the pinned link keeps the program on eth0:
    // the VIP the kill left answers through the real servers, not with
    // resets from the local stack.
    let attached = lb_tests::bpf::xdp_attached(host.ns(), "eth0")?;
    ensure!(
        attached == held.prog.into_iter().collect::<Vec<_>>(),
        "XDP on eth0 after the kill: {attached:?}, the daemon's program was {:?}",
        held.prog
    );
    flows.check(lab).context("flows while the daemon is dead")?;
    let daemon = alone.restart()?;
    crash::converge(host, &daemon, &OWNER, &held)?;
    flows.check(lab)
}

#[test]
fn a_restart_without_the_fast_path_ends_what_the_killed_daemon_left() -> Result<()> {
    let (alone, daemon) = Alone::start()?;
    let host = alone.lab.director(1);
    let pins = crash::pin_dir(&daemon)?;
    daemon.kill()?;
    ensure!(pins.exists(), "the kill left {}", pins.display());
    fs::write(&alone.path, VrrpConf::fast("BACKUP", PRIORITY).render())?;
    let mut daemon = alone.restart()?;
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        !pins.exists() && lb_tests::bpf::xdp_attached(host.ns(), "eth0").is_ok_and(|a| a.is_empty())
    })
    .with_context(|| format!("the predecessor's XDP is still there:\n{}", daemon.log()))?;
    daemon.stop()?;
    Ok(())
}
