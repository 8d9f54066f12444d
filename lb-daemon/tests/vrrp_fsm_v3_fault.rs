//! Replay tests of `vrrp::fsm`: VRRPv3 learned and sub-second intervals
//! (RFC 5798 §6.4.2), fault and recovery (keepalived `down_instance`,
//! `try_up_instance`).
mod vrrp_fsm_sim;

use std::time::Duration;

use lb_daemon::vrrp::{
    fsm::{Action, Event, Reason, State},
    Version,
};
use vrrp_fsm_sim::{ms, params, us, Net};

const SEC: Duration = Duration::from_secs(1);

#[test]
fn v3_backup_learns_the_masters_sub_second_interval() {
    let mut net = Net::new(vec![
        params(Version::V3, 100, ms(50), "10.0.0.1"),
        params(Version::V3, 50, SEC, "10.0.0.2"),
    ]);
    net.start_all();
    // 3 x 50 ms + 156 x 50 ms / 256.
    let elected = us(180_468);
    net.run_until(ms(1_000));
    assert_eq!(net.entered(0, State::Master), Some(elected));
    let intervals: Vec<_> = net.adverts(0).windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(intervals.iter().all(|d| *d == ms(50)), "{intervals:?}");
    let backup = &net.nodes[1];
    assert_eq!(backup.fsm.master_advert_int(), ms(50));
    let learned = (
        elected,
        Reason::AdvertIntervalUpdated {
            from: SEC,
            to: ms(50),
        },
    );
    assert!(backup.notices.contains(&learned));
    // Master_Down_Interval with the learned interval: 150 ms + 206 x 50 ms / 256.
    let last_advert = elected + ms(50) * 16;
    assert_eq!(backup.fsm.next_deadline(), Some(last_advert + us(190_234)));
    net.nodes[0].up = false;
    net.run_until(ms(2_000));
    assert_eq!(
        net.entered(1, State::Master),
        Some(last_advert + us(190_234))
    );
    assert_eq!(
        net.nodes[1].fsm.master_advert_int(),
        SEC,
        "own interval as master"
    );
}

#[test]
fn v3_priority_zero_handover_uses_the_learned_skew() {
    let mut net = Net::new(vec![
        params(Version::V3, 200, ms(50), "fe80::1"),
        params(Version::V3, 100, ms(50), "fe80::2"),
    ]);
    net.start_all();
    net.run_until(ms(1_000));
    net.send(0, Event::Shutdown);
    net.run_until(ms(2_000));
    // 156 x 50 ms / 256 = 30.46875 ms.
    assert_eq!(net.entered(1, State::Master), Some(ms(1_000) + us(30_468)));
}

#[test]
fn master_fault_sends_priority_zero_and_recovers_through_backup() {
    let mut net = Net::new(vec![
        params(Version::V2, 100, SEC, "10.0.0.1"),
        params(Version::V2, 50, SEC, "10.0.0.2"),
    ]);
    net.start_all();
    net.run_until(ms(10_000));
    net.send(0, Event::Fault(true));
    let fault = Action::Transition {
        from: State::Master,
        to: State::Fault,
        reason: Reason::Fault,
    };
    let zero = Action::SendAdvert { priority: 0 };
    let tail: Vec<_> = net.nodes[0]
        .log
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(|(_, a)| a.clone())
        .collect();
    assert_eq!(tail, vec![zero.clone(), zero, fault]);
    assert_eq!(net.nodes[0].fsm.next_deadline(), None);
    net.send(0, Event::Fault(true));
    net.run_until(ms(20_000));
    assert_eq!(
        net.entered(1, State::Master),
        Some(ms(10_000) + us(804_687))
    );
    assert_eq!(
        net.nodes[0].fsm.state(),
        State::Fault,
        "adverts ignored in FAULT"
    );

    net.send(0, Event::Fault(false));
    assert_eq!(
        net.transitions(0).last(),
        Some(&(ms(20_000), State::Fault, State::Backup))
    );
    net.run_until(ms(30_000));
    let recovered = ms(20_000) + us(3_609_375);
    assert_eq!(net.entered(0, State::Master), Some(recovered));
    assert_eq!(net.states(), vec![State::Master, State::Backup]);
}

#[test]
fn backup_fault_is_silent_and_stops_its_timer() {
    let mut net = Net::new(vec![params(Version::V2, 100, SEC, "10.0.0.1")]);
    net.start_all();
    net.send(0, Event::Fault(true));
    assert_eq!(net.adverts(0), vec![]);
    assert_eq!(net.nodes[0].fsm.next_deadline(), None);
    net.run_until(ms(60_000));
    assert_eq!(net.states(), vec![State::Fault]);
}

#[test]
fn fault_before_startup_starts_in_fault() {
    let mut net = Net::new(vec![params(Version::V2, 255, SEC, "10.0.0.1")]);
    net.send(0, Event::Fault(true));
    assert_eq!(net.states(), vec![State::Initialize]);
    net.send(0, Event::Startup);
    let expected = vec![(ms(0), State::Initialize, State::Fault)];
    assert_eq!(net.transitions(0), expected);
}
