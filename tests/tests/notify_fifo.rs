//! keepalived's notify FIFOs on a real daemon: `notify_fifo` read by the
//! test and `lvs_notify_fifo` read by its `lvs_notify_fifo_script` get
//! keepalived's lines, in order, across a VRRP failover (the master stops)
//! and a real server going down and back up; the FIFOs the daemon created
//! are gone once it stops.
use std::{
    fs::{self, File},
    io::{BufRead, BufReader},
    os::unix::fs::{FileTypeExt, PermissionsExt},
    path::Path,
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_tests::{wait_until, Daemon, Lab, LabSpec, VrrpConf, VIP};

/// Director 2's configuration: the FIFOs, VI_1 as BACKUP, and a virtual
/// server on the lab's one real server checked by HTTP_GET every 0.5 s.
fn config(dir: &Path, real: &str) -> String {
    let global = format!(
        "global_defs {{\n    notify_fifo {}\n    lvs_notify_fifo {}\n    lvs_notify_fifo_script \"{}\"\n}}\n",
        dir.join("all.fifo").display(),
        dir.join("lvs.fifo").display(),
        dir.join("copy.sh").display(),
    );
    let check = "HTTP_GET {\n            url {\n                path /health\n            }\n            \
                 connect_timeout 1\n            retry 1\n            delay_before_retry 0.2\n            \
                 delay_loop 0.5\n            warmup 0\n        }";
    format!(
        "{global}{}virtual_server {VIP} 80 {{\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n    \
         real_server {real} 80 {{\n        {check}\n    }}\n}}\n",
        VrrpConf::fast("BACKUP", 100).render()
    )
}

/// The lines read so far from a FIFO, by a thread reading until end of file.
fn read_lines(path: &Path) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (path, sink) = (path.to_owned(), lines.clone());
    thread::spawn(move || {
        let Ok(file) = File::open(&path) else { return };
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

fn has(lines: &Mutex<Vec<String>>, line: &str) -> bool {
    lines.lock().unwrap().iter().any(|l| l == line)
}

#[test]
fn fifo_lines_follow_a_failover_and_a_real_server_down_and_up() -> Result<()> {
    let lab = Lab::new(LabSpec::web(2, 1))?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let copied = dir.join("lvs.lines");
    fs::write(
        dir.join("copy.sh"),
        format!(
            "#!/bin/sh\nwhile IFS= read -r line; do printf '%s\\n' \"$line\" >> {}; done < \"$1\"\n",
            copied.display()
        ),
    )?;
    fs::set_permissions(dir.join("copy.sh"), fs::Permissions::from_mode(0o755))?;
    let real = lab.real_server(1).ipv4().to_string();
    fs::write(
        dir.join("dir1.conf"),
        VrrpConf::fast("MASTER", 150).render(),
    )?;
    fs::write(dir.join("dir2.conf"), config(dir, &real))?;

    let mut d1 = Daemon::start(lab.director(1).ns(), &dir.join("dir1.conf"), "dir1")?;
    d1.wait_status("dir1 MASTER", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "MASTER"
    })?;
    let mut d2 = Daemon::start(lab.director(2).ns(), &dir.join("dir2.conf"), "dir2")?;
    let fifo = dir.join("all.fifo");
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        fs::metadata(&fifo).is_ok_and(|m| m.file_type().is_fifo())
    })
    .with_context(|| format!("dir2 created no FIFO:\n{}", d2.log()))?;
    let lines = read_lines(&fifo);
    let instance = |state: &str| format!("INSTANCE \"VI_1\" {state} 100");
    let vs = |state: &str| format!("VS [{VIP}]:tcp:80 {state}");
    let rs = |state: &str| format!("RS [{real}]:tcp:80 [{VIP}]:tcp:80 {state}");
    d2.wait_status("dir2 BACKUP", Duration::from_secs(5), |s| {
        s["vrrp"][0]["state"] == "BACKUP"
    })?;

    d1.stop()?;
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        d2.vrrp_state() == "MASTER" && has(&lines, &instance("MASTER"))
    })
    .with_context(|| format!("no failover line: {:?}", lines.lock().unwrap()))?;

    let web = lab.real_server(1).web().context("rs1 web")?;
    web.set_healthy(false)?;
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        has(&lines, &vs("DOWN"))
    })
    .with_context(|| format!("no DOWN lines: {:?}", lines.lock().unwrap()))?;
    web.set_healthy(true)?;
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        has(&lines, &rs("UP"))
    })
    .with_context(|| format!("no UP lines: {:?}", lines.lock().unwrap()))?;

    d2.stop()?;
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        has(&lines, &instance("STOP"))
    })
    .with_context(|| format!("no STOP line: {:?}\n{}", lines.lock().unwrap(), d2.log()))?;
    ensure!(!fifo.exists(), "the created FIFO is left behind");

    let got = lines.lock().unwrap().clone();
    let mut start = got[..2.min(got.len())].to_vec();
    start.sort();
    ensure!(
        start == [instance("BACKUP"), vs("UP")],
        "start-up lines: {got:?}"
    );
    let rest = [
        instance("MASTER"),
        rs("DOWN"),
        vs("DOWN"),
        rs("UP"),
        vs("UP"),
        instance("STOP"),
    ];
    ensure!(got[2..] == rest, "lines after start-up: {got:?}");

    let lvs = [vs("UP"), rs("DOWN"), vs("DOWN"), rs("UP"), vs("UP")].join("\n") + "\n";
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        fs::read_to_string(&copied).is_ok_and(|c| c == lvs)
    })
    .with_context(|| {
        format!(
            "lvs_notify_fifo_script copied {:?}",
            fs::read_to_string(&copied)
        )
    })?;
    Ok(())
}
