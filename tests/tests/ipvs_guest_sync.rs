//! `lvs_sync_daemon` (in the guest of `cargo xtask ipvs-test`, whose kernel
//! has IPVS): two directors, each in its own network namespace (so each
//! has its own IPVS table and sync daemons) on the lab's bridge, run
//! lb-daemon with a VRRP instance, a DR service and the sync daemon
//! following the instance. A connection opened through the MASTER shows up
//! in the BACKUP's connection table, and survives a failover: the new
//! MASTER forwards it to the same real server. `ipvsadm -L --daemon` shows
//! the master daemon on the MASTER and the backup daemon on the BACKUP,
//! swapped by the failover; a restart after `kill -9` converges, and a
//! clean stop leaves no daemon.
//!
//! The configuration also passes `keepalived -t` (on the host, where
//! keepalived is installed).
use std::{
    collections::BTreeMap,
    ffi::OsStr,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_tests::{
    in_netns, ipvsadm::ipvsadm, keepalived::KEEPALIVED, wait_until, Daemon, Lab, LabSpec, Netns,
};

const VIP: &str = "192.0.2.50";
/// The sync id and port the directors agree on (not the defaults, so that
/// the test sees them reach the kernel).
const SYNC_ID: &str = "7";
const SYNC_PORT: &str = "8850";

/// Director `n`'s configuration with VRRP `priority`.
fn config(priority: u8) -> String {
    format!(
        "global_defs {{
    lvs_sync_daemon eth0 VI_1 id {SYNC_ID} port {SYNC_PORT}
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    virtual_ipaddress {{
        {VIP}/24
    }}
}}
virtual_server {VIP} 80 {{
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 192.0.2.11 80 {{
    }}
}}
"
    )
}

/// The sync daemons `ipvsadm -L --daemon` lists: role (`master` or
/// `backup`) to settings (`mcast`, `syncid`, `port`...).
type Daemons = BTreeMap<String, BTreeMap<String, String>>;

/// Reads lines such as `master sync daemon (mcast=eth0, syncid=7,
/// maxlen=1472, group=224.0.0.81, port=8850, ttl=1)`.
fn parse_daemons(text: &str) -> Result<Daemons> {
    let mut daemons = Daemons::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (role, rest) = line
            .split_once(" sync daemon (")
            .with_context(|| format!("not a sync daemon line: {line:?}"))?;
        let settings = rest
            .trim_end_matches(')')
            .split(", ")
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        daemons.insert(role.trim().to_owned(), settings);
    }
    Ok(daemons)
}

fn daemons(ns: &Netns) -> Result<Daemons> {
    parse_daemons(&ipvsadm(ns, &["-L", "--daemon"])?)
}

/// Waits until `ns` runs exactly the daemon of `role` (or none), with the
/// configured interface, sync id and port.
fn wait_daemon(ns: &Netns, what: &str, role: Option<&str>) -> Result<()> {
    let right = |d: &Daemons| match role {
        None => d.is_empty(),
        Some(role) => {
            d.len() == 1
                && d.get(role).is_some_and(|s| {
                    s.get("mcast").map(String::as_str) == Some("eth0")
                        && s.get("syncid").map(String::as_str) == Some(SYNC_ID)
                        && s.get("port").map(String::as_str) == Some(SYNC_PORT)
                })
        }
    };
    wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        daemons(ns).is_ok_and(|d| right(&d))
    })
    .with_context(|| format!("{what}: {:?}", daemons(ns)))
}

/// Waits until `daemon`'s status document shows the sync daemon of `role`
/// wanted and running with the configured interface, id and port.
fn wait_status_daemon(daemon: &Daemon, role: &str) -> Result<()> {
    let right = |d: &serde_json::Value| {
        d["role"] == role && d["interface"] == "eth0" && d["sync_id"] == 7 && d["port"] == 8850
    };
    let what = format!("status shows the {role} sync daemon");
    daemon.wait_status(&what, Duration::from_secs(10), |s| {
        let sync = &s["lvs_sync_daemon"];
        let one = |list: &serde_json::Value| {
            list.as_array()
                .is_some_and(|l| l.len() == 1 && right(&l[0]))
        };
        one(&sync["wanted"]) && one(&sync["running"]) && sync["error"].is_null()
    })
}

