//! When and how often one checker runs, and keepalived's retry rules
//! (`check_api.c`, `check_tcp.c`, `check_http.c`), kept apart from time so
//! they can be tested exactly.
use std::time::Duration;

use crate::config::{self, CheckerKind};

/// keepalived's `BOOTSTRAP_DELAY`: the first check is at least this late.
pub const BOOTSTRAP_DELAY: Duration = Duration::from_secs(1);
/// Default `delay_loop` of a virtual server.
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// Default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `retry` (keepalived `default_retry`).
pub const DEFAULT_RETRY: u32 = 1;
/// Default `delay_before_retry` of most checkers.
pub const DEFAULT_DELAY_BEFORE_RETRY: Duration = Duration::from_secs(1);
/// Default `delay_before_retry` of HTTP_GET / SSL_GET.
pub const DEFAULT_HTTP_DELAY_BEFORE_RETRY: Duration = Duration::from_secs(3);
/// A duration written in seconds, when it is one.
pub(super) fn secs(value: Option<f64>) -> Option<Duration> {
    value.and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// When and how often one checker runs, resolved keepalived-style.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Time between verdicts.
    pub delay_loop: Duration,
    /// Failed attempts retried before the checker goes down.
    pub retry: u32,
    /// Time between a failure and its retry.
    pub delay_before_retry: Duration,
    /// Maximum random delay (after [`BOOTSTRAP_DELAY`]) before the first check.
    pub warmup: Duration,
    /// Start down (`alpha` of the checker, real server or virtual server).
    pub alpha: bool,
    /// Retry while already down (TCP style) rather than waiting a full
    /// period (HTTP style).
    pub retry_while_down: bool,
}

impl Policy {
    /// The policy of `checker` of `rs` in `vs`.
    pub fn new(
        checker: &config::Checker,
        rs: &config::RealServer,
        vs: &config::VirtualServer,
    ) -> Policy {
        let http = matches!(checker.kind, CheckerKind::HttpGet | CheckerKind::SslGet);
        let delay_loop = secs(checker.delay_loop)
            .or(secs(rs.delay_loop))
            .or(secs(vs.delay_loop))
            .unwrap_or(DEFAULT_DELAY_LOOP);
        let default_dbr = match http {
            true => DEFAULT_HTTP_DELAY_BEFORE_RETRY,
            false => DEFAULT_DELAY_BEFORE_RETRY,
        };
        Policy {
            delay_loop,
            retry: checker
                .retry
                .or(rs.retry)
                .or(vs.retry)
                .unwrap_or(DEFAULT_RETRY),
            delay_before_retry: secs(checker.delay_before_retry)
                .or(secs(rs.delay_before_retry))
                .or(secs(vs.delay_before_retry))
                .unwrap_or(default_dbr),
            warmup: secs(checker.warmup)
                .or(secs(rs.warmup))
                .or(secs(vs.warmup))
                .unwrap_or(delay_loop),
            alpha: checker.starts_down(rs, vs),
            retry_while_down: !http,
        }
    }
}

/// What a checker's result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to report.
    Same,
    /// The first result, or a change, to up.
    Up,
    /// The first result, or a change, to down; `retries` is how many retries
    /// preceded it (0 when it went down at once).
    Down {
        /// Retries made before giving up.
        retries: u32,
    },
}

/// keepalived's per-checker retry state machine, separated from time so it
/// can be tested exactly.
#[derive(Debug, Clone)]
pub struct RetryState {
    policy: Policy,
    /// Whether the checker currently considers the server up.
    pub up: bool,
    has_run: bool,
    retry_it: u32,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
}

impl RetryState {
    /// The state before the first attempt.
    pub fn new(policy: Policy) -> RetryState {
        RetryState {
            up: !policy.alpha,
            has_run: false,
            // "For non alpha mode, one failure is enough initially."
            retry_it: policy.retry,
            consecutive_failures: 0,
            policy,
        }
    }

    /// Records one attempt's result; returns what to report and how long to
    /// wait before the next attempt.
    pub fn record(&mut self, success: bool) -> (Verdict, Duration) {
        let first = !self.has_run;
        self.has_run = true;
        let p = &self.policy;
        if success {
            self.consecutive_failures = 0;
            self.retry_it = 0;
            let verdict = match !self.up || first {
                true => Verdict::Up,
                false => Verdict::Same,
            };
            self.up = true;
            return (verdict, p.delay_loop);
        }
        self.consecutive_failures += 1;
        if !self.up && !first && !p.retry_while_down {
            return (Verdict::Same, p.delay_before_retry.max(p.delay_loop));
        }
        if self.retry_it < p.retry {
            self.retry_it += 1;
            return (Verdict::Same, p.delay_before_retry);
        }
        let retries = if first { 0 } else { self.retry_it };
        self.retry_it = 0;
        let verdict = match self.up || first {
            true => Verdict::Down { retries },
            false => Verdict::Same,
        };
        self.up = false;
        let delay = match p.retry_while_down {
            true => p.delay_loop,
            false => p.delay_before_retry.max(p.delay_loop),
        };
        (verdict, delay)
    }
}
