//! Hitless reload through the XDP fast path: under continuous client traffic
//! (kept-alive connections asked again and again, and new connections), 20
//! SIGHUPs that add and remove an unrelated service and real server (and
//! change the VRRP instance's priority) lose no
//! packet (the client's TCP retransmits nothing), reset no connection, move
//! no established flow, keep VRRP as it was (no transition, no gratuitous
//! ARP) and the program attached, and leave the unchanged service's map
//! entry untouched.
use std::{
    fs,
    path::Path,
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    thread,
    time::Duration,
};

use anyhow::{ensure, Context, Result};
use lb_tests::{in_netns, wait_until, Daemon, KeptAlive, Lab, LabSpec, Netns, VrrpConf, VIP};
use serde_json::Value;

/// How many reloads.
const RELOADS: u64 = 20;
/// Kept-alive client connections.
const KEPT: usize = 6;

/// VI_1 as MASTER (its priority changing with `reload`) and the `mh`
/// fast-path service on port 80 (TCP_CHECK'd), plus, for `reload % 4` of 1
/// to 3, an unrelated service on port 8080 with one, two or three real
/// servers.
fn config(lab: &Lab, reload: u64) -> String {
    let variant = reload % 4;
    let real = |n: usize, port: u16, check: &str| {
        format!(
            "    real_server {} {port} {{\n        weight 1\n{check}    }}\n",
            lab.real_server(n).ipv4()
        )
    };
    let check = "        TCP_CHECK {\n            connect_timeout 1\n            delay_loop 0.5\n        }\n";
    let service = |port: u16, algo: &str, reals: String| {
        format!(
            "virtual_server {VIP} {port} {{\n    lb_algo {algo}\n    lb_kind DR\n    protocol TCP\n    fast_path xdp\n{reals}}}\n"
        )
    };
    let web: String = (1..=3).map(|n| real(n, 80, check)).collect();
    let vrrp = VrrpConf {
        extra: "    garp_master_delay 1\n".into(),
        ..VrrpConf::fast("MASTER", 150 - (reload % 3) as u8)
    };
    let mut text = vrrp.render() + &service(80, "mh", web);
    if variant > 0 {
        let unrelated: String = (1..=variant as usize).map(|n| real(n, 8080, "")).collect();
        text += &service(8080, "rr", unrelated);
    }
    text
}

/// The client's TCP counters (`/proc/net/snmp`, per namespace).
fn tcp_counters(ns: &Netns) -> Result<(u64, u64)> {
    let snmp = ns.run(&["cat", "/proc/net/snmp"])?;
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (
        tcp.next().context("Tcp header")?,
        tcp.next().context("Tcp")?,
    );
    let field = |name: &str| -> Result<u64> {
        let at = names
            .split_whitespace()
            .position(|n| n == name)
            .with_context(|| format!("no {name}"))?;
        Ok(values
            .split_whitespace()
            .nth(at)
            .with_context(|| name.to_owned())?
            .parse()?)
    };
    Ok((field("RetransSegs")?, field("EstabResets")?))
}

/// The XDP program id on the director's eth0.
fn prog_id(ns: &Netns) -> Result<String> {
    let link = ns.ip(&["-d", "link", "show", "dev", "eth0"])?;
    let id = link
        .split_whitespace()
        .skip_while(|w| *w != "prog/xdp")
        .nth(2)
        .with_context(|| format!("no XDP program: {link}"))?;
    Ok(id.to_owned())
}

/// The `lb_vips` entry of the port-80 service (it names the table slot).
fn web_entry(daemon: &Daemon) -> Result<Value> {
    let pins = daemon.status()?["fast_path"]["pin_dir"]
        .as_str()
        .map(str::to_owned)
        .context("pin_dir in status")?;
    let map = Path::new(&pins).join("lb_vips");
    let out = std::process::Command::new("bpftool")
        .args(["-j", "map", "dump", "pinned"])
        .arg(&map)
        .output()?;
    let dump: Value = serde_json::from_slice(&out.stdout)?;
    dump.as_array()
        .into_iter()
        .flatten()
        .find(|e| e["formatted"]["key"]["port"] == 80)
        .map(|e| e["formatted"]["value"].clone())
        .with_context(|| format!("no port 80 entry: {dump}"))
}

