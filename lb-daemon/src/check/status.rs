//! What the checker engine reports about each checker: its verdict, when it
//! last changed, and its attempts, failures and last duration.
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::{RealServerId, Reason};

/// The status of one checker, as [`super::engine::CheckerEngine::status`]
/// reports it.
#[derive(Debug, Clone)]
pub struct CheckerStatus {
    /// The real server it checks.
    pub id: RealServerId,
    /// Its index among the real server's checkers.
    pub checker: usize,
    /// `TCP_CHECK`, `HTTP_GET`, ...
    pub kind: &'static str,
    /// What it connects to (`ADDR:PORT`), empty when it could not be built.
    pub target: String,
    /// Its verdict.
    pub up: bool,
    /// False for a checker that could not be built: like keepalived, which
    /// drops such a checker, it does not count for the real server.
    pub running: bool,
    /// Paused by `ha_suspend`.
    pub suspended: bool,
    /// When the verdict last changed.
    pub last_change: Option<SystemTime>,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Attempts made since the checker started.
    pub attempts: u64,
    /// Of which failed.
    pub failures: u64,
    /// The failures by class.
    pub failures_by_reason: BTreeMap<Reason, u64>,
    /// How long the last attempt took.
    pub last_duration: Option<Duration>,
}

impl CheckerStatus {
    fn to_json(&self) -> Value {
        let since = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        };
        json!({
            "virtual_server": self.id.vs,
            "real_server": self.id.rs,
            "checker": self.checker,
            "kind": self.kind,
            "target": self.target,
            "up": self.up,
            "running": self.running,
            "suspended": self.suspended,
            "last_change": self.last_change.map(since),
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "attempts": self.attempts,
            "failures": self.failures,
            "failures_by_reason": self.failures_by_reason,
            "last_duration_seconds": self.last_duration.map(|d| d.as_secs_f64()),
        })
    }
}

/// Every checker's state at one moment (see
/// [`super::engine::CheckerEngine::snapshot`]).
#[derive(Debug, Clone, Default)]
pub struct CheckerSnapshot(Vec<CheckerStatus>);

impl From<Vec<CheckerStatus>> for CheckerSnapshot {
    fn from(statuses: Vec<CheckerStatus>) -> CheckerSnapshot {
        CheckerSnapshot(statuses)
    }
}

impl CheckerSnapshot {
    /// The checkers, in the engine's order.
    pub fn statuses(&self) -> &[CheckerStatus] {
        &self.0
    }

    /// The checkers' status, ordered by real server and checker (see
    /// [`super::engine::CheckerEngine::status`]).
    pub fn to_json(mut self) -> Value {
        self.0.sort_by_key(|s| (s.id, s.checker));
        Value::Array(self.0.iter().map(CheckerStatus::to_json).collect())
    }
}
