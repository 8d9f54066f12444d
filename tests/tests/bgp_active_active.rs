//! Active-active directors behind BGP, against a real router: two lb-daemon
//! directors (each running BIRD as its child) announce an `mh` fast-path
//! service's address to FRR (bgpd + bfdd), which installs one ECMP route
//! with both directors as next hops; a client behind the router reaches the
//! real servers (DR) through either. The address is withdrawn when too few
//! real servers are up and announced again when they return; a SIGHUP that
//! leaves BGP alone does not reset the session; kill -9 of a director takes
//! its BIRD with it and the router drops its next hop within a second (BFD
//! 100 ms x 3).
use std::{
    collections::BTreeSet,
    fs,
    net::Ipv4Addr,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use lb_tests::{http_get, wait_until, Daemon, Frr, FrrConf, Lab, LabSpec, Netns};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};
use serde_json::Value;

/// The announced service address (outside the directors' LAN).
const VIP: &str = "198.51.100.10";
/// The router's AS and the directors'.
const ROUTER_AS: u32 = 64512;
const DIRECTORS_AS: u32 = 64513;
const POLL: Duration = Duration::from_millis(20);

/// The lab: the lab's client host is the router (on the directors' LAN),
/// and a client namespace sits behind it on 203.0.113.0/24.
struct BgpLab {
    // Field order: the router's daemons stop before the namespaces go.
    frr: Frr,
    client: Netns,
    lab: Lab,
}

impl BgpLab {
    fn build() -> Result<BgpLab> {
        let lab = Lab::new(LabSpec::web(2, 3))?;
        let router = lab.client().ns();
        router.sysctl(&[
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.fib_multipath_hash_policy", "1"),
        ])?;
        let client = Netns::new("bgpcl")?;
        router.ip(&[
            "link",
            "add",
            "to-cl",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            client.name(),
        ])?;
        router.ip(&["addr", "add", "203.0.113.1/24", "dev", "to-cl"])?;
        router.ip(&["link", "set", "to-cl", "up"])?;
        client.ip(&["addr", "add", "203.0.113.2/24", "dev", "eth0"])?;
        client.ip(&["link", "set", "eth0", "up"])?;
        client.ip(&["route", "add", "default", "via", "203.0.113.1"])?;
        let gateway = lab.client().ipv4().to_string();
        for rs in lab.real_servers() {
            rs.accept_vip_on_loopback(VIP)?;
            rs.ns()
                .ip(&["route", "add", "203.0.113.0/24", "via", &gateway])?;
        }
        let frr = Frr::start(
            router,
            &FrrConf {
                asn: ROUTER_AS,
                router_id: lab.client().ipv4(),
                neighbors: lab.directors().map(|d| (d.ipv4(), DIRECTORS_AS)).collect(),
                bfd_interval_ms: 100,
            },
        )?;
        Ok(BgpLab { frr, client, lab })
    }

    /// A director's configuration: the speaker, and the service announced
    /// while `min_healthy` of the three real servers pass TCP_CHECK.
    fn config(&self, min_healthy: u32) -> String {
        let reals: String = self
            .lab
            .real_servers()
            .map(|rs| {
                format!(
                    "    real_server {} 80 {{\n        TCP_CHECK {{\n            connect_timeout 1\n            delay_loop 0.5\n        }}\n    }}\n",
                    rs.ipv4()
                )
            })
            .collect();
        format!(
            "bgp_speaker {{\n    local_as {DIRECTORS_AS}\n    interface eth0\n    hold_time 3\n    \
             bfd {{\n        interval 100\n        multiplier 3\n    }}\n    neighbor {} {{\n        \
             remote_as {ROUTER_AS}\n    }}\n}}\n\
             virtual_server {VIP} 80 {{\n    lb_algo mh\n    lb_kind DR\n    protocol TCP\n    \
             fast_path xdp\n    bgp_announce {{\n        min_healthy {min_healthy}\n        \
             drain 1\n        community {DIRECTORS_AS}:80\n    }}\n{reals}}}\n",
            self.lab.client().ipv4()
        )
    }

    /// The directors the router sends the address to now.
    fn next_hops(&self) -> BTreeSet<Ipv4Addr> {
        let out = self
            .lab
            .client()
            .ns()
            .ip(&["route", "show", VIP])
            .unwrap_or_default();
        let words: Vec<&str> = out.split_whitespace().collect();
        words
            .windows(2)
            .filter(|w| w[0] == "via")
            .filter_map(|w| w[1].parse().ok())
            .collect()
    }

    fn wait_next_hops(&self, want: &[Ipv4Addr], what: &str, timeout: Duration) -> Result<()> {
        let want: BTreeSet<Ipv4Addr> = want.iter().copied().collect();
        wait_until(timeout, POLL, || self.next_hops() == want).with_context(|| {
            format!(
                "{what}: router has {:?}, want {want:?}\n{}",
                self.next_hops(),
                self.frr.logs()
            )
        })
    }

