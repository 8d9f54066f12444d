//! The checker engine: one tokio task per (real server, checker), each
//! running keepalived's scheduling and retry rules (`check_api.c`,
//! `check_tcp.c`, `check_http.c`, keepalived 2.x):
//!
//! * Timing falls back checker → real_server → virtual_server → default:
//!   `delay_loop` 60 s, `connect_timeout` 5 s, `retry` 1,
//!   `delay_before_retry` 1 s (3 s for HTTP_GET/SSL_GET), `warmup` =
//!   `delay_loop`.
//! * The first attempt runs after 1 s (`BOOTSTRAP_DELAY`) plus a random
//!   0..`warmup`, so that checks of many servers do not all fire at once.
//! * A checker starts up, or down under `alpha` (its own, the real server's
//!   or the virtual server's). Before
//!   its first verdict one failure is enough (keepalived sets
//!   `retry_it = retry`); afterwards a failure is retried `retry` times,
//!   `delay_before_retry` apart, and only the last failure makes it down,
//!   `retry + 1` consecutive failed attempts in all. A success resets the
//!   count. The first result is always logged, like keepalived.
//! * TCP and the other simple checkers keep retrying while down
//!   (`tcp_epilog`); HTTP_GET/SSL_GET do not retry a server already known
//!   dead and wait `max(delay_before_retry, delay_loop)` (`check_http.c`
//!   `epilog`).
//! * A real server is alive while all of its checkers are up; each change is
//!   logged `Adding service … to VS …` / `Removing service … from VS …`
//!   (`Enabling`/`Disabling` with `inhibit_on_failure`).
//!
//! `omega` is not an engine matter: it only runs `quorum_down` when a virtual
//! server is removed, which the desired-state side does.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use tokio::sync::mpsc::{channel, Receiver, Sender};
use tokio::{sync::watch, task::JoinHandle};

use super::{
    dns::DnsCheck, file::FileCheck, http::HttpCheck, misc::MiscCheck, ping::PingCheck,
    smtp::SmtpCheck, tcp::TcpCheck, udp::UdpCheck,
};
use super::{fmt_endpoint, Check, Outcome, RealServerId, Reason, Target, VerdictChange};
use crate::config::{self, CheckerKind, Config, Protocol};
use crate::script::ScriptEnv;
use crate::state::desired::Carried;

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
/// Slack the engine allows past `connect_timeout` before abandoning an
/// attempt itself (checkers bound their own attempts).
const ENGINE_SLACK: Duration = Duration::from_secs(1);

/// Builds the checker for one configured checker block; kinds not built yet
/// return an error naming the kind.
pub fn build(
    checker: &config::Checker,
    rs: &config::RealServer,
    vs: &config::VirtualServer,
    env: &ScriptEnv,
    config: &Config,
) -> Result<Box<dyn Check>> {
    let weight = rs.effective_weight(vs);
    Ok(match checker.kind {
        CheckerKind::TcpCheck => Box::new(TcpCheck::new(checker)),
        CheckerKind::HttpGet | CheckerKind::SslGet => {
            Box::new(HttpCheck::new(checker, rs, vs)?.presenting(config.ssl.as_ref())?)
        }
        CheckerKind::MiscCheck => {
            let timeout = misc_timeout(checker, rs, vs);
            Box::new(MiscCheck::new(checker, env.clone(), timeout, weight)?)
        }
        CheckerKind::SmtpCheck => Box::new(SmtpCheck::new(checker)?),
        CheckerKind::DnsCheck => Box::new(DnsCheck::new(checker)?),
        CheckerKind::UdpCheck => Box::new(UdpCheck::new(checker)?),
        CheckerKind::PingCheck => Box::new(PingCheck::new(checker)?),
        CheckerKind::FileCheck => Box::new(FileCheck::new(checker, &config.track_file, weight)?),
    })
}

/// MISC_CHECK's bound: `misc_timeout`, else its `delay_loop` (keepalived),
/// instead of `connect_timeout`.
fn misc_timeout(
    checker: &config::Checker,
    rs: &config::RealServer,
    vs: &config::VirtualServer,
) -> Duration {
    checker
        .misc_timeout
        .map(|s| Duration::from_secs(u64::from(s)))
        .unwrap_or(Policy::new(checker, rs, vs).delay_loop)
}

