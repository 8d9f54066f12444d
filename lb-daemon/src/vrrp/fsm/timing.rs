//! Interval arithmetic (RFC 3768/5798 §6.1, keepalived `vrrp.h`).
use std::{cmp::Ordering, net::IpAddr, time::Duration};

use super::super::Version;

/// keepalived's default interval when none is configured (`VRRP_ADVER_DFL`).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// One centisecond: the unit of the v3 interval field.
const CENTI: u128 = 10_000;
/// Largest v2 interval (8-bit seconds field).
const V2_MAX_SECS: u128 = 255;
/// Largest v3 interval (12-bit centiseconds field).
const V3_MAX_CENTIS: u128 = 4095;

/// The interval as the wire can carry it, as keepalived's
/// `vrrp_complete_instance` normalises `advert_int`: 0 means the 1 s
/// default; v2 rounds to whole seconds (1..=255), v3 to centiseconds
/// (1..=4095). Keeping intervals positive is also what keeps every timer of
/// the machine strictly in the future.
pub(super) fn normalize(version: Version, interval: Duration) -> Duration {
    if interval.is_zero() {
        return DEFAULT_INTERVAL;
    }
    let unit = match version {
        Version::V2 => 1_000_000,
        Version::V3 => CENTI,
    };
    let max = match version {
        Version::V2 => V2_MAX_SECS,
        Version::V3 => V3_MAX_CENTIS,
    };
    let units = ((interval.as_micros() + unit / 2) / unit).clamp(1, max);
    micros(units * unit)
}

/// The Max Adver Int of a received v3 advert, as a centisecond count (the
/// wire unit, truncated like keepalived's `adver_int * TIMER_CENTI_HZ`),
/// never 0 so that a malformed field cannot make the down timer expire at
/// once.
pub(super) fn learned(interval: Duration) -> Duration {
    let centis = (interval.as_micros() / CENTI).clamp(1, V3_MAX_CENTIS);
    micros(centis * CENTI)
}

/// Skew_Time for `priority`: v2 `(256 - priority) / 256` s, v3
/// `((256 - priority) * Master_Adver_Interval) / 256`, truncated to the
/// microsecond like keepalived's `VRRP_TIMER_SKEW` (which for v3 computes
/// `(256 - p) * centis * 625 / 16` µs: the same value, since intervals are
/// whole centiseconds).
pub(super) fn skew(version: Version, priority: u8, master_adver_int: Duration) -> Duration {
    let weight = 256 - u128::from(priority);
    let base = match version {
        Version::V2 => 1_000_000,
        Version::V3 => master_adver_int.as_micros(),
    };
    micros(weight * base / 256)
}

/// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time`.
pub(super) fn master_down(version: Version, priority: u8, master_adver_int: Duration) -> Duration {
    master_adver_int.saturating_mul(3) + skew(version, priority, master_adver_int)
}

/// keepalived's `VRRP_TIMER_SKEW_MIN`: the skew of priority 255.
pub(super) fn skew_min(version: Version, master_adver_int: Duration) -> Duration {
    skew(version, 255, master_adver_int)
}

/// Compares a sender's primary address with ours as unsigned integers
/// (RFC 5798 §6.4.3). Different families compare equal, as keepalived's
/// `vrrp_saddr_cmp` returns 0 for them.
pub(super) fn compare_addr(theirs: IpAddr, ours: IpAddr) -> Ordering {
    match (theirs, ours) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a).cmp(&u32::from(b)),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a).cmp(&u128::from(b)),
        _ => Ordering::Equal,
    }
}

fn micros(us: u128) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
}
