//! The control socket under abuse (issue 12, item 6): a huge request line is
//! refused after 64 KiB without being echoed and without growing the daemon;
//! clients are bounded (the rest wait in the listen queue), a silent client
//! is timed out, and accept failures (no file descriptors left) back off with one
//! log line instead of a tight loop. Before, a 100 MiB line grew the daemon
//! by 328 MB and came back in the reply, every connection was kept forever,
//! and EMFILE logged millions of lines. (That no client delays a VRRP advert
//! is shown in the lab test `control_abuse`.)
mod daemon_common;

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::Path,
    thread,
    time::{Duration, Instant},
};

use daemon_common::{setup, status, wait, Running, CONFIG};

const MIB: usize = 1024 * 1024;

fn connect(runtime: &Path) -> UnixStream {
    let stream = UnixStream::connect(runtime.join("lb-daemon.sock")).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads what the daemon answers until it closes the connection.
fn reply(stream: &mut UnixStream) -> String {
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

/// Sends a `size`-byte request line (as long as the daemon takes it), then
/// reads the reply.
fn send_huge_line(runtime: &Path, size: usize) -> String {
    let mut stream = connect(runtime);
    let chunk = vec![b'A'; MIB];
    let mut sent = 0;
    while sent < size {
        if stream.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = stream.write_all(b"\n");
    reply(&mut stream)
}

#[test]
fn huge_requests_are_refused_unechoed_and_memory_stays_bounded() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let daemon = Running::start(&config, &runtime);
    let before = daemon.memory_kib("VmHWM");
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let runtime = runtime.clone();
            thread::spawn(move || send_huge_line(&runtime, 64 * MIB))
        })
        .collect();
    for client in clients {
        let reply = client.join().unwrap();
        let start: String = reply.chars().take(200).collect();
        assert!(
            reply == "{\"error\":\"request longer than 65536 bytes\"}\n",
            "not refused, or echoed ({} bytes): {start}",
            reply.len()
        );
    }
    let grown = daemon.memory_kib("VmHWM").saturating_sub(before);
    assert!(grown < 32 * 1024, "peak RSS grew by {grown} KiB");
    // Unknown requests are refused without being repeated either.
    let mut stream = connect(&runtime);
    stream.write_all(b"secret-looking junk\n").unwrap();
    let answer = reply(&mut stream);
    assert!(
        answer.contains("unknown request") && !answer.contains("junk"),
        "{answer}"
    );
    assert!(status(&runtime).is_some(), "still answers");
}

#[test]
fn clients_are_bounded_and_silent_ones_are_timed_out() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let daemon = Running::start(&config, &runtime);
    let fds = daemon.settled_fds();
    // Many clients that never send anything.
    let started = Instant::now();
    let mut silent: Vec<UnixStream> = (0..100).map(|_| connect(&runtime)).collect();
    wait(|| daemon.open_fds() >= fds + 16, "16 clients are served");
    thread::sleep(Duration::from_millis(300));
    let open = daemon.open_fds();
    assert!(
        open <= fds + 16,
        "{open} fds open (from {fds}) for 100 clients"
    );
    // The first ones were served, and are timed out for saying nothing.
    let timed_out = reply(&mut silent[0]);
    let waited = started.elapsed();
    assert_eq!(timed_out, "{\"error\":\"no request line within 3 s\"}\n");
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    // A client that does ask is served as soon as places are free again.
    let mut asking = connect(&runtime);
    asking.write_all(b"status\n").unwrap();
    drop(silent.split_off(16));
    let answer = reply(&mut asking);
    assert!(answer.contains("\"config_generation\":1"), "{answer}");
    drop(silent);
    assert!(status(&runtime).is_some(), "status answers");
}

#[test]
fn accept_failures_back_off_and_are_logged_once() {
    let (_tmp, config, runtime) = setup(CONFIG);
    let daemon = Running::start(&config, &runtime);
    // Leave the daemon two spare file descriptors.
    let limit = (daemon.settled_fds() + 2) as libc::rlim_t;
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let new = libc::rlimit {
        rlim_cur: limit,
        rlim_max: old_hard(daemon.pid()),
    };
    // SAFETY: prlimit(2) on the daemon's pid with valid pointers.
    let rc = unsafe { libc::prlimit(daemon.pid(), libc::RLIMIT_NOFILE, &new, &mut old) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    let held: Vec<UnixStream> = (0..10).map(|_| connect(&runtime)).collect();
    thread::sleep(Duration::from_secs(2));
    let log = daemon.log();
    let lines = log.matches("control socket accept failed").count();
    assert!(
        (1..=2).contains(&lines),
        "{lines} accept-failure lines in 2 s:\n{}",
        log.chars().take(2000).collect::<String>()
    );
    assert!(log.contains("Too many open files"), "{log}");
    // SAFETY: as above, restoring the old limits.
    unsafe {
        libc::prlimit(
            daemon.pid(),
            libc::RLIMIT_NOFILE,
            &old,
            std::ptr::null_mut(),
        )
    };
    drop(held);
    wait(|| status(&runtime).is_some(), "status answers again");
}

/// The daemon's hard RLIMIT_NOFILE.
fn old_hard(pid: i32) -> libc::rlim_t {
    let mut now = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit(2) reading only.
    unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut now) };
    now.rlim_max
}
