//! The chaos soak (`cargo xtask soak`, and `tests/chaos_soak.rs` in CI):
//! the [`SoakLab`](lab::SoakLab)'s directors under one seeded fault after
//! another while the client's [`Observer`](observer::Observer) watches the
//! wire and sends traffic. After every heal the lab must converge (each VIP
//! on its owner alone, the daemons' states, XDP on the owner only), the
//! client's ARP requests must be answered by the owners, two masters may not outlast one advert interval, and at
//! the end nothing may be left behind; the [`Report`] says per fault kind.
pub mod config;
pub mod faults;
pub mod lab;
pub mod leaks;
pub mod observer;
pub mod report;
pub mod rng;
pub mod timing;

use std::{
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Result};

use self::{
    config::VIPS,
    faults::Fault,
    lab::SoakLab,
    observer::{Counts, Observer},
    report::{FaultRecord, Report},
    rng::Rng,
    timing::Window,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many faults.
    pub faults: usize,
    /// The seed of the fault sequence.
    pub seed: u64,
    /// Every instance's `advert_int`.
    pub advert: Duration,
}

impl Default for Options {
    /// 20 faults, seed 1, adverts every 0.5 s: the CI run.
    fn default() -> Self {
        Options {
            faults: 20,
            seed: 1,
            advert: Duration::from_millis(500),
        }
    }
}

/// After a heal, the lab must have converged within this many advert
/// intervals: 3 adverts and the skew (at most one more), one more for the
/// polling of seven commands on a shared machine.
const CONVERGE_ADVERTS: u32 = 5;
/// Real servers' checks and restarted daemons may take longer: past this,
/// the run stops (the lab is broken for good).
const GIVE_UP: Duration = Duration::from_secs(30);

/// Runs the soak; the report says whether every goal held.
pub fn run(options: &Options) -> Result<Report> {
    let advert = options.advert;
    let mut report = Report {
        seed: options.seed,
        advert,
        ..Report::default()
    };
    let mut lab = SoakLab::start(advert)?;
    if let Err(problems) = lab.converge(GIVE_UP) {
        bail!("the lab never converged: {problems:#?}");
    }
    let client = lab.lab().client();
    let vips = VIPS.map(|v| v.0);
    let service = format!("{}:80", vips[0]);
    let mut observer = Observer::start(client.ns_name(), client.ipv4(), &service, &vips)?;
    let mut rng = Rng::new(options.seed);
    let mut counted = observer.counts();
    for n in 1..=options.faults {
        thread::sleep(rng.between(advert, advert * 3));
        let fault = Fault::pick(&mut rng, advert);
        eprintln!(
            "soak: fault {n}/{}: {} on {} for {} ms",
            options.faults,
            fault.kind,
            fault.target,
            fault.hold.as_millis()
        );
        let (record, give_up) = one_fault(&mut lab, &observer, &fault, counted)?;
        counted = observer.counts();
        eprintln!(
            "soak: fault {n}: converged after {} ms, two masters {} ms, none {} ms, {:?}",
            record.converged_after.as_millis(),
            record.dual_after_heal.as_millis(),
            record.no_master.as_millis(),
            record.traffic
        );
        for v in &record.violations {
            eprintln!("soak: VIOLATION: {v}");
        }
        report.faults.push(record);
        if let Some(why) = give_up {
            report.aborted = Some(why);
            break;
        }
    }
    if let Err(e) = observer.stop() {
        report
            .aborted
            .get_or_insert(format!("the client failed: {e:#}"));
    }
    report.resources = lab.resources().clone();
    report.leaks = lab.shutdown();
    Ok(report)
}

/// Applies, holds and heals `fault`, waits for convergence and records it
/// with the client's traffic since `before` (the spacing before the fault
/// included); the second value says why the run must stop, if it must.
fn one_fault(
    lab: &mut SoakLab,
    observer: &Observer,
    fault: &Fault,
    before: Counts,
) -> Result<(FaultRecord, Option<String>)> {
    let advert = lab.advert();
    let at = Instant::now();
    observer.forget_before(at - advert * 8);
    let heal = fault.inject(lab)?;
    let mut violations = Vec::new();
    let mut give_up = None;
    let converged_after = match lab.converge(GIVE_UP) {
        Ok(_) => heal.elapsed(),
        Err(problems) => {
            give_up = Some(format!("no convergence within {GIVE_UP:?}: {problems:?}"));
            GIVE_UP
        }
    };
    if converged_after > advert * CONVERGE_ADVERTS {
        violations.push(format!(
            "converged {} ms after the heal (budget {} ms)",
            converged_after.as_millis(),
            (advert * CONVERGE_ADVERTS).as_millis()
        ));
    }
    // One more interval: a loser's late advert is seen, and nothing moves.
    thread::sleep(advert);
    let moved = lab.problems();
    if give_up.is_none() && !moved.is_empty() {
        violations.push(format!("after convergence: {moved:?}"));
    }
    let stale_arp = !lab.stale_arp().is_empty();
    violations.extend(
        lab.arp_replies()
            .into_iter()
            .map(|w| format!("ARP reply: {w}")),
    );
    lab.sample();
    let window = Window {
        fault: at,
        heal,
        end: Instant::now(),
        advert,
    };
    let adverts = observer.adverts_since(at - advert * 4);
    let (mut dual, mut no_master) = (Duration::ZERO, Duration::ZERO);
    for (vip, vrid, _) in VIPS {
        let m = timing::mastership(&adverts, vrid, &window);
        if m.dual_after_heal > advert {
            violations.push(format!(
                "VRID {vrid} ({vip}): two masters for {} ms after the heal",
                m.dual_after_heal.as_millis()
            ));
        }
        dual = dual.max(m.dual_after_heal);
        no_master = no_master.max(m.no_master);
    }
    let record = FaultRecord {
        kind: fault.kind,
        target: fault.target.clone(),
        dual_after_heal: dual,
        no_master,
        converged_after,
        traffic: observer.counts().since(&before),
        stale_arp,
        violations,
    };
    Ok((record, give_up))
}
