//! BIRD run as the daemon's child: its configuration and control socket
//! live in the daemon's runtime directory, its log lines go to the daemon's
//! log, and it dies with the daemon (`PR_SET_PDEATHSIG`), even on kill -9,
//! so that its BGP sessions and BFD drop and the routers stop sending this
//! director traffic it can no longer serve. It runs in a process group of
//! its own: signals meant for the daemon's group (a terminal's ^C, a
//! SIGHUP to the group) do not reach it; the daemon alone stops it, after
//! withdrawing.
use std::{
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

use super::control::Control;

/// How long BIRD may take to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The running BIRD process.
pub struct ChildBird {
    child: Child,
    socket: PathBuf,
}

impl ChildBird {
    /// Starts `binary` on the configuration at `conf` with its control
    /// socket at `socket`; returns once the socket answers.
    pub async fn start(binary: &Path, conf: &Path, socket: &Path) -> Result<ChildBird> {
        let _ = std::fs::remove_file(socket);
        let mut command = Command::new(binary);
        command
            .arg("-f")
            .arg("-c")
            .arg(conf)
            .arg("-s")
            .arg(socket)
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
        let mut bird = ChildBird {
            child,
            socket: socket.to_owned(),
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

    /// Stops BIRD: its sessions close, so routers withdraw at once.
    pub async fn stop(&mut self) {
        let down = match Control::connect(&self.socket).await {
            Ok(mut control) => control.command("down").await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = down {
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
