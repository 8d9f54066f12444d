//! [`IpvsLab`]: the topology of the IPVS tests (run in the IPVS guest,
//! whose kernel has IPVS): the standard [`Lab`] with one director and web
//! real servers, plus an "outside" client behind the director for NAT.
//!
//! ```text
//!   outside 198.51.100.2 --veth-- dir1 "outside" 198.51.100.1  (NAT VIPs)
//!   client 192.0.2.100, dir1 192.0.2.2, rs1.. 192.0.2.11.. on br0 (DR, TUN)
//! ```
//! Real servers route everything off-link through the director, so NAT
//! replies go back through IPVS; DR and TUN replies go straight to the
//! client on the bridge.
use std::{fs, net::Ipv4Addr, path::PathBuf, process::ExitStatus, time::Duration};

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::{http_get, lab::Host, Daemon, Lab, LabSpec, Netns};

/// The director's address on the outside link.
pub const OUTSIDE_GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The outside client's address.
pub const OUTSIDE_CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// The director's interface to the outside client.
pub const OUTSIDE_IF: &str = "outside";

/// A lab for IPVS traffic; torn down on drop.
pub struct IpvsLab {
    // Field order matters: the outside client goes before the lab.
    outside: Netns,
    lab: Lab,
}

impl IpvsLab {
    /// Builds the lab with `real_servers` web real servers.
    pub fn new(real_servers: usize) -> Result<IpvsLab> {
        let lab = Lab::new(LabSpec {
            directors: 1,
            real_servers,
            web: true,
        })?;
        let outside = Netns::create(format!("{}outside", lab.prefix()))?;
        let director = lab.director(1).ns();
        director.sysctl(&[("net.ipv4.ip_forward", "1")])?;
        #[rustfmt::skip]
        director.ip(&[
            "link", "add", OUTSIDE_IF, "type", "veth", "peer", "name", "eth0", "netns", outside.name(),
        ])?;
        director.ip(&[
            "addr",
            "add",
            &format!("{OUTSIDE_GATEWAY}/24"),
            "dev",
            OUTSIDE_IF,
        ])?;
        director.ip(&["link", "set", OUTSIDE_IF, "up"])?;
        outside.ip(&[
            "addr",
            "add",
            &format!("{OUTSIDE_CLIENT}/24"),
            "dev",
            "eth0",
        ])?;
        outside.ip(&["link", "set", "eth0", "up"])?;
        outside.ip(&[
            "route",
            "add",
            "default",
            "via",
            &OUTSIDE_GATEWAY.to_string(),
        ])?;
        let gateway = lab.director(1).ipv4().to_string();
        for rs in lab.real_servers() {
            rs.ns().ip(&["route", "add", "default", "via", &gateway])?;
        }
        Ok(IpvsLab { outside, lab })
    }

    /// The underlying lab (client, bridge, real servers).
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The director (`dir1`), whose namespace holds the IPVS table.
    pub fn director(&self) -> &Host {
        self.lab.director(1)
    }

    /// The client behind the director (for NAT services).
    pub fn outside(&self) -> &Netns {
        &self.outside
    }

    /// Adds `vip` (a /32) to the director's interface `dev` (`eth0` for DR
    /// and TUN services, [`OUTSIDE_IF`] for NAT ones).
    pub fn add_vip(&self, vip: Ipv4Addr, dev: &str) -> Result<()> {
        self.director()
            .ns()
            .ip(&["addr", "add", &format!("{vip}/32"), "dev", dev])
            .map(drop)
    }

    /// Makes every real server accept direct-routed packets for `vip`: the
    /// VIP on `lo`, and no ARP answers for it.
    pub fn accept_direct_routing(&self, vip: Ipv4Addr) -> Result<()> {
        for rs in self.lab.real_servers() {
            rs.ns().sysctl(&[
                ("net.ipv4.conf.all.arp_ignore", "1"),
                ("net.ipv4.conf.all.arp_announce", "2"),
            ])?;
            rs.ns()
                .ip(&["addr", "add", &format!("{vip}/32"), "dev", "lo"])?;
        }
        Ok(())
    }

    /// Makes every real server accept IP-in-IP tunnelled packets for `vip`:
    /// an ipip device holding the VIP (the decapsulated packets come from
    /// the client, so no reverse-path filter), and no ARP answers for it.
    pub fn accept_tunnel(&self, vip: Ipv4Addr) -> Result<()> {
        for rs in self.lab.real_servers() {
            let ns = rs.ns();
            #[rustfmt::skip]
            ns.ip(&["link", "add", "ipvs-tun", "type", "ipip", "local", &rs.ipv4().to_string()])?;
            ns.ip(&["addr", "add", &format!("{vip}/32"), "dev", "ipvs-tun"])?;
            ns.ip(&["link", "set", "ipvs-tun", "up"])?;
            ns.sysctl(&[
                ("net.ipv4.conf.all.rp_filter", "0"),
                ("net.ipv4.conf.ipvs-tun.rp_filter", "0"),
                ("net.ipv4.conf.all.arp_ignore", "1"),
                ("net.ipv4.conf.all.arp_announce", "2"),
            ])?;
        }
        Ok(())
    }

    /// Fetches `http://{vip}/` `times` times from `from` (a new connection
    /// each time) and returns the bodies: each names the real server that
    /// answered.
    pub fn fetch(&self, from: &Netns, vip: Ipv4Addr, times: usize) -> Result<Vec<String>> {
        let url = format!("http://{vip}/");
        (0..times)
            .map(|n| {
                let (status, body) = http_get(from, &url, Duration::from_secs(3))
                    .with_context(|| format!("request {} to {url} from {}", n + 1, from.name()))?;
                anyhow::ensure!(status == 200, "{url}: status {status}");
                Ok(body.trim().to_owned())
            })
            .collect()
    }
}

/// lb-daemon on the director, with a configuration file that tests rewrite
/// and reload.
pub struct DirectorDaemon {
    // Field order matters: the daemon stops before its files go.
    daemon: Daemon,
    path: PathBuf,
    _dir: TempDir,
}

impl DirectorDaemon {
    /// The running daemon.
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// Replaces the configuration with `config` and sends SIGHUP.
    pub fn reload(&self, config: &str) -> Result<()> {
        fs::write(&self.path, config)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.daemon.signal(Signal::SIGHUP)
    }

    /// Stops the daemon (SIGTERM) and returns how it exited.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        self.daemon.stop()
    }
}

impl IpvsLab {
    /// Starts lb-daemon on the director with the keepalived.conf `config`.
    pub fn start_daemon(&self, config: &str) -> Result<DirectorDaemon> {
        let dir = tempfile::Builder::new().prefix("lbt-ipvs-conf").tempdir()?;
        let path = dir.path().join("keepalived.conf");
        fs::write(&path, config)?;
        Ok(DirectorDaemon {
            daemon: Daemon::start(self.director().ns(), &path, "dir1")?,
            path,
            _dir: dir,
        })
    }
}
