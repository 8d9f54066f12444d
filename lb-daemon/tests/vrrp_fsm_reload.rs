//! Replay tests of `vrrp::fsm` across a configuration reload (keepalived
//! `clear_diff_vrrp`, `restore_vrrp_state`, `vrrp_init_state` with
//! `reload_master`): settings change in place without a state change, a
//! MASTER advertises the new values at once, and an instance that replaces
//! a MASTER resumes as MASTER. Also what a MASTER does when something
//! it added is deleted from under it (keepalived `set_vrrp_backup`).
mod vrrp_fsm_sim;

use std::time::Duration;

use lb_daemon::vrrp::{
    fsm::{Action, Event, Fsm, Params, Reason, State},
    Version,
};
use vrrp_fsm_sim::{ms, params, Net};

const SEC: Duration = Duration::from_secs(1);

fn reconfigure(params: Params) -> Event {
    let priority = params.priority;
    Event::Reconfigure { params, priority }
}

/// A v2 machine at priority 150 that became MASTER at 5 s.
fn master() -> Fsm {
    let mut fsm = Fsm::new(params(Version::V2, 255, SEC, "10.0.0.1"));
    fsm.handle(ms(4000), Event::Startup);
    let mut lowered = params(Version::V2, 150, SEC, "10.0.0.1");
    lowered.initial = State::Master;
    fsm.handle(ms(5000), reconfigure(lowered));
    assert_eq!(fsm.state(), State::Master);
    fsm
}

#[test]
fn master_advertises_new_priority_and_interval_at_once() {
    let mut fsm = master();
    let mut changed = params(Version::V2, 120, 3 * SEC, "10.0.0.1");
    changed.preempt = false;
    let actions = fsm.handle(ms(5300), reconfigure(changed));
    assert_eq!(actions, vec![Action::SendAdvert { priority: 120 }]);
    assert_eq!(fsm.state(), State::Master, "no transition");
    assert_eq!(fsm.priority(), 120);
    assert_eq!(fsm.next_deadline(), Some(ms(8300)), "new interval");
    assert_eq!(
        fsm.notices(),
        &[Reason::PriorityChanged { from: 150, to: 120 }]
    );
    let actions = fsm.handle(ms(8300), Event::Timeout);
    assert_eq!(actions, vec![Action::SendAdvert { priority: 120 }]);
}

#[test]
fn backup_keeps_its_state_and_waits_a_full_interval_with_the_new_values() {
    let mut fsm = Fsm::new(params(Version::V2, 100, SEC, "10.0.0.1"));
    fsm.handle(ms(0), Event::Startup);
    let actions = fsm.handle(
        ms(2000),
        reconfigure(params(Version::V2, 200, 2 * SEC, "10.0.0.1")),
    );
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!((fsm.state(), fsm.priority()), (State::Backup, 200));
    // v2 Master_Down_Interval at 2 s and priority 200: 3 × 2 s + 56/256 s.
    let down = Duration::from_secs(6) + Duration::from_micros(56 * 1_000_000 / 256);
    assert_eq!(fsm.next_deadline(), Some(ms(2000) + down));
}

#[test]
fn a_backup_that_becomes_address_owner_takes_over_at_once() {
    let mut fsm = Fsm::new(params(Version::V2, 100, SEC, "10.0.0.1"));
    fsm.handle(ms(0), Event::Startup);
    let actions = fsm.handle(
        ms(1000),
        reconfigure(params(Version::V2, 255, SEC, "10.0.0.1")),
    );
    assert_eq!(actions[0], Action::SendAdvert { priority: 255 });
    assert_eq!(fsm.state(), State::Master);
}

#[test]
fn tracked_priority_is_the_effective_one_but_the_owner_keeps_255() {
    let mut fsm = master();
    let actions = fsm.handle(
        ms(5100),
        Event::Reconfigure {
            params: params(Version::V2, 150, SEC, "10.0.0.1"),
            priority: 170,
        },
    );
    assert_eq!(actions, vec![Action::SendAdvert { priority: 170 }]);
    let actions = fsm.handle(
        ms(5200),
        Event::Reconfigure {
            params: params(Version::V2, 255, SEC, "10.0.0.1"),
            priority: 100,
        },
    );
    assert_eq!(actions, vec![Action::SendAdvert { priority: 255 }]);
}

#[test]
fn faulted_instance_stays_in_fault_and_sends_nothing() {
    let mut fsm = Fsm::new(params(Version::V2, 100, SEC, "10.0.0.1"));
    fsm.handle(ms(0), Event::Fault(true));
    fsm.handle(ms(0), Event::Startup);
    let actions = fsm.handle(
        ms(500),
        reconfigure(params(Version::V2, 90, SEC, "10.0.0.1")),
    );
    assert!(actions.is_empty());
    assert_eq!((fsm.state(), fsm.next_deadline()), (State::Fault, None));
    assert_eq!(fsm.priority(), 90);
}

#[test]
fn resumed_master_advertises_at_startup_without_waiting() {
    let mut fsm = Fsm::new(params(Version::V3, 100, SEC, "10.0.0.1"));
    fsm.set_resume_master();
    let actions = fsm.handle(ms(7000), Event::Startup);
    let expected = vec![
        Action::SendAdvert { priority: 100 },
        Action::Transition {
            from: State::Initialize,
            to: State::Master,
            reason: Reason::Resumed,
        },
    ];
    assert_eq!(actions, expected);
    assert_eq!(fsm.next_deadline(), Some(ms(8000)));
}

#[test]
fn a_reload_that_lowers_the_master_below_its_peer_hands_over() {
    let mut net = Net::new(vec![
        params(Version::V2, 150, SEC, "10.0.0.1"),
        params(Version::V2, 100, SEC, "10.0.0.2"),
    ]);
    net.start_all();
    net.run_until(ms(10_000));
    assert_eq!(net.states(), vec![State::Master, State::Backup]);
    net.send(0, reconfigure(params(Version::V2, 50, SEC, "10.0.0.1")));
    net.run_until(ms(20_000));
    assert_eq!(net.states(), vec![State::Backup, State::Master]);
    assert_eq!(net.masters(), 1);
}

#[test]
fn a_master_whose_address_was_deleted_leaves_and_returns_after_skew_time() {
    let mut fsm = master();
    let actions = fsm.handle(ms(5500), Event::Deleted);
    assert_eq!(
        actions,
        vec![
            Action::SendAdvert { priority: 0 },
            Action::Transition {
                from: State::Master,
                to: State::Backup,
                reason: Reason::Deleted,
            }
        ]
    );
    // v2 Skew_Time at priority 150: (256 - 150) / 256 s.
    let skew = Duration::from_micros(106 * 1_000_000 / 256);
    assert_eq!(fsm.next_deadline(), Some(ms(5500) + skew));
    let actions = fsm.handle(ms(5500) + skew, Event::Timeout);
    assert_eq!(actions[0], Action::SendAdvert { priority: 150 });
    assert_eq!(fsm.state(), State::Master);
    // Only a MASTER leaves.
    let mut backup = Fsm::new(params(Version::V2, 100, SEC, "10.0.0.1"));
    backup.handle(ms(0), Event::Startup);
    assert!(backup.handle(ms(100), Event::Deleted).is_empty());
    assert_eq!(backup.state(), State::Backup);
}
