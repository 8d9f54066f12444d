//! The VRRP state machine (RFC 3768 §6.4, RFC 5798 §6.4), pure: the runner
//! injects time and validated packets and applies the returned [`Action`]s.
//!
//! Where keepalived (2.x, `keepalived/vrrp/vrrp.c`, `vrrp_scheduler.c`,
//! `vrrp_track.c`, `vrrp_sync.c`) differs from the RFCs, this machine does
//! what keepalived does, so that a keepalived peer sees no difference. Each
//! such place carries a `keepalived:` comment naming its source; in short:
//!
//! - `state MASTER` for a non-owner only clears `nopreempt` and
//!   `preempt_delay`; the instance still starts in BACKUP and waits the full
//!   Master_Down_Interval (`vrrp_complete_instance`, `vrrp_init_state`).
//! - Skew_Time uses the *effective* priority, v3 the Master_Adver_Interval.
//! - A master that hears a lower priority sends an advert at once ("forcing
//!   new election"), and every advert heard as master re-arms its advert timer
//!   (`vrrp_state_master_rx`, `vrrp_dispatcher_read`).
//! - Two address owners: ours drops to 254 (`vrrp_state_master_rx`).
//! - `preempt_delay`: counted from the first lower-priority advert seen
//!   (`vrrp_state_backup`).
//! - A master entering FAULT sends priority 0 twice (`down_instance` ->
//!   `vrrp_state_leave_master(vrrp, true)`); leaving FAULT always goes to
//!   BACKUP with a full down timer (`try_up_instance`).
//! - A backup whose priority rises moves its down timer earlier by the skew
//!   difference (`vrrp_set_effective_priority`); the owner's priority never
//!   changes.
mod control;
mod rx;
mod timing;
mod types;

use std::{net::IpAddr, time::Duration};

pub use types::{Action, Event, MemberView, Params, Reason, State, Time};

use super::Version;

/// Priority of the address owner.
const OWNER: u8 = 255;
/// Upper bound on timer expiries handled in one call (each re-arms the timer
/// at least a centisecond/256 later, so one is all that can be due).
const MAX_EXPIRIES: usize = 4;

/// One VRRP instance's protocol state.
#[derive(Debug, Clone)]
pub struct Fsm {
    params: Params,
    state: State,
    /// Configured priority (drops to 254 on an owner conflict).
    base_priority: u8,
    /// Effective priority (tracking weights applied).
    priority: u8,
    /// Master_Adver_Interval: ours, or learned from the master (v3).
    master_adv: Duration,
    /// Advert timer (MASTER) or master-down timer (BACKUP).
    deadline: Option<Time>,
    /// Latest `now` seen; time never runs backwards inside the machine.
    now: Time,
    master: Option<IpAddr>,
    /// keepalived `preempt_time`: end of the running preempt delay.
    preempt_until: Option<Time>,
    /// A tracked object of this instance itself is down.
    own_fault: bool,
    /// keepalived `wantstate == MASTER`.
    wants_master: bool,
    sync_member: bool,
    /// Left MASTER because an address, route or rule was deleted; cleared
    /// by the next transition.
    left_deleted: bool,
    /// Enter MASTER at startup: see [`Fsm::set_resume_master`].
    resume_master: bool,
    notices: Vec<Reason>,
}

impl Fsm {
    /// A machine in [`State::Initialize`]; send [`Event::Startup`] to run it.
    pub fn new(params: Params) -> Fsm {
        let params = normalize(params);
        Fsm {
            base_priority: params.priority,
            priority: params.priority,
            master_adv: params.advert_int,
            // keepalived: the owner acts as though `state MASTER` was given.
            wants_master: params.initial == State::Master || params.priority == OWNER,
            params,
            state: State::Initialize,
            deadline: None,
            now: Time::ZERO,
            master: None,
            preempt_until: None,
            own_fault: false,
            sync_member: false,
            left_deleted: false,
            resume_master: false,
            notices: Vec::new(),
        }
    }

    /// Makes [`Event::Startup`] enter MASTER at once, advertising
    /// immediately: the instance replaces one that was MASTER before a
    /// configuration reload (keepalived `reload_master`), so its addresses
    /// stay where they are.
    pub fn set_resume_master(&mut self) {
        self.resume_master = true;
    }

    /// Makes this instance a `vrrp_sync_group` member: it then no longer
    /// becomes MASTER on its own timer, nor leaves FAULT on its own, but waits
    /// for [`Event::SyncGroup`] from
    /// [`crate::vrrp::sync_group::SyncGroup::reconcile`] (keepalived
    /// `vrrp_sync_can_goto_master`, `try_up_instance`).
    pub fn set_sync_member(&mut self, member: bool) {
        self.sync_member = member;
    }

    /// Our primary address changed (the interface was re-created with
    /// another): it is the advert source and the tie-breaker from now on.
    pub fn set_local_addr(&mut self, addr: IpAddr) {
        self.params.local_addr = addr;
    }

