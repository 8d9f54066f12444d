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
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::mpsc::{channel, Receiver, Sender};
use tokio::{sync::watch, task::JoinHandle};

use super::policy::{RetryState, Verdict, BOOTSTRAP_DELAY};
use super::spec::{kind_name, spec, CheckerSpec};
use super::status::{CheckerSnapshot, CheckerStatus};
use super::{Outcome, RealServerId, Reason, VerdictChange};
use crate::config::Config;
use crate::script::ScriptEnv;
use crate::state::desired::Carried;

/// Slack the engine allows past `connect_timeout` before abandoning an
/// attempt itself (checkers bound their own attempts).
const ENGINE_SLACK: Duration = Duration::from_secs(1);

/// Verdict changes queued between the checkers and the desired-state model
/// before checkers wait (a storm of 10,000 real servers flapping at once
/// goes through in batches instead of growing a queue).
pub const VERDICT_QUEUE: usize = 1024;

/// The virtual servers whose checks are paused (`ha_suspend` while this node
/// does not own their addresses), by configuration index.
pub type Suspended = watch::Receiver<BTreeSet<usize>>;

/// Shared state of the engine's tasks.
struct Shared {
    statuses: Vec<CheckerStatus>,
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
                            broken.push(CheckerStatus {
                                id,
                                checker: c,
                                kind: kind_name(checker.kind),
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
            .map(|s| CheckerStatus {
                id: s.id,
                checker: s.checker,
                kind: s.check.kind(),
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
        CheckerSnapshot::from(shared.statuses.clone())
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
