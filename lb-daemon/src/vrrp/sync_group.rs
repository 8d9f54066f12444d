//! keepalived `vrrp_sync_group`: instances that change state together.
//!
//! Pure: the runner keeps one [`SyncGroup`] per group and, after any member's
//! [`Fsm::handle`](super::fsm::Fsm::handle), calls [`SyncGroup::reconcile`]
//! with every member's [`Fsm::sync_view`](super::fsm::Fsm::sync_view) and
//! feeds the returned events ([`Event::SyncGroup`], or [`Event::Deleted`]
//! after a deletion) to those members (then
//! reconciles again until nothing is returned; two rounds at most). Members
//! must be marked with [`Fsm::set_sync_member`](super::fsm::Fsm::set_sync_member).
//!
//! Rules, from keepalived `vrrp_sync.c` and the transition matrix
//! `VRRP_TSM` in `vrrp_scheduler.c`:
//! - one member in FAULT (its own fault) → every member FAULT
//!   (`vrrp_sync_fault`); when no member has a fault left, all leave FAULT
//!   for BACKUP together (`try_up_instance` + `vrrp_sync_backup`);
//! - a member that wants MASTER (its down timer expired) waits until every
//!   member wants MASTER, "prefer backup state to avoid thrashing"
//!   (`vrrp_sync_can_goto_master`), then all become MASTER
//!   (`vrrp_sync_master`); a MASTER group lets any such member in at once;
//! - a member of a MASTER group that falls to BACKUP (higher priority heard)
//!   takes every member to BACKUP (`vrrp_sync_backup`); when it fell
//!   because its address, route or rule was deleted, every MASTER member
//!   gets [`Event::Deleted`] instead: priority 0 and a Skew_Time down timer,
//!   so the group comes back before a peer takes over (`set_vrrp_backup`).
use super::fsm::{Event, MemberView, State};

/// A `vrrp_sync_group`: member names and the group state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    members: Vec<String>,
    state: State,
}

impl SyncGroup {
    /// A group of the named instances, in config order; views passed to
    /// [`SyncGroup::reconcile`] follow the same order.
    pub fn new(members: Vec<String>) -> SyncGroup {
        SyncGroup {
            members,
            state: State::Initialize,
        }
    }

    /// Member names, in the order of the views.
    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// The group state (keepalived `GROUP_STATE`); INIT until decided.
    pub fn state(&self) -> State {
        self.state
    }

    /// Given every member's view (same order as [`SyncGroup::members`]),
    /// returns `(member index, event)` pairs the runner must feed to those
    /// members' machines. Members in INIT (not started or stopped) are left
    /// alone and keep the group from becoming MASTER.
    pub fn reconcile(&mut self, views: &[MemberView]) -> Vec<(usize, Event)> {
        let running = || {
            views
                .iter()
                .enumerate()
                .filter(|(_, v)| v.state != State::Initialize)
        };
        let (target, pick): (State, fn(&MemberView) -> bool) = if views.iter().any(|v| v.faulted) {
            (State::Fault, |v| v.state != State::Fault)
        } else if self.state == State::Fault {
            (State::Backup, |v| v.state == State::Fault)
        } else if self.state == State::Master
            && running().any(|(_, v)| v.state != State::Master && !v.wants_master)
        {
            (State::Backup, |v| v.state == State::Master)
        } else if running().any(|(_, v)| v.state == State::Master)
            || (running().count() == views.len() && views.iter().all(|v| v.wants_master))
        {
            (State::Master, |v| v.state != State::Master)
        } else {
            (State::Backup, |_| false)
        };
        // A member still waiting out its Skew_Time (not yet wanting
        // MASTER again): a flag left in a stale view does not count.
        let deleted = (self.state, target) == (State::Master, State::Backup)
            && running().any(|(_, v)| v.deleted && !v.wants_master);
        let event = match deleted {
            true => Event::Deleted,
            false => Event::SyncGroup(target),
        };
        let orders: Vec<(usize, Event)> = running()
            .filter(|(_, v)| pick(v))
            .map(|(i, _)| (i, event.clone()))
            .collect();
        if running().next().is_some() {
            self.state = target;
        }
        orders
    }
}
