//! [`SoakLab`]: the soak's directors on the DR lab. dir1 and dir2 run
//! lb-daemon with VI_1 (VRID 51, the fast-path `mh` service's VIP) and VI_2
//! (VRID 52) in sync group G1, dir1 their master, and VI_3 (VRID 53, no
//! service) whose master is dir3, Debian's keepalived, with dir2 next in
//! line. Every fault kind's action is here, and the converged state every
//! heal must reach.
use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use aya::programs::XdpMode;
use lb_daemon::dataplane::xdp::PassProgram;
use nix::sys::signal::Signal;
use serde_json::Value;
use tempfile::TempDir;

use super::{
    config::{self, VIPS},
    report::Resources,
};
use crate::{bpf, daemon, dr_lab, in_netns, Daemon, Host, Keepalived, Lab};

/// The lab; dropping it stops everything.
pub struct SoakLab {
    // Field order matters: processes go before the lab's namespaces.
    daemons: [Option<Daemon>; 2],
    keepalived: Keepalived,
    runtime: [TempDir; 2],
    /// Whether each director runs the changed configuration variant.
    changed: [bool; 2],
    /// XDP_PASS for bridge ports created again (see [`Lab::replug`]).
    pass: PassProgram,
    configs: TempDir,
    /// Pin directories, XDP programs and processes seen during the run.
    pins: BTreeSet<PathBuf>,
    progs: BTreeSet<u32>,
    pids: BTreeSet<u32>,
    resources: BTreeMap<String, Resources>,
    advert: Duration,
    lab: Lab,
}

impl SoakLab {
    /// Builds the lab and starts keepalived and both daemons.
    pub fn start(advert: Duration) -> Result<SoakLab> {
        let lab = dr_lab(3)?;
        for dir in lab.directors() {
            // Every probe gets its port unreachable.
            dir.ns().sysctl(&[("net.ipv4.icmp_ratelimit", "0")])?;
        }
        let configs = tempfile::Builder::new().prefix("lb-soak").tempdir()?;
        let keepalived = Keepalived::start(
            lab.director(3).ns(),
            &config::keepalived(advert),
            "dir3/keepalived",
        )?;
        let mut soak = SoakLab {
            daemons: [None, None],
            keepalived,
            runtime: [daemon::runtime_dir()?, daemon::runtime_dir()?],
            changed: [false, false],
            pass: PassProgram::load()?,
            configs,
            pins: BTreeSet::new(),
            progs: BTreeSet::new(),
            pids: BTreeSet::new(),
            resources: BTreeMap::new(),
            advert,
            lab,
        };
        for n in 1..=2 {
            fs::write(soak.config_path(n), soak.config_text(n))?;
            soak.restart(&format!("dir{n}"))?;
        }
        Ok(soak)
    }

    /// The advert interval.
    pub fn advert(&self) -> Duration {
        self.advert
    }

    /// The lab underneath.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The daemons' resource samples so far.
    pub fn resources(&self) -> &BTreeMap<String, Resources> {
        &self.resources
    }

    fn config_path(&self, n: usize) -> PathBuf {
        self.configs.path().join(format!("dir{n}.conf"))
    }

    fn config_text(&self, n: usize) -> String {
        config::director(&self.lab, n, self.advert, self.changed[n - 1])
    }

    /// `dir1` -> 1.
    fn number(role: &str) -> Result<usize> {
        match role {
            "dir1" => Ok(1),
            "dir2" => Ok(2),
            _ => bail!("{role} runs no lb-daemon"),
        }
    }

    fn daemon(&self, role: &str) -> Result<&Daemon> {
        self.daemons[Self::number(role)? - 1]
            .as_ref()
            .with_context(|| format!("{role}'s daemon is not running"))
    }

    fn host(&self, role: &str) -> Result<&Host> {
        self.lab
            .host(role)
            .with_context(|| format!("no host {role}"))
    }

