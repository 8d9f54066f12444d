//! What the model keeps per server between verdicts: each real server's
//! checker verdicts, liveness, effective weight and drain override, and
//! each virtual server's quorum state. Below both the model, which updates
//! it, and the readers that derive services from it or carry it across a
//! reload.
use std::time::SystemTime;

/// State of one real server.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RealState {
    /// Each checker's verdict.
    pub checkers: Vec<bool>,
    /// All checkers say up.
    pub alive: bool,
    /// Effective weight (configured, or the last dynamic weight).
    pub weight: u32,
    /// When `alive` last changed.
    pub last_change: Option<SystemTime>,
    /// Drained by the operator (`lb-daemon drain`): programmed with
    /// weight 0 while it serves.
    pub drained: bool,
}

/// State of one virtual server.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct VirtualState {
    /// Its real servers.
    pub reals: Vec<RealState>,
    /// keepalived's `quorum_state_up`.
    pub quorum_up: bool,
}
