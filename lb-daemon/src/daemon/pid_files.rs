//! keepalived's pid files (`-p`, `-r`, `-c`): extra files holding our pid,
//! for tools that read keepalived's. The runtime directory's pid file stays
//! the one that locks.
use std::{
    fs::{self, OpenOptions},
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::PathBuf,
};

use anyhow::{Context, Result};

/// Written pid files; dropping it removes them.
pub struct PidFiles(Vec<PathBuf>);

impl PidFiles {
    /// Writes our pid to each of `paths` (0644, not through a symlink, as
    /// keepalived's `pidfile_write`).
    pub fn write(paths: Vec<PathBuf>) -> Result<PidFiles> {
        let mut written = PidFiles(Vec::with_capacity(paths.len()));
        for path in paths {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .with_context(|| format!("opening pid file {}", path.display()))?;
            written.0.push(path.clone());
            writeln!(file, "{}", std::process::id())
                .with_context(|| format!("writing pid file {}", path.display()))?;
        }
        Ok(written)
    }
}

impl Drop for PidFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_then_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (main, vrrp) = (dir.path().join("k.pid"), dir.path().join("v.pid"));
        let files = PidFiles::write(vec![main.clone(), vrrp.clone()]).unwrap();
        let pid = format!("{}\n", std::process::id());
        assert_eq!(fs::read_to_string(&main).unwrap(), pid);
        assert_eq!(fs::read_to_string(&vrrp).unwrap(), pid);
        drop(files);
        assert!(!main.exists() && !vrrp.exists());
    }

    #[test]
    fn a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let (target, link) = (dir.path().join("t"), dir.path().join("l.pid"));
        fs::write(&target, "x").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(PidFiles::write(vec![link]).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "x");
    }
}