    fn directors(&self) -> Vec<Ipv4Addr> {
        self.lab.directors().map(|d| d.ipv4()).collect()
    }

    /// Blocks (or unblocks) TCP port 80 of real server `n` for the
    /// directors' checks.
    fn block_checks(&self, n: usize, blocked: bool) -> Result<()> {
        let ns = self.lab.real_server(n).ns();
        if blocked {
            ns.run(&["nft", "add table inet lbtest"])?;
            ns.run(&[
                "nft",
                "add chain inet lbtest in { type filter hook input priority 0; }",
            ])?;
            ns.run(&[
                "nft",
                "add rule inet lbtest in tcp dport 80 ip saddr 192.0.2.0/24 drop",
            ])?;
        } else {
            ns.run(&["nft", "delete table inet lbtest"])?;
        }
        Ok(())
    }
}

fn start(
    bgp: &BgpLab,
    dir: &tempfile::TempDir,
    n: usize,
    min_healthy: u32,
) -> Result<(Daemon, PathBuf)> {
    let path = dir.path().join(format!("dir{n}.conf"));
    fs::write(&path, bgp.config(min_healthy))?;
    let daemon = Daemon::start(bgp.lab.director(n).ns(), &path, &format!("dir{n}"))?;
    Ok((daemon, path))
}

fn announced(status: &Value) -> bool {
    status["bgp"]["announcements"][0]["state"] == "announced"
        && status["bgp"]["sessions"][0]["bgp_state"] == "Established"
}

#[test]
fn directors_announce_withdraw_on_health_and_vanish_with_a_killed_daemon() -> Result<()> {
    let bgp = BgpLab::build()?;
    let dir = tempfile::tempdir()?;
    let (d1, path1) = start(&bgp, &dir, 1, 3)?;
    let (d2, _) = start(&bgp, &dir, 2, 3)?;
    let both = bgp.directors();
    bgp.wait_next_hops(&both, "both directors announce", Duration::from_secs(20))?;
    for d in [&d1, &d2] {
        d.wait_status(
            "announced with the session up",
            Duration::from_secs(10),
            announced,
        )?;
        d.wait_status("the fast path attached", Duration::from_secs(5), |s| {
            s["fast_path"]["interfaces"][0]["attached"] == true
        })?;
    }
    let route = bgp.frr.json(&format!("show ip route {VIP}"))?;
    let communities = bgp.frr.vtysh(&format!("show bgp ipv4 unicast {VIP}"))?;
    ensure!(
        communities.contains(&format!("{DIRECTORS_AS}:80")),
        "community missing: {communities}\n{route}"
    );

    // The client reaches the real servers through the directors.
    let mut answered = BTreeSet::new();
    for _ in 0..30 {
        let (status, body) = http_get(
            bgp.client.name(),
            &format!("http://{VIP}/"),
            Duration::from_secs(2),
        )?;
        ensure!(status == 200, "status {status}");
        answered.insert(body.trim().to_owned());
    }
    ensure!(answered.len() >= 2, "every request went to {answered:?}");

    // A reload that leaves BGP alone keeps the session.
    let sessions = bgp.frr.connections_established(both[0])?;
    fs::write(&path1, bgp.config(3))?;
    d1.signal(Signal::SIGHUP)?;
    d1.wait_for_log("Configuration reloaded", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_secs(2));
    ensure!(
        bgp.frr.connections_established(both[0])? == sessions,
        "the reload reset the BGP session"
    );
    ensure!(bgp.next_hops().len() == 2, "the reload withdrew the route");

    // One real server fails its checks: below min_healthy 3, both withdraw.
    bgp.block_checks(3, true)?;
    bgp.wait_next_hops(&[], "withdrawn below min_healthy", Duration::from_secs(15))?;
    d1.wait_status("the reason is shown", Duration::from_secs(5), |s| {
        s["bgp"]["announcements"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("2 of 3"))
    })?;
    bgp.block_checks(3, false)?;
    bgp.wait_next_hops(&both, "announced again", Duration::from_secs(15))?;

    // kill -9 of director 2's daemon: its BIRD dies with it and BFD tells
    // the router at once.
    let pid = d2.status()?["pid"].as_i64().context("no pid")? as i32;
    let killed = Instant::now();
    kill(Pid::from_raw(pid), Signal::SIGKILL)?;
    bgp.wait_next_hops(
        &both[..1],
        "the killed director dropped",
        Duration::from_secs(5),
    )?;
    let dropped = killed.elapsed();
    ensure!(
        dropped < Duration::from_millis(1000),
        "next hop dropped after {dropped:?}"
    );
    let left = bgp.lab.director(2).ns().pids()?;
    ensure!(
        left.is_empty(),
        "processes left in dir2 after kill -9: {left:?}"
    );
    eprintln!("killed director's next hop dropped after {dropped:?}");
    drop(d2);
    Ok(())
}
