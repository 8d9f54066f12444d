//! `cargo xtask lab`: builds the netns lab (switch, client, two directors,
//! three nginx real servers), starts both directors' lb-daemon with the
//! embedded example configuration, prints what each node holds, then waits
//! for Ctrl-C (or `--hold` seconds) and tears everything down.
use std::{fs, process::Command, thread, time::Duration};

use anyhow::{ensure, Context, Result};
use lb_tests::{cleanup_current_process, http_get, Daemon, Lab};

use crate::{cmd, ebpf, setup};

/// The directors' configurations, embedded so the lab runs from any checkout
/// state; they are ordinary keepalived.conf files under `examples/lab/`.
const DIRECTOR_CONFIGS: [&str; 2] = [
    include_str!("../../examples/lab/dir1.conf"),
    include_str!("../../examples/lab/dir2.conf"),
];

/// Runs the lab; `hold` bounds how long it stays up (None: until Ctrl-C).
pub fn run(hold: Option<Duration>) -> Result<()> {
    // First, before any thread exists: Ctrl-C removes every lab namespace.
    lb_tests::install_cleanup_on_signals()?;
    lb_tests::install_panic_cleanup_hook();
    setup::run()?;
    ebpf::build()?;
    cmd::step("building lb-daemon");
    cmd::run(
        Command::new(env!("CARGO"))
            .current_dir(cmd::workspace_root())
            .args(["build", "-p", "lb-daemon"]),
    )?;

    cmd::step("building the lab: switch, client, dir1, dir2, rs1-rs3");
    let lab = Lab::full()?;
    let configs = tempfile::Builder::new().prefix("lb-lab-conf").tempdir()?;
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
    }
    print_holdings(&lab, &daemons)?;

    match hold {
        Some(d) => thread::sleep(d),
        None => {
            cmd::step("lab is up; press Ctrl-C to tear it down");
            loop {
                thread::park();
            }
        }
    }
    cmd::step("tearing the lab down");
    for mut d in daemons {
        let status = d.stop()?;
        ensure!(
            status.success(),
            "lb-daemon exited with {status} on SIGTERM"
        );
    }
    let prefix = lab.prefix().to_owned();
    drop(lab);
    let left = cleanup_current_process();
    ensure!(
        left.is_empty(),
        "namespaces left behind under {prefix}: {left:?}"
    );
    cmd::step("lab removed: no namespace, process or XDP attachment left");
    Ok(())
}

/// Prints, per node, its addresses, and what the daemons and web servers hold.
fn print_holdings(lab: &Lab, daemons: &[Daemon]) -> Result<()> {
    println!(
        "
{:<8} {:<22} {:<16} {:<18} MAC",
        "node", "namespace", "IPv4", "IPv6"
    );
    for host in lab.hosts() {
        println!(
            "{:<8} {:<22} {:<16} {:<18} {}",
            host.role(),
            host.ns_name(),
            host.ipv4(),
            host.ipv6(),
            host.mac_string()
        );
    }
    for (host, daemon) in lab.directors().zip(daemons) {
        println!("\n== {} ==", host.role());
        print!("{}", daemon.status_text()?);
        print!("{}", host.ns().ip(&["-br", "addr", "show", "dev", "eth0"])?);
    }
    println!();
    for rs in lab.real_servers() {
        let url = format!("http://{}/", rs.ipv4());
        let (code, body) = http_get(lab.client().ns_name(), &url, Duration::from_secs(3))?;
        println!("client -> {url}: {code} {}", body.trim());
    }
    println!();
    Ok(())
}
