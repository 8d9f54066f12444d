//! The cleanup paths of `cargo xtask lab` (needs root): a SIGTERM or a panic
//! in a process owning namespaces removes them all. Runs without libtest
//! because signals must be blocked before any thread exists; the same binary
//! re-runs itself as the process under test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lb_tests::names::list_namespaces;
use lb_tests::{install_cleanup_on_signals, install_panic_cleanup_hook, wait_until, Netns};

const MODE_ENV: &str = "LBT_SIGNALS_MODE";

/// Child: create namespaces (one with a process inside), leak their guards
/// so that only the cleanup path under test can remove them, then wait for a
/// signal or panic.
fn child(mode: &str) {
    if mode == "signal" {
        install_cleanup_on_signals().unwrap();
    } else {
        install_panic_cleanup_hook();
    }
    let a = Netns::new("sig-a").unwrap();
    let b = Netns::new("sig-b").unwrap();
    std::mem::forget(b.spawn(&["sleep", "100"]).unwrap());
    println!("NETNS {} {}", a.name(), b.name());
    std::mem::forget((a, b));
    if mode == "signal" {
        std::thread::sleep(Duration::from_secs(60));
    } else {
        std::thread::sleep(Duration::from_millis(100));
        panic!("deliberate panic in lab owner");
    }
}

fn start(mode: &str) -> (Child, Vec<String>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(MODE_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("NETNS "))
        .expect("child reports its namespaces");
    let names = line
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect();
    (child, names)
}

fn all_gone(names: &[String]) -> bool {
    let listed = list_namespaces();
    names.iter().all(|n| !listed.contains(n))
}

fn sigterm_removes_namespaces() {
    let (mut child, names) = start("signal");
    assert!(!all_gone(&names));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert!(all_gone(&names), "left behind: {names:?}");
}

fn panic_removes_namespaces() {
    let (mut child, names) = start("panic");
    assert!(!child.wait().unwrap().success());
    wait_until(Duration::from_secs(3), Duration::from_millis(10), || {
        all_gone(&names)
    })
    .unwrap();
}

fn main() {
    if let Ok(mode) = std::env::var(MODE_ENV) {
        return child(&mode);
    }
    let tests: [(&str, fn()); 2] = [
        ("sigterm_removes_namespaces", sigterm_removes_namespaces),
        ("panic_removes_namespaces", panic_removes_namespaces),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        let ok = std::panic::catch_unwind(test).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        failed += usize::from(!ok);
    }
    println!("{} passed, {failed} failed", tests.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
