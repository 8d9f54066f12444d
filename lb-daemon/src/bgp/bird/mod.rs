//! BIRD, the BGP daemon that announces this director's prefixes: either
//! run as the daemon's child with a configuration of its own ([`child`]),
//! or the system's BIRD, which includes a file the daemon writes and whose
//! routes go when the daemon's [`liveness`] interface does. Both are driven
//! the same way: the configuration file always says what is announced (so
//! a restarted or reconfigured BIRD announces exactly that), and its
//! control socket ([`control`]) switches each static protocol at once.
//! [`conf`] renders the files.
pub mod child;
pub mod conf;
pub mod control;
pub mod liveness;
mod sessions;

use std::{
    collections::BTreeSet,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use ipnet::IpNet;
use serde_json::Value;
use tracing::warn;

use self::{
    child::ChildBird,
    conf::{Announcement, Target},
    control::{Control, Reply},
    liveness::Liveness,
};
use crate::{
    config::{BgpSpeaker, DEFAULT_BIRD_SOCKET},
    netlink::Netlink,
};

/// The BIRD the announcer drives.
pub struct Bird {
    speaker: BgpSpeaker,
    /// The file the daemon writes: a child's whole configuration, or the
    /// system BIRD's include.
    conf: PathBuf,
    socket: PathBuf,
    process: Process,
}

enum Process {
    Child(Box<ChildBird>),
    /// The system's BIRD: the daemon holds only the liveness interface.
    System(Liveness),
}

impl Bird {
    /// Starts BIRD for `speaker` with every one of `statics` withdrawn: a
    /// child with its files in `runtime_dir`, or, with `bird_include`, the
    /// liveness interface, the include file and a reconfiguration of the
    /// system BIRD (which may be down: it reads the file when it starts).
    pub async fn start(
        speaker: &BgpSpeaker,
        statics: &[Announcement],
        runtime_dir: &Path,
        netlink: &Netlink,
    ) -> Result<Bird> {
        let none = BTreeSet::new();
        if let Some(include) = &speaker.bird_include {
            let liveness = Liveness::create(netlink).await?;
            let bird = Bird {
                speaker: speaker.clone(),
                conf: include.clone(),
                socket: speaker
                    .bird_socket
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_BIRD_SOCKET)),
                process: Process::System(liveness),
            };
            bird.write(statics, &none)?;
            if let Err(e) = bird.configure().await {
                warn!("BGP: {e:#}; announcing once the system BIRD answers");
            } else {
                bird.check_included(statics).await?;
            }
            return Ok(bird);
        }
        let conf = runtime_dir.join("bird.conf");
        let socket = runtime_dir.join("bird.ctl");
        write_file(&conf, &render_child(speaker, statics, &none))?;
        let binary = speaker
            .bird_binary
            .clone()
            .unwrap_or_else(|| PathBuf::from("bird"));
        let child = ChildBird::start(&binary, &conf, &socket).await?;
        Ok(Bird {
            speaker: speaker.clone(),
            conf,
            socket,
            process: Process::Child(Box::new(child)),
        })
    }

    /// The speaker this BIRD runs for.
    pub fn speaker(&self) -> &BgpSpeaker {
        &self.speaker
    }

    /// Runs one command on a fresh control connection.
    pub async fn command(&self, command: &str) -> Result<Reply> {
        Control::connect(&self.socket).await?.command(command).await
    }

    /// Announces (`on`) or withdraws `announcement`: the file first, so
    /// that it says what BIRD does, then the switch over the socket.
    /// `enabled` is every prefix announced afterwards.
    pub async fn switch(
        &self,
        statics: &[Announcement],
        enabled: &BTreeSet<IpNet>,
        announcement: &Announcement,
        on: bool,
    ) -> Result<()> {
        self.write(statics, enabled)?;
        let verb = if on { "enable" } else { "disable" };
        let reply = self
            .command(&format!("{verb} {}", announcement.protocol()))
            .await?;
        if reply.is_error() {
            bail!("BIRD: {}", reply.text());
        }
        Ok(())
    }

    /// Rewrites the file for a new set of `statics` (those in `enabled`
    /// announced) and has BIRD read it; every protocol whose settings did
    /// not change keeps running (sessions stay up).
    pub async fn reconfigure(
        &self,
        statics: &[Announcement],
        enabled: &BTreeSet<IpNet>,
    ) -> Result<()> {
        self.write(statics, enabled)?;
        self.configure().await
    }

    /// Stops a child BIRD (its sessions close) or lets go of the system
    /// BIRD (the liveness interface goes, and with it any route left).
    pub async fn stop(self) {
        match self.process {
            Process::Child(mut child) => child.stop().await,
            Process::System(liveness) => drop(liveness),
        }
    }

    /// Each BGP session's state and its BFD state, as BIRD reports them.
    pub async fn sessions(&self) -> Vec<Value> {
        sessions::read(self).await
    }

    fn write(&self, statics: &[Announcement], enabled: &BTreeSet<IpNet>) -> Result<()> {
        let text = match self.process {
            Process::Child(_) => render_child(&self.speaker, statics, enabled),
            Process::System(_) => {
                conf::render_include(statics, enabled, Target::Interface(liveness::INTERFACE))
            }
        };
        write_file(&self.conf, &text)
    }

    async fn configure(&self) -> Result<()> {
        let reply = self.command("configure").await?;
        if reply.is_error() {
            bail!("BIRD refused the new configuration: {}", reply.text());
        }
        Ok(())
    }

    /// After a reconfiguration, the system BIRD must know the first static
    /// protocol: otherwise its configuration does not include the file.
    async fn check_included(&self, statics: &[Announcement]) -> Result<()> {
        let Some(first) = statics.first() else {
            return Ok(());
        };
        let reply = self
            .command(&format!("show protocols {}", first.protocol()))
            .await?;
        if reply.is_error() {
            bail!(
                "the BIRD at {} does not know {}: add `include \"{}\";` to its configuration \
                 (and `protocol device {{}}` if it has none)",
                self.socket.display(),
                first.protocol(),
                self.conf.display()
            );
        }
        Ok(())
    }
}

/// A child BIRD's whole configuration, logging to the daemon's log.
fn render_child(
    speaker: &BgpSpeaker,
    statics: &[Announcement],
    enabled: &BTreeSet<IpNet>,
) -> String {
    let mut text = String::from("log stderr all;\n");
    text.push_str(&conf::render(speaker, statics, enabled));
    text
}

/// Replaces `path` with `text` in one rename (BIRD never reads half a file).
fn write_file(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("conf.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