fn wait_state(daemon: &Daemon, state: &str) -> Result<()> {
    daemon.wait_status(state, Duration::from_secs(15), |s| {
        s["vrrp"][0]["state"] == state
    })
}

/// Waits until the connection table of `ns` (`ipvsadm -Lnc`) holds an
/// ESTABLISHED connection from `client` to the VIP, on real server rs1.
fn wait_connection(ns: &Netns, what: &str, client: &str) -> Result<()> {
    let listed = |t: &str| {
        t.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.len() == 6
                && words[2] == "ESTABLISHED"
                && words[3] == client
                && words[4] == format!("{VIP}:80")
                && words[5] == "192.0.2.11:80"
        })
    };
    wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        ipvsadm(ns, &["-Lnc"]).is_ok_and(|t| listed(&t))
    })
    .with_context(|| format!("{what}: {:?}", ipvsadm(ns, &["-Lnc"])))
}

#[test]
#[ignore = "needs a kernel with IPVS: run inside the guest by cargo xtask ipvs-test"]
fn connections_reach_the_backup_and_survive_a_failover() -> Result<()> {
    let lab = Lab::new(LabSpec::web(2, 1))?;
    lab.real_server(1).accept_vip_on_loopback(VIP)?;
    let (dir1, dir2) = (lab.director(1).ns(), lab.director(2).ns());
    let files = tempfile::tempdir()?;
    let start = |n: usize, priority: u8| {
        let path = files.path().join(format!("dir{n}.conf"));
        std::fs::write(&path, config(priority))?;
        Daemon::start(lab.director(n).ns(), &path, &format!("dir{n}"))
    };
    let d1 = start(1, 150)?;
    let d2 = start(2, 100)?;
    wait_state(&d1, "MASTER")?;
    wait_state(&d2, "BACKUP")?;
    wait_daemon(dir1, "the MASTER runs the master daemon", Some("master"))?;
    wait_daemon(dir2, "the BACKUP runs the backup daemon", Some("backup"))?;
    wait_status_daemon(&d1, "master")?;
    wait_status_daemon(&d2, "backup")?;

    // A connection through the MASTER, its request half sent: the kernel
    // syncs a TCP connection at its third packet (`sync_threshold`).
    let client = lab.client().ns();
    let vip: SocketAddr = format!("{VIP}:80").parse()?;
    let mut stream = in_netns(client.name(), || {
        TcpStream::connect_timeout(&vip, Duration::from_secs(2))
    })??;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.write_all(b"GET / HTTP/1.1\r\n")?;
    let local = stream.local_addr()?.to_string();
    wait_connection(dir1, "the MASTER forwards the connection", &local)?;
    wait_connection(dir2, "the BACKUP learnt it from the sync daemon", &local)?;

    // Failover: dir1's priority drops below dir2's (a reload), dir2 preempts.
    std::fs::write(files.path().join("dir1.conf"), config(50))?;
    d1.signal(nix::sys::signal::Signal::SIGHUP)?;
    wait_state(&d2, "MASTER")?;
    wait_state(&d1, "BACKUP")?;
    wait_daemon(
        dir2,
        "the new MASTER runs the master daemon",
        Some("master"),
    )?;
    wait_daemon(
        dir1,
        "the new BACKUP runs the backup daemon",
        Some("backup"),
    )?;
    wait_status_daemon(&d2, "master")?;
    wait_status_daemon(&d1, "backup")?;
    // Only the synced entry lets dir2 forward the rest of the request (IPVS
    // schedules TCP on SYN only): without it dir2's own stack resets it.
    stream.write_all(format!("Host: {VIP}\r\n\r\n").as_bytes())?;
    let mut reply = String::new();
    let read = stream.read_to_string(&mut reply);
    ensure!(
        reply.starts_with("HTTP/1.") && reply.trim_end().ends_with("rs1"),
        "the request finished after the failover: {read:?} {reply:?}"
    );

    // kill -9 of the MASTER leaves its master daemon in the kernel; the
    // restarted daemon replaces it (BACKUP first), then becomes MASTER.
    d2.kill()?;
    wait_state(&d1, "MASTER")?;
    let mut d2 = start(2, 100)?;
    wait_state(&d2, "MASTER")?;
    wait_daemon(dir2, "the restarted MASTER converged", Some("master"))?;
    ensure!(
        !d2.log().contains("lvs_sync_daemon:"),
        "sync daemon errors after the restart:\n{}",
        d2.log()
    );

    // A clean stop stops the daemons.
    let mut d1 = d1;
    for (daemon, ns, name) in [(&mut d1, dir1, "dir1"), (&mut d2, dir2, "dir2")] {
        ensure!(daemon.stop()?.success(), "{}", daemon.log());
        wait_daemon(ns, &format!("{name} stopped its sync daemon"), None)?;
    }
    Ok(())
}

