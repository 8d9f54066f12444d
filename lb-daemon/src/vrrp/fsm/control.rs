//! Local events: startup, tracking, shutdown and sync-group orders.
use super::{timing, Action, Fsm, Params, Reason, State, Time, OWNER};

impl Fsm {
    /// keepalived `vrrp_init_state`. Only the address owner starts as MASTER
    /// (its down timer is 1 µs); `state MASTER` does not: the keepalived
    /// manual says the instance "will wait between 3 and 4 advert intervals
    /// before it can transition", as with `state BACKUP`.
    pub(super) fn startup(&mut self, now: Time, out: &mut Vec<Action>) {
        if self.state != State::Initialize {
            return;
        }
        self.master_adv = self.params.advert_int;
        if self.own_fault {
            // keepalived: "Entering FAULT STATE (init)".
            return self.become_idle(State::Fault, Reason::Init, out);
        }
        if self.resume_master {
            // keepalived: a `reload_master` instance stays MASTER and
            // advertises at once (`vrrp_init_instance_sands`).
            return self.become_master(now, Reason::Resumed, out);
        }
        let owner = self.base_priority == OWNER;
        if owner && !self.sync_member {
            return self.become_master(now, Reason::AddressOwner, out);
        }
        self.become_backup(now, Reason::Init, out);
        self.wants_master = owner || self.params.initial == State::Master;
        if owner {
            // keepalived: a sync-group owner whose group is not yet MASTER
            // waits one interval plus `VRRP_TIMER_SKEW_MIN`.
            let wait = self.master_adv + timing::skew_min(self.params.version, self.master_adv);
            self.deadline = Some(now + wait);
        }
    }

    /// keepalived `set_vrrp_backup`: a MASTER whose virtual address, route
    /// or rule was deleted sends a priority 0 advert and enters BACKUP with
    /// a down timer of Skew_Time, so that it comes back first (a peer with
    /// a lower priority waits its own, longer, Skew_Time) and adds it again.
    pub(super) fn deleted(&mut self, now: Time, out: &mut Vec<Action>) {
        if self.state != State::Master {
            return;
        }
        out.push(Action::SendAdvert { priority: 0 });
        self.wants_master = false;
        self.preempt_until = None;
        self.deadline = Some(now + self.skew());
        self.go(State::Backup, Reason::Deleted, out);
        self.left_deleted = true;
    }

    /// keepalived `down_instance` / `try_up_instance`.
    pub(super) fn fault(&mut self, now: Time, down: bool, out: &mut Vec<Action>) {
        if down == self.own_fault {
            return;
        }
        self.own_fault = down;
        match (down, self.state) {
            (true, State::Master) => {
                // keepalived: vrrp_state_leave_master(vrrp, true) sends
                // priority 0 for FAULT, then vrrp_restore_interface(advF)
                // sends it again ("sent 0 priority").
                out.push(Action::SendAdvert { priority: 0 });
                out.push(Action::SendAdvert { priority: 0 });
                self.become_idle(State::Fault, Reason::Fault, out);
            }
            (true, State::Backup) => self.become_idle(State::Fault, Reason::Fault, out),
            (false, State::Fault) if self.sync_member => {
                // keepalived: a group member leaves FAULT with its group.
                self.notices.push(Reason::SyncGroupWait);
            }
            // keepalived: try_up_instance() — BACKUP with a full down timer,
            // also for the owner (down_instance() set wantstate FAULT).
            (false, State::Fault) => self.become_backup(now, Reason::FaultCleared, out),
            // In INIT the flag decides the startup state.
            _ => {}
        }
    }

    /// keepalived `vrrp_set_effective_priority`.
    pub(super) fn set_priority(&mut self, now: Time, priority: u8) {
        if self.base_priority == OWNER {
            // keepalived: "Don't change priority if address owner".
            return;
        }
        let priority = priority.clamp(1, OWNER - 1);
        if priority == self.priority {
            return;
        }
        self.notices.push(Reason::PriorityChanged {
            from: self.priority,
            to: priority,
        });
        let old_skew = self.skew();
        self.priority = priority;
        let gain = old_skew.saturating_sub(self.skew());
        if self.state == State::Backup {
            // keepalived: a rising backup's down timer moves earlier by the
            // change of its down interval; a falling one's is left alone.
            self.deadline = self.deadline.map(|due| due.saturating_sub(gain).max(now));
        }
    }

    /// keepalived `clear_diff_vrrp` + `vrrp_init_state` for an instance
    /// that exists before and after a reload: the state is kept; a MASTER
    /// advertises the new values at once, a BACKUP waits a full master-down
    /// interval computed from them (the address owner takes over at once).
    pub(super) fn reconfigure(
        &mut self,
        now: Time,
        params: Params,
        priority: u8,
        out: &mut Vec<Action>,
    ) {
        self.params = Params {
            local_addr: self.params.local_addr,
            ..params
        };
        self.base_priority = self.params.priority;
        let owner = self.base_priority == OWNER;
        let priority = match owner {
            true => OWNER,
            false => priority.clamp(1, OWNER - 1),
        };
        if priority != self.priority {
            self.notices.push(Reason::PriorityChanged {
                from: self.priority,
                to: priority,
            });
            self.priority = priority;
        }
        if !self.params.preempt {
            self.preempt_until = None;
        }
        match self.state {
            State::Master => {
                self.master_adv = self.params.advert_int;
                out.push(self.advert_action());
                self.deadline = Some(now + self.params.advert_int);
            }
            State::Backup => {
                if !self.is_v3() || self.master.is_none() {
                    self.master_adv = self.params.advert_int;
                }
                let takes_over = owner && !self.sync_member;
                self.wants_master |= owner;
                self.deadline = Some(match takes_over {
                    true => now,
                    false => now + self.master_down(),
                });
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// keepalived `restore_vrrp_interfaces`: a master sends priority 0 so
    /// that the backup takes over after Skew_Time.
    pub(super) fn shutdown(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Initialize {
            return;
        }
        if self.state == State::Master {
            out.push(Action::SendAdvert { priority: 0 });
        }
        self.become_idle(State::Initialize, Reason::Shutdown, out);
    }

    /// keepalived `vrrp_sync_master` / `vrrp_sync_backup` / `vrrp_sync_fault`
    /// applied to this member.
    pub(super) fn sync_to(&mut self, now: Time, to: State, out: &mut Vec<Action>) {
        let reason = Reason::SyncGroup(to);
        match (self.state, to) {
            (State::Backup | State::Fault, State::Master) if !self.own_fault => {
                self.become_master(now, reason, out)
            }
            (State::Master | State::Fault, State::Backup) if !self.own_fault => {
                self.become_backup(now, reason, out)
            }
            (State::Master, State::Fault) => {
                // keepalived: vrrp_state_leave_master(isync, false): one
                // priority 0 advert.
                out.push(Action::SendAdvert { priority: 0 });
                self.become_idle(State::Fault, reason, out);
            }
            (State::Backup, State::Fault) => self.become_idle(State::Fault, reason, out),
            _ => {}
        }
    }
}