    /// `kill -9` of `role`'s daemon; what it held stays for the next one.
    pub fn kill(&mut self, role: &str) -> Result<()> {
        let n = Self::number(role)?;
        let daemon = self.daemons[n - 1].take().context("not running")?;
        daemon.kill()
    }

    /// Starts `role`'s daemon (again) in its runtime directory and waits
    /// until its control socket answers.
    pub fn restart(&mut self, role: &str) -> Result<()> {
        let n = Self::number(role)?;
        let mut daemon = Daemon::spawn_in(
            self.host(role)?.ns(),
            &self.config_path(n),
            role,
            self.runtime[n - 1].path(),
        )?;
        daemon.wait_ready(Duration::from_secs(10))?;
        self.pids.insert(daemon.pid());
        self.resources.entry(role.to_owned()).or_default().processes += 1;
        self.daemons[n - 1] = Some(daemon);
        Ok(())
    }

    /// Sends `signal` to `role`'s daemon.
    pub fn signal(&self, role: &str, signal: Signal) -> Result<()> {
        self.daemon(role)?.signal(signal)
    }

    /// `role`'s `eth0` up or down.
    pub fn link(&self, role: &str, up: bool) -> Result<()> {
        let state = if up { "up" } else { "down" };
        self.host(role)?
            .ns()
            .ip(&["link", "set", "eth0", state])
            .map(drop)
    }

    /// Waits until both daemons' checkers see real server `role` as `up`
    /// (a death shorter than the checks' detection time is no fault the
    /// directors could see).
    pub fn wait_real_server(&self, role: &str, up: bool) -> Result<()> {
        let address = self.host(role)?.ipv4().to_string();
        for daemon in self.daemons.iter().flatten() {
            daemon.wait_status(
                &format!("{role} seen {}", if up { "up" } else { "down" }),
                Duration::from_secs(15),
                |s| {
                    let reals = &s["lvs"]["virtual_servers"][0]["real_servers"];
                    reals.as_array().is_some_and(|r| {
                        r.iter()
                            .any(|r| r["address"] == address.as_str() && r["up"] == up)
                    })
                },
            )?;
        }
        Ok(())
    }

    /// Isolates the bridge ports of the directors in `pair` (`dir1+dir2`)
    /// from each other (isolated ports still reach the others).
    pub fn isolate(&self, pair: &str, on: bool) -> Result<()> {
        for role in pair.split('+') {
            let port = self.host(role)?.bridge_port();
            let flag = if on { "on" } else { "off" };
            self.lab
                .switch()
                .run(&["bridge", "link", "set", "dev", port, "isolated", flag])?;
        }
        Ok(())
    }

    /// Drops `percent` of `role`'s packets both ways (None: stops).
    pub fn loss(&self, role: &str, percent: Option<u8>) -> Result<()> {
        let ns = self.host(role)?.ns();
        let script = match percent {
            Some(p) => format!(
                "add table inet soak; \
                 add chain inet soak in {{ type filter hook input priority 0; }}; \
                 add chain inet soak out {{ type filter hook output priority 0; }}; \
                 add rule inet soak in numgen random mod 100 < {p} drop; \
                 add rule inet soak out numgen random mod 100 < {p} drop"
            ),
            None => "delete table inet soak".to_owned(),
        };
        ns.run(&["nft", &script]).map(drop)
    }

    /// Writes the other configuration variant and sends SIGHUP; waits until
    /// the daemon applied it.
    pub fn reload_changed(&mut self, role: &str) -> Result<()> {
        let n = Self::number(role)?;
        self.changed[n - 1] = !self.changed[n - 1];
        fs::write(self.config_path(n), self.config_text(n))?;
        self.reload(role, "ok")
    }

    /// Writes a broken configuration and sends SIGHUP; waits until the
    /// daemon refused it.
    pub fn reload_broken(&self, role: &str) -> Result<()> {
        let n = Self::number(role)?;
        fs::write(self.config_path(n), config::broken(&self.config_text(n)))?;
        self.reload(role, "error")
    }

