//! Replay tests of `vrrp::fsm`: preemption, `nopreempt`, `preempt_delay`,
//! the address tie-break and priority changes (RFC 3768/5798 §6.4.2-3;
//! keepalived `vrrp_state_backup`, `vrrp_state_master_rx`,
//! `vrrp_set_effective_priority`).
mod vrrp_fsm_sim;

use std::time::Duration;

use lb_daemon::vrrp::{
    fsm::{Action, Event, Fsm, Params, Reason, State},
    Version,
};
use vrrp_fsm_sim::{ms, params, us, Net};

const SEC: Duration = Duration::from_secs(1);
/// v2, priority 100: 3 s + 156/256 s.
const MDI_100: Duration = Duration::from_micros(3_609_375);
/// v2, priority 50: first advert of a lone master started at 0.
const MASTER_50: Duration = Duration::from_micros(3_804_687);

/// A lone priority-50 master from time 0, joined at 20 s by priority 100.
fn late_higher(higher: Params) -> Net {
    let mut net = Net::new(vec![higher, params(Version::V2, 50, SEC, "10.0.0.2")]);
    net.send(1, Event::Startup);
    net.run_until(ms(20_000));
    assert_eq!(net.states(), vec![State::Initialize, State::Master]);
    net.send(0, Event::Startup);
    net
}

#[test]
fn higher_priority_preempts_after_its_master_down_interval() {
    let mut net = late_higher(params(Version::V2, 100, SEC, "10.0.0.1"));
    net.run_until(ms(40_000));
    assert_eq!(net.entered(0, State::Master), Some(ms(20_000) + MDI_100));
    let lower = Reason::LowerPriorityDiscarded {
        from: "10.0.0.2".parse().unwrap(),
        priority: 50,
    };
    assert!(net.nodes[0].notices.iter().any(|(_, r)| *r == lower));
    let stepped_down = Action::Transition {
        from: State::Master,
        to: State::Backup,
        reason: Reason::HigherPriority {
            from: "10.0.0.1".parse().unwrap(),
            priority: 100,
            ours: 50,
        },
    };
    assert!(net.nodes[1]
        .log
        .contains(&(ms(20_000) + MDI_100, stepped_down)));
    assert_eq!(net.states(), vec![State::Master, State::Backup]);
}

#[test]
fn nopreempt_leaves_a_lower_master_alone() {
    let mut higher = params(Version::V2, 100, SEC, "10.0.0.1");
    higher.preempt = false;
    let mut net = late_higher(higher);
    net.run_until(ms(60_000));
    assert_eq!(net.states(), vec![State::Backup, State::Master]);
    assert_eq!(net.nodes[0].fsm.master(), "10.0.0.2".parse().ok());
}

/// keepalived: the delay starts at the first lower-priority advert; adverts
/// are accepted until it ends, then the down timer runs out.
#[test]
fn preempt_delay_counts_from_the_first_lower_advert() {
    let mut higher = params(Version::V2, 100, SEC, "10.0.0.1");
    higher.preempt_delay = Duration::from_secs(5);
    let mut net = late_higher(higher);
    net.run_until(ms(60_000));
    let first_seen = MASTER_50 + SEC * 17;
    let last_accepted = first_seen + SEC * 4;
    assert_eq!(net.entered(0, State::Master), Some(last_accepted + MDI_100));
    let start = (
        first_seen,
        Reason::PreemptDelayStart(Duration::from_secs(5)),
    );
    assert!(net.nodes[0].notices.contains(&start));
}

/// Both masters during a partition; after it heals the higher primary
/// address stays master.
fn tie_break(version: Version, low: &str, high: &str) {
    let mut net = Net::new(vec![
        params(version, 100, SEC, low),
        params(version, 100, SEC, high),
    ]);
    net.connected = false;
    net.start_all();
    net.run_until(ms(5_000));
    assert_eq!(net.masters(), 2);
    net.connected = true;
    net.run_until(ms(10_000));
    assert_eq!(net.states(), vec![State::Backup, State::Master]);
    let forcing = Reason::LowerPriority {
        from: low.parse().unwrap(),
        priority: 100,
        ours: 100,
        election: true,
    };
    assert!(net.nodes[1].notices.iter().any(|(_, r)| *r == forcing));
    let reason = Reason::HigherAddress {
        from: high.parse().unwrap(),
        priority: 100,
    };
    let step_down = Action::Transition {
        from: State::Master,
        to: State::Backup,
        reason,
    };
    assert!(net.nodes[0].log.iter().any(|(_, a)| *a == step_down));
}

#[test]
fn equal_priority_tie_break_by_ipv4_address() {
    tie_break(Version::V2, "10.0.0.9", "10.0.0.10");
}

#[test]
fn equal_priority_tie_break_by_ipv6_address() {
    tie_break(Version::V3, "fe80::ff", "fe80::1:0");
}

