//! Replay tests of `vrrp::sync_group` driving `vrrp::fsm` members
//! (keepalived `vrrp_sync.c`): host A runs VI_1 and VI_2 in one sync group,
//! host B runs the same two instances without a group.
mod vrrp_fsm_sim;

use std::time::Duration;

use lb_daemon::vrrp::{
    fsm::{Action, Event, MemberView, Reason, State},
    sync_group::SyncGroup,
    Version,
};
use vrrp_fsm_sim::{ms, params, us, Net};

const SEC: Duration = Duration::from_secs(1);
/// v2, priority 100: 3 s + 156/256 s.
const MDI_100: Duration = Duration::from_micros(3_609_375);

/// Nodes 0, 1: host A (priority 100, grouped); nodes 2, 3: host B (50).
fn hosts() -> Net {
    let mut net = Net::new(vec![]);
    for (vrid, addr) in [(1, "10.0.0.1"), (2, "10.0.1.1")] {
        net.add(vrid, params(Version::V2, 100, SEC, addr));
    }
    for (vrid, addr) in [(1, "10.0.0.2"), (2, "10.0.1.2")] {
        net.add(vrid, params(Version::V2, 50, SEC, addr));
    }
    net.group(vec![0, 1]);
    net.start_all();
    net.run_until(ms(10_000));
    net
}

fn reason_of_last(net: &Net, i: usize) -> Option<Reason> {
    let mut log = net.nodes[i].log.iter().rev();
    log.find_map(|(_, a)| match a {
        Action::Transition { reason, .. } => Some(reason.clone()),
        Action::SendAdvert { .. } => None,
    })
}

#[test]
fn group_becomes_master_only_when_every_member_wants_to() {
    let net = hosts();
    let expected = [State::Master, State::Master, State::Backup, State::Backup];
    assert_eq!(net.states(), expected);
    // VI_1's timer fired first and waited for VI_2's, which fired at once.
    assert!(net.nodes[0]
        .notices
        .contains(&(MDI_100, Reason::SyncGroupWait)));
    assert_eq!(net.entered(0, State::Master), Some(MDI_100));
    assert_eq!(net.entered(1, State::Master), Some(MDI_100));
    let synced = Reason::SyncGroup(State::Master);
    assert_eq!(reason_of_last(&net, 0), Some(synced.clone()));
    assert_eq!(reason_of_last(&net, 1), Some(synced));
}

#[test]
fn one_member_fault_takes_the_group_to_fault_and_back() {
    let mut net = hosts();
    net.send(1, Event::Fault(true));
    assert_eq!(net.states()[..2], [State::Fault, State::Fault]);
    assert_eq!(
        reason_of_last(&net, 0),
        Some(Reason::SyncGroup(State::Fault))
    );
    assert_eq!(net.adverts(0).last(), Some(&(ms(10_000), 0)));
    net.run_until(ms(20_000));
    let takeover = Some(ms(10_000) + us(804_687));
    assert_eq!(net.entered(2, State::Master), takeover);
    assert_eq!(net.entered(3, State::Master), takeover);

    net.send(1, Event::Fault(false));
    assert_eq!(net.states()[..2], [State::Backup, State::Backup]);
    net.run_until(ms(30_000));
    let back = [State::Master, State::Master, State::Backup, State::Backup];
    assert_eq!(net.states(), back);
    assert_eq!(net.entered(0, State::Master), Some(ms(20_000) + MDI_100));
}

#[test]
fn member_losing_an_election_takes_the_group_to_backup() {
    let mut net = hosts();
    net.send(2, Event::Priority(200));
    net.run_until(ms(20_000));
    let expected = [State::Backup, State::Backup, State::Master, State::Master];
    assert_eq!(net.states(), expected);
    assert!(matches!(
        reason_of_last(&net, 0),
        Some(Reason::HigherPriority { priority: 200, .. })
    ));
    assert_eq!(
        reason_of_last(&net, 1),
        Some(Reason::SyncGroup(State::Backup))
    );
}

/// keepalived `set_vrrp_backup`: a MASTER member whose virtual address was
/// deleted takes every MASTER member of its group to BACKUP, each sending
/// priority 0 and waiting only its Skew_Time, "a quick transition back to
/// master": the group is MASTER again before host B's members (priority
/// 50: a longer Skew_Time) take over.
#[test]
fn a_deleted_address_brings_the_whole_group_back_within_a_skew_time() {
    let mut net = hosts();
    net.send(0, Event::Deleted);
    assert_eq!(net.states()[..2], [State::Backup, State::Backup]);
    assert_eq!(net.adverts(0).last(), Some(&(ms(10_000), 0)));
    assert_eq!(net.adverts(1).last(), Some(&(ms(10_000), 0)));
    net.run_until(ms(20_000));
    let back = [State::Master, State::Master, State::Backup, State::Backup];
    assert_eq!(net.states(), back);
    let skew_100 = us(609_375);
    assert_eq!(net.entered(0, State::Master), Some(ms(10_000) + skew_100));
    assert_eq!(net.entered(1, State::Master), Some(ms(10_000) + skew_100));
    assert_eq!(net.entered(2, State::Master), None);
    assert_eq!(net.entered(3, State::Master), None);
}

#[test]
fn reconcile_prefers_backup_until_all_members_want_master() {
    let view = |state, wants_master, faulted| MemberView {
        state,
        wants_master,
        faulted,
        deleted: false,
    };
    let mut group = SyncGroup::new(vec!["VI_1".into(), "VI_2".into()]);
    assert_eq!(group.members(), ["VI_1", "VI_2"]);
    let waiting = [
        view(State::Backup, true, false),
        view(State::Backup, false, false),
    ];
    assert_eq!(group.reconcile(&waiting), vec![]);
    assert_eq!(group.state(), State::Backup);
    let ready = [
        view(State::Backup, true, false),
        view(State::Backup, true, false),
    ];
    let orders = vec![
        (0, Event::SyncGroup(State::Master)),
        (1, Event::SyncGroup(State::Master)),
    ];
    assert_eq!(group.reconcile(&ready), orders);
    let faulty = [
        view(State::Master, true, false),
        view(State::Fault, false, true),
    ];
    assert_eq!(
        group.reconcile(&faulty),
        vec![(0, Event::SyncGroup(State::Fault))]
    );
    assert_eq!(group.state(), State::Fault);
}

/// A member's `deleted` flag counts only while it waits out its Skew_Time:
/// a stale view (it wants MASTER again) must not turn another member's
/// lost election into priority-0 adverts for the whole group.
#[test]
fn a_stale_deleted_flag_does_not_make_a_lost_election_a_deletion() {
    let view = |state, wants_master, deleted| MemberView {
        state,
        wants_master,
        faulted: false,
        deleted,
    };
    let names = vec!["VI_1".into(), "VI_2".into(), "VI_3".into()];
    let mut group = SyncGroup::new(names);
    let masters = [view(State::Master, true, false); 3];
    group.reconcile(&masters);
    assert_eq!(group.state(), State::Master);
    let lost = [
        view(State::Backup, true, true),
        view(State::Backup, false, false),
        view(State::Master, true, false),
    ];
    assert_eq!(
        group.reconcile(&lost),
        vec![(2, Event::SyncGroup(State::Backup))]
    );
    let mut fresh = SyncGroup::new(vec!["VI_1".into(), "VI_2".into()]);
    fresh.reconcile(&[view(State::Master, true, false); 2]);
    let deleted = [
        view(State::Backup, false, true),
        view(State::Master, true, false),
    ];
    assert_eq!(fresh.reconcile(&deleted), vec![(1, Event::Deleted)]);
}