    /// Puts the good configuration back on disk (no SIGHUP).
    pub fn restore_config(&self, role: &str) -> Result<()> {
        let n = Self::number(role)?;
        fs::write(self.config_path(n), self.config_text(n)).map_err(Into::into)
    }

    fn reload(&self, role: &str, result: &str) -> Result<()> {
        let daemon = self.daemon(role)?;
        let before = daemon.status()?["last_reload"].clone();
        daemon.signal(Signal::SIGHUP)?;
        daemon.wait_status(
            &format!("reload with result {result}"),
            Duration::from_secs(10),
            |s| s["last_reload"] != before && s["last_reload"]["result"] == result,
        )
    }

    /// Deletes `role`'s `eth0` (`back`: creates it again, its new bridge
    /// port with the lab's XDP_PASS).
    pub fn recreate(&mut self, role: &str, back: bool) -> Result<()> {
        let host = self.lab.host(role).with_context(|| format!("no {role}"))?;
        if !back {
            return self.lab.unplug(host);
        }
        self.lab.replug(host)?;
        let port = host.bridge_port().to_owned();
        let out = self
            .lab
            .switch()
            .ip(&["-o", "link", "show", "dev", &port])?;
        let index: u32 = out
            .split(':')
            .next()
            .and_then(|i| i.trim().parse().ok())
            .with_context(|| format!("no ifindex in {out}"))?;
        let pass = &mut self.pass;
        in_netns(self.lab.switch().name(), || -> Result<()> {
            pass.program()?
                .attach_to_if_index(index, XdpMode::Driver)
                .with_context(|| format!("attaching XDP_PASS to {port}"))?;
            Ok(())
        })?
    }

