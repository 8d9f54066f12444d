//! `Netns`/`NsChild` guards and stale-namespace sweeping on the real kernel
//! (needs root).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use lb_tests::names::{list_namespaces, namespace_pids, process_alive, sweep_stale};
use lb_tests::netns::run_cmd;
use lb_tests::{wait_until, Netns};

/// Set in the environment of the child run by `sigkilled_run_is_swept`.
const HELPER_ENV: &str = "LBT_SIGKILL_HELPER";

fn alive(pid: i32) -> bool {
    process_alive(pid as u32)
}

#[test]
fn run_reports_command_status_and_stderr() {
    let ns = Netns::new("errs").unwrap();
    assert_eq!(ns.run(&["echo", "hi"]).unwrap(), "hi\n");
    let err = ns
        .run(&["sh", "-c", "echo oops >&2; exit 3"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sh -c") && err.contains("3") && err.contains("oops"),
        "{err}"
    );
    assert!(!ns.exec(&["false"]).unwrap().status.success());
    // lo is up, and the namespace has nothing but lo.
    let links = ns.ip(&["-o", "link"]).unwrap();
    assert_eq!(links.lines().count(), 1, "{links}");
    assert!(links.contains("lo:") && links.contains("UP"), "{links}");
}

#[test]
fn dropping_child_kills_its_process_group() {
    let ns = Netns::new("grp").unwrap();
    let child = ns
        .spawn(&["sh", "-c", "sleep 100 & sleep 100; wait"])
        .unwrap();
    wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        ns.pids().unwrap().len() >= 3
    })
    .unwrap();
    let pids = ns.pids().unwrap();
    drop(child);
    // The background sleep is reparented, not our child: wait for it to go.
    wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        pids.iter().all(|p| !alive(*p))
    })
    .unwrap();
    assert!(ns.pids().unwrap().is_empty());
}

#[test]
fn dropping_netns_kills_stray_processes_and_deletes_it() {
    let ns = Netns::new("stray").unwrap();
    let name = ns.name().to_string();
    // A daemonised process (not in our process group) must go too.
    ns.run(&["sh", "-c", "setsid sleep 100 >/dev/null 2>&1 < /dev/null &"])
        .unwrap();
    wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        !ns.pids().unwrap().is_empty()
    })
    .unwrap();
    let pids = ns.pids().unwrap();
    drop(ns);
    assert!(!list_namespaces().contains(&name));
    wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        pids.iter().all(|p| !alive(*p))
    })
    .unwrap();
}

#[test]
fn sweep_leaves_foreign_and_live_namespaces_alone() {
    let foreign = format!("lbtest-foreign-{}", std::process::id());
    run_cmd("ip", &["netns", "add", &foreign]).unwrap();
    let ours = Netns::new("live").unwrap();
    sweep_stale();
    let listed = list_namespaces();
    run_cmd("ip", &["netns", "del", &foreign]).unwrap();
    assert!(listed.contains(&foreign));
    assert!(listed.contains(&ours.name().to_string()));
}

/// Child side of `sigkilled_run_is_swept`: create a namespace with a process
/// in it, report its name, and wait to be killed. A no-op in normal runs.
#[test]
fn sigkill_helper() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let ns = Netns::new("killed").unwrap();
    let _child = ns.spawn(&["sleep", "100"]).unwrap();
    wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        !ns.pids().unwrap().is_empty()
    })
    .unwrap();
    // The harness may print "test sigkill_helper ... " on the same line.
    println!("NETNS {}", ns.name());
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn sigkilled_run_is_swept() {
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigkill_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let name = BufReader::new(helper.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| Some(l.split_once("NETNS ")?.1.trim().to_string()))
        .expect("helper reports its namespace");
    helper.kill().unwrap(); // SIGKILL: no Drop runs
    helper.wait().unwrap();
    // Normally still there (no Drop ran); a concurrent test process creating
    // its first namespace may have swept it already, which is fine too.
    let pids = namespace_pids(&name);

    assert!(sweep_stale().contains(&name) || !list_namespaces().contains(&name));
    assert!(!list_namespaces().contains(&name));
    wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        pids.iter().all(|p| !alive(*p))
    })
    .unwrap();
}
