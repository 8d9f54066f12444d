//! The running desired-state task: verdicts in, the watch stream and the
//! notify commands out.
mod desired_common;

use std::path::Path;
use std::time::Duration;

use desired_common::*;
use lb_daemon::script::ScriptEnv;
use lb_daemon::state::desired::{channel, DesiredState};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

/// A command appending `word` to `log`.
fn append(log: &Path, word: &str) -> Option<lb_daemon::config::Command> {
    Some(command(&format!(
        "/bin/sh -c 'echo {word} >> {}'",
        log.display()
    )))
}

/// Waits until `log` holds exactly `lines`.
async fn wait_for_lines(log: &Path, lines: &[&str]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.lines().collect::<Vec<_>>() == lines {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "log holds {text:?}, want {lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The backend count of the next published state.
async fn next_backends(rx: &mut watch::Receiver<DesiredState>) -> usize {
    timeout(WAIT, rx.changed()).await.unwrap().unwrap();
    rx.borrow_and_update().services[0].backends.len()
}

#[tokio::test]
async fn verdicts_reach_the_stream_and_notify_scripts_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut reals = vec![real(1, 1), real(2, 0)];
    reals[0].notify_down = append(&log, "down");
    reals[0].notify_up = append(&log, "up");
    let mut vs = server(reals);
    vs.quorum_up = append(&log, "quorum_up");
    vs.quorum_down = append(&log, "quorum_down");
    vs.omega = true;
    let (publisher, mut rx) = channel(&config(vec![vs]));
    assert_eq!(rx.borrow_and_update().services[0].backends.len(), 2);
    let (tx, verdicts) = mpsc::channel(64);
    let task = publisher.spawn(verdicts, ScriptEnv::default());
    wait_for_lines(&log, &["quorum_up"]).await;

    tx.send(verdict(0, 0, 0, false)).await.unwrap();
    assert_eq!(next_backends(&mut rx).await, 1);
    wait_for_lines(&log, &["quorum_up", "down"]).await;
    tx.send(verdict(0, 0, 0, true)).await.unwrap();
    assert_eq!(next_backends(&mut rx).await, 2);
    wait_for_lines(&log, &["quorum_up", "down", "up"]).await;

    let mut timings = publisher.timings();
    tx.send(verdict(0, 0, 0, true)).await.unwrap();
    timeout(
        WAIT,
        timings.wait_for(|t| t.is_some_and(|t| t.verdicts == 3)),
    )
    .await
    .unwrap()
    .unwrap();
    let timing = timings.borrow().unwrap();
    assert!(timing.published >= timing.received);
    assert!(
        !rx.has_changed().unwrap(),
        "an unchanged verdict is not published"
    );

    let status = publisher.status();
    assert_eq!(status["virtual_servers"][0]["real_servers"][0]["up"], true);
    drop(tx);
    timeout(WAIT, task).await.unwrap().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let mut stop: Vec<&str> = text.lines().skip(3).collect();
    stop.sort_unstable();
    assert_eq!(
        stop,
        ["down", "quorum_down"],
        "omega commands ran at shutdown"
    );
}

#[tokio::test]
async fn apply_publishes_synchronously_for_benchmarks() {
    let (publisher, mut rx) = channel(&config(vec![
        server(vec![real(1, 1)]),
        server(vec![real(2, 1)]),
    ]));
    let effects = publisher.apply(&verdict(1, 0, 0, false));
    assert_eq!(effects.len(), 2, "real server down and quorum lost");
    assert!(rx.has_changed().unwrap());
    let state = rx.borrow_and_update().clone();
    assert_eq!(state.services.len(), 2);
    assert_eq!(state.services[0].backends.len(), 1);
    assert!(state.services[1].backends.is_empty());
    assert_eq!(publisher.subscribe().borrow().services, state.services);
}
