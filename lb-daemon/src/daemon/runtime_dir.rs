//! The runtime directory of one daemon instance: a pid file that doubles as
//! an exclusive lock, and the control socket.
//!
//! The lock is an `flock` on the pid file, which the kernel releases when the
//! process dies, so a pid file or socket left by a killed run never blocks a
//! restart, while a second live instance on the same directory is refused.
//!
//! Modes are set explicitly, whatever the umask: the directory 0700, the pid
//! file and socket 0600 (with [`Access::Shared`], 0711 and 0666, the control
//! server checking each client's uid instead). The directory must be a real
//! directory of ours (not a symlink, not a shared sticky one such as /tmp),
//! and the pid file is opened without following symlinks.
use std::{
    fs::{self, DirBuilder, File, OpenOptions, Permissions},
    io::{self, Read, Seek, SeekFrom, Write},
    os::unix::{
        fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt},
        net::UnixListener,
    },
    path::{Path, PathBuf},
};

use anyhow::{bail, Context, Result};
use nix::fcntl::{Flock, FlockArg};

const PID_FILE: &str = "lb-daemon.pid";
const SOCKET: &str = "lb-daemon.sock";

/// Mode of the directory and its files when only root (and the daemon's
/// own user) may use the socket.
const PRIVATE_DIR: u32 = 0o700;
const PRIVATE_FILE: u32 = 0o600;

/// Who may reach the control socket through the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Only the daemon's user: directory 0700, socket 0600.
    Private,
    /// Anyone may reach the socket (directory 0711, socket 0666): for
    /// `--control-allow-uid`, where the server admits clients by uid.
    Shared,
}

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
    /// Creates `dir` if needed (0700), and takes its lock, writing our pid.
    /// A pid that cannot be written (disk full) leaves no pid file behind.
    pub fn acquire(dir: &Path) -> Result<RuntimeDir> {
        prepare_dir(dir)?;
        let pid_path = dir.join(PID_FILE);
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(PRIVATE_FILE)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&pid_path)
                .with_context(|| format!("opening pid file {}", pid_path.display()))?;
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
            if let Err(e) = write_pid(&mut lock) {
                // We hold the lock: the file is ours to remove, and an empty
                // pid file would only mislead.
                let _ = fs::remove_file(&pid_path);
                return Err(e).with_context(|| format!("writing pid file {}", pid_path.display()));
            }
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

    /// Binds the control socket with the mode `access` asks for (the
    /// directory follows: 0700 or 0711).
    pub fn bind_socket(&self, access: Access) -> Result<UnixListener> {
        let socket = self.socket_path();
        let listener = UnixListener::bind(&socket)
            .with_context(|| format!("binding control socket {}", socket.display()))?;
        let (dir_mode, socket_mode) = match access {
            Access::Private => (PRIVATE_DIR, PRIVATE_FILE),
            Access::Shared => (0o711, 0o666),
        };
        set_mode(&socket, socket_mode)?;
        set_mode(&self.dir, dir_mode)?;
        Ok(listener)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Path of this directory's control socket.
    pub fn socket_path(&self) -> PathBuf {
        socket_path(&self.dir)
    }

    /// Path of file `name` in the directory (state kept across restarts).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        // Unlink while still holding the lock (see the inode check above).
        let _ = fs::remove_file(self.socket_path());
        let _ = fs::remove_file(self.dir.join(PID_FILE));
    }
}

/// Makes `dir` a directory of ours with mode 0700: created when missing,
/// refused when it is a symlink, someone else's, or shared (sticky, /tmp).
fn prepare_dir(dir: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new()
                .recursive(true)
                .mode(PRIVATE_DIR)
                .create(dir)
                .with_context(|| format!("creating runtime directory {}", dir.display()))?;
            return set_mode(dir, PRIVATE_DIR);
        }
        other => other.with_context(|| format!("reading runtime directory {}", dir.display()))?,
    };
    let euid = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() {
        bail!(
            "runtime directory {} is not a directory (a symlink or a file)",
            dir.display()
        );
    }
    if meta.uid() != euid {
        bail!(
            "runtime directory {} belongs to uid {}, not to this process (uid {euid}); \
             give lb-daemon a directory of its own",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & libc::S_ISVTX != 0 {
        bail!(
            "runtime directory {} is a shared directory (mode {:o}); \
             give lb-daemon a directory of its own",
            dir.display(),
            meta.mode() & 0o7777
        );
    }
    set_mode(dir, PRIVATE_DIR)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, Permissions::from_mode(mode))
        .with_context(|| format!("setting mode {mode:o} on {}", path.display()))
}

fn write_pid(file: &mut File) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(PRIVATE_FILE))?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    writeln!(file, "{}", std::process::id())?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

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

    #[test]
    fn modes_are_explicit_and_loose_ones_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, Permissions::from_mode(0o777)).unwrap();
        fs::write(dir.join(PID_FILE), "1\n").unwrap();
        fs::set_permissions(dir.join(PID_FILE), Permissions::from_mode(0o666)).unwrap();
        let runtime = RuntimeDir::acquire(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(PID_FILE)), 0o600);
        let _listener = runtime.bind_socket(Access::Private).unwrap();
        assert_eq!(mode(&runtime.socket_path()), 0o600);
        drop(_listener);
        fs::remove_file(runtime.socket_path()).unwrap();
        let _listener = runtime.bind_socket(Access::Shared).unwrap();
        assert_eq!((mode(&dir), mode(&runtime.socket_path())), (0o711, 0o666));
    }

    #[test]
    fn symlinked_shared_or_foreign_directories_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = RuntimeDir::acquire(&link).err().expect("symlink refused");
        assert!(err.to_string().contains("not a directory"), "{err}");
        fs::set_permissions(&real, Permissions::from_mode(0o1777)).unwrap();
        let err = RuntimeDir::acquire(&real).err().expect("sticky refused");
        assert!(err.to_string().contains("shared directory"), "{err}");
        assert_eq!(mode(&real), 0o1777, "a shared directory is left alone");
        if nix::unistd::geteuid().is_root() {
            fs::set_permissions(&real, Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::chown(&real, Some(65534), None).unwrap();
            let err = RuntimeDir::acquire(&real).err().expect("foreign refused");
            assert!(err.to_string().contains("belongs to uid 65534"), "{err}");
        }
    }

    #[test]
    fn a_symlinked_pid_file_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let dir = tmp.path().join("run");
        fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(PID_FILE)).unwrap();
        let err = RuntimeDir::acquire(&dir).err().expect("symlink refused");
        assert!(format!("{err:#}").contains("lb-daemon.pid"), "{err:#}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    }
}
