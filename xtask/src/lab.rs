//! `cargo xtask lab`: builds the netns lab (switch, client, two directors,
//! three nginx real servers), starts both directors' lb-daemon with the
//! embedded example configuration, and shows VRRP at work: the election, a
//! failover when the master is killed (the VIP moves), and preemption back
//! when it returns. Then it waits for Ctrl-C (or `--hold` seconds) and tears
//! everything down.
use std::{
    fs,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use lb_tests::{http_get, wait_until, Daemon, Lab};
use nix::sys::signal::Signal;

use crate::{cmd, ebpf, lab_bgp, lab_hold, setup};

/// The directors' configurations, embedded so the lab runs from any checkout
/// state; they are ordinary keepalived.conf files under `examples/lab/`.
const DIRECTOR_CONFIGS: [&str; 2] = [
    include_str!("../../examples/lab/dir1.conf"),
    include_str!("../../examples/lab/dir2.conf"),
];

/// Runs the lab (with `bgp`, the active-active one of [`lab_bgp`]);
/// `hold` bounds how long it stays up (None: until Ctrl-C).
pub fn run(hold: Option<Duration>, bgp: bool) -> Result<()> {
    if let Prepared::RanAgain = prepare()? {
        return Ok(());
    }
    if bgp {
        return lab_bgp::run(hold);
    }

    cmd::step("building the lab: switch, client, dir1, dir2, rs1-rs3");
    let lab = Lab::full()?;
    for rs in lab.real_servers() {
        rs.accept_vip_on_loopback(VIP)?;
    }
    let configs = tempfile::Builder::new().prefix("lb-lab-conf").tempdir()?;
    let mut paths = Vec::new();
    let mut daemons = Vec::new();
    for (n, text) in DIRECTOR_CONFIGS.iter().enumerate() {
        let dir = lab.director(n + 1);
        let path = configs.path().join(format!("{}.conf", dir.role()));
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        cmd::step(&format!(
            "starting lb-daemon on {} ({})",
            dir.role(),
            path.display()
        ));
        daemons.push(Daemon::start(dir.ns(), &path, dir.role())?);
        paths.push(path);
    }
    print_hosts(&lab);
    cmd::step("election: waiting for a master");
    wait_master(&lab, &daemons, 0)?;
    print_directors(&lab, &daemons)?;

    cmd::step("failover: kill -9 the master (dir1)");
    daemons[0].signal(Signal::SIGKILL)?;
    daemons[0].stop()?;
    wait_master(&lab, &daemons, 1)?;
    print_directors(&lab, &daemons[1..])?;

    cmd::step("preemption: dir1 comes back with the higher priority");
    daemons[0] = Daemon::start(lab.director(1).ns(), &paths[0], "dir1")?;
    wait_master(&lab, &daemons, 0)?;
    print_directors(&lab, &daemons)?;

    lab_hold::hold_up(hold);
    lab_hold::tear_down(daemons, lab)
}

/// The environment variable that marks the rerun below.
const RERUN: &str = "LB_LAB_RERUN";

/// This xtask was built before the XDP object existed (a fresh checkout),
/// and the task needs the object in this process (the directors' bridge
/// ports run its XDP_PASS program): run the same task again through cargo,
/// which rebuilds xtask with the object now built.
/// What [`prepare`] left to do.
pub enum Prepared {
    /// Everything is built: go on.
    Ready,
    /// xtask was rebuilt with the XDP object and ran the command itself.
    RanAgain,
}

/// What every command that builds a lab does first: Ctrl-C removes every lab
/// namespace (installed before any thread exists), setup, the XDP object
/// (unless `LB_EBPF_OBJECT` names one) and lb-daemon; xtask runs again with
/// the object embedded when it lacks it.
pub fn prepare() -> Result<Prepared> {
    lb_tests::install_cleanup_on_signals()?;
    lb_tests::install_panic_cleanup_hook();
    setup::run()?;
    if std::env::var_os("LB_EBPF_OBJECT").is_none_or(|v| v.is_empty()) {
        ebpf::build()?;
    }
    cmd::step("building lb-daemon");
    cmd::run(
        Command::new(env!("CARGO"))
            .current_dir(cmd::workspace_root())
            .args(["build", "-p", "lb-daemon"]),
    )?;
    if lb_daemon::dataplane::xdp::embedded_object().is_err() {
        rerun_with_the_xdp_object()?;
        return Ok(Prepared::RanAgain);
    }
    Ok(Prepared::Ready)
}

fn rerun_with_the_xdp_object() -> Result<()> {
    ensure!(
        std::env::var_os(RERUN).is_none(),
        "xtask was rebuilt but still has no XDP object embedded"
    );
    cmd::step("rebuilding xtask with the XDP object");
    cmd::run(
        Command::new(env!("CARGO"))
            .current_dir(cmd::workspace_root())
            .arg("xtask")
            .args(std::env::args_os().skip(1))
            .env(RERUN, "1"),
    )
}

/// The VIP of the example configuration.
const VIP: &str = "192.0.2.50";

/// Prints every node's namespace, addresses and MAC, and what the real
/// servers serve.
fn print_hosts(lab: &Lab) {
    println!(
        "\n{:<8} {:<22} {:<16} {:<18} MAC",
        "node", "namespace", "IPv4", "IPv6"
    );
    for host in lab.hosts() {
        let (role, ns) = (host.role(), host.ns_name());
        println!(
            "{role:<8} {ns:<22} {:<16} {:<18} {}",
            host.ipv4(),
            host.ipv6(),
            host.mac_string()
        );
    }
    for rs in lab.real_servers() {
        let url = format!("http://{}/", rs.ipv4());
        match http_get(lab.client().ns_name(), &url, Duration::from_secs(3)) {
            Ok((code, body)) => println!("client -> {url}: {code} {}", body.trim()),
            Err(e) => println!("client -> {url}: {e:#}"),
        }
    }
    println!();
}

/// Prints each running director's daemon status and its eth0 addresses.
fn print_directors(lab: &Lab, daemons: &[Daemon]) -> Result<()> {
    for daemon in daemons {
        let host = lab.host(daemon.label()).context("director of a daemon")?;
        println!("== {} ==", host.role());
        print!("{}", daemon.status_text()?);
        print!("{}", host.ns().ip(&["-br", "addr", "show", "dev", "eth0"])?);
    }
    let url = format!("http://{VIP}/");
    let answers: Vec<String> = (0..6)
        .map(
            |_| match http_get(lab.client().ns_name(), &url, Duration::from_secs(3)) {
                Ok((code, body)) => format!("{code} {}", body.trim()),
                Err(e) => format!("{e:#}"),
            },
        )
        .collect();
    println!(
        "client -> {url} six times (XDP, rr): {}",
        answers.join(", ")
    );
    println!();
    Ok(())
}

/// Waits until director `n` (0-based) is MASTER and holds the VIP, then says
/// how long it took.
fn wait_master(lab: &Lab, daemons: &[Daemon], n: usize) -> Result<()> {
    let started = Instant::now();
    let host = lab.director(n + 1);
    wait_until(Duration::from_secs(10), Duration::from_millis(20), || {
        let master = daemons[n]
            .status()
            .map(|s| s["vrrp"][0]["state"] == "MASTER")
            .unwrap_or(false);
        let holds = host
            .ns()
            .ip(&["-o", "addr", "show", "dev", "eth0"])
            .map(|a| a.contains(VIP))
            .unwrap_or(false);
        master && holds
    })
    .with_context(|| {
        format!(
            "{} did not become master:\n{}",
            host.role(),
            daemons[n].log()
        )
    })?;
    cmd::step(&format!(
        "{} is MASTER and holds {VIP} (after {:.2} s)",
        host.role(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}
