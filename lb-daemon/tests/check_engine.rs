//! The checker engine's scheduling and retry rules, exactly, with a scripted
//! fake check on tokio's paused clock.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lb_daemon::check::engine::CheckerEngine;
use lb_daemon::check::policy::{Policy, RetryState, Verdict, BOOTSTRAP_DELAY};
use lb_daemon::check::spec::{build, CheckerSpec};
use lb_daemon::check::{Attempt, Check, Outcome, RealServerId, Reason, Target, VerdictChange};
use lb_daemon::config::{self, CheckerKind};
use lb_daemon::script::ScriptEnv;
use tokio::time::Instant;

/// Answers from a script (`true` = up), then stays up; records when it ran.
struct Scripted {
    kind: &'static str,
    script: Mutex<VecDeque<bool>>,
    calls: Arc<Mutex<Vec<Duration>>>,
    start: Instant,
}

impl Check for Scripted {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn check<'a>(&'a self, _target: &'a Target) -> Attempt<'a> {
        self.calls.lock().unwrap().push(self.start.elapsed());
        let ok = self.script.lock().unwrap().pop_front().unwrap_or(true);
        Box::pin(async move {
            match ok {
                true => Outcome::Up,
                false => Outcome::down(Reason::Refused, "scripted failure"),
            }
        })
    }
}

fn policy(retry: u32, alpha: bool, retry_while_down: bool) -> Policy {
    Policy {
        delay_loop: Duration::from_secs(10),
        retry,
        delay_before_retry: Duration::from_secs(1),
        warmup: Duration::ZERO,
        alpha,
        retry_while_down,
    }
}

fn target() -> Target {
    Target::new(
        "192.0.2.11:80".parse::<SocketAddr>().unwrap(),
        Duration::from_secs(5),
    )
}

struct Run {
    engine: CheckerEngine,
    rx: tokio::sync::mpsc::Receiver<VerdictChange>,
    calls: Arc<Mutex<Vec<Duration>>>,
    start: Instant,
}

fn start(kind: &'static str, script: &[bool], policy: Policy) -> Run {
    start_with(kind, script, policy, never_suspended())
}

fn start_with(
    kind: &'static str,
    script: &[bool],
    policy: Policy,
    suspended: lb_daemon::check::engine::Suspended,
) -> Run {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let check = Scripted {
        kind,
        script: Mutex::new(script.iter().copied().collect()),
        calls: calls.clone(),
        start,
    };
    let spec = CheckerSpec {
        id: RealServerId { vs: 0, rs: 0 },
        checker: 0,
        check: Box::new(check),
        target: target(),
        policy,
        rs_label: "[192.0.2.11]:tcp:80".into(),
        vs_label: "[192.0.2.100]:tcp:80".into(),
        inhibit: false,
    };
    let (engine, rx) = CheckerEngine::start_checks(vec![spec], suspended);
    Run {
        engine,
        rx,
        calls,
        start,
    }
}

impl Run {
    /// The next verdict change and when (since start) it came.
    async fn next(&mut self) -> (bool, Duration) {
        let change = self.rx.recv().await.unwrap();
        (change.up, self.start.elapsed())
    }

    fn calls(&self) -> Vec<u64> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.as_secs())
            .collect()
    }
}

const B: u64 = BOOTSTRAP_DELAY.as_secs();