    /// Samples each running daemon's RSS and open file descriptors.
    pub fn sample(&mut self) {
        for d in self.daemons.iter().flatten() {
            let pid = d.pid();
            let rss = fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
                    line.split_whitespace().nth(1)?.parse().ok()
                });
            let fds = fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count());
            if let (Some(rss), Ok(fds)) = (rss, fds) {
                let r = self.resources.entry(d.label().to_owned()).or_default();
                r.samples.push((rss, fds));
            }
        }
    }

    /// What is not yet as it must be when all is well: each VIP on its
    /// owner alone, the daemons' states, every real server up, XDP on
    /// dir1's `eth0` only. Empty once converged.
    pub fn problems(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let held: Vec<(String, String)> = self
            .lab
            .directors()
            .map(|d| {
                let addrs = d.ns().ip(&["-4", "-o", "addr", "show", "dev", "eth0"]);
                (d.role().to_owned(), addrs.unwrap_or_default())
            })
            .collect();
        for (vip, _, owner) in VIPS {
            let holders: Vec<&str> = held
                .iter()
                .filter(|(_, a)| a.contains(&format!(" {vip}/24 ")))
                .map(|(role, _)| role.as_str())
                .collect();
            if holders != [owner] {
                problems.push(format!("{vip} held by {holders:?}, not by {owner} alone"));
            }
        }
        for (n, want) in [(1, ["MASTER", "MASTER", "BACKUP"]), (2, ["BACKUP"; 3])] {
            match self.daemon(&format!("dir{n}")).and_then(Daemon::status) {
                Ok(status) => problems.extend(status_problems(n, &status, &want)),
                Err(e) => problems.push(format!("dir{n}: {e:#}")),
            }
        }
        for (n, want) in [(1, true), (2, false)] {
            match bpf::xdp_attached(self.lab.director(n).ns(), "eth0") {
                Ok(ids) => {
                    if ids.is_empty() == want {
                        problems.push(format!("dir{n}: XDP attached: {ids:?}"));
                    }
                    self.progs.extend(ids);
                }
                Err(e) => problems.push(format!("dir{n}: {e:#}")),
            }
        }
        for d in self.daemons.iter().flatten() {
            if let Ok(dir) = super::leaks::pin_dir(d) {
                self.pins.insert(dir);
            }
        }
        problems
    }

    /// The client's ARP entries for the VIPs that do not name the owner
    /// (a gratuitous ARP of a node that lost the VIP again came last).
    pub fn stale_arp(&self) -> Vec<String> {
        let client = self.lab.client().ns();
        VIPS.iter()
            .filter_map(|(vip, _, owner)| {
                let entry = client
                    .ip(&["neigh", "show", &vip.to_string(), "dev", "eth0"])
                    .unwrap_or_default();
                let mac = entry
                    .split_whitespace()
                    .skip_while(|w| *w != "lladdr")
                    .nth(1)?;
                let want = self.lab.host(owner)?.mac_string();
                (mac != want)
                    .then(|| format!("the client's ARP: {vip} at {mac}, not {owner}'s {want}"))
            })
            .collect()
    }

    /// Asks again: flushes the client's ARP entries for the VIPs, lets its
    /// probes resolve them, and lists the VIPs whose reply did not come
    /// from the owner.
    pub fn arp_replies(&self) -> Vec<String> {
        let client = self.lab.client().ns();
        for (vip, _, _) in VIPS {
            let _ = client.ip(&["neigh", "flush", "to", &vip.to_string(), "dev", "eth0"]);
        }
        let resolved = crate::wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
            let table = client
                .ip(&["neigh", "show", "dev", "eth0"])
                .unwrap_or_default();
            VIPS.iter().all(|(vip, _, _)| {
                table
                    .lines()
                    .any(|l| l.starts_with(&format!("{vip} lladdr ")))
            })
        });
        let mut wrong = self.stale_arp();
        if resolved.is_err() {
            wrong.push("the client could not resolve every VIP".into());
        }
        wrong
    }

    /// Waits until [`SoakLab::problems`] is empty, at most `timeout`;
    /// returns how long it took, or the last problems.
    pub fn converge(&mut self, timeout: Duration) -> std::result::Result<Duration, Vec<String>> {
        let started = Instant::now();
        loop {
            let problems = self.problems();
            if problems.is_empty() {
                return Ok(started.elapsed());
            }
            if started.elapsed() > timeout {
                return Err(problems);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops everything cleanly and lists what was left behind.
    pub fn shutdown(mut self) -> Vec<String> {
        let mut leaks = Vec::new();
        for daemon in self.daemons.iter_mut() {
            if let Some(mut d) = daemon.take() {
                match d.stop() {
                    Ok(status) if status.success() => {}
                    other => leaks.push(format!("{} did not stop cleanly: {other:?}", d.label())),
                }
            }
        }
        if let Err(e) = self.keepalived.stop() {
            leaks.push(format!("keepalived: {e:#}"));
        }
        let seen = super::leaks::Seen {
            pins: std::mem::take(&mut self.pins),
            progs: std::mem::take(&mut self.progs),
            pids: std::mem::take(&mut self.pids),
        };
        leaks.extend(super::leaks::after_stop(&self.lab, &seen));
        let prefix = self.lab.prefix().to_owned();
        drop(self);
        leaks.extend(super::leaks::after_teardown(&prefix));
        leaks
    }
}

/// What `dir{n}`'s status says is not as it must be: the states of VI_1,
/// VI_2, VI_3 (`want`), every real server up.
fn status_problems(n: usize, status: &Value, want: &[&str; 3]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, state) in want.iter().enumerate() {
        let name = format!("VI_{}", i + 1);
        let have = status["vrrp"]
            .as_array()
            .and_then(|v| v.iter().find(|i| i["name"] == name.as_str()))
            .map(|i| i["state"].as_str().unwrap_or("?").to_owned());
        if have.as_deref() != Some(state) {
            problems.push(format!("dir{n}: {name} is {have:?}, not {state}"));
        }
    }
    let reals = &status["lvs"]["virtual_servers"][0]["real_servers"];
    let up = reals
        .as_array()
        .map_or(0, |r| r.iter().filter(|r| r["up"] == true).count());
    if up != 3 {
        problems.push(format!("dir{n}: {up} of 3 real servers up"));
    }
    problems
}