#[test]
fn master_answers_a_lower_priority_advert_at_once() {
    let mut fsm = Fsm::new(params(Version::V2, 100, SEC, "10.0.0.1"));
    fsm.handle(ms(0), Event::Startup);
    fsm.handle(MDI_100, Event::Timeout);
    let from = "10.0.0.2".parse().unwrap();
    let lower = Event::Advert {
        src: from,
        priority: 50,
        max_advert_int: SEC,
    };
    let at = ms(4_000);
    assert_eq!(
        fsm.handle(at, lower),
        vec![Action::SendAdvert { priority: 100 }]
    );
    let notice = Reason::LowerPriority {
        from,
        priority: 50,
        ours: 100,
        election: true,
    };
    assert_eq!(fsm.notices(), [notice]);
    assert_eq!(
        notice_text(fsm.notices()),
        "Received advert from 10.0.0.2 with lower priority 50, ours 100, forcing new election"
    );
    assert_eq!(fsm.next_deadline(), Some(at + SEC), "advert timer re-armed");
}

#[test]
fn strict_master_keeps_quiet_on_lower_priority_and_owner_ignores_adverts() {
    // keepalived strict mode: `lower_prio_no_advert` ...
    let strict = |priority| Params {
        strict: true,
        ..params(Version::V2, priority, SEC, "10.0.0.1")
    };
    let mut fsm = Fsm::new(strict(100));
    fsm.handle(ms(0), Event::Startup);
    fsm.handle(MDI_100, Event::Timeout);
    let from = "10.0.0.2".parse().unwrap();
    let advert = |priority| Event::Advert {
        src: from,
        priority,
        max_advert_int: SEC,
    };
    assert_eq!(fsm.handle(ms(4_000), advert(50)), vec![]);
    assert_eq!(
        notice_text(fsm.notices()),
        "Received advert from 10.0.0.2 with lower priority 50, ours 100"
    );
    // ... and `owner_ignore_adverts`: the owner stays MASTER even when
    // another owner with a higher address advertises.
    let mut owner = Fsm::new(strict(255));
    owner.handle(ms(0), Event::Startup);
    assert_eq!(owner.state(), State::Master);
    assert_eq!(owner.handle(ms(500), advert(255)), vec![]);
    assert_eq!(owner.state(), State::Master);
    assert_eq!(
        notice_text(owner.notices()),
        "Dropping packet(s) from 10.0.0.2 since we are address owner"
    );
}

fn notice_text(notices: &[Reason]) -> String {
    notices.iter().map(ToString::to_string).collect()
}

#[test]
fn master_answers_priority_zero_and_rearms() {
    let mut fsm = Fsm::new(params(Version::V2, 255, SEC, "10.0.0.1"));
    fsm.handle(ms(0), Event::Startup);
    let zero = Event::Advert {
        src: "10.0.0.2".parse().unwrap(),
        priority: 0,
        max_advert_int: SEC,
    };
    assert_eq!(
        fsm.handle(ms(300), zero),
        vec![Action::SendAdvert { priority: 255 }]
    );
    assert_eq!(fsm.next_deadline(), Some(ms(1300)));
    assert_eq!(fsm.state(), State::Master);
}

/// keepalived: two address owners — ours drops to 254 and the other wins.
#[test]
fn two_owners_resolve_by_lowering_ours() {
    let mut fsm = Fsm::new(params(Version::V2, 255, SEC, "10.0.0.9"));
    fsm.handle(ms(0), Event::Startup);
    let other = Event::Advert {
        src: "10.0.0.1".parse().unwrap(),
        priority: 255,
        max_advert_int: SEC,
    };
    let actions = fsm.handle(ms(500), other);
    assert_eq!(fsm.notices(), [Reason::OwnerConflict]);
    assert_eq!(fsm.state(), State::Backup);
    assert_eq!(fsm.priority(), 254);
    assert!(matches!(
        actions[..],
        [Action::Transition {
            reason: Reason::HigherPriority { ours: 254, .. },
            ..
        }]
    ));
}

/// A backup whose priority rises above the master's discards its adverts and
/// takes over when its (advanced) down timer runs out.
#[test]
fn raised_backup_priority_takes_over_from_the_master() {
    let mut net = Net::new(vec![
        params(Version::V2, 100, SEC, "10.0.0.1"),
        params(Version::V2, 90, SEC, "10.0.0.2"),
    ]);
    net.start_all();
    net.run_until(ms(10_000));
    net.send(1, Event::Priority(110));
    let changed = (ms(10_000), Reason::PriorityChanged { from: 90, to: 110 });
    assert!(net.nodes[1].notices.contains(&changed));
    // Last advert 9.609375 s + 3 s + 166/256 s, moved earlier by 20/256 s.
    let takeover = MDI_100 + SEC * 6 + SEC * 3 + us(648_437) - us(78_125);
    assert_eq!(net.nodes[1].fsm.next_deadline(), Some(takeover));
    net.run_until(ms(20_000));
    assert_eq!(net.entered(1, State::Master), Some(takeover));
    assert_eq!(net.states(), vec![State::Backup, State::Master]);
}

#[test]
fn owner_priority_never_changes() {
    let mut fsm = Fsm::new(params(Version::V2, 255, SEC, "10.0.0.1"));
    fsm.handle(ms(0), Event::Priority(10));
    assert_eq!(fsm.priority(), 255);
}
