//! Properties of the desired-state model over random configurations and
//! verdict sequences.
mod desired_common;

use desired_common::*;
use lb_daemon::check::VerdictChange;
use lb_daemon::config::VirtualServer;
use lb_daemon::state::desired::{Event, Model};
use proptest::prelude::*;

/// A random virtual server: (checkers, weight, inhibit) per real server.
fn arb_server() -> impl Strategy<Value = VirtualServer> {
    let reals = prop::collection::vec((0usize..3, 0u32..4, any::<bool>()), 1..5);
    (
        reals,
        1u32..8,
        0u32..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(reals, quorum, hysteresis, with_sorry, sorry_inhibit, alpha)| {
                let reals = reals
                    .into_iter()
                    .enumerate()
                    .map(|(n, (checkers, weight, inhibit))| {
                        let mut real = real(n as u8 + 1, checkers);
                        real.weight = Some(weight);
                        real.inhibit_on_failure = inhibit;
                        real
                    })
                    .collect();
                let mut vs = server(reals);
                vs.quorum = Some(quorum);
                vs.hysteresis = Some(hysteresis);
                vs.sorry_server = with_sorry.then(sorry);
                vs.sorry_server_inhibit = sorry_inhibit;
                vs.alpha = alpha;
                vs
            },
        )
}

fn arb_verdicts() -> impl Strategy<Value = Vec<VerdictChange>> {
    let one = (
        0usize..5,
        0usize..3,
        any::<bool>(),
        prop::option::weighted(0.2, 0u32..6),
    );
    prop::collection::vec(
        one.prop_map(|(rs, checker, up, weight)| VerdictChange {
            weight,
            ..verdict(0, rs, checker, up)
        }),
        0..40,
    )
}

/// Sum of the effective weights of alive real servers.
fn live_weight(model: &Model) -> u32 {
    let status = model.status();
    let reals = status["virtual_servers"][0]["real_servers"]
        .as_array()
        .unwrap()
        .clone();
    reals
        .iter()
        .filter(|r| r["up"] == true)
        .map(|r| r["weight"].as_u64().unwrap() as u32)
        .sum()
}

/// The backends follow the real servers' states and the quorum.
fn check_backends(model: &Model, vs: &VirtualServer) {
    let svc = service(model, 0);
    let sorry = !model.quorum_up(0) && vs.sorry_server.is_some();
    assert_eq!(svc.sorry, sorry);
    let status = model.status();
    for (rs, real) in vs.real_server.iter().enumerate() {
        let state = &status["virtual_servers"][0]["real_servers"][rs];
        let up = state["up"] == true;
        let backend = svc
            .backends
            .iter()
            .find(|b| !b.sorry && b.addr == real.address);
        let serving = up && !sorry;
        assert_eq!(backend.is_some(), serving || real.inhibit_on_failure);
        if let Some(backend) = backend {
            assert_eq!(backend.weight == 0, !serving || state["weight"] == 0);
        }
    }
    let sorry_backend = svc.backends.iter().find(|b| b.sorry);
    assert_eq!(
        sorry_backend.is_some(),
        vs.sorry_server.is_some() && (sorry || vs.sorry_server_inhibit)
    );
}

proptest! {
    #[test]
    fn state_follows_the_rules(vs in arb_server(), verdicts in arb_verdicts()) {
        let cfg = config(vec![vs.clone()]);
        let (mut model, _) = Model::new(&cfg);
        let mut checkers: Vec<Vec<bool>> = vs
            .real_server
            .iter()
            .map(|r| vec![!vs.alpha; r.checker.len()])
            .collect();
        let (quorum, hysteresis) = (vs.quorum.unwrap(), vs.hysteresis.unwrap());
        check_backends(&model, &vs);
        for change in verdicts {
            let was_up: Vec<Option<bool>> = (0..vs.real_server.len())
                .map(|rs| model.is_up(lb_daemon::check::RealServerId { vs: 0, rs }))
                .collect();
            let quorum_before = model.quorum_up(0);
            let effects = apply(&mut model, change.clone());
            if let Some(slot) = checkers
                .get_mut(change.id.rs)
                .and_then(|c| c.get_mut(change.checker))
            {
                *slot = change.up;
            }
            for (rs, verdicts) in checkers.iter().enumerate() {
                let alive = verdicts.iter().all(|up| *up);
                let id = lb_daemon::check::RealServerId { vs: 0, rs };
                prop_assert_eq!(model.is_up(id), Some(alive));
                let flipped = was_up[rs] != Some(alive);
                let event = if alive { Event::RealServerUp(id) } else { Event::RealServerDown(id) };
                prop_assert_eq!(flipped, effects.iter().any(|e| e.event == event));
            }
            let sum = live_weight(&model);
            let in_band = sum > 0 && sum + hysteresis >= quorum && sum < quorum + hysteresis;
            if in_band {
                prop_assert_eq!(model.quorum_up(0), quorum_before, "no flapping in the band");
            }
            let quorum_event = effects
                .iter()
                .any(|e| matches!(e.event, Event::QuorumUp(_) | Event::QuorumDown(_)));
            prop_assert_eq!(quorum_event, model.quorum_up(0) != quorum_before);
            check_backends(&model, &vs);
        }
    }
}
