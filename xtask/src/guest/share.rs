//! The directory shared with the guest over 9p (its `/mnt`): the host-built
//! programs, the libraries they load, the script the guest runs, and what
//! the guest writes back (`out.log`, `rc`).
use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use super::ldd;
use crate::cmd;

/// Where the share lives on the host.
fn share_dir() -> PathBuf {
    cmd::workspace_root().join("target/ipvs-guest/share")
}

/// A freshly emptied share being filled.
pub struct Share {
    dir: PathBuf,
    programs: Vec<PathBuf>,
}

impl Share {
    /// Empties the share directory.
    pub fn new() -> Result<Share> {
        let dir = share_dir();
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
        }
        fs::create_dir_all(dir.join("bin"))?;
        Ok(Share {
            dir,
            programs: Vec::new(),
        })
    }

    /// Puts `program` into `bin/` (a hard link when possible: the debug
    /// binaries are large) and returns its path in the guest.
    pub fn add_program(&mut self, program: &Path) -> Result<String> {
        let name = program
            .file_name()
            .with_context(|| format!("{} has no file name", program.display()))?;
        let dest = self.dir.join("bin").join(name);
        if fs::hard_link(program, &dest).is_err() {
            fs::copy(program, &dest).with_context(|| format!("copying {}", program.display()))?;
        }
        self.programs.push(dest);
        Ok(format!("{GUEST_MOUNT}/bin/{}", name.to_string_lossy()))
    }

    /// Copies the libraries of every added program into `lib/` and writes
    /// `run.sh`: `body` after a prologue that sets `PATH` and
    /// `LD_LIBRARY_PATH` (the host's libraries: it is Debian 12 like the
    /// guest). Returns the share's directory, ready to boot.
    pub fn finish(self, body: &str) -> Result<PathBuf> {
        ldd::copy_libraries(&self.programs, None, &self.dir.join("lib"))?;
        let script = self.dir.join("run.sh");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\n# Written by cargo xtask; run by the guest's /init.\n\
                 export PATH=/sbin:/bin LD_LIBRARY_PATH={GUEST_MOUNT}/lib RUST_BACKTRACE=1 TMPDIR=/tmp\n\
                 cd /tmp\n{body}"
            ),
        )?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755))?;
        Ok(self.dir)
    }
}

/// Where the share is mounted in the guest.
pub const GUEST_MOUNT: &str = "/mnt";

/// `words` quoted for the guest's shell, space-separated.
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_single_quoted() {
        let words = ["--exact".to_string(), "it's".to_string()];
        assert_eq!(shell_words(&words), r"'--exact' 'it'\''s'");
        assert_eq!(shell_words(&[]), "");
    }
}