#[test]
fn twenty_reloads_under_traffic_lose_nothing() -> Result<()> {
    let lab = Lab::new(LabSpec {
        directors: 1,
        real_servers: 3,
        web: true,
    })?;
    for rs in lab.real_servers() {
        rs.accept_vip_on_loopback(VIP)?;
    }
    let tmp = tempfile::tempdir()?;
    let path = tmp.path().join("dir1.conf");
    fs::write(&path, config(&lab, 0))?;
    let daemon = Daemon::start(lab.director(1).ns(), &path, "dir1")?;
    daemon.wait_status("serving 3 real servers", Duration::from_secs(10), |s| {
        s["vrrp"][0]["state"] == "MASTER"
            && s["fast_path"]["services"][0]["backends"]
                .as_array()
                .is_some_and(|b| {
                    b.iter()
                        .filter(|b| b["next_hop"]["mac"].is_string())
                        .count()
                        == 3
                })
    })?;
    let director = lab.director(1).ns();
    let client = lab.client();
    let (vrrp, prog, entry) = (
        daemon.status()?["vrrp"][0].clone(),
        prog_id(director)?,
        web_entry(&daemon)?,
    );
    // Both bursts of becoming MASTER (the second after garp_master_delay).
    let garps = || daemon.log().matches("gratuitous ARPs").count();
    wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
        garps() == 2
    })?;

    let (stop, asked) = (AtomicBool::new(false), AtomicUsize::new(0));
    let counters = thread::scope(|s| -> Result<_> {
        let traffic = s.spawn(|| {
            in_netns(client.ns_name(), || -> Result<()> {
                let addr = format!("{VIP}:80");
                let mut kept = (0..KEPT)
                    .map(|_| KeptAlive::open(&addr))
                    .collect::<Result<Vec<_>>>()?;
                let owners = kept
                    .iter_mut()
                    .map(KeptAlive::ask)
                    .collect::<Result<Vec<_>>>()?;
                while !stop.load(Ordering::Relaxed) {
                    for (k, owner) in kept.iter_mut().zip(&owners) {
                        let now = k.ask().context("kept-alive connection")?;
                        ensure!(now == *owner, "a flow moved: {owner} -> {now}");
                    }
                    KeptAlive::open(&addr)?.ask().context("new connection")?;
                    asked.fetch_add(KEPT + 1, Ordering::Relaxed);
                }
                Ok(())
            })
        });
        let before = tcp_counters(client.ns())?;
        for reload in 1..=RELOADS {
            fs::write(&path, config(&lab, reload))?;
            daemon.signal(nix::sys::signal::Signal::SIGHUP)?;
            let services = if reload % 4 == 0 { 1 } else { 2 };
            daemon.wait_status(
                &format!("reload {reload} applied"),
                Duration::from_secs(5),
                |s| {
                    s["config_generation"] == reload + 1
                        && s["fast_path"]["services"].as_array().map(Vec::len) == Some(services)
                },
            )?;
            // Traffic crosses every reload: two more rounds at least.
            let mark = asked.load(Ordering::Relaxed) + 2 * (KEPT + 1);
            wait_until(Duration::from_secs(10), Duration::from_millis(10), || {
                asked.load(Ordering::Relaxed) >= mark || traffic.is_finished()
            })?;
            ensure!(!traffic.is_finished(), "the client stopped");
        }
        stop.store(true, Ordering::Relaxed);
        traffic.join().expect("traffic thread")??;
        let after = tcp_counters(client.ns())?;
        Ok((before, after))
    })?;
    let ((retrans0, resets0), (retrans1, resets1)) = counters;
    let asked = asked.into_inner();
    ensure!(
        asked >= 2 * (KEPT + 1) * RELOADS as usize,
        "{asked} requests"
    );
    ensure!(
        retrans1 == retrans0,
        "the client retransmitted {} TCP segments (packets lost)",
        retrans1 - retrans0
    );
    ensure!(
        resets1 == resets0,
        "{} connections reset",
        resets1 - resets0
    );
    let now = daemon.status()?["vrrp"][0].clone();
    ensure!(
        now["state"] == "MASTER" && now["last_transition"] == vrrp["last_transition"],
        "VRRP changed: {vrrp} -> {now}"
    );
    ensure!(
        garps() == 2,
        "gratuitous ARPs sent during the reloads:\n{}",
        daemon.log()
    );
    ensure!(
        prog_id(director)? == prog,
        "the XDP program was re-attached"
    );
    ensure!(
        web_entry(&daemon)? == entry,
        "the unchanged service was reprogrammed"
    );
    Ok(())
}
