//! The real `lb-daemon` binary run without network (configurations of
//! parsed-but-not-run sections): start it, query it, signal it, read its log.
#![allow(dead_code)] // each test binary uses its own part

use std::{
    fs,
    io::Read,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_lb-daemon");

pub const CONFIG: &str = "global_defs {\n    router_id cli-test\n}\n";

/// How to start the daemon beyond `-n -l -f CONFIG --runtime-dir DIR`.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// More command-line arguments.
    pub args: Vec<String>,
    /// The umask the daemon starts with.
    pub umask: Option<libc::mode_t>,
    /// The soft descriptor limit the daemon starts with.
    pub nofile: Option<libc::rlim_t>,
}

/// A running daemon; its log is collected as it comes (a full pipe would
/// block the daemon).
pub struct Running {
    pub child: Child,
    pub runtime: PathBuf,
    log: Arc<Mutex<String>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Running {
    pub fn start(config: &Path, runtime: &Path) -> Running {
        Running::start_with(config, runtime, &Options::default())
    }

    pub fn start_with(config: &Path, runtime: &Path, options: &Options) -> Running {
        let mut cmd = Command::new(BIN);
        cmd.args(["-n", "-l", "-f"])
            .arg(config)
            .arg("--runtime-dir")
            .arg(runtime)
            .args(&options.args)
            .stderr(Stdio::piped());
        let (umask, nofile) = (options.umask, options.nofile);
        // SAFETY: umask(2), getrlimit(2) and setrlimit(2) are
        // async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(mask) = umask {
                    libc::umask(mask);
                }
                if let Some(soft) = nofile {
                    let mut limit = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
                    limit.rlim_cur = soft;
                    libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn lb-daemon");
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        let reader = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]);
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
        });
        let running = Running {
            child,
            runtime: runtime.to_path_buf(),
            log,
            reader: Some(reader),
        };
        wait(
            || status(&running.runtime).is_some(),
            "control socket answers",
        );
        running
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("signal lb-daemon");
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A field of /proc/PID/status in KiB (`VmHWM`, `VmRSS`).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let text = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid()))
    }

    /// How many file descriptors the daemon has open.
    pub fn open_fds(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// How many file descriptors the daemon has open once the count holds
    /// still for half a second (a client that was just answered, or a
    /// start-up socket, may still be closing when the daemon starts
    /// answering).
    pub fn settled_fds(&self) -> usize {
        let mut last = self.open_fds();
        let mut same = 0;
        let deadline = Instant::now() + Duration::from_secs(10);
        while same < 5 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
            let now = self.open_fds();
            same = if now == last { same + 1 } else { 0 };
            last = now;
        }
        last
    }

    /// Waits for exit and returns (success, log).
    pub fn finish(mut self) -> (bool, String) {
        let status = self.child.wait().expect("wait for lb-daemon");
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status.success(), self.log())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `status --json` document of the daemon on `runtime`, if one answers.
pub fn status(runtime: &Path) -> Option<Value> {
    let out = Command::new(BIN)
        .arg("status")
        .arg("--json")
        .arg("--runtime-dir")
        .arg(runtime)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("status is JSON"))
}

/// Waits up to 10 s until `cond`.
pub fn wait(mut cond: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `lb-daemon ARGS -f CONFIG --runtime-dir RUNTIME` to completion.
pub fn run(args: &[&str], runtime: &Path, config: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("-f")
        .arg(config)
        .arg("--runtime-dir")
        .arg(runtime)
        .output()
        .expect("run lb-daemon")
}

/// A temporary directory holding `keepalived.conf` with `text`, and the
/// path of a runtime directory in it (not created).
pub fn setup(text: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("keepalived.conf");
    fs::write(&config, text).unwrap();
    let runtime = tmp.path().join("run");
    (tmp, config, runtime)
}
