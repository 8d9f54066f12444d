//! Replay tests of `vrrp::fsm`: startup, election, failover and shutdown
//! (RFC 3768 §6.4; keepalived `vrrp_init_state`, `restore_vrrp_interfaces`).
mod vrrp_fsm_sim;

use std::time::Duration;

use lb_daemon::vrrp::{
    fsm::{Action, Event, Fsm, Reason, State},
    Version,
};
use vrrp_fsm_sim::{ms, params, us, Net};

const SEC: Duration = Duration::from_secs(1);
/// v2, priority 100: 3 s + 156/256 s.
const MDI_100: Duration = Duration::from_micros(3_609_375);
/// v2, priority 50: 3 s + 206/256 s, truncated to the microsecond.
const MDI_50: Duration = Duration::from_micros(3_804_687);

fn pair() -> Net {
    Net::new(vec![
        params(Version::V2, 100, SEC, "10.0.0.1"),
        params(Version::V2, 50, SEC, "10.0.0.2"),
    ])
}

#[test]
fn owner_becomes_master_at_once() {
    let mut fsm = Fsm::new(params(Version::V2, 255, SEC, "10.0.0.1"));
    let actions = fsm.handle(ms(5000), Event::Startup);
    let expected = vec![
        Action::SendAdvert { priority: 255 },
        Action::Transition {
            from: State::Initialize,
            to: State::Master,
            reason: Reason::AddressOwner,
        },
    ];
    assert_eq!(actions, expected);
    assert_eq!(fsm.next_deadline(), Some(ms(6000)));
    assert_eq!(fsm.master(), "10.0.0.1".parse().ok());
}

#[test]
fn non_owner_starts_as_backup_with_the_master_down_timer() {
    let mut fsm = Fsm::new(params(Version::V2, 100, SEC, "10.0.0.1"));
    let actions = fsm.handle(ms(0), Event::Startup);
    let expected = Action::Transition {
        from: State::Initialize,
        to: State::Backup,
        reason: Reason::Init,
    };
    assert_eq!(actions, vec![expected]);
    assert_eq!(fsm.next_deadline(), Some(MDI_100));
    assert_eq!(fsm.master(), None);
}

/// keepalived: `state MASTER` waits like BACKUP but clears `nopreempt`.
#[test]
fn state_master_waits_like_backup_but_always_preempts() {
    let lower = Event::Advert {
        src: "10.0.0.9".parse().unwrap(),
        priority: 50,
        max_advert_int: SEC,
    };
    let mut configured = params(Version::V2, 100, SEC, "10.0.0.1");
    configured.preempt = false;
    configured.initial = State::Master;
    let mut fsm = Fsm::new(configured.clone());
    fsm.handle(ms(0), Event::Startup);
    assert_eq!(fsm.state(), State::Backup);
    assert_eq!(fsm.next_deadline(), Some(MDI_100));
    fsm.handle(ms(1000), lower.clone());
    assert_eq!(fsm.next_deadline(), Some(MDI_100), "lower advert ignored");
    let actions = fsm.handle(MDI_100, Event::Timeout);
    assert_eq!(actions[0], Action::SendAdvert { priority: 100 });
    assert_eq!(fsm.state(), State::Master);

    configured.initial = State::Backup;
    let mut nopreempt = Fsm::new(configured);
    nopreempt.handle(ms(0), Event::Startup);
    nopreempt.handle(ms(1000), lower);
    assert_eq!(nopreempt.next_deadline(), Some(ms(1000) + MDI_100));
}

#[test]
fn higher_priority_wins_the_election() {
    let mut net = pair();
    net.start_all();
    net.run_until(ms(10_000));
    assert_eq!(net.states(), vec![State::Master, State::Backup]);
    assert_eq!(net.entered(0, State::Master), Some(MDI_100));
    assert_eq!(net.entered(1, State::Master), None);
    let adverts: Vec<_> = net.adverts(0).into_iter().map(|(t, _)| t).collect();
    let expected: Vec<_> = (0..7).map(|k| MDI_100 + SEC * k).collect();
    assert_eq!(adverts, expected);
    assert_eq!(net.nodes[1].fsm.master(), "10.0.0.1".parse().ok());
}

#[test]
fn backup_takes_over_one_master_down_interval_after_the_last_advert() {
    let mut net = pair();
    net.start_all();
    net.run_until(ms(10_000));
    net.nodes[0].up = false;
    net.run_until(ms(20_000));
    let last_advert = MDI_100 + SEC * 6;
    assert_eq!(net.entered(1, State::Master), Some(last_advert + MDI_50));
    assert_eq!(
        net.nodes[1].fsm.next_deadline(),
        Some(last_advert + MDI_50 + SEC * 7)
    );
}

#[test]
fn graceful_shutdown_hands_over_after_skew_time() {
    let mut net = pair();
    net.start_all();
    net.run_until(ms(10_000));
    net.send(0, Event::Shutdown);
    let expected = [
        (ms(10_000), Action::SendAdvert { priority: 0 }),
        (
            ms(10_000),
            Action::Transition {
                from: State::Master,
                to: State::Initialize,
                reason: Reason::Shutdown,
            },
        ),
    ];
    assert_eq!(net.nodes[0].log[net.nodes[0].log.len() - 2..], expected[..]);
    assert_eq!(net.nodes[0].fsm.next_deadline(), None);
    net.run_until(ms(20_000));
    assert_eq!(
        net.entered(1, State::Master),
        Some(ms(10_000) + us(804_687))
    );
    let zero = (ms(10_000), Reason::BackupPriorityZero);
    assert!(net.nodes[1].notices.contains(&zero));
}

#[test]
fn backup_shutdown_sends_nothing() {
    let mut net = pair();
    net.start_all();
    net.run_until(ms(10_000));
    net.send(1, Event::Shutdown);
    assert_eq!(net.adverts(1), vec![]);
    assert_eq!(
        net.transitions(1).last(),
        Some(&(ms(10_000), State::Backup, State::Initialize))
    );
    net.run_until(ms(20_000));
    assert_eq!(net.states(), vec![State::Master, State::Initialize]);
}

/// An interface re-created with another address: the master's tie-break
/// (RFC 3768 §6.4.3: equal priority, higher address wins) uses the new one.
#[test]
fn a_new_local_address_decides_ties_from_then_on() {
    let mut fsm = Fsm::new(params(Version::V2, 100, SEC, "10.0.0.1"));
    fsm.handle(ms(0), Event::Startup);
    fsm.handle(MDI_100, Event::Timeout);
    assert_eq!(fsm.state(), State::Master);
    fsm.set_local_addr("10.0.0.9".parse().unwrap());
    assert_eq!(fsm.master(), "10.0.0.9".parse().ok());
    let equal = Event::Advert {
        src: "10.0.0.5".parse().unwrap(),
        priority: 100,
        max_advert_int: SEC,
    };
    fsm.handle(MDI_100 + ms(100), equal);
    assert_eq!(fsm.state(), State::Master, "10.0.0.9 beats 10.0.0.5");
}