/// keepalived's keyword for a checker kind.
pub fn kind_name(kind: CheckerKind) -> &'static str {
    match kind {
        CheckerKind::TcpCheck => "TCP_CHECK",
        CheckerKind::HttpGet => "HTTP_GET",
        CheckerKind::SslGet => "SSL_GET",
        CheckerKind::MiscCheck => "MISC_CHECK",
        CheckerKind::SmtpCheck => "SMTP_CHECK",
        CheckerKind::DnsCheck => "DNS_CHECK",
        CheckerKind::UdpCheck => "UDP_CHECK",
        CheckerKind::PingCheck => "PING_CHECK",
        CheckerKind::FileCheck => "FILE_CHECK",
    }
}

/// A virtual server's protocol (TCP unless configured).
fn protocol(vs: &config::VirtualServer) -> Protocol {
    vs.protocol.unwrap_or(Protocol::Tcp)
}

/// keepalived's rendering of a virtual server (`FMT_VS`).
fn fmt_vs(vs: &config::VirtualServer) -> String {
    match (vs.fwmark, &vs.group, vs.address) {
        (Some(mark), _, _) => format!("FWM {mark}"),
        (_, Some(group), _) => group.clone(),
        (_, _, Some(ip)) => fmt_endpoint(ip, protocol(vs), vs.port.unwrap_or(0)),
        _ => "[?]".to_string(),
    }
}

