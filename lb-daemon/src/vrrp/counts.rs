//! keepalived's per-instance counters besides adverts and drops (its stats
//! dump's "Became master", "Released master" and "Priority Zero"), shown in
//! `lb-daemon status` and served as metrics.
use serde::Serialize;

use super::fsm::State;

/// The counters of one instance since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Transitions to MASTER.
    pub become_master: u64,
    /// Transitions from MASTER to another state.
    pub release_master: u64,
    /// Adverts sent with priority 0 (leaving MASTER).
    pub priority_zero_sent: u64,
    /// Valid adverts received with priority 0.
    pub priority_zero_received: u64,
}

impl Counts {
    /// Counts a transition `from` -> `to`.
    pub fn transition(&mut self, from: State, to: State) {
        self.become_master += u64::from(to == State::Master && from != State::Master);
        self.release_master += u64::from(from == State::Master && to != State::Master);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn becoming_and_releasing_master_are_counted_once_each() {
        let mut counts = Counts::default();
        counts.transition(State::Initialize, State::Backup);
        counts.transition(State::Backup, State::Master);
        counts.transition(State::Master, State::Fault);
        counts.transition(State::Fault, State::Backup);
        assert_eq!((counts.become_master, counts.release_master), (1, 1));
    }
}
