//! The descriptor limit (issue 16, resource bounds): started with the soft
//! limit a service manager usually sets (1,024), the daemon raises it to
//! the hard limit, since every health check in flight holds a socket
//! (10,000 real servers timing out together need 10,000); its scripts get
//! the original soft limit back. Before, the daemon kept 1,024 and a
//! checker storm over more real servers failed with EMFILE.
mod daemon_common;

use std::{fs, time::Duration};

use daemon_common::{setup, wait, Options, Running};

/// The soft and hard "Max open files" of `pid`.
fn limits(pid: i32) -> (u64, u64) {
    let text = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("Max open files");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn the_soft_limit_is_raised_and_scripts_get_the_original_back() {
    let out = tempfile::tempdir().unwrap();
    let record = out.path().join("limit");
    let script = out.path().join("check.sh");
    fs::write(&script, format!("ulimit -n > {}\n", record.display())).unwrap();
    let config = format!(
        "virtual_server 192.0.2.60 80 {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    \
         real_server 127.0.0.1 80 {{\n        MISC_CHECK {{\n            misc_path \"/bin/sh {}\"\n        }}\n    }}\n}}\n",
        script.display()
    );
    let (_tmp, path, runtime) = setup(&config);
    let options = Options {
        nofile: Some(1024),
        ..Options::default()
    };
    let daemon = Running::start_with(&path, &runtime, &options);
    let (soft, hard) = limits(daemon.pid());
    assert!(
        hard > 1024,
        "this machine's hard limit is {hard}: nothing to raise"
    );
    assert_eq!(soft, hard, "soft limit {soft} not raised to {hard}");
    wait(
        || fs::read_to_string(&record).is_ok_and(|t| !t.is_empty()),
        "the script ran",
    );
    std::thread::sleep(Duration::from_millis(100));
    let child = fs::read_to_string(&record).unwrap();
    assert_eq!(child.trim(), "1024", "the script's soft limit");
}
