//! Properties of `vrrp::fsm`: no panic and timers always ahead of time on any
//! event sequence; two peers always converge to exactly one master.
mod vrrp_fsm_sim;

use std::{net::IpAddr, time::Duration};

use lb_daemon::vrrp::{
    fsm::{Action, Event, Fsm, Params, State, Time},
    Version,
};
use proptest::prelude::*;
use vrrp_fsm_sim::{ms, Net};

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V2), Just(Version::V3)]
}

fn params_for(version: Version, priority: u8, advert_ms: u64, addr: IpAddr) -> Params {
    Params {
        version,
        priority,
        advert_int: ms(advert_ms),
        preempt: true,
        preempt_delay: Duration::ZERO,
        initial: State::Backup,
        local_addr: addr,
        strict: false,
    }
}

fn any_params() -> impl Strategy<Value = Params> {
    let initial = prop_oneof![Just(State::Backup), Just(State::Master)];
    let shape = (
        version(),
        any::<u8>(),
        0u64..5_000,
        any::<bool>(),
        0u64..8_000,
    );
    (shape, initial, any::<bool>()).prop_map(|((v, prio, adv, preempt, delay), initial, v6)| {
        let addr = if v6 { "fe80::5" } else { "10.0.0.5" };
        let mut p = params_for(v, prio, adv, addr.parse().unwrap());
        p.preempt = preempt;
        p.preempt_delay = ms(delay);
        p.initial = initial;
        p
    })
}

fn any_event() -> impl Strategy<Value = Event> {
    let src = prop_oneof![
        Just("10.0.0.1"),
        Just("10.0.0.9"),
        Just("fe80::1"),
        Just("fe80::9"),
        Just("10.0.0.5"),
    ]
    .prop_map(|s| s.parse::<IpAddr>().unwrap());
    let advert = (src, any::<u8>(), 0u64..5_000).prop_map(|(src, priority, int)| Event::Advert {
        src,
        priority,
        max_advert_int: ms(int),
    });
    let forced = prop_oneof![Just(State::Master), Just(State::Backup), Just(State::Fault)];
    prop_oneof![
        1 => Just(Event::Startup),
        4 => advert,
        3 => Just(Event::Timeout),
        1 => any::<bool>().prop_map(Event::Fault),
        1 => any::<u8>().prop_map(Event::Priority),
        1 => Just(Event::Shutdown),
        1 => forced.prop_map(Event::SyncGroup),
    ]
}

/// Checks one call's output against the state it started from.
fn check_transitions(mut state: State, actions: &[Action]) -> State {
    for action in actions {
        if let Action::Transition { from, to, .. } = action {
            assert_eq!(*from, state, "transition chain broken: {actions:?}");
            assert_ne!(from, to);
            state = *to;
        }
    }
    state
}

proptest! {
    #[test]
    fn any_event_sequence_keeps_timers_ahead(
        params in any_params(),
        sync in any::<bool>(),
        steps in prop::collection::vec((0u64..4_000, any::<bool>(), any_event()), 1..120),
    ) {
        let mut fsm = Fsm::new(params);
        fsm.set_sync_member(sync);
        let mut now = Time::ZERO;
        for (delta, at_deadline, event) in steps {
            now += ms(delta);
            if at_deadline {
                now = fsm.next_deadline().unwrap_or(now).max(now);
            }
            let before = fsm.state();
            let actions = fsm.handle(now, event);
            prop_assert_eq!(check_transitions(before, &actions), fsm.state());
            prop_assert!(fsm.next_deadline().is_none_or(|d| d > now));
            prop_assert!(fsm.priority() >= 1);
            prop_assert!(fsm.notices().len() <= 4);
            let timer_expected = matches!(fsm.state(), State::Master | State::Backup);
            prop_assert_eq!(fsm.next_deadline().is_some(), timer_expected);
        }
    }

    #[test]
    fn two_peers_converge_to_one_master(
        version in version(),
        (p1, p2) in (1u8..=255, 1u8..=254).prop_filter("distinct", |(a, b)| a != b),
        (adv1, adv2) in (10u64..3_000, 10u64..3_000),
        (start1, start2) in (0u64..5_000, 0u64..5_000),
        (preempt1, preempt2) in (any::<bool>(), any::<bool>()),
        v6 in any::<bool>(),
    ) {
        let (adv1, adv2) = match version {
            // v2 peers with different intervals drop each other's adverts.
            Version::V2 => (1_000, 1_000),
            Version::V3 => (adv1, adv2),
        };
        let (a, b) = if v6 { ("fe80::1", "fe80::2") } else { ("10.0.0.1", "10.0.0.2") };
        let mut first = params_for(version, p1, adv1, a.parse().unwrap());
        let mut second = params_for(version, p2, adv2, b.parse().unwrap());
        first.preempt = preempt1;
        second.preempt = preempt2;
        let mut net = Net::new(vec![first, second]);
        let mut starts = [(start1, 0), (start2, 1)];
        starts.sort();
        for (at, node) in starts {
            net.run_until(ms(at));
            net.send(node, Event::Startup);
        }
        // Both up: at most one down interval (< 4 intervals) plus one advert.
        let slowest = ms(adv1.max(adv2).max(1_000));
        net.run_until(net.now + slowest * 6);
        prop_assert_eq!(net.masters(), 1, "states {:?}", net.states());
        if preempt1 && preempt2 {
            let winner = if p1 > p2 { 0 } else { 1 };
            prop_assert_eq!(net.nodes[winner].fsm.state(), State::Master);
        }
    }
}
