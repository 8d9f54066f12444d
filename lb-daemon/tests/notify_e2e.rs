//! Notifier end to end: real notify scripts (their argv written to files) and
//! real mail over TCP to an in-process SMTP sink on 127.0.0.1.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lb_daemon::config::{Command, Config, GlobalDefs, SmtpServer, SyncGroup, VrrpInstance};
use lb_daemon::notify::{Notifier, Target};
use lb_daemon::vrrp::fsm::State;
use lb_tests::SmtpSink;
use tempfile::TempDir;

/// Everything logged by any test of this binary (tests tell their lines
/// apart by instance names).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log so far, installing the capturing subscriber on first use.
fn logs() -> String {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    let logs = LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .init();
        logs
    });
    String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned()
}

/// A directory with `argv.sh OUT [ARGS...]`, which appends one line
/// `[arg1][arg2]...` to OUT.
fn script_dir() -> TempDir {
    let _ = logs();
    let dir = tempfile::tempdir().unwrap();
    write_script(
        dir.path(),
        "argv.sh",
        "out=$1; shift\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done >> \"$out\"\necho >> \"$out\"\n",
    );
    dir
}

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `argv.sh` in `dir` writing to `dir/out`, with `args` configured after.
fn argv(dir: &TempDir, out: &str, args: &str) -> Option<Command> {
    let path = dir.path();
    Some(Command {
        script: format!("{}/argv.sh {}/{out} {args}", path.display(), path.display()),
        user: None,
        group: None,
    })
}

fn command(script: impl Into<String>) -> Option<Command> {
    Some(Command {
        script: script.into(),
        user: None,
        group: None,
    })
}

fn read(dir: &TempDir, out: &str) -> String {
    fs::read_to_string(dir.path().join(out)).unwrap_or_default()
}

const DRAIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_scripts_get_keepalived_arguments() {
    let dir = script_dir();
    let vi = VrrpInstance {
        name: "VI_ARGS".into(),
        notify_master: argv(&dir, "master", "one"),
        notify_backup: argv(&dir, "backup", ""),
        notify_fault: argv(&dir, "fault", ""),
        notify_stop: argv(&dir, "stop", ""),
        notify: argv(&dir, "notify", "'x y'"),
        ..VrrpInstance::default()
    };
    let notifier = Notifier::new(&Config::default());
    for (state, priority) in [
        (State::Master, 150),
        (State::Backup, 100),
        (State::Initialize, 100),
        (State::Fault, 0),
    ] {
        notifier.transition(Target::Instance(&vi), state, priority);
        notifier.drain(DRAIN).await;
    }
    notifier.stop(Target::Instance(&vi), 100);
    notifier.drain(DRAIN).await;

    assert_eq!(read(&dir, "master"), "[one]\n");
    assert_eq!(read(&dir, "backup"), "\n");
    assert_eq!(read(&dir, "fault"), "\n");
    assert_eq!(read(&dir, "stop"), "\n");
    assert_eq!(
        read(&dir, "notify"),
        "[x y][INSTANCE][VI_ARGS][MASTER][150]\n\
         [x y][INSTANCE][VI_ARGS][BACKUP][100]\n\
         [x y][INSTANCE][VI_ARGS][FAULT][0]\n\
         [x y][INSTANCE][VI_ARGS][STOP][100]\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_scripts_get_group_and_priority_zero() {
    let dir = script_dir();
    let group = SyncGroup {
        name: "VG_ARGS".into(),
        group: vec!["VI_A".into(), "VI_B".into()],
        notify_master: argv(&dir, "master", ""),
        notify_stop: argv(&dir, "stop", "bye"),
        notify: argv(&dir, "notify", ""),
        ..SyncGroup::default()
    };
    let notifier = Notifier::new(&Config::default());
    notifier.transition(Target::Group(&group), State::Master, 200);
    notifier.drain(DRAIN).await;
    notifier.transition(Target::Group(&group), State::Backup, 200);
    notifier.drain(DRAIN).await;
    notifier.stop(Target::Group(&group), 200);
    notifier.drain(DRAIN).await;

    assert_eq!(read(&dir, "master"), "\n");
    assert_eq!(read(&dir, "stop"), "[bye]\n");
    assert_eq!(
        read(&dir, "notify"),
        "[GROUP][VG_ARGS][MASTER][0]\n[GROUP][VG_ARGS][BACKUP][0]\n[GROUP][VG_ARGS][STOP][0]\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_script_neither_blocks_nor_outlives_its_timeout() {
    let dir = script_dir();
    let slow = write_script(dir.path(), "slow.sh", "echo $$ > \"$1\"\nexec sleep 30\n");
    let pid_file = dir.path().join("pid");
    let vi = VrrpInstance {
        name: "VI_SLOW".into(),
        notify_master: command(format!("{} {}", slow.display(), pid_file.display())),
        notify: argv(&dir, "notify", ""),
        ..VrrpInstance::default()
    };
    let notifier = Notifier::with_script_timeout(&Config::default(), Duration::from_secs(1));

    let start = Instant::now();
    notifier.transition(Target::Instance(&vi), State::Master, 100);
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    // The fast script of the same event is not held up by the slow one.
    while read(&dir, "notify").is_empty() || !pid_file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "scripts did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(start.elapsed() < Duration::from_secs(1));
    let pid = fs::read_to_string(&pid_file).unwrap().trim().to_string();
    assert!(running(&pid));

    notifier.drain(DRAIN).await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "sleep {pid} survived"
    );
    let logs = logs();
    assert!(
        logs.contains("(VI_SLOW) notify_master script")
            && logs.contains("timed out after 1.0s - killed"),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_kills_what_outlives_it() {
    let dir = script_dir();
    let slow = write_script(dir.path(), "slow.sh", "echo $$ > \"$1\"\nexec sleep 30\n");
    let pid_file = dir.path().join("pid");
    let vi = VrrpInstance {
        name: "VI_DRAIN".into(),
        notify_stop: command(format!("{} {}", slow.display(), pid_file.display())),
        ..VrrpInstance::default()
    };
    let notifier = Notifier::new(&Config::default());
    notifier.stop(Target::Instance(&vi), 100);
    let start = Instant::now();
    notifier.drain(Duration::from_millis(500)).await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let logs = logs();
    assert!(logs.contains("still running after 0.5s - killed"), "{logs}");
    let pid = fs::read_to_string(&pid_file).unwrap().trim().to_string();
    while running(&pid) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "sleep {pid} survived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether process `pid` exists and is not a zombie.
fn running(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_missing_scripts_are_logged() {
    let dir = script_dir();
    let fail = write_script(dir.path(), "fail.sh", "echo 'oops on stderr' >&2\nexit 3\n");
    let vi = VrrpInstance {
        name: "VI_FAIL".into(),
        notify_backup: command(fail.display().to_string()),
        notify_fault: command("/nonexistent/notify.sh"),
        ..VrrpInstance::default()
    };
    let notifier = Notifier::new(&Config::default());
    notifier.transition(Target::Instance(&vi), State::Backup, 100);
    notifier.transition(Target::Instance(&vi), State::Fault, 100);
    notifier.drain(DRAIN).await;

    let logs = logs();
    let fail = fail.display();
    assert!(
        logs.contains(&format!("(VI_FAIL) notify_backup `{fail}`: oops on stderr")),
        "{logs}"
    );
    assert!(
        logs.contains(&format!(
            "(VI_FAIL) notify_backup script `{fail}` exited with status 3"
        )),
        "{logs}"
    );
    assert!(
        logs.contains("(VI_FAIL) cannot run notify_fault script `/nonexistent/notify.sh`"),
        "{logs}"
    );
}

/// Mail settings pointing at 127.0.0.1:`port`.
fn mail_config(port: u16, timeout: u32) -> Config {
    Config {
        global_defs: GlobalDefs {
            router_id: Some("lb-test".into()),
            notification_email: vec!["a@example.com".into(), "Ops <ops@example.com>".into()],
            notification_email_from: Some("lb@example.com".into()),
            smtp_server: Some(SmtpServer {
                host: "127.0.0.1".into(),
                port: Some(port),
            }),
            smtp_connect_timeout: Some(timeout),
            smtp_helo_name: Some("helo.example".into()),
            ..GlobalDefs::default()
        },
        ..Config::default()
    }
}

fn mailing_instance(name: &str) -> VrrpInstance {
    VrrpInstance {
        name: name.into(),
        smtp_alert: true,
        ..VrrpInstance::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_keepalived_mail_per_transition() {
    let sink = SmtpSink::start().unwrap();
    let notifier = Notifier::new(&mail_config(sink.addr().port(), 5));
    let vi = mailing_instance("VI_MAIL");
    let quiet = VrrpInstance {
        smtp_alert: false,
        ..mailing_instance("VI_QUIET")
    };
    let group = SyncGroup {
        name: "VG_MAIL".into(),
        smtp_alert: true,
        ..SyncGroup::default()
    };
    let events: [(Target, Option<State>); 6] = [
        (Target::Instance(&vi), Some(State::Master)),
        (Target::Instance(&vi), Some(State::Master)), // same state: no second mail
        (Target::Instance(&quiet), Some(State::Master)), // smtp_alert off
        (Target::Instance(&vi), Some(State::Backup)),
        (Target::Group(&group), Some(State::Fault)),
        (Target::Instance(&vi), None), // stop
    ];
    for (target, state) in events {
        match state {
            Some(state) => notifier.transition(target, state, 100),
            None => notifier.stop(target, 100),
        }
        notifier.drain(DRAIN).await;
    }

    let mails = sink.wait_for(5, Duration::from_millis(500));
    let subjects: Vec<String> = mails.iter().filter_map(|m| m.header("Subject")).collect();
    assert_eq!(
        subjects,
        [
            "[lb-test] VRRP Instance VI_MAIL - Entering MASTER state",
            "[lb-test] VRRP Instance VI_MAIL - Entering BACKUP state",
            "[lb-test] VRRP Group VG_MAIL - Entering FAULT state",
            "[lb-test] VRRP Instance VI_MAIL - Stopping",
        ]
    );
    let bodies: Vec<&str> = mails.iter().map(|m| m.body().trim_end()).collect();
    assert_eq!(
        bodies,
        [
            "=> VRRP Instance is now owning VRRP VIPs <=",
            "=> VRRP Instance is no longer owning VRRP VIPs <=",
            "=> All VRRP group instances are now in FAULT state <=",
            "=> VRRP Instance stopping <=",
        ]
    );
    for mail in &mails {
        assert_eq!(mail.helo, "helo.example");
        assert_eq!(mail.from, "lb@example.com");
        assert_eq!(mail.to, ["a@example.com", "ops@example.com"]);
        assert_eq!(mail.header("From").as_deref(), Some("lb@example.com"));
        assert_eq!(
            mail.header("To").as_deref(),
            Some("a@example.com, Ops <ops@example.com>")
        );
        assert_eq!(mail.header("X-Mailer").as_deref(), Some("Keepalived"));
        assert!(mail.header("Date").is_some(), "{}", mail.data);
    }
    assert!(logs().contains("SMTP alert successfully sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_or_silent_relay_is_logged_and_does_not_block() {
    let _ = logs();
    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Accepts connections (kernel backlog) but never greets.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();

    let start = Instant::now();
    let to_refused = Notifier::new(&mail_config(refused.port(), 1));
    let to_silent = Notifier::new(&mail_config(silent_port, 1));
    to_refused.transition(
        Target::Instance(&mailing_instance("VI_NOSMTP")),
        State::Master,
        1,
    );
    to_silent.transition(
        Target::Instance(&mailing_instance("VI_MUTE")),
        State::Master,
        1,
    );
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    to_refused.drain(DRAIN).await;
    to_silent.drain(DRAIN).await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    let logs = logs();
    let refused_line = format!("Error sending SMTP alert to 127.0.0.1:{}: ", refused.port());
    assert!(logs.contains(&refused_line), "{logs}");
    assert!(
        logs.contains(&format!(
            "Timeout sending SMTP alert to 127.0.0.1:{silent_port} after 2s"
        )),
        "{logs}"
    );
}