fn secs(value: Option<f64>) -> Option<Duration> {
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

/// Everything one checker task needs.
pub struct CheckerSpec {
    /// The real server.
    pub id: RealServerId,
    /// Index of the checker in the real server's list.
    pub checker: usize,
    /// The check itself.
    pub check: Box<dyn Check>,
    /// Where it connects.
    pub target: Target,
    /// Its timing.
    pub policy: Policy,
    /// `[addr]:proto:port` of the real server, for logs.
    pub rs_label: String,
    /// The virtual server's rendering, for logs.
    pub vs_label: String,
    /// `inhibit_on_failure` (changes the log wording only).
    pub inhibit: bool,
}

/// Verdict changes queued between the checkers and the desired-state model
/// before checkers wait (a storm of 10,000 real servers flapping at once
/// goes through in batches instead of growing a queue).
pub const VERDICT_QUEUE: usize = 1024;

/// The virtual servers whose checks are paused (`ha_suspend` while this node
/// does not own their addresses), by configuration index.
pub type Suspended = watch::Receiver<BTreeSet<usize>>;

/// The status of one checker, as [`CheckerEngine::status`] reports it.
#[derive(Debug, Clone)]
struct Status {
    id: RealServerId,
    checker: usize,
    kind: String,
    target: String,
    up: bool,
    /// False for a checker that could not be built: like keepalived, which
    /// drops such a checker, it does not count for the real server.
    running: bool,
    /// Paused by `ha_suspend`.
    suspended: bool,
    last_change: Option<SystemTime>,
    consecutive_failures: u32,
    last_error: Option<String>,
    /// Attempts made and how many failed, since the checker started.
    attempts: u64,
    failures: u64,
    /// The failures by class.
    failures_by_reason: BTreeMap<Reason, u64>,
    /// How long the last attempt took.
    last_duration: Option<Duration>,
}

impl Status {
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

/// Every checker's state at one moment (see [`CheckerEngine::snapshot`]).
#[derive(Debug, Clone)]
pub struct CheckerSnapshot(Vec<Status>);

impl CheckerSnapshot {
    /// The checkers' status, ordered by real server and checker (see
    /// [`CheckerEngine::status`]).
    pub fn to_json(mut self) -> Value {
        self.0.sort_by_key(|s| (s.id, s.checker));
        Value::Array(self.0.iter().map(Status::to_json).collect())
    }
}

/// Shared state of the engine's tasks.
struct Shared {
    statuses: Vec<Status>,
    /// Virtual servers with a checker that has not made its first attempt.
    unchecked: watch::Sender<BTreeSet<usize>>,
}

impl Shared {
    /// A checker of virtual server `vs` made its first attempt: the server
    /// leaves `unchecked` once all its running checkers have.
    fn first_attempt_of(&mut self, vs: usize) {
        let waiting = self
            .statuses
            .iter()
            .any(|s| s.id.vs == vs && s.running && s.attempts == 0);
        if !waiting {
            self.unchecked.send_if_modified(|set| set.remove(&vs));
        }
    }

    /// Whether every checker of real server `id` is up.
    fn alive(&self, id: RealServerId) -> bool {
        self.statuses
            .iter()
            .filter(|s| s.id == id && s.running)
            .all(|s| s.up)
    }
}

/// The running health checks of a configuration.
pub struct CheckerEngine {
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Mutex<Shared>>,
    unchecked: watch::Receiver<BTreeSet<usize>>,
}

impl CheckerEngine {
    /// Starts a task per (real server, checker) of `config` (inside a tokio
    /// runtime); returns the engine and the stream of verdict changes.
    /// Checkers that cannot be built are logged and listed in
    /// [`status`](Self::status) as not running, with their error; like
    /// keepalived, which drops them, they never hold a real server down.
    pub fn start(
        config: &Config,
        env: ScriptEnv,
        suspended: Suspended,
    ) -> (CheckerEngine, Receiver<VerdictChange>) {
        CheckerEngine::start_carrying(config, env, suspended, &Carried::default())
    }

    /// As [`start`](Self::start) after a reload: checkers of real servers
    /// configured before start from their `carried` verdict (down ones as
    /// under `alpha`, waiting for a success), not from scratch.
    pub fn start_carrying(
        config: &Config,
        env: ScriptEnv,
        suspended: Suspended,
        carried: &Carried,
    ) -> (CheckerEngine, Receiver<VerdictChange>) {
        let mut specs = Vec::new();
        let mut broken = Vec::new();
        for (v, vs) in config.virtual_server.iter().enumerate() {
            for (r, rs) in vs.real_server.iter().enumerate() {
                let id = RealServerId { vs: v, rs: r };
                let before = carried.checkers(vs, rs);
                for (c, checker) in rs.checker.iter().enumerate() {
                    match spec(config, id, c, &env) {
                        Ok(mut spec) => {
                            if let Some(up) = before.map(|b| b[c]) {
                                spec.policy.alpha = !up;
                            }
                            specs.push(spec)
                        }
                        Err(e) => {
                            tracing::error!(
                                "{}: checker {c} of real server {r} of virtual server {v}: {e:#}",
                                kind_name(checker.kind)
                            );
                            broken.push(Status {
                                id,
                                checker: c,
                                kind: kind_name(checker.kind).to_string(),
                                target: String::new(),
                                up: true,
                                running: false,
                                suspended: false,
                                last_change: None,
                                consecutive_failures: 0,
                                last_error: Some(format!("{e:#}")),
                                attempts: 0,
                                failures: 0,
                                failures_by_reason: BTreeMap::new(),
                                last_duration: None,
                            });
                        }
                    }
                }
            }
        }
        let (engine, rx) = CheckerEngine::start_checks(specs, suspended);
        engine.shared.lock().unwrap().statuses.extend(broken);
        (engine, rx)
    }

    /// Starts one task per spec: the building block of [`start`](Self::start),
    /// public so the engine can be driven with any [`Check`].
    pub fn start_checks(
        specs: Vec<CheckerSpec>,
        suspended: Suspended,
    ) -> (CheckerEngine, Receiver<VerdictChange>) {
        let (tx, rx) = channel(VERDICT_QUEUE);
        let statuses = specs
            .iter()
            .map(|s| Status {
                id: s.id,
                checker: s.checker,
                kind: s.check.kind().to_string(),
                target: s.target.service(),
                up: !s.policy.alpha,
                running: true,
                suspended: false,
                last_change: None,
                consecutive_failures: 0,
                last_error: None,
                attempts: 0,
                failures: 0,
                failures_by_reason: BTreeMap::new(),
                last_duration: None,
            })
            .collect();
        let waiting: BTreeSet<usize> = specs.iter().map(|s| s.id.vs).collect();
        let (unchecked_tx, unchecked) = watch::channel(waiting);
        let shared = Arc::new(Mutex::new(Shared {
            statuses,
            unchecked: unchecked_tx,
        }));
        let tasks = specs
            .into_iter()
            .enumerate()
            .map(|(slot, spec)| {
                tracing::info!(
                    "Activating healthchecker for service {} for VS {}",
                    spec.rs_label,
                    spec.vs_label
                );
                tokio::spawn(run(
                    spec,
                    slot,
                    shared.clone(),
                    tx.clone(),
                    suspended.clone(),
                ))
            })
            .collect();
        let engine = CheckerEngine {
            tasks,
            shared,
            unchecked,
        };
        (engine, rx)
    }

    /// The virtual servers some of whose checkers have not made their first
    /// attempt yet (shrinks to empty as the first round completes).
    pub fn unchecked(&self) -> watch::Receiver<BTreeSet<usize>> {
        self.unchecked.clone()
    }

    /// Per real server and checker: kind, target, up/down, last change time
    /// (Unix seconds), consecutive failures and the last failure's reason.
    pub fn status(&self) -> Value {
        self.snapshot().to_json()
    }

    /// The checkers' states as they are now, to render (with
    /// [`CheckerSnapshot::to_json`]) without holding the engine's lock.
    pub fn snapshot(&self) -> CheckerSnapshot {
        let shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        CheckerSnapshot(shared.statuses.clone())
    }

    /// Stops every check (in-flight attempts are dropped, which also kills
    /// their scripts) and waits for the tasks to end.
    pub async fn shutdown(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The spec of checker `c` of real server `id`.
fn spec(config: &Config, id: RealServerId, c: usize, env: &ScriptEnv) -> Result<CheckerSpec> {
    let vs = &config.virtual_server[id.vs];
    let rs = &vs.real_server[id.rs];
    let checker = &rs.checker[c];
    let check = build(checker, rs, vs, env, config)?;
    let rs_port = rs.port.or(vs.port).unwrap_or(0);
    Ok(CheckerSpec {
        id,
        checker: c,
        check,
        target: match checker.kind {
            CheckerKind::MiscCheck => Target {
                timeout: misc_timeout(checker, rs, vs),
                ..target(checker, rs, vs)?
            },
            _ => target(checker, rs, vs)?,
        },
        policy: Policy::new(checker, rs, vs),
        rs_label: fmt_endpoint(rs.address, protocol(vs), rs_port),
        vs_label: fmt_vs(vs),
        inhibit: rs.inhibit_on_failure || vs.inhibit_on_failure,
    })
}

/// Where `checker` connects: `connect_ip`/`connect_port` over the real
/// server's, from `bindto`/`bind_port`/`bind_if`, within `connect_timeout`.
pub fn target(
    checker: &config::Checker,
    rs: &config::RealServer,
    vs: &config::VirtualServer,
) -> Result<Target> {
    let ip = checker.connect_ip.unwrap_or(rs.address);
    let port = checker
        .connect_port
        .or(rs.port)
        .or(vs.port)
        .ok_or_else(|| anyhow!("no port to check {ip} on"))?;
    let bind = match (checker.bindto, checker.bind_port) {
        (Some(addr), port) => Some(SocketAddr::new(addr, port.unwrap_or(0))),
        (None, Some(port)) => {
            let any = match ip {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            Some(SocketAddr::new(any, port))
        }
        (None, None) => None,
    };
    Ok(Target {
        addr: SocketAddr::new(ip, port),
        bind,
        bind_if: checker.bind_if.clone(),
        timeout: secs(checker.connect_timeout)
            .or(secs(rs.connect_timeout))
            .or(secs(vs.connect_timeout))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        protocol: protocol(vs),
    })
}

/// keepalived's success line for a kind.
fn success_line(kind: &str, service: &str) -> String {
    match kind {
        "TCP_CHECK" => format!("TCP connection to {service} success."),
        "HTTP_GET" | "SSL_GET" => format!("Remote Web server {service} succeed on service."),
        other => format!("{other} on service {service} succeed."),
    }
}

/// keepalived's failure line for a kind.
fn failure_line(kind: &str, service: &str, retries: u32) -> String {
    let kind = match kind {
        "HTTP_GET" | "SSL_GET" => "HTTP_CHECK",
        other => other,
    };
    match retries {
        0 => format!("{kind} on service {service} failed."),
        n => format!("{kind} on service {service} failed after {n} retries."),
    }
}

/// One checker's task: warmup, then attempts forever.
async fn run(
    spec: CheckerSpec,
    slot: usize,
    shared: Arc<Mutex<Shared>>,
    tx: Sender<VerdictChange>,
    mut suspended: Suspended,
) {
    let warmup = spec.policy.warmup.mul_f64(rand::random::<f64>());
    tokio::time::sleep(BOOTSTRAP_DELAY + warmup).await;
    let mut state = RetryState::new(spec.policy.clone());
    let service = spec.target.service();
    let kind = spec.check.kind();
    let mut last_weight = None;
    loop {
        wait_while_suspended(&mut suspended, &spec, &shared, slot).await;
        let limit = spec.target.timeout + ENGINE_SLACK;
        let started = tokio::time::Instant::now();
        let outcome = tokio::time::timeout(limit, spec.check.check(&spec.target))
            .await
            .unwrap_or_else(|_| {
                Outcome::down(
                    Reason::Timeout,
                    format!("{kind} of {service} still running after {limit:?}: abandoned."),
                )
            });
        let (success, weight, failure) = match outcome {
            Outcome::Up => (true, None, None),
            Outcome::UpWithWeight(w) => (true, Some(w), None),
            Outcome::Down(failure) => (false, None, Some(failure)),
        };
        if let Some(failure) = &failure {
            tracing::debug!("{kind} {service}: {failure}");
        }
        let was_up = state.up;
        let (verdict, delay) = state.record(success);
        match verdict {
            Verdict::Up => tracing::info!("{}", success_line(kind, &service)),
            Verdict::Down { retries } => {
                if let Some(failure) = &failure {
                    tracing::info!("{failure}");
                }
                tracing::info!("{}", failure_line(kind, &service, retries));
            }
            Verdict::Same => {}
        }
        let (rs_was_alive, rs_alive) = {
            let mut shared = shared.lock().unwrap();
            let before = shared.alive(spec.id);
            let status = &mut shared.statuses[slot];
            status.consecutive_failures = state.consecutive_failures;
            status.attempts += 1;
            status.failures += u64::from(!success);
            let first = status.attempts == 1;
            status.last_duration = Some(started.elapsed());
            if let Some(failure) = failure {
                *status.failures_by_reason.entry(failure.reason).or_default() += 1;
                status.last_error = Some(failure.message);
            }
            if status.up != state.up {
                status.up = state.up;
                status.last_change = Some(SystemTime::now());
            }
            if first {
                shared.first_attempt_of(spec.id.vs);
            }
            (before, shared.alive(spec.id))
        };
        let new_weight = weight.is_some() && weight != last_weight;
        if was_up != state.up || new_weight {
            last_weight = weight;
            // Bounded: in a storm (every real server flapping at once)
            // checkers wait for the model instead of queueing without end.
            let change = VerdictChange {
                id: spec.id,
                checker: spec.checker,
                up: state.up,
                weight,
            };
            if tx.send(change).await.is_err() {
                return;
            }
        }
        if rs_was_alive != rs_alive {
            log_rs_change(&spec, rs_alive);
        }
        tokio::time::sleep(delay).await;
    }
}

/// Waits while the checker's virtual server is suspended (`ha_suspend`),
/// marking it so in status. A closed channel means nothing is suspended.
async fn wait_while_suspended(
    suspended: &mut Suspended,
    spec: &CheckerSpec,
    shared: &Mutex<Shared>,
    slot: usize,
) {
    let mark =
        |on: bool| shared.lock().unwrap_or_else(|e| e.into_inner()).statuses[slot].suspended = on;
    if !suspended.borrow_and_update().contains(&spec.id.vs) {
        return;
    }
    tracing::info!(
        "Suspending healthchecker for service {} of VS {}",
        spec.rs_label,
        spec.vs_label
    );
    mark(true);
    while suspended.borrow_and_update().contains(&spec.id.vs) {
        if suspended.changed().await.is_err() {
            break;
        }
    }
    mark(false);
    tracing::info!(
        "Resuming healthchecker for service {} of VS {}",
        spec.rs_label,
        spec.vs_label
    );
}

fn log_rs_change(spec: &CheckerSpec, alive: bool) {
    let verb = match (alive, spec.inhibit) {
        (true, false) => "Adding",
        (true, true) => "Enabling",
        (false, false) => "Removing",
        (false, true) => "Disabling",
    };
    let prep = if alive { "to" } else { "from" };
    tracing::info!(
        "{verb} service {} {prep} VS {}",
        spec.rs_label,
        spec.vs_label
    );
}
