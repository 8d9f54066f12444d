//! A real FRR router (Debian's `frr`: zebra, bfdd and bgpd) for the BGP
//! tests: it runs in a lab namespace, without systemd, with its sockets and
//! configuration in a temporary directory owned by the `frr` user (FRR
//! drops to it), and learns the directors' routes with ECMP. Dropping it
//! stops the daemons and removes the directory.
use std::{
    fmt::Write as _,
    fs,
    net::Ipv4Addr,
    os::unix::fs::PermissionsExt,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result};
use nix::unistd::{chown, User};
use serde_json::Value;
use tempfile::TempDir;

use crate::{wait_until, Netns, NsChild};

/// Where Debian installs the daemons.
const DAEMONS: &str = "/usr/lib/frr";

/// How often start-up conditions are polled.
const POLL: Duration = Duration::from_millis(50);

/// The router's BGP settings.
pub struct FrrConf {
    /// Its AS number.
    pub asn: u32,
    /// Its router id and address on the directors' LAN.
    pub router_id: Ipv4Addr,
    /// Each director: its address and AS number.
    pub neighbors: Vec<(Ipv4Addr, u32)>,
    /// BFD interval in ms (transmit and receive), multiplier 3.
    pub bfd_interval_ms: u32,
}

impl FrrConf {
    fn render(&self) -> String {
        let mut text = format!(
            "frr defaults datacenter\nhostname router\n!\nbfd\n profile fast\n  \
             receive-interval {i}\n  transmit-interval {i}\n  detect-multiplier 3\n !\n!\n\
             router bgp {asn}\n bgp router-id {id}\n no bgp ebgp-requires-policy\n \
             bgp bestpath as-path multipath-relax\n timers bgp 1 3\n",
            i = self.bfd_interval_ms,
            asn = self.asn,
            id = self.router_id,
        );
        for (address, asn) in &self.neighbors {
            let _ = writeln!(text, " neighbor {address} remote-as {asn}");
            let _ = writeln!(text, " neighbor {address} bfd profile fast");
            let _ = writeln!(text, " neighbor {address} timers connect 1");
        }
        text.push_str(
            " address-family ipv4 unicast\n  maximum-paths 16\n exit-address-family\n!\n",
        );
        text
    }
}

/// A running FRR.
pub struct Frr {
    // Declared before `dir`: the daemons stop before their directory goes.
    _daemons: Vec<NsChild>,
    dir: TempDir,
    ns: String,
}

impl Frr {
    /// Starts zebra, bfdd and bgpd in `ns` with `conf`.
    pub fn start(ns: &Netns, conf: &FrrConf) -> Result<Frr> {
        let dir = tempfile::Builder::new().prefix("lb-frr-").tempdir()?;
        let frr = User::from_name("frr")?.context("no user frr: is Debian's frr installed?")?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))?;
        chown(dir.path(), Some(frr.uid), Some(frr.gid))?;
        let config = dir.path().join("frr.conf");
        fs::write(&config, conf.render())?;
        chown(&config, Some(frr.uid), Some(frr.gid))?;
        let socket = dir.path().join("zserv.api");
        let mut daemons = Vec::new();
        for daemon in ["zebra", "bfdd", "bgpd"] {
            let mut cmd = ns.command(&[
                format!("{DAEMONS}/{daemon}"),
                "-u".into(),
                "frr".into(),
                "-g".into(),
                "frr".into(),
                "-z".into(),
                socket.display().to_string(),
                "--vty_socket".into(),
                dir.path().display().to_string(),
                "-i".into(),
                dir.path()
                    .join(format!("{daemon}.pid"))
                    .display()
                    .to_string(),
                "-f".into(),
                config.display().to_string(),
            ]);
            let log = fs::File::create(dir.path().join(format!("{daemon}.log")))?;
            cmd.stdout(Stdio::null()).stderr(log);
            daemons.push(ns.spawn_command(cmd)?);
            if daemon == "zebra" {
                wait_until(Duration::from_secs(10), POLL, || socket.exists())
                    .context("zebra did not open its socket")?;
            }
        }
        let frr = Frr {
            _daemons: daemons,
            dir,
            ns: ns.name().to_owned(),
        };
        wait_until(Duration::from_secs(10), POLL, || {
            frr.vtysh("show bgp summary").is_ok()
        })
        .context("bgpd does not answer vtysh")?;
        Ok(frr)
    }

    /// Runs one vtysh command against this router.
    pub fn vtysh(&self, command: &str) -> Result<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "vtysh", "--vty_socket"])
            .arg(self.dir.path())
            .args(["-c", command])
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "vtysh -c '{command}': {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A vtysh command's JSON answer.
    pub fn json(&self, command: &str) -> Result<Value> {
        let text = self.vtysh(&format!("{command} json"))?;
        serde_json::from_str(&text).with_context(|| format!("`{command} json`: {text}"))
    }

    /// How many times the BGP session with `neighbor` was established.
    pub fn connections_established(&self, neighbor: Ipv4Addr) -> Result<u64> {
        let v = self.json(&format!("show bgp neighbors {neighbor}"))?;
        v[neighbor.to_string()]["connectionsEstablished"]
            .as_u64()
            .with_context(|| format!("no connectionsEstablished for {neighbor}: {v}"))
    }

    /// What the daemons logged, for failure messages.
    pub fn logs(&self) -> String {
        ["zebra", "bfdd", "bgpd"]
            .iter()
            .map(|d| {
                let log = fs::read_to_string(self.dir.path().join(format!("{d}.log")));
                format!("--- {d}\n{}", log.unwrap_or_default())
            })
            .collect()
    }
}