    /// Feeds one event at time `now`; returns what the runner must do, in
    /// order. Timers due at `now` fire within the same call, so afterwards
    /// [`Fsm::next_deadline`] is later than `now`.
    pub fn handle(&mut self, now: Time, event: Event) -> Vec<Action> {
        let now = now.max(self.now);
        self.now = now;
        self.notices.clear();
        let mut out = Vec::new();
        match event {
            Event::Startup => self.startup(now, &mut out),
            Event::Advert {
                src,
                priority,
                max_advert_int,
            } => self.advert(now, src, priority, max_advert_int, &mut out),
            Event::Timeout => {}
            Event::Fault(down) => self.fault(now, down, &mut out),
            Event::Priority(p) => self.set_priority(now, p),
            Event::Reconfigure { params, priority } => {
                self.reconfigure(now, normalize(params), priority, &mut out)
            }
            Event::Shutdown => self.shutdown(&mut out),
            Event::Deleted => self.deleted(now, &mut out),
            Event::SyncGroup(state) => self.sync_to(now, state, &mut out),
        }
        for _ in 0..MAX_EXPIRIES {
            match self.deadline {
                Some(due) if due <= now => self.expire(now, &mut out),
                _ => break,
            }
        }
        out
    }

    /// The next time the runner must call `handle(now, Event::Timeout)`:
    /// the advert timer as MASTER, the master-down timer as BACKUP.
    /// (keepalived checks `preempt_delay` only when an advert arrives, so its
    /// end is not a deadline of its own.)
    pub fn next_deadline(&self) -> Option<Time> {
        self.deadline
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Effective priority now.
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// Address of the current master as far as we know (ours when MASTER).
    pub fn master(&self) -> Option<IpAddr> {
        match self.state {
            State::Master => Some(self.params.local_addr),
            _ => self.master,
        }
    }

    /// Master_Adver_Interval: v3 learns it from the master's adverts; our own
    /// interval when we are master, for v2, and before any advert.
    pub fn master_advert_int(&self) -> Duration {
        match self.state {
            State::Master => self.params.advert_int,
            _ => self.master_adv,
        }
    }

    /// Notable non-transitions of the last `handle` call (e.g. "forcing new
    /// election"), for the runner to log. Cleared by every call.
    pub fn notices(&self) -> &[Reason] {
        &self.notices
    }

    /// What a sync group needs to know about this member.
    pub fn sync_view(&self) -> MemberView {
        MemberView {
            state: self.state,
            wants_master: self.wants_master,
            faulted: self.own_fault,
            deleted: self.left_deleted,
        }
    }

    /// A timer fired.
    fn expire(&mut self, now: Time, out: &mut Vec<Action>) {
        match self.state {
            State::Master => {
                out.push(self.advert_action());
                self.deadline = Some(now + self.params.advert_int);
            }
            State::Backup if self.sync_member => {
                // keepalived: vrrp_sync_can_goto_master() — wait for the
                // whole group, re-arming a full down timer meanwhile.
                self.wants_master = true;
                self.notices.push(Reason::SyncGroupWait);
                self.deadline = Some(now + self.master_down());
            }
            State::Backup => self.become_master(now, Reason::MasterDown, out),
            State::Initialize | State::Fault => self.deadline = None,
        }
    }

    /// keepalived `vrrp_state_goto_master` + `vrrp_state_master_tx`: the
    /// advert goes out before the transition, so the old master drops the
    /// VIPs before our gratuitous ARPs.
    fn become_master(&mut self, now: Time, reason: Reason, out: &mut Vec<Action>) {
        out.push(self.advert_action());
        self.master_adv = self.params.advert_int;
        self.wants_master = true;
        self.preempt_until = None;
        self.deadline = Some(now + self.params.advert_int);
        self.go(State::Master, reason, out);
    }

    /// Enters BACKUP with a full master-down timer.
    fn become_backup(&mut self, now: Time, reason: Reason, out: &mut Vec<Action>) {
        self.wants_master = false;
        self.preempt_until = None;
        self.deadline = Some(now + self.master_down());
        self.go(State::Backup, reason, out);
    }

    /// Enters FAULT, or INIT on shutdown: no timer, no known master.
    fn become_idle(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        self.wants_master = false;
        self.preempt_until = None;
        self.deadline = None;
        self.master = None;
        // keepalived: vrrp_state_leave_fault() resets the learned interval.
        self.master_adv = self.params.advert_int;
        self.go(to, reason, out);
    }

    fn go(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        self.left_deleted = false;
        out.push(Action::Transition { from, to, reason });
    }

    fn advert_action(&self) -> Action {
        Action::SendAdvert {
            priority: self.priority,
        }
    }

    fn master_down(&self) -> Duration {
        timing::master_down(self.params.version, self.priority, self.master_adv)
    }

    fn skew(&self) -> Duration {
        timing::skew(self.params.version, self.priority, self.master_adv)
    }

    fn is_v3(&self) -> bool {
        self.params.version == Version::V3
    }
}

/// keepalived `vrrp_complete_instance`: the configuration as the machine
/// runs it.
fn normalize(mut params: Params) -> Params {
    params.advert_int = timing::normalize(params.version, params.advert_int);
    params.priority = params.priority.max(1);
    if params.priority == OWNER || params.initial == State::Master {
        // keepalived: "nopreempt is incompatible with priority 255" and
        // "nopreempt/preempt delay will not work with initial state MASTER -
        // clearing".
        params.preempt = true;
    }
    if !params.preempt || params.initial == State::Master {
        // keepalived: "preempt_delay is incompatible with nopreempt mode".
        params.preempt_delay = Duration::ZERO;
    }
    params
}