#[tokio::test(start_paused = true)]
async fn down_only_after_retry_plus_one_failures_then_up_on_first_success() {
    let mut run = start(
        "TCP_CHECK",
        &[true, false, false, false, true],
        policy(2, false, true),
    );
    // Up at start: the first success changes nothing. Then 3 failures 1 s
    // apart (1 attempt + 2 retries) make it down.
    assert_eq!(run.next().await, (false, Duration::from_secs(B + 12)));
    assert_eq!(run.next().await, (true, Duration::from_secs(B + 22)));
    assert_eq!(run.calls(), vec![B, B + 10, B + 11, B + 12, B + 22]);
    run.engine.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_success_between_retries_resets_the_count() {
    let mut run = start(
        "TCP_CHECK",
        &[true, false, false, true, false, false, false],
        policy(2, false, true),
    );
    // fail, fail, ok (resets), then fail x3 → down.
    let (up, at) = run.next().await;
    assert!(!up);
    assert_eq!(at, Duration::from_secs(B + 10 + 1 + 1 + 10 + 1 + 1));
    run.engine.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn one_failure_is_enough_before_the_first_verdict() {
    let mut run = start("TCP_CHECK", &[false], policy(3, false, true));
    assert_eq!(run.next().await, (false, Duration::from_secs(B)));
    assert_eq!(run.next().await, (true, Duration::from_secs(B + 10)));
    run.engine.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn alpha_starts_down_and_one_success_brings_it_up() {
    let mut run = start("TCP_CHECK", &[true], policy(3, true, true));
    assert_eq!(run.next().await, (true, Duration::from_secs(B)));
    assert_eq!(run.engine.status()[0]["up"], true);
    run.engine.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn alpha_first_failure_publishes_nothing() {
    let mut run = start("TCP_CHECK", &[false, true], policy(1, true, true));
    // Still down after the failure (no change); up at the next loop.
    assert_eq!(run.next().await, (true, Duration::from_secs(B + 10)));
    run.engine.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn tcp_keeps_retrying_while_down() {
    let mut run = start(
        "TCP_CHECK",
        &[false, false, false, false],
        policy(2, false, true),
    );
    assert_eq!(run.next().await, (false, Duration::from_secs(B)));
    // Down at once; then each period is retried like an up server's.
    assert_eq!(run.next().await, (true, Duration::from_secs(B + 22)));
    assert_eq!(run.calls(), vec![B, B + 10, B + 11, B + 12, B + 22]);
    run.engine.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn http_does_not_retry_a_dead_server() {
    let mut p = policy(2, false, false);
    p.delay_before_retry = Duration::from_secs(3);
    let mut run = start("HTTP_GET", &[false, false, false], p);
    assert_eq!(run.next().await, (false, Duration::from_secs(B)));
    assert_eq!(run.next().await, (true, Duration::from_secs(B + 30)));
    assert_eq!(run.calls(), vec![B, B + 10, B + 20, B + 30]);
    run.engine.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn status_reports_failures_and_changes() {
    let mut run = start("TCP_CHECK", &[true, false], policy(1, false, true));
    tokio::time::sleep(Duration::from_secs(B + 10) + Duration::from_millis(500)).await;
    let status = run.engine.status();
    assert_eq!(status[0]["kind"], "TCP_CHECK");
    assert_eq!(status[0]["target"], "[192.0.2.11]:tcp:80");
    assert_eq!(status[0]["up"], true);
    assert_eq!(status[0]["consecutive_failures"], 1);
    assert_eq!(status[0]["last_error"], "scripted failure");
    assert_eq!(
        status[0]["failures_by_reason"],
        serde_json::json!({"refused": 1})
    );
    assert!(status[0]["last_change"].is_null());
    assert!(run.rx.try_recv().is_err());
    run.engine.shutdown().await;
}

#[test]
fn retry_state_machine_matches_keepalived() {
    let mut s = RetryState::new(policy(1, false, true));
    let loop_ = Duration::from_secs(10);
    let dbr = Duration::from_secs(1);
    assert_eq!(s.record(true), (Verdict::Up, loop_)); // first result is logged
    assert_eq!(s.record(true), (Verdict::Same, loop_));
    assert_eq!(s.record(false), (Verdict::Same, dbr));
    assert_eq!(s.record(false), (Verdict::Down { retries: 1 }, loop_));
    assert_eq!(s.record(false), (Verdict::Same, dbr));
    assert_eq!(s.record(true), (Verdict::Up, loop_));
}

#[test]
fn policy_falls_back_like_keepalived() {
    let mut vs = config::VirtualServer {
        delay_loop: Some(6.0),
        ..Default::default()
    };
    let rs = config::RealServer::new("192.0.2.11".parse().unwrap(), Some(80));
    let tcp = config::Checker::default();
    let p = Policy::new(&tcp, &rs, &vs);
    assert_eq!(p.delay_loop, Duration::from_secs(6));
    assert_eq!(p.retry, 1);
    assert_eq!(p.delay_before_retry, Duration::from_secs(1));
    assert_eq!(p.warmup, Duration::from_secs(6));
    assert!(p.retry_while_down);
    let http = config::Checker {
        kind: CheckerKind::HttpGet,
        retry: Some(4),
        ..Default::default()
    };
    vs.delay_loop = None;
    let p = Policy::new(&http, &rs, &vs);
    assert_eq!(p.delay_loop, Duration::from_secs(60));
    assert_eq!(p.retry, 4);
    assert_eq!(p.delay_before_retry, Duration::from_secs(3));
    assert!(!p.retry_while_down);
    assert!(!p.alpha);
}

#[test]
fn alpha_comes_from_the_checker_else_the_real_server_else_the_virtual_server() {
    let mut vs = config::VirtualServer {
        alpha: true,
        ..Default::default()
    };
    let mut rs = config::RealServer::new("192.0.2.11".parse().unwrap(), Some(80));
    let mut tcp = config::Checker::default();
    assert!(Policy::new(&tcp, &rs, &vs).alpha, "virtual server");
    rs.alpha = Some(false);
    assert!(!Policy::new(&tcp, &rs, &vs).alpha, "real server");
    vs.alpha = false;
    rs.alpha = None;
    tcp.alpha = Some(true);
    assert!(Policy::new(&tcp, &rs, &vs).alpha, "checker");
}

#[test]
fn every_kind_is_built_and_misconfiguration_is_named() {
    let vs = config::VirtualServer::default();
    let rs = config::RealServer::new("192.0.2.11".parse().unwrap(), Some(80));
    let env = ScriptEnv::default();
    let kinds = [
        CheckerKind::TcpCheck,
        CheckerKind::HttpGet,
        CheckerKind::SslGet,
        CheckerKind::MiscCheck,
        CheckerKind::SmtpCheck,
        CheckerKind::DnsCheck,
        CheckerKind::UdpCheck,
        CheckerKind::PingCheck,
        CheckerKind::FileCheck,
    ];
    for kind in kinds {
        let checker = config::Checker {
            kind,
            ..Default::default()
        };
        // Bare defaults: either a working checker or an error about the
        // missing option, never "not supported".
        if let Err(e) = build(&checker, &rs, &vs, &env, &config::Config::default()) {
            assert!(
                !format!("{e:#}").contains("not supported"),
                "{kind:?}: {e:#}"
            );
        }
    }
    let http_without_url = config::Checker {
        kind: CheckerKind::HttpGet,
        ..Default::default()
    };
    let err = build(
        &http_without_url,
        &rs,
        &vs,
        &env,
        &config::Config::default(),
    )
    .err()
    .unwrap();
    assert!(format!("{err:#}").contains("no urls"), "{err:#}");
}

#[tokio::test(start_paused = true)]
async fn checkers_that_cannot_be_built_are_listed_but_not_run() {
    let mut rs = config::RealServer::new("192.0.2.11".parse().unwrap(), Some(80));
    rs.checker.push(config::Checker {
        kind: CheckerKind::HttpGet,
        ..Default::default()
    });
    let cfg = config::Config {
        virtual_server: vec![config::VirtualServer {
            port: Some(80),
            alpha: true,
            real_server: vec![rs],
            ..Default::default()
        }],
        ..Default::default()
    };
    let (engine, _rx) = CheckerEngine::start(&cfg, ScriptEnv::default(), never_suspended());
    let status = engine.status();
    assert_eq!(status[0]["running"], false);
    assert_eq!(status[0]["kind"], "HTTP_GET");
    assert!(status[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("no urls"));
    engine.shutdown().await;
}

/// A suspension channel that never suspends anything.
fn never_suspended() -> lb_daemon::check::engine::Suspended {
    tokio::sync::watch::channel(std::collections::BTreeSet::new()).1
}

#[tokio::test(start_paused = true)]
async fn ha_suspend_pauses_checks_until_resumed() {
    let (tx, rx) = tokio::sync::watch::channel(std::collections::BTreeSet::from([0]));
    let run = start_with("TCP_CHECK", &[true; 8], policy(1, false, true), rx);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        run.calls.lock().unwrap().is_empty(),
        "no attempt while suspended"
    );
    assert_eq!(run.engine.status()[0]["suspended"], true);
    tx.send(std::collections::BTreeSet::new()).unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    let calls = run.calls.lock().unwrap().clone();
    assert_eq!(
        calls.len(),
        3,
        "resumed: one attempt at once, then every delay_loop: {calls:?}"
    );
    assert!(calls[0] >= Duration::from_secs(60), "{calls:?}");
    assert_eq!(run.engine.status()[0]["suspended"], false);
}

/// A check whose every attempt flips its answer.
struct Flapping(Mutex<bool>);

impl Check for Flapping {
    fn kind(&self) -> &'static str {
        "TCP_CHECK"
    }

    fn check<'a>(&'a self, _target: &'a Target) -> Attempt<'a> {
        let mut up = self.0.lock().unwrap();
        *up = !*up;
        let outcome = match *up {
            true => Outcome::Up,
            false => Outcome::down(Reason::Refused, "flapping"),
        };
        Box::pin(async move { outcome })
    }
}

/// A checker storm with nobody reading the verdicts: 3,000 real servers
/// change state on every attempt, yet at most `VERDICT_QUEUE` changes wait
/// (the checkers wait instead), and reading resumes the flow. With the
/// unbounded queue this replaced, the queue grew by 3,000 every cycle.
#[tokio::test(start_paused = true)]
async fn a_verdict_storm_queues_at_most_the_bound() {
    use lb_daemon::check::engine::VERDICT_QUEUE;
    let specs: Vec<CheckerSpec> = (0..3000)
        .map(|rs| CheckerSpec {
            id: RealServerId { vs: 0, rs },
            checker: 0,
            check: Box::new(Flapping(Mutex::new(true))),
            target: target(),
            policy: Policy {
                retry: 0,
                ..policy(0, false, true)
            },
            rs_label: format!("[192.0.2.11]:tcp:{rs}"),
            vs_label: "[192.0.2.100]:tcp:80".into(),
            inhibit: false,
        })
        .collect();
    let (engine, mut rx) = CheckerEngine::start_checks(specs, never_suspended());
    // Several check cycles with nobody reading.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(11)).await;
    }
    assert_eq!(rx.len(), VERDICT_QUEUE, "queued verdict changes");
    // Reading lets the waiting checkers go on.
    for _ in 0..VERDICT_QUEUE + 10 {
        rx.recv().await.expect("a verdict");
    }
    engine.shutdown().await;
}
