//! A system BIRD for the BGP tests: Debian's `bird` run in a director's
//! namespace the way a distribution runs it (not as lb-daemon's child),
//! with a configuration that includes the file lb-daemon writes. Its
//! configuration, socket and log live in a temporary directory; dropping it
//! stops BIRD and removes the directory.
use std::{fs, net::Ipv4Addr, path::PathBuf, process::Stdio, time::Duration};

use anyhow::{Context, Result};
use tempfile::TempDir;

use crate::{wait_until, Netns, NsChild};

/// A running BIRD.
pub struct SystemBird {
    // Declared before `dir`: BIRD stops before its directory goes.
    child: NsChild,
    dir: TempDir,
    ns: String,
}

/// The BGP session of a [`SystemBird`].
pub struct SystemBirdConf {
    /// Its router id and session address.
    pub router_id: Ipv4Addr,
    /// Its AS number.
    pub asn: u32,
    /// The router: its address and AS number.
    pub router: (Ipv4Addr, u32),
}

impl SystemBird {
    /// Starts BIRD in `ns` with one BGP session (BFD on, short timers) that
    /// exports lb-daemon's announcements, and an empty include file for
    /// lb-daemon to fill (an operator creates it once, as here).
    pub fn start(ns: &Netns, conf: &SystemBirdConf) -> Result<SystemBird> {
        let dir = tempfile::Builder::new().prefix("lb-bird-").tempdir()?;
        let include = dir.path().join("lb-daemon.conf");
        fs::write(&include, "")?;
        let (router, router_as) = conf.router;
        let text = format!(
            "log \"{log}\" all;\nrouter id {id};\nprotocol device {{}}\n\
             protocol bfd {{\n  interface \"*\" {{ interval 100 ms; multiplier 3; }};\n}}\n\
             include \"{include}\";\n\
             protocol bgp routers {{\n  local as {asn};\n  neighbor {router} as {router_as};\n  \
             hold time 3;\n  keepalive time 1;\n  graceful restart off;\n  connect retry time 2;\n  \
             error wait time 1, 10;\n  \
             bfd on;\n  ipv4 {{\n    import none;\n    export where proto ~ \"lbvip_*\";\n    \
             next hop self;\n  }};\n}}\n",
            log = dir.path().join("bird.log").display(),
            id = conf.router_id,
            include = include.display(),
            asn = conf.asn,
        );
        let config = dir.path().join("bird.conf");
        fs::write(&config, text)?;
        let socket = dir.path().join("bird.ctl");
        let mut cmd = ns.command(&[
            "bird".to_owned(),
            "-f".into(),
            "-c".into(),
            config.display().to_string(),
            "-s".into(),
            socket.display().to_string(),
        ]);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = ns.spawn_command(cmd)?;
        let bird = SystemBird {
            child,
            dir,
            ns: ns.name().to_owned(),
        };
        wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            bird.birdc("show status").is_ok()
        })
        .with_context(|| format!("BIRD does not answer:\n{}", bird.log()))?;
        Ok(bird)
    }

    /// The file lb-daemon writes (`bird_include`).
    pub fn include(&self) -> PathBuf {
        self.dir.path().join("lb-daemon.conf")
    }

    /// Its control socket (`bird_socket`).
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("bird.ctl")
    }

    /// Runs one birdc command; its output.
    pub fn birdc(&self, command: &str) -> Result<String> {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &self.ns, "birdc", "-s"])
            .arg(self.socket())
            .args(command.split_whitespace())
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "birdc {command}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether BIRD still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// BIRD's log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("bird.log")).unwrap_or_default()
    }
}
