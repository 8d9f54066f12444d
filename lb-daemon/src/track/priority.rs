//! Effective priority of a VRRP instance from the states of its tracked
//! objects, exactly as keepalived 2.x computes it (`vrrp_track.c`:
//! `process_script_update_priority`, `update_track_file_status`,
//! `process_if_status_change`, `vrrp_set_effective_priority`).
//!
//! * Weight 0: the object being down (a file value other than 0) puts the
//!   instance in FAULT; `reverse` swaps which state is the fault.
//! * Scripts and interfaces with a weight: a positive weight is added while
//!   up, a negative one while down; `reverse` negates the weight.
//! * Files with a weight: value × weight (× -1 with `reverse`), the value
//!   clamped to -254..=254 and the product to -254..=253; -254 is FAULT.
//! * The sum is added to the base priority and clamped to 1..=254, except that
//!   an address owner (priority 255) never changes priority.
//! * A script that has not reported yet counts as neither up nor down: with
//!   weight 0 it holds the instance back (keepalived keeps it in INIT),
//!   weighted it contributes nothing.

use serde::Serialize;

/// The priority of an address owner, which weights never change.
pub const OWNER_PRIORITY: u8 = 255;

/// A file product at or below this puts the instance in FAULT.
const FILE_FAULT: i64 = -254;

/// What the VRRP instance runner acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// A tracked object requires the FAULT state.
    pub fault: bool,
    /// Effective priority to advertise.
    pub priority: u8,
}

/// The state of one tracked object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No result yet (a script that has not finished its first run).
    Unknown,
    /// Script succeeding / interface running.
    Up,
    /// Script failing / interface down or missing.
    Down,
    /// The number in a tracked file.
    Value(i64),
}

/// One tracked object as an instance sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    /// Its current state.
    pub state: State,
    /// Weight, from the object or the instance's `weight` override.
    pub weight: i32,
    /// `reverse`.
    pub reverse: bool,
}

/// What one tracked object does to its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The instance must be in FAULT.
    Fault,
    /// Added to the base priority.
    Offset(i64),
}

/// The effect of one tracked object.
pub fn effect(tracked: &Tracked) -> Effect {
    let weight = i64::from(tracked.weight);
    let sign = if tracked.reverse { -1 } else { 1 };
    // For weight 0: whether the object is in its "good" state.
    let good = |healthy: bool| {
        if healthy != tracked.reverse {
            Effect::Offset(0)
        } else {
            Effect::Fault
        }
    };
    match tracked.state {
        // Not known yet (first script run or link read pending, which takes
        // milliseconds against a master-down interval of seconds): neutral,
        // so a start or a reload never faults an instance on no evidence
        // (keepalived holds such an instance in INIT instead).
        State::Unknown => Effect::Offset(0),
        State::Up | State::Down if weight == 0 => good(tracked.state == State::Up),
        State::Up => Effect::Offset(if weight > 0 { weight * sign } else { 0 }),
        State::Down => Effect::Offset(if weight < 0 { weight * sign } else { 0 }),
        State::Value(value) if weight == 0 => good(value == 0),
        State::Value(value) => {
            let product = (value.clamp(-254, 254) * weight * sign).clamp(FILE_FAULT, 253);
            if product == FILE_FAULT {
                Effect::Fault
            } else {
                Effect::Offset(product)
            }
        }
    }
}

/// The verdict for an instance with priority `base` tracking `tracked`.
pub fn verdict(base: u8, tracked: &[Tracked]) -> Verdict {
    let mut fault = false;
    let mut total = i64::from(base);
    for effect in tracked.iter().map(effect) {
        match effect {
            Effect::Fault => fault = true,
            Effect::Offset(offset) => total += offset,
        }
    }
    let priority = if base == OWNER_PRIORITY {
        OWNER_PRIORITY
    } else {
        total.clamp(1, i64::from(OWNER_PRIORITY) - 1) as u8
    };
    Verdict { fault, priority }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(state: State, weight: i32, reverse: bool) -> Tracked {
        Tracked {
            state,
            weight,
            reverse,
        }
    }

    #[test]
    fn weights_follow_keepalived() {
        let cases = [
            (t(State::Up, 10, false), 110),
            (t(State::Down, 10, false), 100),
            (t(State::Up, -10, false), 100),
            (t(State::Down, -10, false), 90),
            (t(State::Up, 10, true), 90),
            (t(State::Down, -10, true), 110),
            (t(State::Value(3), 5, false), 115),
            (t(State::Value(3), 5, true), 85),
            (t(State::Value(-2), 1, false), 98),
            (t(State::Unknown, 10, false), 100),
        ];
        for (tracked, priority) in cases {
            let got = verdict(100, &[tracked]);
            assert_eq!(
                got,
                Verdict {
                    fault: false,
                    priority
                },
                "{tracked:?}"
            );
        }
    }

    #[test]
    fn faults() {
        let fault = |tracked| verdict(100, &[tracked]).fault;
        assert!(fault(t(State::Down, 0, false)));
        assert!(!fault(t(State::Up, 0, false)));
        assert!(fault(t(State::Up, 0, true)));
        assert!(!fault(t(State::Unknown, 0, false)), "no evidence, no fault");
        assert!(fault(t(State::Value(1), 0, false)));
        assert!(!fault(t(State::Value(0), 0, false)));
        assert!(fault(t(State::Value(0), 0, true)));
        assert!(fault(t(State::Value(-254), 1, false)));
        assert!(fault(t(State::Value(-100), 3, false)));
        assert!(!fault(t(State::Value(-253), 1, false)));
    }

    #[test]
    fn clamps_and_owner() {
        assert_eq!(verdict(250, &[t(State::Up, 50, false)]).priority, 254);
        assert_eq!(verdict(5, &[t(State::Down, -50, false)]).priority, 1);
        let owner = verdict(255, &[t(State::Down, -50, false), t(State::Down, 0, false)]);
        assert_eq!(
            owner,
            Verdict {
                fault: true,
                priority: 255
            }
        );
    }
}
