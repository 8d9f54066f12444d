//! Received advertisements (RFC 3768/5798 §6.4.2, §6.4.3).
use std::{cmp::Ordering, net::IpAddr, time::Duration};

use super::{timing, Action, Fsm, Reason, State, Time, OWNER};

impl Fsm {
    /// An advert that passed validation. keepalived drops adverts in FAULT
    /// and INIT (`vrrp_dispatcher_read`).
    pub(super) fn advert(
        &mut self,
        now: Time,
        src: IpAddr,
        priority: u8,
        interval: Duration,
        out: &mut Vec<Action>,
    ) {
        if self.params.strict && self.priority == OWNER {
            // keepalived `owner_ignore_adverts`, on in strict mode.
            return self.notices.push(Reason::OwnerIgnoresAdvert { from: src });
        }
        match self.state {
            State::Backup => self.backup_rx(now, src, priority, interval),
            State::Master => self.master_rx(now, src, priority, interval, out),
            State::Initialize | State::Fault => {}
        }
    }

    /// keepalived `vrrp_state_backup`.
    fn backup_rx(&mut self, now: Time, src: IpAddr, priority: u8, interval: Duration) {
        if priority == 0 {
            self.notices.push(Reason::BackupPriorityZero);
            self.master = None;
            self.deadline = Some(now + self.skew());
            return;
        }
        let delay = self.params.preempt_delay;
        // keepalived: a lower priority is also accepted while a preempt
        // delay has not started or not ended (`preempt_time > time_now`).
        let delaying = !delay.is_zero() && self.preempt_until.is_none_or(|end| end > now);
        if self.params.preempt && priority < self.priority && !delaying {
            // The down timer keeps running: we take over when it expires.
            self.notices.push(Reason::LowerPriorityDiscarded {
                from: src,
                priority,
            });
            // keepalived: "We still want to record the master's address".
            self.master = Some(src);
            return;
        }
        self.learn(interval);
        self.deadline = Some(now + self.master_down());
        self.master = Some(src);
        // keepalived: an accepted advert means we want BACKUP again.
        self.wants_master = false;
        if delay.is_zero() {
            return;
        }
        if priority >= self.priority {
            if self.preempt_until.take().is_some() {
                self.notices.push(Reason::PreemptDelayStop);
            }
        } else if self.preempt_until.is_none() {
            // keepalived: the delay runs from the first lower-priority
            // advert; afterwards such adverts are discarded.
            self.notices.push(Reason::PreemptDelayStart(delay));
            self.preempt_until = Some(now + delay);
        }
    }

    /// keepalived `vrrp_state_master_rx`, then `vrrp_dispatcher_read`, which
    /// re-arms the advert timer after any advert heard as master.
    fn master_rx(
        &mut self,
        now: Time,
        src: IpAddr,
        priority: u8,
        interval: Duration,
        out: &mut Vec<Action>,
    ) {
        let ours = self.priority;
        let order = timing::compare_addr(src, self.params.local_addr);
        if priority == 0 {
            // RFC: send an advert and reset the advert timer.
            out.push(self.advert_action());
            self.notices.push(Reason::MasterPriorityZero);
            self.deadline = Some(now + self.params.advert_int);
            return;
        }
        if priority == ours && order == Ordering::Equal {
            self.notices.push(Reason::OwnAddress);
        } else if priority == ours && ours == OWNER {
            // keepalived: "both configured as address owner ... reducing
            // local priority" — the other owner wins below.
            self.notices.push(Reason::OwnerConflict);
            self.base_priority = OWNER - 1;
            self.priority = OWNER - 1;
        }
        let ours = self.priority;
        let theirs = (priority, order);
        let mine = (ours, Ordering::Equal);
        if theirs < mine {
            // keepalived: not in the RFC (which ignores it); the immediate
            // advert makes a lower-priority master step down at once. Strict
            // mode keeps to the RFC (`lower_prio_no_advert`).
            let election = !self.params.strict;
            self.notices.push(Reason::LowerPriority {
                from: src,
                priority,
                ours,
                election,
            });
            if election {
                out.push(self.advert_action());
            }
        } else if theirs > mine {
            self.learn(interval);
            self.master = Some(src);
            let reason = if priority > ours {
                Reason::HigherPriority {
                    from: src,
                    priority,
                    ours,
                }
            } else {
                Reason::HigherAddress {
                    from: src,
                    priority,
                }
            };
            return self.become_backup(now, reason, out);
        }
        self.deadline = Some(now + self.params.advert_int);
    }

    /// RFC 5798 §6.4.2/§6.4.3: v3 sets Master_Adver_Interval from the advert.
    fn learn(&mut self, interval: Duration) {
        if !self.is_v3() {
            return;
        }
        let learned = timing::learned(interval);
        if learned != self.master_adv {
            self.notices.push(Reason::AdvertIntervalUpdated {
                from: self.master_adv,
                to: learned,
            });
            self.master_adv = learned;
        }
    }
}