/// A lab of one director and its configuration (priority 150) in a
/// scratch directory, kept while the returned guard lives.
fn one_director() -> Result<(Lab, tempfile::TempDir, std::path::PathBuf)> {
    let lab = Lab::new(LabSpec::directors_only(1))?;
    let files = tempfile::tempdir()?;
    let path = files.path().join("keepalived.conf");
    std::fs::write(&path, config(150))?;
    Ok((lab, files, path))
}

/// The status document shows the sync daemon the MASTER wants, and whether
/// IPVS runs it: on a kernel without IPVS (this host's) `unavailable` and
/// nothing running; with IPVS, the daemon the kernel lists.
#[test]
fn status_shows_the_wanted_sync_daemon() -> Result<()> {
    let (lab, _files, path) = one_director()?;
    let ns = lab.director(1).ns();
    let daemon = Daemon::start(ns, &path, "dir1")?;
    wait_state(&daemon, "MASTER")?;
    let test = [
        OsStr::new("test"),
        OsStr::new("-e"),
        OsStr::new("/proc/net/ip_vs"),
    ];
    let ipvs = ns.exec(&test)?.status.success();
    daemon.wait_status(
        "status shows the master daemon",
        Duration::from_secs(10),
        |s| {
            let sync = &s["lvs_sync_daemon"];
            let wanted = &sync["wanted"];
            wanted.as_array().is_some_and(|w| w.len() == 1)
                && wanted[0]["role"] == "master"
                && wanted[0]["sync_id"] == 7
                && sync["unavailable"] == !ipvs
                && sync["running"].is_array() == ipvs
        },
    )
}

/// keepalived reads the same configuration: `keepalived -t` accepts it.
#[test]
fn keepalived_accepts_the_same_configuration() -> Result<()> {
    let (lab, _files, path) = one_director()?;
    let ns = lab.director(1).ns();
    let lb = lb_tests::daemon_binary()?;
    for program in [OsStr::new(KEEPALIVED), lb.as_os_str()] {
        let out = ns.exec(&[
            program,
            OsStr::new("-t"),
            OsStr::new("-f"),
            path.as_os_str(),
        ])?;
        ensure!(
            out.status.success(),
            "{program:?} -t: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[test]
fn ipvsadm_daemon_lines_parse() -> Result<()> {
    let text = "master sync daemon (mcast=eth0, syncid=7, maxlen=1472, group=224.0.0.81, port=8850, ttl=1)\n\
                backup sync daemon (mcast=eth0, syncid=7, maxlen=1472, group=224.0.0.81, port=8850)\n";
    let daemons = parse_daemons(text)?;
    ensure!(daemons["master"]["ttl"] == "1" && daemons["backup"]["port"] == "8850");
    ensure!(parse_daemons("").is_ok_and(|d| d.is_empty()));
    ensure!(parse_daemons("something else").is_err());
    Ok(())
}
