//! Tracking with real scripts, files and interfaces. Every test runs on its
//! own thread inside a fresh, anonymous network namespace
//! (`unshare(CLONE_NEWNET)` of that thread): the veth interfaces exist only
//! there, and the namespace disappears with the thread on every exit path,
//! panics included. The root namespace is never touched.

use std::fs;
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use lb_daemon::config::{
    Config, InitFile, SyncGroup, TrackFile, TrackRef, VrrpInstance, VrrpScript,
};
use lb_daemon::netlink::Netlink;
use lb_daemon::script::ScriptEnv;
use lb_daemon::track::{Tracking, Verdict};
use nix::sched::{unshare, CloneFlags};
use tokio::sync::watch;

/// Runs `test` on a new thread in a new network namespace.
fn in_netns<F: Future<Output = ()>>(test: impl FnOnce() -> F + Send + 'static) {
    std::thread::spawn(move || {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET) needs root");
        ip(&["link", "set", "lo", "up"]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(test());
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

/// `ip ARGS` in the calling thread's namespace.
fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {args:?}");
}

/// A veth pair `name` / `{name}p`, both up (so `name` has carrier).
fn veth(name: &str) {
    let peer = format!("{name}p");
    ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
    ip(&["link", "set", name, "up"]);
    ip(&["link", "set", &peer, "up"]);
}

fn track(name: &str, weight: Option<i32>, reverse: bool) -> TrackRef {
    TrackRef {
        name: name.into(),
        weight,
        reverse,
    }
}

fn instance(name: &str, priority: u32) -> VrrpInstance {
    VrrpInstance {
        name: name.into(),
        priority: Some(priority),
        dont_track_primary: true,
        ..Default::default()
    }
}

fn start(config: &Config) -> Tracking {
    Tracking::start(config, Netlink::connect().unwrap(), ScriptEnv::default())
}

/// Waits until the verdict is `want`; returns how long that took.
async fn wait_for(rx: &mut watch::Receiver<Verdict>, want: Verdict, limit: Duration) -> Duration {
    let started = Instant::now();
    let waited = tokio::time::timeout(limit, rx.wait_for(|v| *v == want))
        .await
        .is_ok();
    assert!(waited, "still {:?}, want {want:?}", *rx.borrow());
    started.elapsed()
}

fn ok(priority: u8) -> Verdict {
    Verdict {
        fault: false,
        priority,
    }
}

fn fault(priority: u8) -> Verdict {
    Verdict {
        fault: true,
        priority,
    }
}

/// A script exiting with the number in `flag`.
fn flag_script(dir: &Path, flag: &Path) -> String {
    let path = dir.join("chk.sh");
    fs::write(
        &path,
        format!("#!/bin/sh\nexit $(cat {})\n", flag.display()),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn scripts_fall_rise_and_weights() {
    in_netns(|| async {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("flag");
        fs::write(&flag, "0").unwrap();
        let chk = VrrpScript {
            name: "chk".into(),
            script: Some(flag_script(dir.path(), &flag)),
            interval: Some(1),
            weight: Some(-20),
            fall: Some(2),
            rise: Some(2),
            ..Default::default()
        };
        let mut weighted = instance("VI_W", 100);
        weighted.track_script = vec![track("chk", None, false)];
        let mut faulting = instance("VI_F", 100);
        faulting.track_script = vec![track("chk", Some(0), false)];
        let mut reversed = instance("VI_R", 100);
        reversed.track_script = vec![track("chk", Some(10), true)];
        let config = Config {
            vrrp_script: vec![chk],
            vrrp_instance: vec![weighted, faulting, reversed],
            ..Default::default()
        };
        let tracking = start(&config);
        let mut w = tracking.subscribe("VI_W").unwrap();
        let f = tracking.subscribe("VI_F").unwrap();
        let mut r = tracking.subscribe("VI_R").unwrap();
        assert!(tracking.subscribe("nope").is_none());
        // Before the first result nothing is known: no fault on no evidence.
        assert_eq!(*f.borrow(), ok(100));
        let second = Duration::from_secs(1);
        // The first result (success) arrives: reverse +10 means -10 while up.
        wait_for(&mut r, ok(90), second).await;
        assert_eq!(*w.borrow(), ok(100));
        assert_eq!(*f.borrow(), ok(100));

        fs::write(&flag, "1").unwrap();
        // fall 2: the second failing run, one interval after the first.
        let took = wait_for(&mut w, ok(80), 4 * second).await;
        assert!(
            took >= second - Duration::from_millis(200),
            "fell after {took:?}"
        );
        assert_eq!(*f.borrow(), fault(100));
        assert_eq!(*r.borrow(), ok(100));
        let status = tracking.status();
        assert_eq!(status["tracked"][0]["state"], "down", "{status}");
        assert_eq!(status["instances"]["VI_W"]["priority"], 80);

        fs::write(&flag, "0").unwrap();
        let took = wait_for(&mut w, ok(100), 4 * second).await;
        assert!(
            took >= second - Duration::from_millis(200),
            "rose after {took:?}"
        );
        assert_eq!(*f.borrow(), ok(100));
        tracking.shutdown().await;
    });
}

#[test]
fn init_fail_starts_down_and_timeouts_fail() {
    in_netns(|| async {
        let slow = VrrpScript {
            name: "slow".into(),
            script: Some("sleep 5".into()),
            interval: Some(1),
            timeout: Some(1),
            ..Default::default()
        };
        let good = VrrpScript {
            name: "good".into(),
            script: Some("true".into()),
            init_fail: true,
            rise: Some(2),
            weight: Some(5),
            ..Default::default()
        };
        let mut vi = instance("VI_1", 100);
        vi.track_script = vec![track("slow", Some(-50), false), track("good", None, false)];
        let config = Config {
            vrrp_script: vec![slow, good],
            vrrp_instance: vec![vi],
            ..Default::default()
        };
        let tracking = start(&config);
        let mut rx = tracking.subscribe("VI_1").unwrap();
        assert_eq!(*rx.borrow(), ok(100));
        // The timeout fails `slow`; `good` needs two runs to rise.
        wait_for(&mut rx, ok(55), Duration::from_secs(4)).await;
        tracking.shutdown().await;
    });
}

#[test]
fn shutdown_kills_running_scripts() {
    in_netns(|| async {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let hang = VrrpScript {
            name: "hang".into(),
            script: Some(format!(
                "sh -c 'echo $$ > {}; exec sleep 30'",
                pidfile.display()
            )),
            interval: Some(60),
            ..Default::default()
        };
        let mut vi = instance("VI_1", 100);
        vi.track_script = vec![track("hang", None, false)];
        let config = Config {
            vrrp_script: vec![hang],
            vrrp_instance: vec![vi],
            ..Default::default()
        };
        let tracking = start(&config);
        let deadline = Instant::now() + Duration::from_secs(3);
        while fs::read_to_string(&pidfile).map_or(true, |p| p.trim().is_empty()) {
            assert!(Instant::now() < deadline, "script never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pid: i32 = fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        tracking.shutdown().await;
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.is_empty()
                || stat
                    .rsplit(')')
                    .next()
                    .unwrap()
                    .trim_start()
                    .starts_with('Z')
            {
                break;
            }
            assert!(Instant::now() < deadline, "script {pid} survived shutdown");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn interfaces_fault_and_weight() {
    in_netns(|| async {
        veth("trk0");
        veth("trk1");
        let mut own = instance("VI_OWN", 100);
        own.interface = Some("trk0".into());
        own.dont_track_primary = false;
        own.track_interface = vec![track("trk1", Some(-30), false)];
        let mut ignoring = instance("VI_IGN", 100);
        ignoring.interface = Some("trk0".into());
        let mut missing = instance("VI_MISSING", 100);
        missing.track_interface = vec![track("nosuch0", None, false)];
        let config = Config {
            vrrp_instance: vec![own, ignoring, missing],
            ..Default::default()
        };
        let tracking = start(&config);
        let mut rx = tracking.subscribe("VI_OWN").unwrap();
        let quick = Duration::from_secs(1);
        wait_for(&mut rx, ok(100), quick).await;
        let mut gone = tracking.subscribe("VI_MISSING").unwrap();
        wait_for(&mut gone, fault(100), quick).await;

        ip(&["link", "set", "trk0", "down"]);
        // Notifications, not the 5 s safety poll, deliver this.
        wait_for(&mut rx, fault(100), quick).await;
        assert_eq!(*tracking.subscribe("VI_IGN").unwrap().borrow(), ok(100));
        ip(&["link", "set", "trk0", "up"]);
        wait_for(&mut rx, ok(100), quick).await;

        // Losing carrier (the peer goes down) counts as down too.
        ip(&["link", "set", "trk1p", "down"]);
        wait_for(&mut rx, ok(70), quick).await;
        ip(&["link", "del", "trk1"]);
        veth("trk1");
        wait_for(&mut rx, ok(100), quick).await;
        tracking.shutdown().await;
    });
}

#[test]
fn track_files_values_and_faults() {
    in_netns(|| async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prio");
        let file = TrackFile {
            name: "tf".into(),
            file: Some(path.display().to_string()),
            weight: Some(2),
            init_file: Some(InitFile {
                value: Some(5),
                overwrite: false,
            }),
            ..Default::default()
        };
        let mut weighted = instance("VI_W", 100);
        weighted.track_file = vec![track("tf", None, false)];
        let mut zero = instance("VI_Z", 100);
        zero.track_file = vec![track("tf", Some(0), false)];
        let config = Config {
            track_file: vec![file],
            vrrp_instance: vec![weighted, zero],
            ..Default::default()
        };
        let tracking = start(&config);
        let mut w = tracking.subscribe("VI_W").unwrap();
        let mut z = tracking.subscribe("VI_Z").unwrap();
        let quick = Duration::from_secs(1);
        wait_for(&mut w, ok(110), quick).await;
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), "5");
        wait_for(&mut z, fault(100), quick).await;

        fs::write(&path, "-3\n").unwrap();
        wait_for(&mut w, ok(94), quick).await;
        fs::write(&path, "-200").unwrap();
        wait_for(&mut w, fault(100), quick).await;
        fs::remove_file(&path).unwrap();
        wait_for(&mut w, ok(100), quick).await;
        wait_for(&mut z, ok(100), quick).await;
        let status = tracking.status();
        assert_eq!(status["tracked"][0]["value"], 0, "{status}");
        tracking.shutdown().await;
    });
}

#[test]
fn sync_group_members_ignore_weights() {
    in_netns(|| async {
        let failing = VrrpScript {
            name: "failing".into(),
            script: Some("false".into()),
            weight: Some(-50),
            ..Default::default()
        };
        let mut member = instance("VI_M", 100);
        member.track_script = vec![track("failing", None, false)];
        let mut grouped_zero = instance("VI_G", 100);
        grouped_zero.track_script = vec![track("failing", Some(0), false)];
        let config = Config {
            vrrp_script: vec![failing],
            vrrp_instance: vec![member, grouped_zero],
            vrrp_sync_group: vec![SyncGroup {
                name: "G".into(),
                group: vec!["VI_M".into(), "VI_G".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let tracking = start(&config);
        let deadline = Instant::now() + Duration::from_secs(2);
        while tracking.status()["tracked"][0]["state"] != "down" {
            assert!(Instant::now() < deadline, "{}", tracking.status());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(*tracking.subscribe("VI_G").unwrap().borrow(), fault(100));
        assert_eq!(*tracking.subscribe("VI_M").unwrap().borrow(), ok(100));
        tracking.shutdown().await;
    });
}
