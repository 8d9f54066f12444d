//! The fault injector: which faults there are, how one is picked (seeded),
//! applied, held and healed. One fault at a time; the caller checks the
//! convergence after each heal.
use std::{fmt, thread, time::Duration, time::Instant};

use anyhow::Result;
use nix::sys::signal::Signal;

use super::{lab::SoakLab, rng::Rng};

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `kill -9` of a director's daemon, then a start in the same runtime
    /// directory.
    Kill,
    /// SIGSTOP of a director's daemon for longer than the master-down
    /// interval, then SIGCONT.
    Stop,
    /// A director's `eth0` down, then up.
    LinkDown,
    /// Two directors' bridge ports isolated from each other, then not.
    Partition,
    /// Random loss on a director's traffic (nftables: this kernel has no
    /// `sch_netem`), then none.
    Loss,
    /// SIGHUP with a changed configuration.
    ReloadChanged,
    /// SIGHUP with a broken configuration (refused), then the good one back
    /// on disk.
    ReloadBroken,
    /// A real server's link down (its death) until both directors' checks
    /// saw it, then up.
    RealServer,
    /// A director's `eth0` deleted, then created again.
    Recreate,
}

impl Kind {
    /// Every kind, in the report's order.
    pub const ALL: [Kind; 9] = [
        Kind::Kill,
        Kind::Stop,
        Kind::LinkDown,
        Kind::Partition,
        Kind::Loss,
        Kind::ReloadChanged,
        Kind::ReloadBroken,
        Kind::RealServer,
        Kind::Recreate,
    ];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Kill => "kill -9 + restart",
            Kind::Stop => "SIGSTOP/SIGCONT",
            Kind::LinkDown => "link down/up",
            Kind::Partition => "partition",
            Kind::Loss => "packet loss (nft)",
            Kind::ReloadChanged => "SIGHUP, changed config",
            Kind::ReloadBroken => "SIGHUP, broken config",
            Kind::RealServer => "real server death",
            Kind::Recreate => "interface re-created",
        })
    }
}

/// One fault: its kind, what it hits, how long it is held.
#[derive(Debug, Clone)]
pub struct Fault {
    /// The kind.
    pub kind: Kind,
    /// The node it hits (`dir1`, `rs2`; a partition names both directors).
    pub target: String,
    /// How long it lasts before the heal.
    pub hold: Duration,
    /// Loss in percent, for [`Kind::Loss`].
    pub loss: u8,
}

impl Fault {
    /// A random fault for a lab with advert interval `advert`.
    pub fn pick(rng: &mut Rng, advert: Duration) -> Fault {
        let kind = Kind::ALL[rng.below(Kind::ALL.len())];
        let lb_director = format!("dir{}", 1 + rng.below(2));
        let any_director = format!("dir{}", 1 + rng.below(3));
        let target = match kind {
            Kind::LinkDown | Kind::Loss => any_director,
            Kind::Partition => {
                let spared = 1 + rng.below(3);
                let pair: Vec<String> = (1..=3)
                    .filter(|n| *n != spared)
                    .map(|n| format!("dir{n}"))
                    .collect();
                pair.join("+")
            }
            Kind::RealServer => format!("rs{}", 1 + rng.below(3)),
            _ => lb_director,
        };
        // SIGSTOP must outlast the master-down interval (3 adverts + skew).
        let hold = match kind {
            Kind::Stop => rng.between(advert * 4, advert * 8),
            _ => rng.between(advert * 2, advert * 8),
        };
        Fault {
            kind,
            target,
            hold,
            loss: 20 + rng.below(50) as u8,
        }
    }

    /// Applies the fault, holds it, heals it; returns when it was healed.
    pub fn inject(&self, lab: &mut SoakLab) -> Result<Instant> {
        let t = self.target.as_str();
        match self.kind {
            Kind::Kill => {
                lab.kill(t)?;
                thread::sleep(self.hold);
                let heal = Instant::now();
                lab.restart(t)?;
                return Ok(heal);
            }
            Kind::Stop => lab.signal(t, Signal::SIGSTOP)?,
            Kind::LinkDown => lab.link(t, false)?,
            Kind::Partition => lab.isolate(t, true)?,
            Kind::Loss => lab.loss(t, Some(self.loss))?,
            Kind::ReloadChanged => lab.reload_changed(t)?,
            Kind::ReloadBroken => lab.reload_broken(t)?,
            Kind::RealServer => {
                lab.link(t, false)?;
                lab.wait_real_server(t, false)?;
            }
            Kind::Recreate => lab.recreate(t, false)?,
        }
        thread::sleep(self.hold);
        let heal = Instant::now();
        match self.kind {
            Kind::Stop => lab.signal(t, Signal::SIGCONT)?,
            Kind::LinkDown | Kind::RealServer => lab.link(t, true)?,
            Kind::Partition => lab.isolate(t, false)?,
            Kind::Loss => lab.loss(t, None)?,
            Kind::ReloadBroken => lab.restore_config(t)?,
            Kind::Recreate => lab.recreate(t, true)?,
            Kind::Kill | Kind::ReloadChanged => {}
        }
        Ok(heal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_cover_every_kind_with_sane_targets() {
        let mut rng = Rng::new(1);
        let advert = Duration::from_millis(500);
        let picks: Vec<Fault> = (0..500).map(|_| Fault::pick(&mut rng, advert)).collect();
        for kind in Kind::ALL {
            assert!(picks.iter().any(|f| f.kind == kind), "{kind} never picked");
        }
        for f in &picks {
            let ok = match f.kind {
                Kind::RealServer => ["rs1", "rs2", "rs3"].contains(&f.target.as_str()),
                Kind::Partition => f.target.split('+').count() == 2,
                Kind::LinkDown | Kind::Loss => {
                    ["dir1", "dir2", "dir3"].contains(&f.target.as_str())
                }
                _ => ["dir1", "dir2"].contains(&f.target.as_str()),
            };
            assert!(ok, "{f:?}");
            assert!(f.hold >= advert * 2 && f.hold <= advert * 8, "{f:?}");
            assert!(f.kind != Kind::Stop || f.hold >= advert * 4);
        }
    }
}
