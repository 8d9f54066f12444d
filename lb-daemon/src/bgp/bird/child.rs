//! BIRD run as the daemon's child: its configuration and control socket
//! live in the daemon's runtime directory, its log lines go to the daemon's
//! log, and it dies with the daemon (`PR_SET_PDEATHSIG`), even on kill -9,
//! so that its BGP sessions and BFD drop and the routers stop sending this
//! director traffic it can no longer serve. It runs in a process group of
//! its own: signals meant for the daemon's group (a terminal's ^C, a
//! SIGHUP to the group) do not reach it; the daemon alone stops it, after
//! withdrawing.
use std::{
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{bail, Context, Result};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tracing::{info, warn};

use super::control::{Control, Reply};

/// How long BIRD may take to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The running BIRD.
pub struct Bird {
    child: Child,
    conf: PathBuf,
    socket: PathBuf,
}

impl Bird {
    /// Writes `conf` into `dir` and starts `binary` on it; returns once its
    /// control socket answers.
    pub async fn start(binary: &Path, dir: &Path, conf: &str) -> Result<Bird> {
        let conf_path = dir.join("bird.conf");
        let socket = dir.join("bird.ctl");
        write_conf(&conf_path, conf)?;
        let _ = std::fs::remove_file(&socket);
        let mut command = Command::new(binary);
        command
            .arg("-f")
            .arg("-c")
            .arg(&conf_path)
            .arg("-s")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let parent = std::process::id();
        // SAFETY: prctl(2), getppid(2) and setpgid(2) are async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The daemon died between fork and prctl: go with it.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting BIRD ({})", binary.display()))?;
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    info!("bird: {line}");
                }
            });
        }
        let mut bird = Bird {
            child,
            conf: conf_path,
            socket,
        };
        bird.wait_ready().await?;
        Ok(bird)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("BIRD exited at start ({status}); its log lines above say why");
            }
            if Control::connect(&self.socket).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("BIRD did not open {} in time", self.socket.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs one command on a fresh control connection.
    pub async fn command(&self, command: &str) -> Result<Reply> {
        Control::connect(&self.socket).await?.command(command).await
    }

    /// Replaces the configuration; BIRD keeps every protocol whose
    /// settings did not change running (sessions stay up).
    pub async fn reconfigure(&self, conf: &str) -> Result<()> {
        write_conf(&self.conf, conf)?;
        let reply = self.command("configure").await?;
        if reply.is_error() {
            bail!("BIRD refused the new configuration: {}", reply.text());
        }
        Ok(())
    }

    /// Stops BIRD: its sessions close, so routers withdraw at once.
    pub async fn stop(&mut self) {
        if let Err(e) = self.command("down").await {
            warn!("stopping BIRD: {e:#}");
            let _ = self.child.start_kill();
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

fn write_conf(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("conf.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}
