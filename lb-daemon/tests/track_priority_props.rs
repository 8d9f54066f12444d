//! Properties of the effective-priority computation.

use lb_daemon::track::priority::{effect, verdict, Effect, State, Tracked, OWNER_PRIORITY};
use proptest::prelude::*;

fn state() -> impl Strategy<Value = State> {
    prop_oneof![
        Just(State::Unknown),
        Just(State::Up),
        Just(State::Down),
        (-300i64..300).prop_map(State::Value),
    ]
}

fn tracked() -> impl Strategy<Value = Tracked> {
    (state(), -254i32..=254, any::<bool>()).prop_map(|(state, weight, reverse)| Tracked {
        state,
        weight,
        reverse,
    })
}

proptest! {
    #[test]
    fn priority_stays_in_range(base in 1u8..=255, list in prop::collection::vec(tracked(), 0..8)) {
        let v = verdict(base, &list);
        if base == OWNER_PRIORITY {
            prop_assert_eq!(v.priority, OWNER_PRIORITY);
        } else {
            prop_assert!((1..=254).contains(&v.priority));
        }
    }

    #[test]
    fn fault_iff_some_object_faults(base in 1u8..=255, list in prop::collection::vec(tracked(), 0..8)) {
        let any_fault = list.iter().any(|t| effect(t) == Effect::Fault);
        prop_assert_eq!(verdict(base, &list).fault, any_fault);
    }

    #[test]
    fn weight_zero_down_is_fault(reverse in any::<bool>()) {
        let bad = if reverse { State::Up } else { State::Down };
        let t = Tracked { state: bad, weight: 0, reverse };
        prop_assert!(verdict(100, &[t]).fault);
    }

    #[test]
    fn going_up_moves_priority_with_the_signed_weight(
        base in 1u8..255,
        weight in -253i32..=253,
        reverse in any::<bool>(),
    ) {
        prop_assume!(weight != 0);
        let at = |state| verdict(base, &[Tracked { state, weight, reverse }]).priority;
        let sign = if reverse { -1 } else { 1 };
        let (up, down) = (i32::from(at(State::Up)), i32::from(at(State::Down)));
        // Up is never worse than down, whatever the weight's sign, unless
        // reversed.
        if !reverse {
            prop_assert!(up >= down);
        } else {
            prop_assert!(up <= down);
        }
        // keepalived: a positive weight counts while up, a negative one
        // while down, both multiplied by -1 with reverse.
        let clamp = |p: i32| p.clamp(1, 254);
        let (b, shifted) = (i32::from(base), i32::from(base) + weight * sign);
        let expected = if weight > 0 {
            clamp(shifted) - clamp(b)
        } else {
            clamp(b) - clamp(shifted)
        };
        prop_assert_eq!(up - down, expected);
    }

    #[test]
    fn reverse_negates_a_file_offset(value in -100i64..100, weight in 1i32..3) {
        let eff = |reverse| effect(&Tracked { state: State::Value(value), weight, reverse });
        match (eff(false), eff(true)) {
            (Effect::Offset(a), Effect::Offset(b)) => prop_assert_eq!(a, -b),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
