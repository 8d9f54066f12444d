//! No control-socket client can delay a VRRP advert (issue 12, item 6).
//! While eight clients send 64 MiB request lines, forty hold connections
//! open without a word and one asks for the status without pause, the
//! master's adverts (VRRPv3, every 0.1 s) keep their pace: the backup never
//! leaves BACKUP. Before, the daemon read the lines on its only thread, the
//! adverts stopped for seconds and the backup took over (two masters).
use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Lab, LabSpec, VrrpConf};
use serde_json::Value;

const ABUSE: Duration = Duration::from_secs(6);
const LINE: usize = 64 * 1024 * 1024;

fn vi_1(daemon: &Daemon) -> Result<Value> {
    Ok(daemon.status()?["vrrp"][0].clone())
}

/// Connects, sends up to [`LINE`] bytes without a newline, reads the reply.
fn huge_line(socket: &Path) {
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return;
    };
    let chunk = vec![b'A'; 1024 * 1024];
    for _ in 0..LINE / chunk.len() {
        if stream.write_all(&chunk).is_err() {
            break;
        }
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = stream.read_to_end(&mut Vec::new());
}

/// Asks for the status over the raw socket.
fn ask_status(socket: &Path) {
    if let Ok(mut stream) = UnixStream::connect(socket) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let _ = stream.write_all(b"status\n");
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

/// Runs `abuse` on its own thread in a loop until `stop`.
fn keep_doing(stop: &Arc<AtomicBool>, socket: &Path, abuse: fn(&Path)) -> thread::JoinHandle<()> {
    let (stop, socket): (_, PathBuf) = (stop.clone(), socket.to_owned());
    thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            abuse(&socket);
            thread::sleep(Duration::from_millis(20));
        }
    })
}

#[test]
fn abusive_control_clients_never_delay_adverts() -> Result<()> {
    let lab = Lab::new(LabSpec::directors_only(2))?;
    let dir = tempfile::tempdir()?;
    let start = |n: usize, conf: VrrpConf| -> Result<Daemon> {
        let path = dir.path().join(format!("dir{n}.conf"));
        std::fs::write(&path, conf.render())?;
        Daemon::start(lab.director(n).ns(), &path, &format!("dir{n}"))
    };
    let master = start(1, VrrpConf::fast("MASTER", 150))?;
    let backup = start(2, VrrpConf::fast("BACKUP", 100))?;
    master.wait_status("MASTER", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    backup.wait_status("BACKUP", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "BACKUP"
    })?;
    let received = vi_1(&backup)?["adverts_received"]
        .as_u64()
        .context("count")?;

    let socket = master.runtime_dir().join("lb-daemon.sock");
    let stop = Arc::new(AtomicBool::new(false));
    let mut abusers: Vec<_> = (0..8)
        .map(|_| keep_doing(&stop, &socket, huge_line))
        .collect();
    abusers.push(keep_doing(&stop, &socket, ask_status));
    let silent: Vec<UnixStream> = (0..40)
        .filter_map(|_| UnixStream::connect(&socket).ok())
        .collect();
    let started = Instant::now();
    let mut states = Vec::new();
    while started.elapsed() < ABUSE {
        states.push(vi_1(&backup)?["state"].clone());
        thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for abuser in abusers {
        let _ = abuser.join();
    }
    drop(silent);

    ensure!(
        states.iter().all(|s| s == "BACKUP") && !backup.log().contains("Entering MASTER"),
        "the backup took over while the master's socket was abused: {states:?}\n{}\n{}",
        master.log(),
        backup.log()
    );
    let during = vi_1(&backup)?["adverts_received"]
        .as_u64()
        .context("count")?
        - received;
    let expected = elapsed.as_millis() as u64 / 100;
    ensure!(
        during * 10 >= expected * 9,
        "{during} adverts in {elapsed:?}, expected about {expected}"
    );
    ensure!(
        vi_1(&master)?["state"] == "MASTER",
        "the master lost its state"
    );
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        master.status().is_ok()
    })?;
    Ok(())
}
