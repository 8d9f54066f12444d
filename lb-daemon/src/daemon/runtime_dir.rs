//! The runtime directory of one daemon instance: a pid file that doubles as
//! an exclusive lock, and the control socket's path.
//!
//! The lock is an `flock` on the pid file, which the kernel releases when the
//! process dies, so a pid file or socket left by a killed run never blocks a
//! restart, while a second live instance on the same directory is refused.
use std::{
    fs::{self, File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};

const PID_FILE: &str = "lb-daemon.pid";
const SOCKET: &str = "lb-daemon.sock";

/// Path of the control socket in runtime directory `dir`.
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET)
}

/// An acquired runtime directory; dropping it removes the pid file and
/// socket, then releases the lock.
pub struct RuntimeDir {
    dir: PathBuf,
    _lock: Flock<File>,
}

impl RuntimeDir {
    /// Creates `dir` if needed and takes its lock, writing our pid.
    pub fn acquire(dir: &Path) -> Result<RuntimeDir> {
        fs::create_dir_all(dir)
            .with_context(|| format!("creating runtime directory {}", dir.display()))?;
        let pid_path = dir.join(PID_FILE);
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&pid_path)
                .with_context(|| format!("opening {}", pid_path.display()))?;
            let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
                    let mut pid = String::new();
                    file.read_to_string(&mut pid).ok();
                    bail!(
                        "another lb-daemon (pid {}) is running with runtime directory {}; \
                         give this instance its own --runtime-dir",
                        pid.trim(),
                        dir.display()
                    );
                }
                Err((_, e)) => return Err(e).context(format!("locking {}", pid_path.display())),
            };
            // A previous owner may have unlinked the file between our open and
            // our lock: then we locked an orphan inode and must start over.
            let same = fs::metadata(&pid_path)
                .map(|m| m.ino() == lock.metadata().map(|l| l.ino()).unwrap_or(0))
                .unwrap_or(false);
            if !same {
                continue;
            }
            lock.set_len(0)?;
            lock.seek(SeekFrom::Start(0))?;
            writeln!(lock, "{}", std::process::id())?;
            // Whoever held the lock before us is gone: its socket is stale.
            let socket = socket_path(dir);
            if socket.exists() {
                fs::remove_file(&socket)
                    .with_context(|| format!("removing stale socket {}", socket.display()))?;
            }
            return Ok(RuntimeDir {
                dir: dir.to_path_buf(),
                _lock: lock,
            });
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Path of this directory's control socket.
    pub fn socket_path(&self) -> PathBuf {
        socket_path(&self.dir)
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        // Unlink while still holding the lock (see the inode check above).
        let _ = fs::remove_file(self.socket_path());
        let _ = fs::remove_file(self.dir.join(PID_FILE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_instance_is_refused_and_released_lock_is_reusable() {
        let tmp = tempfile::tempdir().unwrap();
        let first = RuntimeDir::acquire(tmp.path()).unwrap();
        let pid = fs::read_to_string(tmp.path().join(PID_FILE)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        let err = RuntimeDir::acquire(tmp.path())
            .err()
            .expect("second acquire must fail");
        assert!(err.to_string().contains("another lb-daemon"), "{err}");
        drop(first);
        assert!(!tmp.path().join(PID_FILE).exists());
        RuntimeDir::acquire(tmp.path()).expect("lock released on drop");
    }

    #[test]
    fn stale_pid_file_and_socket_do_not_block() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(PID_FILE), "999999\n").unwrap();
        fs::write(socket_path(tmp.path()), "").unwrap();
        let dir = RuntimeDir::acquire(tmp.path()).unwrap();
        assert!(!dir.socket_path().exists(), "stale socket removed");
    }
}
